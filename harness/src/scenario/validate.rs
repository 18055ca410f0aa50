//! The on-disk shape of a scenario file and its validation into a [`Scenario`]. Values are
//! read with their byte spans so that every problem can be reported on its line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::load::wire::{check_header, check_request_target, is_token};

use super::chain::RawChain;
use super::problem::{duration, line_of, Problem};
use super::resilience::{RawFault, RawResilience};
use super::{
    RequestSpec, Scenario, Template, DEFAULT_MAX_ERROR_RATE, DEFAULT_STARTUP_BUDGET,
    DEFAULT_STARTUP_SAMPLES, DEFAULT_WARMUP_MAX,
};

/// The most connections one level may open: far above any file-descriptor limit, low
/// enough that per-connection figures cannot overflow.
const MAX_CONNECTIONS: usize = 1_000_000;

/// The file as written. Integers are read as i64 so that negative values get our message
/// (with the key's line) instead of a type error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    description: Option<String>,
    duration: Spanned<String>,
    warmup: Option<Spanned<String>>,
    repeats: Option<Spanned<i64>>,
    connections: Spanned<Vec<Spanned<i64>>>,
    rate: Option<Spanned<f64>>,
    startup_samples: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    quick_scale: Option<Spanned<f64>>,
    steady_state: Option<bool>,
    warmup_max: Option<Spanned<String>>,
    max_error_rate: Option<Spanned<String>>,
    interleave: Option<bool>,
    startup_budget: Option<Spanned<String>>,
    protocol: Option<Spanned<super::protocol::RawProtocols>>,
    pipeline: Option<Spanned<i64>>,
    streams: Option<Spanned<i64>>,
    #[serde(default)]
    request: Vec<Spanned<RawRequest>>,
    chain: Option<RawChain>,
    resilience: Option<RawResilience>,
    capacity: Option<Spanned<super::capacity::RawCapacity>>,
    #[serde(default)]
    fault: Vec<Spanned<RawFault>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    name: Option<Spanned<String>>,
    weight: Option<Spanned<i64>>,
    method: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    body: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    expect_status: Option<Spanned<i64>>,
}

/// Parses and validates `text`.
pub(super) fn parse(text: &str) -> Result<Scenario, Problem> {
    let raw: RawScenario = toml::from_str(text).map_err(|err| syntax_problem(&err, text))?;
    let at = |span: Range<usize>, message: String| Problem {
        line: Some(line_of(text, span.start)),
        message,
    };

    let name = raw.name.get_ref();
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(at(
            raw.name.span(),
            format!("name `{name}` must match [a-z0-9-]+"),
        ));
    }
    let duration = positive_duration(&raw.duration, "duration", text)?;
    let warmup = match &raw.warmup {
        Some(w) => self::duration(w, "warmup", text)?,
        None => Duration::ZERO,
    };
    let timeout = match &raw.timeout {
        Some(t) => positive_duration(t, "timeout", text)?,
        None => Duration::from_secs(5),
    };
    let repeats = at_least_one(raw.repeats.as_ref(), "repeats", 1, text)?;
    let startup_samples = at_least_one(
        raw.startup_samples.as_ref(),
        "startup_samples",
        DEFAULT_STARTUP_SAMPLES,
        text,
    )?;
    let warmup_max = match &raw.warmup_max {
        Some(w) => positive_duration(w, "warmup_max", text)?,
        None => DEFAULT_WARMUP_MAX,
    };
    if warmup_max < warmup {
        let span = raw.warmup_max.as_ref().map_or(0..0, |w| w.span());
        return Err(at(
            span,
            format!(
                "warmup_max ({}) is shorter than warmup ({}): warmup is the minimum",
                humantime::format_duration(warmup_max),
                humantime::format_duration(warmup)
            ),
        ));
    }
    let startup_budget = match &raw.startup_budget {
        Some(b) => positive_duration(b, "startup_budget", text)?,
        None => DEFAULT_STARTUP_BUDGET,
    };
    let max_error_rate = match &raw.max_error_rate {
        Some(rate) => percent(rate, "max_error_rate", text)?,
        None => DEFAULT_MAX_ERROR_RATE,
    };
    let connections = connections(&raw.connections, text)?;
    let rate = match &raw.rate {
        None => None,
        Some(rate) => {
            let value = *rate.get_ref();
            if let Err(e) = crate::load::bounds::check_rate(value) {
                return Err(at(rate.span(), e.to_string()));
            }
            if connections.len() != 1 {
                let found = connections.len();
                let message = format!(
                    "rate (open loop) needs exactly one `connections` entry, found {found}"
                );
                return Err(at(rate.span(), message));
            }
            Some(value)
        }
    };
    let quick_scale = quick_scale(raw.quick_scale.as_ref(), text)?;
    let requests = requests(&raw.request, text)?;
    let chain = raw.chain.map(|c| c.validate(text)).transpose()?;
    let resilience = super::resilience::validate(raw.resilience, &raw.fault, text)?;
    if resilience.is_some() {
        let first = raw.fault.first().map_or(0..0, |f| f.span());
        super::resilience::needs(chain.as_ref(), rate).map_err(|m| at(first, m))?;
    }
    let capacity = match raw.capacity {
        None => None,
        Some(section) => {
            let span = section.span();
            let chained = chain.is_some() || resilience.is_some();
            let interleave = raw.interleave.unwrap_or(false);
            super::capacity::needs(rate, &connections, chained, interleave)
                .map_err(|m| at(span, m))?;
            Some(super::capacity::validate(section.into_inner(), text)?)
        }
    };
    let protocols = super::protocol::validate(
        raw.protocol.as_ref(),
        raw.pipeline.as_ref(),
        raw.streams.as_ref(),
        text,
    )?;
    if chain.is_some() && protocols.names != [crate::load::protocol::ProtocolName::H1] {
        let span = raw.protocol.as_ref().map_or(0..0, |p| p.span());
        let message = "protocol: a [chain] scenario runs on h1 only".to_string();
        return Err(at(span, message));
    }
    Ok(Scenario {
        name: name.clone(),
        description: raw.description,
        duration,
        warmup,
        repeats,
        connections,
        rate,
        startup_samples,
        startup_budget,
        timeout,
        quick_scale,
        steady_state: raw.steady_state.unwrap_or(true),
        warmup_max,
        max_error_rate,
        interleave: raw.interleave.unwrap_or(false),
        protocols: protocols.names,
        pipeline: protocols.pipeline,
        streams: protocols.streams,
        requests,
        chain,
        resilience,
        capacity,
    })
}

/// A share written as a percentage: "1%", "0.1%".
fn percent(value: &Spanned<String>, key: &str, text: &str) -> Result<f64, Problem> {
    let raw = value.get_ref().trim();
    raw.strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|p| (0.0..=100.0).contains(p))
        .map(|p| p / 100.0)
        .ok_or_else(|| Problem {
            line: Some(line_of(text, value.span().start)),
            message: format!("{key} `{raw}` is not a percentage from 0% to 100% like \"1%\""),
        })
}

/// A TOML syntax or shape error, located by its span.
fn syntax_problem(err: &toml::de::Error, text: &str) -> Problem {
    // Some toml messages span lines ("invalid string\nexpected ..."); errors are one line.
    let message = crate::toml_error::locate(err, text).message;
    let Some(span) = err.span() else {
        return Problem {
            line: None,
            message,
        };
    };
    // A key missing from the top level is reported against the root table, which starts
    // at byte 0; line 1 would point at an unrelated line.
    if span.start == 0 && message.starts_with("missing field") {
        return Problem {
            line: None,
            message,
        };
    }
    let (line, column) = crate::toml_error::line_and_column(text, span.start);
    // Type errors name neither the key nor the table; the key is on the value's line.
    let key = text[..span.start]
        .rsplit('\n')
        .next()
        .and_then(|prefix| prefix.rsplit_once('='))
        .map(|(key, _)| key.rsplit(['{', ',']).next().unwrap_or(key).trim());
    let message = match key {
        Some(key) if message.starts_with("invalid") && !key.is_empty() => {
            format!("{key}: {message}")
        }
        _ => message,
    };
    Problem {
        line: Some(line),
        message: format!("{message} (column {column})"),
    }
}

/// A duration that must not be zero.
fn positive_duration(value: &Spanned<String>, key: &str, text: &str) -> Result<Duration, Problem> {
    let parsed = duration(value, key, text)?;
    if parsed.is_zero() {
        return Err(Problem {
            line: Some(line_of(text, value.span().start)),
            message: format!("{key} must be > 0"),
        });
    }
    Ok(parsed)
}

fn quick_scale(value: Option<&Spanned<f64>>, text: &str) -> Result<f64, Problem> {
    let Some(value) = value else {
        return Ok(0.1);
    };
    let scale = *value.get_ref();
    if !(scale > 0.0 && scale <= 1.0) {
        return Err(Problem {
            line: Some(line_of(text, value.span().start)),
            message: format!("quick_scale must be > 0 and <= 1, got {scale}"),
        });
    }
    Ok(scale)
}

fn at_least_one(
    value: Option<&Spanned<i64>>,
    key: &str,
    default: u32,
    text: &str,
) -> Result<u32, Problem> {
    let Some(value) = value else {
        return Ok(default);
    };
    u32::try_from(*value.get_ref())
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| Problem {
            line: Some(line_of(text, value.span().start)),
            message: format!("{key} must be >= 1, got {}", value.get_ref()),
        })
}

fn connections(value: &Spanned<Vec<Spanned<i64>>>, text: &str) -> Result<Vec<usize>, Problem> {
    if value.get_ref().is_empty() {
        return Err(Problem {
            line: Some(line_of(text, value.span().start)),
            message: "connections must not be empty".into(),
        });
    }
    value
        .get_ref()
        .iter()
        .map(|entry| {
            usize::try_from(*entry.get_ref())
                .ok()
                .filter(|n| (1..=MAX_CONNECTIONS).contains(n))
                .ok_or_else(|| Problem {
                    line: Some(line_of(text, entry.span().start)),
                    message: format!(
                        "connections: each entry must be 1..={MAX_CONNECTIONS}, got {}",
                        entry.get_ref()
                    ),
                })
        })
        .collect()
}

fn requests(raw: &[Spanned<RawRequest>], text: &str) -> Result<Vec<RequestSpec>, Problem> {
    if raw.is_empty() {
        return Err(Problem {
            line: None,
            message: "no [[request]] table; at least one request is required".into(),
        });
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut specs = Vec::with_capacity(raw.len());
    for (index, entry) in raw.iter().enumerate() {
        let spec = request(entry, index, text)?;
        let name = entry.get_ref().name.as_ref().expect("checked by request()");
        let line = line_of(text, name.span().start);
        if let Some(first) = seen.insert(name.get_ref(), line) {
            return Err(Problem {
                line: Some(line),
                message: format!(
                    "request \"{}\": duplicate name (first used on line {first})",
                    spec.name
                ),
            });
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Validates one `[[request]]` table (the `index`-th, from 0).
fn request(entry: &Spanned<RawRequest>, index: usize, text: &str) -> Result<RequestSpec, Problem> {
    let raw = entry.get_ref();
    let Some(name) = raw.name.as_ref().filter(|n| !n.get_ref().trim().is_empty()) else {
        let span = raw.name.as_ref().map_or(entry.span(), |n| n.span());
        return Err(Problem {
            line: Some(line_of(text, span.start)),
            message: format!(
                "request #{}: `name` is required and must not be empty",
                index + 1
            ),
        });
    };
    let context = RequestContext { text, name };
    let weight = match &raw.weight {
        None => 1,
        Some(w) => u64::try_from(*w.get_ref())
            .ok()
            .filter(|&w| w >= 1)
            .ok_or_else(|| context.fail(Some(w), "weight must be >= 1".into()))?,
    };
    let method = match &raw.method {
        None => "GET".to_string(),
        Some(m) if is_token(m.get_ref()) => m.get_ref().clone(),
        Some(m) => {
            let problem = format!("method `{}` is not a valid HTTP method", m.get_ref());
            return Err(context.fail(Some(m), problem));
        }
    };
    let Some(path) = raw.path.as_ref() else {
        return Err(context.fail::<()>(None, "`path` is required".into()));
    };
    let body = match &raw.body {
        None => None,
        Some(b) => Some(
            Template::parse(b.get_ref())
                .map_err(|e| context.fail(Some(b), format!("body: {e}")))?,
        ),
    };
    Ok(RequestSpec {
        name: name.get_ref().clone(),
        weight,
        method,
        path: context.path(path)?,
        path_text: path.get_ref().clone(),
        body,
        body_text: raw.body.as_ref().map(|b| b.get_ref().clone()),
        headers: context.headers(&raw.headers)?,
        expect_status: context.expect_status(raw.expect_status.as_ref())?,
    })
}

/// Locates problems within one request table and prefixes them with its name.
struct RequestContext<'a> {
    text: &'a str,
    name: &'a Spanned<String>,
}

impl RequestContext<'_> {
    /// A problem at `value`'s line, or at the request's `name` when there is no value.
    fn fail<T>(&self, value: Option<&Spanned<T>>, problem: String) -> Problem {
        let span = value.map_or(self.name.span(), |v| v.span());
        Problem {
            line: Some(line_of(self.text, span.start)),
            message: format!("request \"{}\": {problem}", self.name.get_ref()),
        }
    }

    fn path(&self, path: &Spanned<String>) -> Result<Template, Problem> {
        let text = path.get_ref();
        if !text.starts_with('/') {
            return Err(self.fail(Some(path), format!("path `{text}` must start with '/'")));
        }
        check_request_target(text).map_err(|e| self.fail(Some(path), e.to_string()))?;
        Template::parse(text).map_err(|e| self.fail(Some(path), format!("path: {e}")))
    }

    fn headers(
        &self,
        raw: &BTreeMap<String, Spanned<String>>,
    ) -> Result<Vec<(String, String)>, Problem> {
        let mut headers = Vec::with_capacity(raw.len());
        for (header, value) in raw {
            check_header(header, value.get_ref())
                .map_err(|e| self.fail(Some(value), e.to_string()))?;
            headers.push((header.clone(), value.get_ref().clone()));
        }
        Ok(headers)
    }

    fn expect_status(&self, raw: Option<&Spanned<i64>>) -> Result<Option<u16>, Problem> {
        let Some(status) = raw else {
            return Ok(None);
        };
        u16::try_from(*status.get_ref())
            .ok()
            .filter(|code| (100..=599).contains(code))
            .map(Some)
            .ok_or_else(|| {
                let got = status.get_ref();
                let problem = format!("expect_status must be an HTTP status 100..=599, got {got}");
                self.fail(Some(status), problem)
            })
    }
}
