//! HTTP/2 (RFC 9113) for the generator: h2c with prior knowledge over TCP, h2 over TLS.
//!
//! One link carries `--streams` lanes, each an HTTP/2 stream at a time. The client
//! writes the preface and its settings when a socket opens and sends requests once the
//! server's settings came (so that its stream limit is known; lanes beyond it wait).
//! Answers are matched by stream id; a stream id picks its slot in a table twice the
//! depth, and ids are skipped (allowed: they only have to grow) until a free slot comes,
//! so the match is one index, never a search.
//!
//! Flow control: the client opens its receive windows wide (the stream window at
//! 2^30 - 1 as in its settings, the connection window raised to the same) and tops the
//! connection window up once half of it was used, so the server is never held back by
//! the client and window updates cost nearly nothing. Request bodies go out whole
//! (bodies above the default 64 KiB window are refused before the run).
//!
//! Error classes: an RST_STREAM from the server fails its stream (`stream_reset`); a
//! GOAWAY fails the streams above its last stream id (`goaway`) and retires the link,
//! which reconnects once its remaining streams are answered. Anything that breaks the
//! framing (a frame too large, a header block that does not decode, a push) fails the
//! connection as a parse error.

mod encode;
pub mod frame;
pub mod hpack;
mod session;
#[cfg(test)]
mod session_tests;

pub use encode::{encode, parts, EncodeError, Encoded, Parts};
pub use session::Http2Session;

use std::sync::Arc;

use super::settings::{ClientProtocol, Http2Facts, SettingsError};
use super::{Event, Protocol};
use crate::outcome::ErrorKind;
use crate::request::{PreparedRequest, RequestPlan};

/// The stream window the client announces, and the connection window it keeps.
pub const WINDOW: u32 = (1 << 30) - 1;
/// The HPACK table the server may use for its answers (the protocol's default).
pub const HEADER_TABLE_SIZE: u32 = 4096;
/// The largest request body sent: the server's initial window unless it says otherwise.
const MAX_BODY: usize = 65_535;

/// HTTP/2 framing, with each plan entry's header block built once.
#[derive(Debug, Clone)]
pub struct Http2 {
    /// Per plan entry: its block and body, or `None` for a templated entry (encoded per
    /// request).
    encoded: Arc<Vec<Option<Encoded>>>,
    https: bool,
}

impl Http2 {
    /// Builds the header blocks of `plan`'s entries for `client` (checked: every
    /// request must be expressible as HTTP/2 and its body fit the default window).
    pub fn new(plan: &RequestPlan, client: &ClientProtocol) -> Result<Http2, SettingsError> {
        let https = client.tls.is_some();
        let mut encoded = Vec::with_capacity(plan.len());
        for index in 0..plan.len() {
            let request = plan.get(index);
            let wire = request.render_once();
            let e = encode(&wire, https)
                .map_err(|e| SettingsError::Invalid(format!("{}: HTTP/2: {e}", request.label)))?;
            if e.body.len() > MAX_BODY || e.block.len() > frame::MAX_FRAME_SIZE {
                return Err(SettingsError::Invalid(format!(
                    "{}: HTTP/2 requests are sent with bodies up to 64 KiB and header blocks up to 16 KiB",
                    request.label
                )));
            }
            encoded.push(request.dynamic.is_none().then_some(e));
        }
        Ok(Http2 {
            encoded: Arc::new(encoded),
            https,
        })
    }
}

impl Protocol for Http2 {
    type Session = Http2Session;
    const ALPN: &'static [u8] = b"h2";

    fn accepts_alpn(agreed: Option<&[u8]>) -> bool {
        agreed == Some(Self::ALPN)
    }

    fn session(&self) -> Http2Session {
        Http2Session::default()
    }

    fn opened(&self, session: &mut Http2Session, out: &mut Vec<u8>) {
        session.start(out);
    }

    fn ready(&self, session: &Http2Session) -> bool {
        session.ready()
    }

    #[inline]
    fn can_send(&self, session: &Http2Session) -> bool {
        session.can_open()
    }

    #[inline]
    fn retiring(&self, session: &Http2Session) -> bool {
        session.retiring()
    }

    fn send(
        &self,
        session: &mut Http2Session,
        lane: usize,
        index: usize,
        _request: &PreparedRequest,
        wire: &[u8],
        out: &mut Vec<u8>,
    ) {
        match self.encoded.get(index).and_then(Option::as_ref) {
            Some(e) => session.send(lane, &e.block, &wire[e.body.clone()], out),
            None => match encode(wire, self.https) {
                Ok(e) => session.send(lane, &e.block, &wire[e.body], out),
                // A rendered template that no longer parses: the stream is still opened
                // (so the lane gets an answer or a timeout), with what could be said.
                Err(_) => session.send(lane, &[], &[], out),
            },
        }
    }

    fn received(
        &self,
        session: &mut Http2Session,
        data: &[u8],
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorKind> {
        session.received(data, out, events)
    }

    fn closed(&self, session: &mut Http2Session, events: &mut Vec<Event>) {
        session.fail_all(ErrorKind::Read, events);
    }

    fn cancel(&self, session: &mut Http2Session, lane: usize, out: &mut Vec<u8>) -> bool {
        session.cancel(lane, out);
        true
    }

    fn http2_facts(&self) -> Option<Http2Facts> {
        Some(Http2Facts {
            initial_window_size: WINDOW,
            connection_window_size: WINDOW,
            max_frame_size: frame::MAX_FRAME_SIZE as u32,
            header_table_size: HEADER_TABLE_SIZE,
            enable_push: false,
        })
    }
}
