//! A throwaway certificate for `localhost` and rustls servers over it.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, SupportedProtocolVersion};

/// A self-signed certificate and its key.
pub struct Cert {
    pub pem: String,
    pub der: CertificateDer<'static>,
    key: Vec<u8>,
}

fn make() -> Cert {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    Cert {
        pem: made.cert.pem(),
        der: made.cert.der().clone(),
        key: made.signing_key.serialize_der(),
    }
}

/// The certificate the test servers present (made once per test binary).
pub fn cert() -> &'static Cert {
    static CERT: OnceLock<Cert> = OnceLock::new();
    CERT.get_or_init(make)
}

/// Another certificate for the same name, which no server presents.
pub fn stranger() -> Cert {
    make()
}

/// `cert` as a PEM file, for `--cacert`.
pub fn ca_file(cert: &Cert) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, cert.pem.as_bytes()).unwrap();
    file
}

/// A server configuration with [`cert`], offering `alpn` (empty: no ALPN) and `versions`.
pub fn server(alpn: &[&[u8]], versions: &[&'static SupportedProtocolVersion]) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert().key.clone()));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert().der.clone()], key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// TLS 1.2 and 1.3.
pub const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
