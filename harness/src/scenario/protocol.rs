//! A scenario's protocols (`protocol = "h2"` or a list, run one after the other on each
//! target) and how many requests a connection carries on each (`pipeline` for
//! HTTP/1.1, `streams` for HTTP/2).

use serde::Deserialize;
use toml::Spanned;

use super::problem::{line_of, Problem};
use crate::load::protocol::ProtocolName;

/// The most requests one connection may carry at once.
const MAX_DEPTH: i64 = 1024;

/// `protocol` as written: one name or a list.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawProtocols {
    One(String),
    Many(Vec<String>),
}

/// The validated protocol settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Protocols {
    pub names: Vec<ProtocolName>,
    pub pipeline: usize,
    pub streams: usize,
}

/// Validates `protocol`, `pipeline` and `streams` (each error names its key and line).
pub(super) fn validate(
    protocol: Option<&Spanned<RawProtocols>>,
    pipeline: Option<&Spanned<i64>>,
    streams: Option<&Spanned<i64>>,
    text: &str,
) -> Result<Protocols, Problem> {
    let names = match protocol {
        None => vec![ProtocolName::H1],
        Some(raw) => {
            let at = |message: String| Problem {
                line: Some(line_of(text, raw.span().start)),
                message,
            };
            let listed: Vec<&String> = match raw.get_ref() {
                RawProtocols::One(name) => vec![name],
                RawProtocols::Many(names) => names.iter().collect(),
            };
            if listed.is_empty() {
                return Err(at("protocol must name at least one protocol".into()));
            }
            let mut names = Vec::new();
            for name in listed {
                let parsed = name
                    .parse::<ProtocolName>()
                    .map_err(|e| at(format!("protocol: {e}")))?;
                if names.contains(&parsed) {
                    return Err(at(format!("protocol: {parsed} is listed twice")));
                }
                names.push(parsed);
            }
            names
        }
    };
    Ok(Protocols {
        names,
        pipeline: depth(pipeline, "pipeline", text)?,
        streams: depth(streams, "streams", text)?,
    })
}

fn depth(value: Option<&Spanned<i64>>, key: &str, text: &str) -> Result<usize, Problem> {
    let Some(value) = value else {
        return Ok(1);
    };
    let n = *value.get_ref();
    if !(1..=MAX_DEPTH).contains(&n) {
        return Err(Problem {
            line: Some(line_of(text, value.span().start)),
            message: format!("{key} must be 1..={MAX_DEPTH}, got {n}"),
        });
    }
    Ok(n as usize)
}
