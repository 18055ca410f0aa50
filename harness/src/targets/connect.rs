//! Connections to a target on the protocol it was started with, for the few requests
//! the harness sends outside a load (readiness probes, the checks of `verify`).
//!
//! HTTP/1.1 stays blocking, plain or over rustls ([`H1Stream`]), so every HTTP/1.1
//! answer is still read by the load engine's own parser. HTTP/2 is the `h2` crate on a
//! current-thread tokio runtime ([`H2Connection`]): the runtime only runs while a
//! request waits, on the caller's thread, so a check stays as sequential as before.
//! Every TLS client trusts the run's certificate alone ([`TlsCert`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::tls_cert::{TlsCert, TlsCertError};
use crate::load::protocol::ProtocolName;

pub use super::h2_connection::{H2Connection, H2Error, H2Response};

/// ALPN protocol identifiers.
const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Why a connector could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{0} needs the run's TLS certificate")]
    NoCertificate(ProtocolName),
    #[error(transparent)]
    Tls(#[from] TlsCertError),
}

/// Opens connections to one address on one protocol.
#[derive(Clone)]
pub struct Connector {
    protocol: ProtocolName,
    addr: SocketAddr,
    timeout: Duration,
    tls: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("protocol", &self.protocol)
            .field("addr", &self.addr)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A connector for `protocol` at `addr`; `cert` is required for the TLS protocols
    /// and ignored otherwise. `timeout` bounds connecting (handshakes included) and
    /// each read or write.
    pub fn new(
        protocol: ProtocolName,
        addr: SocketAddr,
        cert: Option<&TlsCert>,
        timeout: Duration,
    ) -> Result<Connector, ConnectorError> {
        let tls = match (protocol.tls(), cert) {
            (false, _) => None,
            (true, None) => return Err(ConnectorError::NoCertificate(protocol)),
            // h1-tls offers http/1.1 so a server that also speaks HTTP/2 stays on 1.1.
            (true, Some(cert)) => Some(cert.client_config(match protocol.http2() {
                true => &[ALPN_H2],
                false => &[ALPN_HTTP11],
            })?),
        };
        Ok(Connector {
            protocol,
            addr,
            timeout,
            tls,
        })
    }

    /// Plain HTTP/1.1 to `addr` (the default of every check).
    pub fn h1(addr: SocketAddr, timeout: Duration) -> Connector {
        Connector {
            protocol: ProtocolName::H1,
            addr,
            timeout,
            tls: None,
        }
    }

    pub fn protocol(&self) -> ProtocolName {
        self.protocol
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The same connector with another timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Connector {
        Connector {
            timeout,
            ..self.clone()
        }
    }

    /// A TCP connection with the timeouts set (refused: the server is not up yet).
    pub fn tcp(&self) -> std::io::Result<TcpStream> {
        let stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// An HTTP/1.1 connection: `stream` as it is for `h1`, wrapped in TLS with its
    /// handshake done for `h1-tls` (a refused certificate fails here, not at the first
    /// request). Not for the HTTP/2 protocols.
    pub fn h1_over(&self, stream: TcpStream) -> std::io::Result<H1Stream> {
        let Some(config) = &self.tls else {
            return Ok(H1Stream::Plain(stream));
        };
        let name = ServerName::IpAddress(self.addr.ip().into());
        let connection = ClientConnection::new(Arc::clone(config), name)
            .map_err(|e| std::io::Error::other(format!("TLS: {e}")))?;
        let mut tls = StreamOwned::new(connection, stream);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| std::io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
        }
        Ok(H1Stream::Tls(Box::new(tls)))
    }

    /// [`Connector::tcp`] then [`Connector::h1_over`].
    pub fn connect_h1(&self) -> std::io::Result<H1Stream> {
        self.h1_over(self.tcp()?)
    }

    /// An HTTP/2 connection (h2c with prior knowledge, or h2 chosen by ALPN).
    pub fn connect_h2(&self) -> Result<H2Connection, H2Error> {
        H2Connection::connect(self.addr, self.tls.clone(), self.timeout)
    }

    /// HTTP/2 on a TCP connection already made, driven by `runtime`.
    pub fn h2_over(
        &self,
        runtime: Arc<tokio::runtime::Runtime>,
        stream: TcpStream,
    ) -> Result<H2Connection, H2Error> {
        H2Connection::over(runtime, stream, self.tls.clone(), self.timeout)
    }
}

/// An HTTP/1.1 connection, plain or over TLS.
#[derive(Debug)]
pub enum H1Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl H1Stream {
    /// The TCP socket underneath (to change its timeouts).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            H1Stream::Plain(stream) => stream,
            H1Stream::Tls(tls) => &tls.sock,
        }
    }
}

impl Read for H1Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            H1Stream::Plain(stream) => stream.read(buf),
            // A server that closes without close_notify ends the stream like a TCP
            // close would; the parser still tells a cut-short answer from a whole one.
            H1Stream::Tls(tls) => match tls.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for H1Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            H1Stream::Plain(stream) => stream.write(buf),
            H1Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            H1Stream::Plain(stream) => stream.flush(),
            H1Stream::Tls(tls) => tls.flush(),
        }
    }
}
