//! A small blocking HTTP/1.1 client for checking servers, not for load.
//!
//! It keeps the raw header list (duplicates included) and how the body was framed, so
//! the checks can judge the protocol itself; it reuses one keep-alive connection and
//! counts connections so keep-alive can be verified.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest header block or body accepted, to bound memory on a misbehaving server.
const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// How a response body was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// `Content-Length` header.
    ContentLength,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ran until the server closed the connection.
    UntilClose,
}

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
        self.framing == BodyFraming::UntilClose
            || self
                .header_values("connection")
                .iter()
                .any(|value| value.to_ascii_lowercase().contains("close"))
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

/// A blocking client bound to one server address.
#[derive(Debug)]
pub struct HttpClient {
    addr: SocketAddr,
    timeout: Duration,
    connection: Option<BufReader<TcpStream>>,
    connections_opened: usize,
}

impl HttpClient {
    /// A client for `addr`; `timeout` bounds connecting and each read or write.
    pub fn new(addr: SocketAddr, timeout: Duration) -> HttpClient {
        HttpClient {
            addr,
            timeout,
            connection: None,
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
        let connection = self.connection()?;
        connection.get_mut().write_all(&request)?;
        let response = read_response(connection, method == "HEAD")?;
        // Nothing was pipelined, so bytes beyond the body mean the server's framing
        // (usually Content-Length) is wrong; the connection cannot be trusted after it.
        let surplus = connection.buffer().len();
        if surplus > 0 {
            return Err(malformed(&format!(
                "{surplus} unexpected byte(s) after the {} response body (wrong Content-Length?)",
                response.status
            )));
        }
        Ok(response)
    }

    fn connection(&mut self) -> Result<&mut BufReader<TcpStream>, ClientError> {
        if self.connection.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            stream.set_nodelay(true)?;
            self.connections_opened += 1;
            self.connection = Some(BufReader::new(stream));
        }
        Ok(self
            .connection
            .as_mut()
            .expect("connection was just opened"))
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
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n");
    if let Some(body) = body {
        request.push_str("Content-Type: application/json\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    bytes
}

/// Reads one response (head and body) from `reader`.
pub fn read_response<R: BufRead>(reader: &mut R, head_only: bool) -> Result<Response, ClientError> {
    let head = read_head(reader)?;
    let mut header_storage = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut header_storage);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(malformed("incomplete head")),
        Err(err) => return Err(malformed(&format!("{err}"))),
    }
    let status = parsed.code.ok_or_else(|| malformed("no status code"))?;
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
        framing: BodyFraming::ContentLength,
    };
    let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
    let chunked = response
        .header_values("transfer-encoding")
        .iter()
        .any(|value| value.to_ascii_lowercase().contains("chunked"));
    if chunked {
        response.framing = BodyFraming::Chunked;
        if !no_body {
            response.body = read_chunked(reader)?;
        }
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| malformed(&format!("bad Content-Length {length:?}")))?;
        if length > MAX_MESSAGE_BYTES {
            return Err(malformed(&format!("Content-Length {length} too large")));
        }
        if !no_body {
            response.body = vec![0; length];
            reader.read_exact(&mut response.body)?;
        }
    } else if !no_body {
        response.framing = BodyFraming::UntilClose;
        reader
            .take(MAX_MESSAGE_BYTES as u64)
            .read_to_end(&mut response.body)?;
    }
    Ok(response)
}

fn read_head<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, ClientError> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let read = reader.read_until(b'\n', &mut head)?;
        if read == 0 {
            return Err(ClientError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            )));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            return Ok(head);
        }
        if head.len() > MAX_MESSAGE_BYTES {
            return Err(malformed("header block too large"));
        }
    }
}

fn read_chunked<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_text = size_line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| malformed(&format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Skip optional trailers up to the blank line ending the message.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_MESSAGE_BYTES {
            return Err(malformed("chunked body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(malformed("chunk not followed by CRLF"));
        }
    }
}

fn malformed(message: &str) -> ClientError {
    ClientError::Malformed(message.to_string())
}
