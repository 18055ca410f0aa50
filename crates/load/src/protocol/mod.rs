//! The protocol seam: how requests and responses are framed on a connection, kept apart
//! from the scheduler, the recorder, the histograms and the result, which know only that
//! a request was sent and an answer (a status, whether the connection stays open) came.
//!
//! A generator thread is generic over one [`Protocol`] (monomorphized: no dynamic
//! dispatch and no allocation per request). Each connection holds the protocol's
//! [`Protocol::Session`]; the worker tells it when a connection opens and which request
//! goes out, hands it the bytes that arrive, and records what it reports. HTTP/1.1 is
//! [`http1`]. What comes next fits here: TLS wraps the socket under a session; HTTP/2
//! multiplexes streams under one session; pipelining keeps several requests in flight
//! per session, answered in order. Which protocol a run speaks is a client setting
//! ([`HttpVersion`], in `RunOptions`). Connection setup is the protocol's
//! [`Transport`]: the worker asks it to connect and whether the connect is done.

pub mod http1;
mod name;
mod transport;

pub use name::{ProtocolName, UnknownProtocol};
pub use transport::Transport;

use crate::outcome::ErrorKind;
use crate::request::PreparedRequest;

/// The HTTP version the generator speaks: a setting of the client, not of the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.1 over plain TCP, one request in flight per connection.
    #[default]
    Http1,
}

/// What a protocol learned once an answer is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Whether the server lets the connection be reused for the next request.
    pub keep_alive: bool,
    /// The server marked the answer as a degraded fallback (`X-Degraded: true`, the
    /// service-to-service contract's marker): not a success, whatever its status.
    pub degraded: bool,
}

/// Result of feeding bytes: either more are needed or the answer is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    Complete(Response),
}

/// One wire protocol as a generator thread drives it.
pub trait Protocol: Send + 'static {
    /// The socket the protocol's bytes travel on (plain TCP; TLS would wrap it).
    type Transport: Transport;
    /// What one connection keeps between reads (a parser, a frame decoder).
    type Session: Send;

    /// A session for a new connection slot.
    fn session(&self) -> Self::Session;

    /// A socket was opened for the session's connection (also after a reconnect).
    fn opened(&self, session: &mut Self::Session);

    /// `request` is about to be written: its answer is the next one expected.
    fn expect(&self, session: &mut Self::Session, request: &PreparedRequest);

    /// Bytes arrived. An error is the class the request fails with.
    fn received(&self, session: &mut Self::Session, data: &[u8]) -> Result<Progress, ErrorKind>;

    /// The peer closed the connection: an answer delimited by the close is complete
    /// now; anything else was cut short (`None`).
    fn closed(&self, session: &mut Self::Session) -> Option<Response>;
}
