//! A scenario's `[chain]` section: the service under test is started as a **user
//! service** whose `ORDERS_URL` points at an **order service** (targets/CONTRACT.md,
//! "Service-to-service mode"). The order service is the same framework by default ("a
//! system built in X"), or one fixed target for every framework (which isolates X's
//! client and server from the order service's speed). Between the two the harness puts
//! its proxy, which measures the hop, unless `proxy = false`.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::load::template::Template;
use crate::load::wire::check_request_target;

use super::problem::{line_of, Problem};

/// The plain request the client tax is measured against: served locally by the user
/// service, with the id range of the user endpoint.
pub const DEFAULT_BASELINE: &str = "/api/users/{rand:1..1000000}";

/// `order_service` naming the user service's own framework.
pub const SAME: &str = "same";

/// A validated `[chain]` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainSpec {
    /// The order service's target name; `None`: the same target as the user service.
    #[serde(serialize_with = "as_order_service")]
    pub order_service: Option<String>,
    /// Through the harness's proxy (per-hop figures) rather than straight.
    pub proxy: bool,
    /// The plain request on the user service whose CPU per request is the client tax's
    /// baseline.
    pub baseline: Template,
    #[serde(skip)]
    pub baseline_text: String,
}

fn as_order_service<S: serde::Serializer>(
    value: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.as_deref().unwrap_or(SAME))
}

/// The section as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChain {
    order_service: Option<Spanned<String>>,
    proxy: Option<bool>,
    baseline: Option<Spanned<String>>,
}

impl RawChain {
    /// Validates the section; target names are checked against the targets at run time.
    pub(super) fn validate(self, text: &str) -> Result<ChainSpec, Problem> {
        let at = |span: std::ops::Range<usize>, message: String| Problem {
            line: Some(line_of(text, span.start)),
            message: format!("[chain] {message}"),
        };
        let order_service = match &self.order_service {
            None => None,
            Some(name) if name.get_ref() == SAME => None,
            Some(name) => {
                let value = name.get_ref();
                let ok = !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !ok {
                    let message = format!(
                        "order_service `{value}` must be \"same\" or a target's folder name"
                    );
                    return Err(at(name.span(), message));
                }
                Some(value.clone())
            }
        };
        let baseline_text = self
            .baseline
            .as_ref()
            .map_or(DEFAULT_BASELINE.to_string(), |b| b.get_ref().clone());
        let span = self.baseline.as_ref().map_or(0..0, |b| b.span());
        if !baseline_text.starts_with('/') {
            return Err(at(
                span,
                format!("baseline `{baseline_text}` must start with '/'"),
            ));
        }
        check_request_target(&baseline_text)
            .map_err(|e| at(span.clone(), format!("baseline: {e}")))?;
        let baseline =
            Template::parse(&baseline_text).map_err(|e| at(span, format!("baseline: {e}")))?;
        Ok(ChainSpec {
            order_service,
            proxy: self.proxy.unwrap_or(true),
            baseline,
            baseline_text,
        })
    }
}

impl ChainSpec {
    /// The order service's target for the user service `user`.
    pub fn order_target<'a>(&'a self, user: &'a str) -> &'a str {
        self.order_service.as_deref().unwrap_or(user)
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    const HEAD: &str = "name = \"c\"\nduration = \"1s\"\nconnections = [1]\n[[request]]\nname = \"s\"\npath = \"/api/users/1/summary\"\n";

    fn parse(chain: &str) -> Result<Scenario, String> {
        Scenario::parse(&format!("{HEAD}{chain}"), "c.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_same_framework_through_the_proxy() {
        let spec = parse("[chain]\n").unwrap().chain.unwrap();
        assert_eq!(spec.order_service, None);
        assert!(spec.proxy);
        assert_eq!(spec.baseline_text, super::DEFAULT_BASELINE);
        assert_eq!(spec.order_target("gin"), "gin");
        let fixed = parse("[chain]\norder_service = \"actix-web\"\nproxy = false\n").unwrap();
        let fixed = fixed.chain.unwrap();
        assert_eq!(fixed.order_target("gin"), "actix-web");
        assert!(!fixed.proxy);
    }

    #[test]
    fn bad_sections_name_the_line_and_the_problem() {
        let err = parse("[chain]\norder_service = \"../x\"\n").unwrap_err();
        assert_eq!(
            err,
            "c.toml:8: [chain] order_service `../x` must be \"same\" or a target's folder name"
        );
        let err = parse("[chain]\nbaseline = \"api/users/1\"\n").unwrap_err();
        assert!(err.starts_with("c.toml:8: [chain] baseline"), "{err}");
        let err = parse("[chain]\nbaseline = \"/a b\"\n").unwrap_err();
        assert!(err.starts_with("c.toml:8: [chain] baseline"), "{err}");
        let err = parse("[chain]\nproxies = true\n").unwrap_err();
        assert!(err.contains("unknown field `proxies`"), "{err}");
    }

    #[test]
    fn the_record_holds_the_chain_only_when_there_is_one() {
        let plain = serde_json::to_value(parse("").unwrap()).unwrap();
        assert!(plain.get("chain").is_none());
        let chained = serde_json::to_value(parse("[chain]\n").unwrap()).unwrap();
        assert_eq!(chained["chain"]["order_service"], "same");
        assert_eq!(chained["chain"]["proxy"], true);
        assert_eq!(chained["chain"]["baseline"], super::DEFAULT_BASELINE);
    }
}
