//! The rustls server configuration of the targets that terminate TLS through rustls themselves
//! (axum through tokio-rustls, actix-web through its `rustls-0_23` binding).
//!
//! The crypto provider is named explicitly (ring) rather than taken from the process default, so
//! the configuration does not depend on which rustls features other crates in the build enable.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
/// Re-exported so a target needs no rustls dependency of its own to name the type.
pub use rustls::ServerConfig;

use crate::protocol::TlsFiles;

/// ALPN identifier of HTTP/2 over TLS.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN identifier of HTTP/1.1.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A server configuration for the harness's certificate: TLS 1.3 and 1.2, no client
/// authentication, `alpn` offered in that order of preference (empty: no ALPN at all). An error
/// is a file that does not hold what the contract says (a PEM chain, a PEM private key that
/// matches it).
pub fn server_config(files: &TlsFiles, alpn: &[&[u8]]) -> Result<ServerConfig, String> {
    let chain = CertificateDer::pem_slice_iter(&files.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("TLS_CERT {:?} is not a PEM chain: {error}", files.cert_path))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS_CERT {:?} holds no certificate",
            files.cert_path
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&files.key_pem).map_err(|error| {
        format!(
            "TLS_KEY {:?} is not a PEM private key: {error}",
            files.key_path
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|error| format!("TLS setup failed: {error}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| format!("TLS_CERT and TLS_KEY do not make a server identity: {error}"))?;
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(cert: &str, key: &str) -> TlsFiles {
        TlsFiles {
            cert_path: "cert.pem".into(),
            key_path: "key.pem".into(),
            cert_pem: cert.as_bytes().to_vec(),
            key_pem: key.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_harness_kind_of_pair_makes_a_config_with_the_alpn_asked_for() {
        let pair = files(
            include_str!("../testdata/cert.pem"),
            include_str!("../testdata/key.pem"),
        );
        let config = server_config(&pair, &[ALPN_H2, ALPN_HTTP1]).expect("a valid pair");
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(server_config(&pair, &[]).unwrap().alpn_protocols.is_empty());
    }

    #[test]
    fn no_certificate_is_an_error_naming_the_file() {
        let error = server_config(&files("", ""), &[ALPN_H2]).unwrap_err();
        assert!(error.contains("TLS_CERT \"cert.pem\""), "{error}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let pem = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        assert!(server_config(&files(pem, pem), &[ALPN_HTTP1]).is_err());
    }
}
