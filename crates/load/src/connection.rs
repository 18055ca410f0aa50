//! What a generator thread keeps per lane and per link.
//!
//! A *lane* carries one request at a time and has its own place in the open-loop
//! schedule (its global index), so `connections x depth` lanes share the rate; a *link*
//! is one socket and carries `depth` consecutive lanes (one unless pipelining or HTTP/2
//! streams). The per-lane buffers and counters keep the request path free of
//! allocation; the link's output buffer lets the requests of several lanes leave in one
//! write.

use std::ops::Range;
use std::time::Instant;

use crate::protocol::{Protocol, Transport};

/// Where a link is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// No socket (a timer may be armed to connect again).
    Closed,
    /// Non-blocking connect in progress.
    Connecting,
    /// TCP connected, the transport's handshake (TLS) in progress.
    Handshaking,
    /// The protocol's own set-up (HTTP/2: waiting for the server's settings).
    Preface,
    /// Requests may flow.
    Open,
}

/// One socket of a generator thread.
pub struct Link<P: Protocol, T: Transport> {
    pub stream: Option<T>,
    pub state: LinkState,
    pub session: P::Session,
    /// This link's lanes (indices into the thread's lanes).
    pub lanes: Range<usize>,
    /// Bytes waiting to be written, and how many of them are out.
    pub out: Vec<u8>,
    pub written: usize,
    /// The transport still holds bytes it could not hand to the socket (TLS records).
    pub unflushed: bool,
    /// Lanes whose request is out and not answered.
    pub in_flight: usize,
    /// Lanes waiting for the protocol to allow another request (HTTP/2's stream limit).
    pub blocked: usize,
    /// Requests sent on the current socket (for reconnecting every N).
    pub sent_on_socket: u64,
    /// Sockets opened so far (reconnects = opened - 1).
    pub opened: u64,
    /// When the current connect started, and when its TCP connect completed.
    pub connect_started: Instant,
    pub tcp_done: Instant,
    /// The peer shut its side: read to end-of-file even after a short read.
    pub peer_closed: bool,
    /// A reconnect timer for this link is in the heap.
    pub timer_armed: bool,
    /// Queued in the thread's list of links to write.
    pub dirty: bool,
}

impl<P: Protocol, T: Transport> Link<P, T> {
    pub fn new(lanes: Range<usize>, start: Instant, session: P::Session) -> Link<P, T> {
        Link {
            stream: None,
            state: LinkState::Closed,
            session,
            lanes,
            out: Vec::new(),
            written: 0,
            unflushed: false,
            in_flight: 0,
            blocked: 0,
            sent_on_socket: 0,
            opened: 0,
            connect_started: start,
            tcp_done: start,
            peer_closed: false,
            timer_armed: false,
            dirty: false,
        }
    }
}

/// One lane of a generator thread.
pub struct Lane {
    /// Global index over all threads (fixes its open-loop schedule offset).
    pub index: usize,
    /// The thread's link carrying it.
    pub link: usize,
    /// A request is out (or queued in the link's buffer) and not answered.
    pub in_flight: bool,
    /// Waiting for the protocol to allow another request on its link.
    pub blocked: bool,
    /// Index in the request plan of the request in flight.
    pub request: usize,
    /// When the request in flight was meant to leave (open loop) or left (closed loop).
    pub intended: Instant,
    /// When the request in flight actually started.
    pub sent: Instant,
    /// Open loop: index of this lane's next scheduled request.
    pub next_k: u64,
    /// When the lane last became free to send (its link opened, or it was answered).
    pub free_at: Instant,
    /// Closed loop: when the next request became due, if it had to wait for a
    /// reconnect (the reconnect is then inside its latency).
    pub due: Option<Instant>,
    /// A timer for this lane is in the heap.
    pub timer_armed: bool,
    /// xorshift state for weighted picks and `{rand}` templates.
    pub rng: u64,
    /// Requests this lane has started (for `{seq}`: unique across lanes).
    pub started: u64,
    /// The rendered request when it has templates (reused: no allocation per request).
    pub out: Vec<u8>,
    pub scratch: Vec<u8>,
}

impl Lane {
    /// A free lane with global index `index` on link `link`; `start` is the run's start.
    pub fn new(index: usize, link: usize, start: Instant) -> Lane {
        Lane {
            index,
            link,
            in_flight: false,
            blocked: false,
            request: 0,
            intended: start,
            sent: start,
            next_k: 0,
            free_at: start,
            due: None,
            timer_armed: false,
            // A distinct, non-zero seed per lane (xorshift never leaves zero).
            rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            started: 0,
            out: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

/// One xorshift64 step: the per-lane random numbers for weighted picks.
#[inline]
pub fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
