//! The throwaway certificate of one `run` or `verify`: self-signed, ECDSA P-256, valid
//! for `localhost` and `127.0.0.1` for a couple of days, made fresh each time so that no
//! key outlives the benchmark that used it and nothing has to be installed or renewed.
//!
//! The pair is written as the contract hands it to targets (`TLS_CERT`: a PEM chain,
//! `TLS_KEY`: a PEM PKCS#8 key), each file atomically and the key readable by its owner
//! only. Clients trust the certificate itself as their only root: it is its own issuer,
//! so a client that accepts it has checked the server holds this run's key, and nothing
//! else is trusted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::atomic_file::{write_atomic, write_atomic_private};

/// File names inside the folder the pair is written to.
pub const CERT_FILE: &str = "tls-cert.pem";
pub const KEY_FILE: &str = "tls-key.pem";
/// The names a client may reach a target by: what the contract promises.
pub const SUBJECT_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];
/// Long enough for the longest run, short enough that a leaked key is soon worthless.
const VALIDITY: Duration = Duration::from_secs(2 * 24 * 3600);
/// Valid from a little before now, so a server whose clock lags by a few minutes
/// does not see a certificate from the future.
const BACKDATE: Duration = Duration::from_secs(3600);

/// Why the certificate could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum TlsCertError {
    #[error("cannot make the throwaway TLS certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the TLS client refuses the throwaway certificate: {0}")]
    Trust(#[from] rustls::Error),
}

/// A certificate and its key on disk, and the certificate in memory for clients.
#[derive(Debug, Clone)]
pub struct TlsCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    der: CertificateDer<'static>,
}

impl TlsCert {
    /// Makes a new pair and writes it into `dir` ([`CERT_FILE`], [`KEY_FILE`]), which is
    /// created if needed. The paths are made absolute: targets run in their own folder.
    pub fn create(dir: &Path) -> Result<TlsCert, TlsCertError> {
        let dir = std::path::absolute(dir).map_err(|source| TlsCertError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let (cert_pem, key_pem, der) = generate()?;
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        let write_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TlsCertError::Write { path, source }
        };
        write_atomic_private(&key_path, key_pem.as_bytes()).map_err(write_error(&key_path))?;
        write_atomic(&cert_path, cert_pem.as_bytes()).map_err(write_error(&cert_path))?;
        Ok(TlsCert {
            cert_path,
            key_path,
            der,
        })
    }

    /// The PEM certificate chain (`TLS_CERT`); also the CA file clients trust.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The PEM PKCS#8 private key (`TLS_KEY`), mode 0600.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The certificate (DER), for a client's root store.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// `TLS_CERT` and `TLS_KEY` as a target is given them.
    pub fn env(&self) -> Vec<(String, String)> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            ("TLS_CERT".to_string(), path(&self.cert_path)),
            ("TLS_KEY".to_string(), path(&self.key_path)),
        ]
    }

    /// A rustls client configuration that trusts this certificate only and offers
    /// `alpn` (empty: no ALPN extension). TLS 1.2 and 1.3, ring's algorithms.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, TlsCertError> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone())?;
        // The provider is named rather than taken from the process default: another
        // crate in the same build may enable a second provider, and then there is none.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// A fresh key and a self-signed certificate for [`SUBJECT_NAMES`]: the certificate's
/// PEM, the key's PEM (PKCS#8) and the certificate's DER.
fn generate() -> Result<(String, String, CertificateDer<'static>), rcgen::Error> {
    let names: Vec<String> = SUBJECT_NAMES.iter().map(|n| n.to_string()).collect();
    // An IP address among the names becomes an IP subject alternative name.
    let mut params = CertificateParams::new(names)?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, "lanebench throwaway");
    params.distinguished_name = subject;
    let now = SystemTime::now();
    params.not_before = (now - BACKDATE).into();
    params.not_after = (now + VALIDITY).into();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem(), cert.der().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_pair_is_written_as_the_contract_says() {
        let dir = tempfile::tempdir().unwrap();
        let tls = TlsCert::create(dir.path()).unwrap();
        let cert = std::fs::read_to_string(tls.cert_path()).unwrap();
        let key = std::fs::read_to_string(tls.key_path()).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        let mode = std::fs::metadata(tls.key_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(tls.cert_path().is_absolute());
        let env = tls.env();
        assert_eq!(env[0].0, "TLS_CERT");
        assert_eq!(env[1], ("TLS_KEY".into(), key_path_text(&tls)));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file is left behind");
    }

    fn key_path_text(tls: &TlsCert) -> String {
        tls.key_path().to_string_lossy().into_owned()
    }

    #[test]
    fn each_pair_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let first = TlsCert::create(&dir.path().join("a")).unwrap();
        let second = TlsCert::create(&dir.path().join("b")).unwrap();
        assert_ne!(first.certificate(), second.certificate());
    }

    /// A server holding the pair, as a target would load it from the files.
    fn server_config(tls: &TlsCert) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(tls.cert_path())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(tls.key_path()).unwrap();
        assert!(matches!(key, rustls::pki_types::PrivateKeyDer::Pkcs8(_)));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Arc::new(config)
    }

    /// A handshake in memory; the version agreed, or the client's error.
    fn handshake(
        client: Arc<ClientConfig>,
        server: Arc<rustls::ServerConfig>,
        name: &str,
    ) -> Result<rustls::ProtocolVersion, rustls::Error> {
        let name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let mut client = rustls::ClientConnection::new(client, name).unwrap();
        let mut server = rustls::ServerConnection::new(server).unwrap();
        let mut wire = Vec::new();
        for _ in 0..10 {
            if client.wants_write() {
                wire.clear();
                client.write_tls(&mut wire).unwrap();
                server.read_tls(&mut &wire[..]).unwrap();
                // A refused certificate is the client's error, returned below.
                let _ = server.process_new_packets();
            }
            if server.wants_write() {
                wire.clear();
                server.write_tls(&mut wire).unwrap();
                client.read_tls(&mut &wire[..]).unwrap();
                client.process_new_packets()?;
            }
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(client.protocol_version().unwrap());
            }
        }
        panic!("the handshake did not finish");
    }

    #[test]
    fn a_rustls_client_accepts_it_for_localhost_and_127_0_0_1_on_tls_1_2_and_1_3() {
        let dir = tempfile::tempdir().unwrap();
        let tls = TlsCert::create(dir.path()).unwrap();
        let server = server_config(&tls);
        for name in SUBJECT_NAMES {
            let version = handshake(tls.client_config(&[]).unwrap(), server.clone(), name);
            assert_eq!(version.unwrap(), rustls::ProtocolVersion::TLSv1_3, "{name}");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut roots = RootCertStore::empty();
            roots.add(tls.certificate().clone()).unwrap();
            let tls12 = ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&[&rustls::version::TLS12])
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let version = handshake(Arc::new(tls12), server.clone(), name);
            assert_eq!(version.unwrap(), rustls::ProtocolVersion::TLSv1_2, "{name}");
        }
    }

    #[test]
    fn it_is_refused_for_another_name_and_by_a_client_that_trusts_another() {
        let dir = tempfile::tempdir().unwrap();
        let tls = TlsCert::create(&dir.path().join("one")).unwrap();
        let other = TlsCert::create(&dir.path().join("two")).unwrap();
        let server = server_config(&tls);
        let wrong_name = handshake(
            tls.client_config(&[]).unwrap(),
            server.clone(),
            "example.com",
        );
        assert!(wrong_name.is_err());
        let wrong_root = handshake(other.client_config(&[]).unwrap(), server, "localhost");
        assert!(wrong_root.is_err());
    }
}
