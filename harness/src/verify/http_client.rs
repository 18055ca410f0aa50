//! A small blocking client for checking servers, not for load, on the protocol the
//! server was started with: HTTP/1.1 plain or over TLS, HTTP/2 as h2c or h2.
//!
//! It keeps the raw header list (duplicates included) and how the body was framed, so
//! the checks can judge the protocol itself; it reuses one keep-alive connection and
//! counts connections so keep-alive can be verified. HTTP/1.1 responses are read by
//! the load engine's one HTTP/1.1 parser ([`Exchanger::exchange_message`]); HTTP/2 ones
//! by the `h2` crate ([`H2Connection`]); nothing here parses.

use std::net::SocketAddr;
use std::time::Duration;

use crate::load::exchange::{ExchangeError, Exchanger};
pub use crate::load::protocol::http1::Framing as BodyFraming;
use crate::load::protocol::http1::{self, Message};
use crate::load::protocol::ProtocolName;
use crate::targets::{Connector, H1Stream, H2Connection, H2Error, H2Response};

/// Largest body accepted, to bound memory on a misbehaving server.
const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// A received response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order received, names as sent, duplicates kept.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: Vec<u8>,
    /// How an HTTP/1.1 body was delimited; `None` on HTTP/2, where DATA frames do.
    pub framing: Option<BodyFraming>,
    /// Whether the server lets the connection be reused after this response.
    keep_alive: bool,
}

impl From<Message> for Response {
    fn from(message: Message) -> Response {
        Response {
            status: message.status,
            headers: message.headers,
            body: message.body,
            framing: Some(message.framing),
            keep_alive: message.keep_alive,
        }
    }
}

impl From<H2Response> for Response {
    fn from(answer: H2Response) -> Response {
        Response {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
            framing: None,
            keep_alive: true,
        }
    }
}

impl Response {
    /// All values of header `name` (case-insensitive), in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as (lossy) text, shortened for messages.
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut excerpt: String = text.chars().take(200).collect();
        if excerpt.len() < text.len() {
            excerpt.push('…');
        }
        excerpt
    }

    /// Whether the server asked to close the connection after this response.
    fn closes_connection(&self) -> bool {
        !self.keep_alive
    }

    /// Whether the server lets the connection be reused after this response.
    pub fn keeps_connection(&self) -> bool {
        self.keep_alive
    }
}

/// A failed exchange.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, writing or reading failed (including timeouts).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The bytes received are not valid HTTP/1.1.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// An HTTP/2 connection or stream failed (a protocol error, a reset stream, a
    /// GOAWAY, a refused ALPN, a timeout).
    #[error("{0}")]
    Http2(H2Error),
}

impl ClientError {
    /// What a kept-alive connection the server had already closed looks like.
    fn is_stale_connection(&self) -> bool {
        match self {
            ClientError::Io(err) => is_stale_connection(err),
            ClientError::Http2(H2Error::Protocol(err)) => err.is_go_away() || err.is_io(),
            _ => false,
        }
    }
}

impl From<H2Error> for ClientError {
    fn from(error: H2Error) -> ClientError {
        match error {
            H2Error::Connect(e) => ClientError::Io(e),
            other => ClientError::Http2(other),
        }
    }
}

impl From<ExchangeError> for ClientError {
    fn from(error: ExchangeError) -> ClientError {
        match error {
            ExchangeError::Write(e) | ExchangeError::Read(e) => ClientError::Io(e),
            // A close is what a stale kept-alive connection looks like: retried once.
            ExchangeError::Closed => ClientError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            )),
            other => ClientError::Malformed(other.to_string()),
        }
    }
}

/// A blocking client bound to one server address and protocol.
#[derive(Debug)]
pub struct HttpClient {
    connector: Connector,
    connection: Option<Connection>,
    exchanger: Exchanger,
    connections_opened: usize,
}

/// An open connection of either HTTP version.
#[derive(Debug)]
enum Connection {
    H1(H1Stream),
    H2(H2Connection),
}

impl HttpClient {
    /// A plain HTTP/1.1 client for `addr`; `timeout` bounds connecting and each read
    /// or write.
    pub fn new(addr: SocketAddr, timeout: Duration) -> HttpClient {
        HttpClient::on(Connector::h1(addr, timeout))
    }

    /// A client speaking `connector`'s protocol (its timeout bounds connecting,
    /// handshakes included, and each read or write, or each HTTP/2 request).
    pub fn on(connector: Connector) -> HttpClient {
        HttpClient {
            connector,
            connection: None,
            exchanger: Exchanger::default(),
            connections_opened: 0,
        }
    }

    /// The protocol spoken.
    pub fn protocol(&self) -> ProtocolName {
        self.connector.protocol()
    }

    /// How many connections this client has opened so far.
    pub fn connections_opened(&self) -> usize {
        self.connections_opened
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> Result<Response, ClientError> {
        self.request("GET", path, None)
    }

    /// `POST path` with a JSON body.
    pub fn post_json(&mut self, path: &str, body: &[u8]) -> Result<Response, ClientError> {
        self.request("POST", path, Some(body))
    }

    /// Sends one request on the kept-alive connection (opening one if needed) and reads
    /// the response. A request on a reused connection that the server had silently
    /// closed is retried once on a new connection.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ClientError> {
        let reused = self.connection.is_some();
        match self.exchange(method, path, body) {
            Err(err) if reused && err.is_stale_connection() => {
                self.connection = None;
                self.exchange(method, path, body)
            }
            other => other,
        }
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ClientError> {
        let result = self.exchange_on_connection(method, path, body);
        let keep = matches!(&result, Ok(response) if !response.closes_connection());
        if !keep {
            self.connection = None;
        }
        result
    }

    fn exchange_on_connection(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ClientError> {
        let addr = self.connector.addr();
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let opened = match self.connector.protocol().http2() {
                    true => Connection::H2(self.connector.connect_h2()?),
                    false => Connection::H1(self.connector.connect_h1()?),
                };
                self.connections_opened += 1;
                self.connection.insert(opened)
            }
        };
        match connection {
            Connection::H1(stream) => {
                let request = encode_request(method, path, &addr, body);
                let message = self.exchanger.exchange_message(
                    stream,
                    &request,
                    method != "HEAD",
                    MAX_MESSAGE_BYTES,
                )?;
                Ok(Response::from(message))
            }
            Connection::H2(h2) => {
                let headers = request_headers(body);
                Ok(Response::from(h2.request(method, path, headers, body)?))
            }
        }
    }
}

/// Errors meaning the server closed an idle kept-alive connection before our request.
fn is_stale_connection(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::BrokenPipe
            | ErrorKind::ConnectionAborted
    )
}

/// The headers every check sends (HTTP/1.1 adds `Host` and framing, HTTP/2 its
/// pseudo-headers).
fn request_headers(body: Option<&[u8]>) -> &'static [(&'static str, &'static str)] {
    const ACCEPT: (&str, &str) = ("Accept", "application/json");
    match body {
        Some(_) => &[ACCEPT, ("Content-Type", "application/json")],
        None => &[ACCEPT],
    }
}

/// Serialises an HTTP/1.1 request with the headers every check needs.
pub fn encode_request(method: &str, path: &str, addr: &SocketAddr, body: Option<&[u8]>) -> Vec<u8> {
    http1::encode_request(method, path, &addr.to_string(), request_headers(body), body)
}
