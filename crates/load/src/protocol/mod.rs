//! The protocol seam: how requests and responses are framed on a connection, kept apart
//! from the scheduler, the recorder, the histograms and the result, which know only that
//! a request went out on a lane and an answer (a status, or an error class) came back.
//!
//! A generator thread is generic over one [`Protocol`] and one [`Transport`]
//! (monomorphized: no dynamic dispatch and no allocation per request). A *lane* carries
//! one request at a time and has its own place in the open-loop schedule; a *link* is a
//! socket carrying `depth` lanes: one for plain HTTP/1.1, the pipeline depth for
//! pipelined HTTP/1.1 (answers in order), the stream count for HTTP/2 (answers in any
//! order, matched by stream id). The worker tells the link's session which lane's
//! request goes out and hands it the bytes that arrive; the session reports which lanes
//! were answered or failed ([`Event`]). The transport is plain TCP or TLS (`tls`) and
//! is orthogonal to the framing.

pub mod http1;
pub mod http2;
mod name;
mod preflight;
mod settings;
pub mod tls;
pub mod transport;

pub use name::{ProtocolName, UnknownProtocol};
pub use preflight::{preflight, PreflightError};
pub use settings::{
    ClientProtocol, Http2Facts, ProtocolFacts, SettingsError, TlsFacts, TlsSettings, TlsTrust,
    TlsVersions,
};
pub use transport::{PlainTcp, Transport};

use crate::outcome::ErrorKind;
use crate::request::PreparedRequest;

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

/// Result of feeding bytes to a one-response parser: more are needed, or the answer is
/// complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    Complete(Response),
}

/// What happened to one lane's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Answered {
        lane: usize,
        response: Response,
    },
    /// The request failed on its own (a reset stream, a stream refused by GOAWAY); the
    /// connection goes on.
    Failed {
        lane: usize,
        kind: ErrorKind,
    },
}

/// One wire framing as a generator thread drives it.
pub trait Protocol: Clone + Send + 'static {
    /// What one socket keeps between reads (a parser and the lanes waiting in order, a
    /// frame decoder and the open streams).
    type Session: Send;

    /// A session for a new link.
    fn session(&self) -> Self::Session;

    /// A socket was opened for the link (also after a reconnect): the session starts
    /// over, and what the protocol sends before any request goes into `out`.
    fn opened(&self, session: &mut Self::Session, out: &mut Vec<u8>);

    /// The application protocol this framing asks for by ALPN over TLS.
    const ALPN: &'static [u8];

    /// Whether a TLS handshake that agreed on `agreed` (ALPN) lets this framing run.
    fn accepts_alpn(agreed: Option<&[u8]>) -> bool {
        agreed.is_none_or(|p| p == Self::ALPN)
    }

    /// The session is set up and requests may flow (HTTP/2: the server's settings came).
    fn ready(&self, _session: &Self::Session) -> bool {
        true
    }

    /// Another request may go out now (HTTP/2: below the server's stream limit).
    fn can_send(&self, session: &Self::Session) -> bool;

    /// No request may ever go out on this socket again (`Connection: close`, GOAWAY):
    /// once its lanes are answered, the link reconnects.
    fn retiring(&self, session: &Self::Session) -> bool;

    /// Appends lane `lane`'s request (entry `index` of the plan; `wire`: its HTTP/1.1
    /// bytes, rendered) to `out`.
    fn send(
        &self,
        session: &mut Self::Session,
        lane: usize,
        index: usize,
        request: &PreparedRequest,
        wire: &[u8],
        out: &mut Vec<u8>,
    );

    /// Bytes arrived: answered and failed lanes go to `events`, anything the protocol
    /// must send back (acknowledgements, window updates) to `out`. An error fails the
    /// whole connection with that class.
    fn received(
        &self,
        session: &mut Self::Session,
        data: &[u8],
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorKind>;

    /// The peer closed the connection: an answer delimited by the close is complete
    /// now (an `Answered` event); every other lane still waiting was cut short.
    fn closed(&self, session: &mut Self::Session, events: &mut Vec<Event>);

    /// The HTTP/2 settings the client announces, for the result (none on HTTP/1.1).
    fn http2_facts(&self) -> Option<Http2Facts> {
        None
    }

    /// Lane `lane` gives up waiting. True when only its request is dropped (HTTP/2
    /// resets its stream, into `out`); false when the connection must go (HTTP/1.1,
    /// whose answers are matched by order).
    fn cancel(&self, _session: &mut Self::Session, _lane: usize, _out: &mut Vec<u8>) -> bool {
        false
    }
}
