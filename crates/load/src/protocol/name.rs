//! The four protocols a target may serve and a scenario may ask for, by the names the
//! contract (`targets/CONTRACT.md`, "Protocols"), the manifests, the scenarios and the
//! results share.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A protocol by its contract name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProtocolName {
    /// HTTP/1.1 over TCP.
    #[serde(rename = "h1")]
    H1,
    /// HTTP/1.1 over TLS.
    #[serde(rename = "h1-tls")]
    H1Tls,
    /// HTTP/2 over TCP with prior knowledge.
    #[serde(rename = "h2c")]
    H2c,
    /// HTTP/2 over TLS, chosen by ALPN.
    #[serde(rename = "h2")]
    H2,
}

impl ProtocolName {
    /// Every protocol, in the order tables show them.
    pub const ALL: [ProtocolName; 4] = [
        ProtocolName::H1,
        ProtocolName::H1Tls,
        ProtocolName::H2c,
        ProtocolName::H2,
    ];

    /// The contract's name (`PROTOCOL`'s value).
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolName::H1 => "h1",
            ProtocolName::H1Tls => "h1-tls",
            ProtocolName::H2c => "h2c",
            ProtocolName::H2 => "h2",
        }
    }

    /// Over TLS (the server needs `TLS_CERT` and `TLS_KEY`, URLs are `https://`).
    pub fn tls(self) -> bool {
        matches!(self, ProtocolName::H1Tls | ProtocolName::H2)
    }

    /// HTTP/2 (streams), rather than HTTP/1.1 (pipelining).
    pub fn http2(self) -> bool {
        matches!(self, ProtocolName::H2c | ProtocolName::H2)
    }

    /// The URL scheme a client uses for it.
    pub fn scheme(self) -> &'static str {
        if self.tls() {
            "https"
        } else {
            "http"
        }
    }
}

impl fmt::Display for ProtocolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol '{0}' (expected h1, h1-tls, h2c or h2)")]
pub struct UnknownProtocol(pub String);

impl FromStr for ProtocolName {
    type Err = UnknownProtocol;

    fn from_str(s: &str) -> Result<ProtocolName, UnknownProtocol> {
        ProtocolName::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProtocol(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for p in ProtocolName::ALL {
            assert_eq!(p.as_str().parse::<ProtocolName>(), Ok(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{p}\""));
        }
        let err = "h3".parse::<ProtocolName>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown protocol 'h3' (expected h1, h1-tls, h2c or h2)"
        );
    }
}
