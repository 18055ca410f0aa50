//! HTTP/1.1 over plain TCP: the one response parser ([`ResponseParser`]), the request
//! head every client of the harness writes ([`encode_request`]), a whole message for
//! callers that judge the protocol itself ([`Message`]), blocking exchanges for the
//! harness (`exchange`), where a request ends for the harness's own proxy
//! ([`RequestParser`]) and whole requests for its other small servers
//! ([`RequestReader`]), and the generator's [`Protocol`] implementation ([`Http1`], pipelining included).

pub mod encode;
pub mod exchange;
pub mod message;
#[cfg(test)]
mod pipelined_tests;
pub mod request;
pub mod response;

pub use encode::{encode_head, encode_request};
pub use message::{read_head, HeadSummary, Message, MessageReader};
pub use request::{RequestEnd, RequestMessage, RequestParser, RequestReader};
pub use response::{Framing, Observer, ParseError, ResponseParser, MAX_HEAD_BYTES};

use std::collections::VecDeque;

use super::{Event, Progress, Protocol};

use crate::outcome::ErrorKind;
use crate::request::PreparedRequest;

/// HTTP/1.1, keep-alive unless the server says otherwise; with a depth above one the
/// requests are pipelined and answers matched to them by order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Http1;

/// One HTTP/1.1 connection: the parser of the answer being read and the lanes waiting,
/// oldest first.
#[derive(Debug, Default)]
pub struct Http1Session {
    parser: ResponseParser,
    waiting: VecDeque<(usize, bool)>,
    /// The server said `Connection: close`: nothing more goes out on this socket.
    closing: bool,
}

impl Http1Session {
    /// Makes the parser ready for the oldest waiting request's answer.
    fn expect_next(&mut self) {
        if let Some(&(_, body_expected)) = self.waiting.front() {
            self.parser.reset(body_expected);
        }
    }
}

impl Protocol for Http1 {
    type Session = Http1Session;
    const ALPN: &'static [u8] = b"http/1.1";

    fn session(&self) -> Http1Session {
        Http1Session::default()
    }

    fn opened(&self, session: &mut Http1Session, _out: &mut Vec<u8>) {
        session.waiting.clear();
        session.closing = false;
    }

    #[inline]
    fn can_send(&self, session: &Http1Session) -> bool {
        !session.closing
    }

    #[inline]
    fn retiring(&self, session: &Http1Session) -> bool {
        session.closing
    }

    #[inline]
    fn send(
        &self,
        session: &mut Http1Session,
        lane: usize,
        _index: usize,
        request: &PreparedRequest,
        wire: &[u8],
        out: &mut Vec<u8>,
    ) {
        session.waiting.push_back((lane, request.body_expected));
        if session.waiting.len() == 1 {
            session.expect_next();
        }
        out.extend_from_slice(wire);
    }

    fn received(
        &self,
        session: &mut Http1Session,
        mut data: &[u8],
        _out: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorKind> {
        while !data.is_empty() {
            let Some(&(lane, _)) = session.waiting.front() else {
                // Bytes nobody asked for: the connection is out of step.
                return Err(ErrorKind::Parse);
            };
            let (progress, used) = session
                .parser
                .advance(data, &mut ())
                .map_err(|_| ErrorKind::Parse)?;
            data = &data[used..];
            if let Progress::Complete(response) = progress {
                session.waiting.pop_front();
                session.closing |= !response.keep_alive;
                events.push(Event::Answered { lane, response });
                session.expect_next();
            }
        }
        Ok(())
    }

    fn closed(&self, session: &mut Http1Session, events: &mut Vec<Event>) {
        if let Some(response) = session.parser.finish_on_close() {
            if let Some((lane, _)) = session.waiting.pop_front() {
                events.push(Event::Answered { lane, response });
            }
        }
        for (lane, _) in session.waiting.drain(..) {
            events.push(Event::Failed {
                lane,
                kind: ErrorKind::Read,
            });
        }
    }
}
