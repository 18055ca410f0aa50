//! One connection's state on a generator thread: its socket, where it is in the
//! request/response cycle, its protocol session (the framing state, see `protocol`), and
//! the per-connection buffers and counters that keep the request path free of allocation.

use std::time::Instant;

use crate::protocol::Protocol;

/// Where a connection is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No socket (a timer may be armed to connect again).
    Closed,
    /// Non-blocking connect in progress.
    Connecting,
    /// Connected, no request in flight.
    Idle,
    /// Request partly written: `written` bytes are out.
    Writing { written: usize },
    /// Request written, response not complete yet.
    Reading,
}

/// One connection of a generator thread speaking protocol `P`.
pub struct Conn<P: Protocol> {
    /// Global index over all threads (fixes its open-loop schedule offset).
    pub index: usize,
    pub stream: Option<P::Transport>,
    pub state: State,
    pub session: P::Session,
    /// Index in the request plan of the request in flight.
    pub request: usize,
    /// When the request in flight was meant to leave (open loop) or left (closed loop).
    pub intended: Instant,
    /// When the request in flight (or the connect) actually started.
    pub sent: Instant,
    /// Open loop: index of this connection's next scheduled request.
    pub next_k: u64,
    /// When the connection last became free to send (connected, or answered).
    pub free_at: Instant,
    /// Closed loop: when the next request became due, if it had to wait for a
    /// reconnect (the reconnect is then inside its latency).
    pub due: Option<Instant>,
    /// A timer for this connection is in the heap.
    pub timer_armed: bool,
    /// A readable edge arrived while still writing: read as soon as the write is done.
    pub read_pending: bool,
    /// The peer shut its side: read to end-of-file even after a short read.
    pub peer_closed: bool,
    /// Sockets opened so far (reconnects = opened - 1).
    pub opened: u64,
    /// xorshift state for weighted picks and `{rand}` templates.
    pub rng: u64,
    /// Requests this connection has started (for `{seq}`: unique across connections).
    pub started: u64,
    /// The rendered request when it has templates (reused: no allocation per request).
    pub out: Vec<u8>,
    pub scratch: Vec<u8>,
}

impl<P: Protocol> Conn<P> {
    /// A closed connection with global index `index`; `start` is the run's start.
    pub fn new(index: usize, start: Instant, session: P::Session) -> Conn<P> {
        Conn {
            index,
            stream: None,
            state: State::Closed,
            session,
            request: 0,
            intended: start,
            sent: start,
            next_k: 0,
            free_at: start,
            due: None,
            timer_armed: false,
            read_pending: false,
            peer_closed: false,
            opened: 0,
            // A distinct, non-zero seed per connection (xorshift never leaves zero).
            rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            started: 0,
            out: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

/// One xorshift64 step: the per-connection random numbers for weighted picks.
#[inline]
pub fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
