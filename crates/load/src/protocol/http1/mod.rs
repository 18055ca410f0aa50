//! HTTP/1.1 over plain TCP: the one response parser ([`ResponseParser`]), the request
//! head every client of the harness writes ([`encode_request`]), a whole message for
//! callers that judge the protocol itself ([`Message`]), blocking exchanges for the
//! harness (`exchange`), where a request ends for the harness's own proxy
//! ([`RequestParser`]) and whole requests for its other small servers
//! ([`RequestReader`]), and the generator's [`Protocol`] implementation ([`Http1`]).

pub mod encode;
pub mod exchange;
pub mod message;
pub mod request;
pub mod response;

pub use encode::{encode_head, encode_request};
pub use message::{read_head, HeadSummary, Message, MessageReader};
pub use request::{RequestEnd, RequestMessage, RequestParser, RequestReader};
pub use response::{Framing, Observer, ParseError, ResponseParser, MAX_HEAD_BYTES};

use super::{Progress, Protocol, Response};
use crate::outcome::ErrorKind;
use crate::request::PreparedRequest;

/// HTTP/1.1, one request in flight per connection, keep-alive unless the server says
/// otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct Http1;

impl Protocol for Http1 {
    type Transport = mio::net::TcpStream;
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
