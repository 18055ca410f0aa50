//! `PROTOCOL`, `TLS_CERT` and `TLS_KEY` (CONTRACT.md, "Protocols"), read the same way by the
//! three Rust targets. The PEM files are read here, at startup, so that a missing or unreadable
//! file is the contract's one-line error and exit code 2 rather than a failure on the first
//! connection.

use std::fmt;

/// One protocol a server process speaks on `PORT`, by its contract name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 over TCP (also when `PROTOCOL` is unset).
    H1,
    /// HTTP/1.1 over TLS.
    H1Tls,
    /// HTTP/2 over TCP with prior knowledge.
    H2c,
    /// HTTP/2 over TLS, chosen by ALPN `h2`.
    H2,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [Protocol::H1, Protocol::H1Tls, Protocol::H2c, Protocol::H2];

    /// The contract's name of the protocol.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::H1 => "h1",
            Protocol::H1Tls => "h1-tls",
            Protocol::H2c => "h2c",
            Protocol::H2 => "h2",
        }
    }

    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, Protocol::H1Tls | Protocol::H2)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The certificate chain and private key the harness handed over, read into memory.
pub struct TlsFiles {
    pub cert_path: String,
    pub key_path: String,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// What the process serves: the protocol and, for the TLS ones, the PEM files.
pub struct ProtocolSetting {
    pub protocol: Protocol,
    pub tls: Option<TlsFiles>,
}

/// Reads `PROTOCOL` (and `TLS_CERT`/`TLS_KEY` for a TLS protocol). `served` is what this target
/// serves: a known protocol outside it is refused like an unknown one, with the reason.
pub fn protocol_from_env(served: &[Protocol]) -> Result<ProtocolSetting, String> {
    let protocol = match std::env::var("PROTOCOL") {
        Err(std::env::VarError::NotPresent) => Protocol::H1,
        Err(std::env::VarError::NotUnicode(raw)) => {
            return Err(format!("PROTOCOL is not valid UTF-8: {raw:?}"))
        }
        Ok(raw) => Protocol::from_name(&raw)
            .ok_or_else(|| format!("PROTOCOL must be one of h1, h1-tls, h2c, h2, got {raw:?}"))?,
    };
    if !served.contains(&protocol) {
        return Err(format!("PROTOCOL={protocol} is not served by this target"));
    }
    let tls = if protocol.uses_tls() {
        Some(tls_files_from_env(protocol)?)
    } else {
        None
    };
    Ok(ProtocolSetting { protocol, tls })
}

fn tls_files_from_env(protocol: Protocol) -> Result<TlsFiles, String> {
    let path_of = |name: &str| match std::env::var(name) {
        Ok(path) if !path.is_empty() => Ok(path),
        _ => Err(format!(
            "PROTOCOL={protocol} needs {name} (the path of a PEM file)"
        )),
    };
    let cert_path = path_of("TLS_CERT")?;
    let key_path = path_of("TLS_KEY")?;
    let read = |name: &str, path: &str| {
        std::fs::read(path).map_err(|error| format!("cannot read {name} {path:?}: {error}"))
    };
    let cert_pem = read("TLS_CERT", &cert_path)?;
    let key_pem = read("TLS_KEY", &key_path)?;
    Ok(TlsFiles {
        cert_path,
        key_path,
        cert_pem,
        key_pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for protocol in Protocol::ALL {
            assert_eq!(Protocol::from_name(protocol.name()), Some(protocol));
        }
        assert_eq!(Protocol::from_name("h3"), None);
        assert_eq!(Protocol::from_name("H1"), None);
    }

    #[test]
    fn only_h1_tls_and_h2_use_tls() {
        let tls: Vec<_> = Protocol::ALL.into_iter().filter(|p| p.uses_tls()).collect();
        assert_eq!(tls, [Protocol::H1Tls, Protocol::H2]);
    }
}
