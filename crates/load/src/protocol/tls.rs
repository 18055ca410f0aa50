//! TLS under HTTP/1.1 or HTTP/2, with rustls over the generator's non-blocking sockets.
//!
//! rustls does no I/O of its own: [`TlsStream`] moves its records between the socket and
//! the session, so a TLS connection is driven by the same edge-triggered event loop as a
//! plain one. Differences the worker must know: the handshake follows the connect
//! ([`Transport::handshake`]), a read shorter than the buffer does not mean the socket is
//! drained (records are decrypted one at a time), and written bytes may sit in the
//! session until the socket takes them (`flush`).
//!
//! `--insecure` skips the certificate's chain and name checks but still verifies the
//! handshake's signatures, so the client's work per handshake is the same as with a CA
//! file. Session resumption is rustls's default (an in-memory cache): a reconnecting
//! client resumes, as browsers and HTTP client libraries do.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::settings::{SettingsError, TlsSettings, TlsTrust, TlsVersions};
use super::Transport;

/// What every TLS connection of a run shares: the client configuration and the name the
/// certificate is checked against.
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsConfig {
    /// The client configuration for `settings`, offering `alpn` (e.g. `h2`).
    pub fn new(settings: &TlsSettings, alpn: &[&[u8]]) -> Result<TlsConfig, SettingsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.versions {
            TlsVersions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
            TlsVersions::Only12 => &[&rustls::version::TLS12],
            TlsVersions::Only13 => &[&rustls::version::TLS13],
        };
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .map_err(|e| SettingsError::Tls(e.to_string()))?;
        let mut config = match &settings.trust {
            TlsTrust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth(),
            TlsTrust::CaFile(path) => builder
                .with_root_certificates(roots(path)?)
                .with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let server_name = ServerName::try_from(settings.server_name.clone()).map_err(|e| {
            SettingsError::Tls(format!("server name '{}': {e}", settings.server_name))
        })?;
        Ok(TlsConfig {
            config: Arc::new(config),
            server_name,
        })
    }

    /// A client session for one connection.
    pub fn session(&self) -> io::Result<ClientConnection> {
        ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
            .map_err(io::Error::other)
    }
}

/// The CAs of a PEM file: at least one certificate, or an error naming the file.
fn roots(path: &std::path::Path) -> Result<RootCertStore, SettingsError> {
    let fail = |problem: String| SettingsError::CaFile {
        path: path.display().to_string(),
        problem,
    };
    let mut store = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        store.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    if store.is_empty() {
        return Err(fail("no certificate in the file".to_string()));
    }
    Ok(store)
}

/// `--insecure`: any certificate is taken, but the handshake's signatures are still
/// verified (the same work as a checked handshake).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client connection over a non-blocking TCP socket.
pub struct TlsStream {
    tcp: TcpStream,
    tls: ClientConnection,
}

impl TlsStream {
    /// Moves the session's pending records to the socket; `WouldBlock` when some stay.
    fn send_records(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads records from the socket into the session. `Ok(false)`: the peer closed.
    fn receive_records(&mut self) -> io::Result<bool> {
        loop {
            match self.tls.read_tls(&mut self.tcp) {
                Ok(0) => return Ok(false),
                Ok(_) => {
                    self.tls
                        .process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Many servers close without a close_notify: the end of the stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            let open = self.receive_records()?;
            // Alerts and key updates may need an answer.
            match self.send_records() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
            if !open {
                return match self.tls.reader().read(buf) {
                    Ok(n) => Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                    Err(e) => Err(e),
                };
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send_records()?;
        let n = self.tls.writer().write(buf)?;
        match self.send_records() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_records()
    }
}

impl mio::event::Source for TlsStream {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.tcp.register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.tcp.reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        self.tcp.deregister(registry)
    }
}

impl Transport for TlsStream {
    type Config = TlsConfig;

    fn connect(addr: SocketAddr, config: &TlsConfig) -> io::Result<TlsStream> {
        let tcp = <TcpStream as Transport>::connect(addr, &())?;
        Ok(TlsStream {
            tcp,
            tls: config.session()?,
        })
    }

    fn connected(&mut self) -> io::Result<bool> {
        self.tcp.connected()
    }

    fn handshake(&mut self) -> io::Result<bool> {
        loop {
            match self.send_records() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
            if !self.tls.is_handshaking() {
                return Ok(true);
            }
            match self.receive_records() {
                Ok(true) => {}
                Ok(false) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    fn has_handshake() -> bool {
        true
    }

    fn short_read_drains() -> bool {
        false
    }

    fn alpn(&self) -> Option<&[u8]> {
        self.tls.alpn_protocol()
    }
}
