//! `lanebench verify --protocol`: which protocols a check covers, where each may be
//! asked for, how its lines are titled, and the throwaway certificate a TLS protocol
//! needs (made once per invocation).

use std::path::Path;

use crate::load::protocol::ProtocolName;
use crate::targets::manifest::Support;
use crate::targets::{Target, TlsCert};
use crate::verify::VerifyReport;

use super::verify_context::build_log_path;

/// `--protocol`: one protocol, or every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolChoice {
    One(ProtocolName),
    All,
}

impl ProtocolChoice {
    /// The protocols checked in turn.
    pub fn protocols(self) -> Vec<ProtocolName> {
        match self {
            ProtocolChoice::One(protocol) => vec![protocol],
            ProtocolChoice::All => ProtocolName::ALL.to_vec(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ProtocolChoice::One(protocol) => protocol.as_str(),
            ProtocolChoice::All => "all",
        }
    }
}

/// `--protocol`'s value: a contract name or `all`.
pub(super) fn parse(text: &str) -> Result<ProtocolChoice, String> {
    match text {
        "all" => Ok(ProtocolChoice::All),
        _ => text
            .parse()
            .map(ProtocolChoice::One)
            .map_err(|e| format!("{e}, or all")),
    }
}

/// `--url` checks a server lanebench did not start, so it has not been given the
/// certificate a TLS client would trust; `--chain` is HTTP/1.1 throughout.
pub(super) fn check_protocol_use(
    choice: ProtocolChoice,
    url: bool,
    chain: bool,
) -> Result<(), String> {
    if chain && choice != ProtocolChoice::One(ProtocolName::H1) {
        return Err("--chain: checks h1 only (calls to ORDERS_URL stay HTTP/1.1 over TCP); leave out --protocol".to_string());
    }
    match choice {
        ProtocolChoice::One(protocol) if !protocol.tls() => Ok(()),
        _ if !url => Ok(()),
        other => Err(format!(
            "--protocol {}: with --url only h1 or h2c (a TLS protocol needs the certificate lanebench gives the targets it starts)",
            other.name()
        )),
    }
}

/// The name a target's lines start with: with its protocol, unless that is `h1`.
pub(super) fn label(name: &str, protocol: ProtocolName) -> String {
    match protocol {
        ProtocolName::H1 => name.to_string(),
        other => format!("{name} {other}"),
    }
}

/// `axum (http://127.0.0.1:PORT)`, `axum h2 (https://127.0.0.1:PORT)`.
pub(super) fn report_title(name: Option<&str>, report: &VerifyReport) -> String {
    match name {
        Some(name) => format!("{} ({})", label(name, report.protocol), report.base_url),
        None if report.protocol == ProtocolName::H1 => report.base_url.clone(),
        None => format!("{} ({})", report.base_url, report.protocol),
    }
}

/// With a TLS protocol among those asked for that some target serves: the throwaway
/// certificate, in a folder of its own beside the build logs, removed when dropped.
pub(super) fn throwaway_certificate(
    choice: ProtocolChoice,
    targets: &[Target],
) -> Result<Option<(tempfile::TempDir, TlsCert)>, String> {
    let needed = choice.protocols().into_iter().any(|p| {
        p.tls()
            && targets
                .iter()
                .any(|t| t.manifest.protocol_support(p) == Support::Served)
    });
    let Some(target) = targets.first().filter(|_| needed) else {
        return Ok(None);
    };
    let logs = build_log_path(target);
    let folder = logs.parent().unwrap_or(Path::new("."));
    crate::run::throwaway_certificate(folder)
        .map(Some)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_protocols_need_a_started_target_and_chains_stay_on_h1() {
        let h2c = ProtocolChoice::One(ProtocolName::H2c);
        assert_eq!(check_protocol_use(h2c, true, false), Ok(()));
        let h1_tls = ProtocolChoice::One(ProtocolName::H1Tls);
        assert!(check_protocol_use(h1_tls, true, false).is_err());
        assert_eq!(check_protocol_use(h1_tls, false, false), Ok(()));
        assert!(check_protocol_use(ProtocolChoice::All, true, false)
            .unwrap_err()
            .starts_with("--protocol all: with --url only h1 or h2c"));
        assert!(check_protocol_use(h2c, false, true).is_err());
        assert_eq!(parse("all"), Ok(ProtocolChoice::All));
        assert_eq!(
            parse("h3").unwrap_err(),
            "unknown protocol 'h3' (expected h1, h1-tls, h2c or h2), or all"
        );
    }
}
