//! HTTP/1.1 over plain TCP: the one response parser ([`ResponseParser`]), the request
//! head every client of the harness writes ([`encode_request`]), a whole message for
//! callers that judge the protocol itself ([`Message`]), and the generator's
//! [`Protocol`] implementation ([`Http1`]).

pub mod message;
pub mod response;

pub use message::{read_head, HeadSummary, Message, MessageReader};
pub use response::{Framing, Observer, ParseError, ResponseParser, MAX_HEAD_BYTES};

use super::{Progress, Protocol, Response};
use crate::outcome::ErrorKind;
use crate::request::PreparedRequest;

/// HTTP/1.1, one request in flight per connection, keep-alive unless the server says
/// otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct Http1;

impl Protocol for Http1 {
    type Session = ResponseParser;

    fn session(&self) -> ResponseParser {
        ResponseParser::default()
    }

    #[inline]
    fn opened(&self, _session: &mut ResponseParser) {}

    #[inline]
    fn expect(&self, session: &mut ResponseParser, request: &PreparedRequest) {
        session.reset(request.body_expected);
    }

    #[inline]
    fn received(&self, session: &mut ResponseParser, data: &[u8]) -> Result<Progress, ErrorKind> {
        session.feed(data).map_err(|_| ErrorKind::Parse)
    }

    #[inline]
    fn closed(&self, session: &mut ResponseParser) -> Option<Response> {
        session.finish_on_close()
    }
}

/// The bytes of one request: the request line, `Host`, `headers` in order, a
/// `Content-Length` when there is a body, the blank line and the body. The caller
/// checks what it passes (see `wire`); nothing here escapes.
pub fn encode_request<N: AsRef<str>, V: AsRef<str>>(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(N, V)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = encode_head(method, target, host, headers);
    if let Some(body) = body {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.unwrap_or_default());
    out
}

/// The request line, `Host` and `headers`, without the blank line that ends the head.
pub fn encode_head<N: AsRef<str>, V: AsRef<str>>(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(N, V)],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
    for (name, value) in headers {
        out.extend_from_slice(format!("{}: {}\r\n", name.as_ref(), value.as_ref()).as_bytes());
    }
    out
}
