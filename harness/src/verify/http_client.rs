//! A small blocking HTTP/1.1 client for checking servers, not for load.
//!
//! It keeps the raw header list (duplicates included) and how the body was framed, so
//! the checks can judge the protocol itself; it reuses one keep-alive connection and
//! counts connections so keep-alive can be verified. Responses are read by the load
//! engine's one HTTP/1.1 parser ([`Exchanger::exchange_message`]); nothing here parses.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::load::exchange::{ExchangeError, Exchanger};
pub use crate::load::protocol::http1::Framing as BodyFraming;
use crate::load::protocol::http1::{self, Message};

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
    /// How the body was delimited.
    pub framing: BodyFraming,
    /// Whether the server lets the connection be reused after this response.
    keep_alive: bool,
}

impl From<Message> for Response {
    fn from(message: Message) -> Response {
        Response {
            status: message.status,
            headers: message.headers,
            body: message.body,
            framing: message.framing,
            keep_alive: message.keep_alive,
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

/// A blocking client bound to one server address.
#[derive(Debug)]
pub struct HttpClient {
    addr: SocketAddr,
    timeout: Duration,
    connection: Option<TcpStream>,
    exchanger: Exchanger,
    connections_opened: usize,
}

impl HttpClient {
    /// A client for `addr`; `timeout` bounds connecting and each read or write.
    pub fn new(addr: SocketAddr, timeout: Duration) -> HttpClient {
        HttpClient {
            addr,
            timeout,
            connection: None,
            exchanger: Exchanger::default(),
            connections_opened: 0,
        }
    }

    /// How many TCP connections this client has opened so far.
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
            Err(ClientError::Io(err)) if reused && is_stale_connection(&err) => {
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
        let request = encode_request(method, path, &self.addr, body);
        self.connection()?;
        let connection = self
            .connection
            .as_mut()
            .expect("connection was just opened");
        let message = self.exchanger.exchange_message(
            connection,
            &request,
            method != "HEAD",
            MAX_MESSAGE_BYTES,
        )?;
        Ok(Response::from(message))
    }

    fn connection(&mut self) -> Result<(), ClientError> {
        if self.connection.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            stream.set_nodelay(true)?;
            self.connections_opened += 1;
            self.connection = Some(stream);
        }
        Ok(())
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

/// Serialises a request with the headers every check needs.
pub fn encode_request(method: &str, path: &str, addr: &SocketAddr, body: Option<&[u8]>) -> Vec<u8> {
    let accept = ("Accept", "application/json");
    let headers: &[(&str, &str)] = match body {
        Some(_) => &[accept, ("Content-Type", "application/json")],
        None => &[accept],
    };
    http1::encode_request(method, path, &addr.to_string(), headers, body)
}
