//! One HTTP/2 client connection for the harness's checks: h2c with prior knowledge
//! (RFC 9113 section 3.3: the connection preface first, no `Upgrade`), or h2 over TLS
//! where the server must choose `h2` by ALPN.
//!
//! The `h2` crate frames the streams; a current-thread tokio runtime owned by the
//! connection runs its I/O, only while a request is being waited for. The answer's
//! headers are kept as received (lowercase names, as HTTP/2 sends them); the `h2` crate
//! itself refuses connection-specific headers and a `content-length` that the DATA
//! frames contradict, so such an answer is an error here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// Largest body kept, to bound memory on a misbehaving server.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Why an HTTP/2 connection or request failed.
#[derive(Debug, thiserror::Error)]
pub enum H2Error {
    /// The TCP connect failed (refused: nobody listens yet).
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS handshake: {0}")]
    Tls(std::io::Error),
    /// The TLS server did not pick `h2` by ALPN (what it did instead).
    #[error("ALPN: {0}")]
    Alpn(String),
    #[error("HTTP/2: {0}")]
    Protocol(#[from] h2::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Request(String),
    #[error("cannot start the HTTP/2 runtime: {0}")]
    Runtime(std::io::Error),
}

impl H2Error {
    /// Nobody accepted the connection (a server that is not up yet).
    pub fn is_refused(&self) -> bool {
        matches!(self, H2Error::Connect(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
    }
}

/// A complete HTTP/2 answer.
#[derive(Debug, Clone)]
pub struct H2Response {
    pub status: u16,
    /// Header fields as received (lowercase names), duplicates kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An open HTTP/2 connection and the runtime that drives it.
pub struct H2Connection {
    runtime: Arc<Runtime>,
    send: h2::client::SendRequest<Bytes>,
    authority: String,
    scheme: &'static str,
    timeout: Duration,
}

impl std::fmt::Debug for H2Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Connection")
            .field("authority", &self.authority)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

/// A runtime for one connection: I/O and timers, on the calling thread only.
pub fn runtime() -> Result<Runtime, H2Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(H2Error::Runtime)
}

impl H2Connection {
    /// Connects to `addr`: over TLS with `tls` (whose ALPN must offer `h2`), else h2c.
    /// `timeout` bounds the connect with its handshakes, and later each request.
    pub fn connect(
        addr: SocketAddr,
        tls: Option<Arc<ClientConfig>>,
        timeout: Duration,
    ) -> Result<H2Connection, H2Error> {
        let tcp = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(H2Error::Connect)?;
        Self::over(Arc::new(runtime()?), tcp, tls, timeout)
    }

    /// Starts HTTP/2 on a TCP connection already made, with `runtime` (a readiness
    /// probe makes one before the server is spawned and connects without it, so that
    /// a refused connect costs no more than on HTTP/1.1).
    pub fn over(
        runtime: Arc<Runtime>,
        tcp: std::net::TcpStream,
        tls: Option<Arc<ClientConfig>>,
        timeout: Duration,
    ) -> Result<H2Connection, H2Error> {
        let addr = tcp.peer_addr().map_err(H2Error::Connect)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let send = runtime.block_on(async {
            let handshake = async {
                tcp.set_nonblocking(true).map_err(H2Error::Connect)?;
                let _ = tcp.set_nodelay(true);
                let tcp = TcpStream::from_std(tcp).map_err(H2Error::Connect)?;
                match tls {
                    None => start(tcp).await,
                    Some(config) => start(tls_h2(tcp, addr, config).await?).await,
                }
            };
            tokio::time::timeout(timeout, handshake)
                .await
                .unwrap_or(Err(H2Error::Timeout(timeout)))
        })?;
        Ok(H2Connection {
            runtime,
            send,
            authority: addr.to_string(),
            scheme,
            timeout,
        })
    }

    /// Sends one request (with `body`: `end_stream` after its DATA) and reads the whole
    /// answer, within the connection's timeout.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<H2Response, H2Error> {
        let uri = format!("{}://{}{path}", self.scheme, self.authority);
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(())
            .map_err(|e| H2Error::Request(e.to_string()))?;
        let send = self.send.clone();
        let timeout = self.timeout;
        let exchange = exchange(send, request, body.map(Bytes::copy_from_slice));
        self.runtime.block_on(async {
            tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or(Err(H2Error::Timeout(timeout)))
        })
    }
}

/// The TLS handshake, offering and requiring `h2` by ALPN.
async fn tls_h2(
    tcp: TcpStream,
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, H2Error> {
    let name = ServerName::IpAddress(addr.ip().into());
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| match refused_alpn(&e) {
            true => H2Error::Alpn("the server refused h2 (alert no_application_protocol)".into()),
            false => H2Error::Tls(e),
        })?;
    match stream.get_ref().1.alpn_protocol() {
        Some(b"h2") => Ok(stream),
        Some(other) => Err(H2Error::Alpn(format!(
            "the server chose {} instead of h2",
            String::from_utf8_lossy(other)
        ))),
        None => Err(H2Error::Alpn(
            "the server chose no protocol instead of h2".to_string(),
        )),
    }
}

/// A server that offers ALPN but not `h2` ends the handshake with this alert (RFC 7301).
fn refused_alpn(error: &std::io::Error) -> bool {
    let alert = rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol);
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| *e == alert)
}

/// The HTTP/2 preface and settings exchange; the connection's I/O then runs as a task
/// of the runtime.
async fn start<T>(io: T) -> Result<h2::client::SendRequest<Bytes>, H2Error>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = h2::client::handshake(io).await?;
    tokio::spawn(async move {
        // Its end (a GOAWAY, a close) shows as the error of the next request.
        let _ = connection.await;
    });
    Ok(send)
}

async fn exchange(
    send: h2::client::SendRequest<Bytes>,
    request: http::Request<()>,
    body: Option<Bytes>,
) -> Result<H2Response, H2Error> {
    let mut send = send.ready().await?;
    let (answer, mut stream) = send.send_request(request, body.is_none())?;
    if let Some(body) = body {
        stream.send_data(body, true)?;
    }
    let (parts, mut received) = answer.await?.into_parts();
    let mut body = Vec::new();
    while let Some(chunk) = received.data().await {
        let chunk = chunk?;
        let _ = received.flow_control().release_capacity(chunk.len());
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(H2Error::TooLarge(MAX_BODY_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect();
    Ok(H2Response {
        status: parts.status.as_u16(),
        headers,
        body,
    })
}
