//! Readiness to the sub-millisecond: the probe that decides when a freshly spawned
//! server starts answering, which is what startup time measures.
//!
//! A compiled server is ready in 7-20 ms, so a probe polling every 5 ms would be a
//! third of the figure. This one tries to connect every [`CONNECT_RETRY`] (a refused
//! connect on loopback costs a few µs, and the thread's timer slack is lowered so the
//! sleep really is that short); once a connection is accepted, it sends the health
//! request at once. A server that accepts but does not answer 200 yet is asked again
//! after [`NOT_READY_RETRY`], so that a starting server is not flooded with requests.
//! Everything the probe needs (address, request bytes, buffers) is built before the
//! spawn, so the time between the server's first answer and its detection is only a
//! connect, a write and a read.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::load::exchange::Exchanger;
use crate::load::precise_timer::lower_timer_slack;
use crate::load::protocol::http1;

/// Pause after a refused connect.
pub const CONNECT_RETRY: Duration = Duration::from_micros(100);
/// Pause after an answer that was not 200 (or a failed exchange).
pub const NOT_READY_RETRY: Duration = Duration::from_millis(1);
/// Read timeout of one probe request.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// The outcome of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Nobody listens yet.
    Refused,
    /// A connection was accepted, but no 200 came back.
    NotReady,
    Ready,
}

/// A prepared health probe for one address and path.
#[derive(Debug)]
pub struct ReadinessProbe {
    addr: SocketAddr,
    request: Vec<u8>,
    exchanger: Exchanger,
}

impl ReadinessProbe {
    /// Prepares a probe of `GET path` at `addr` (call before spawning the server).
    pub fn new(addr: SocketAddr, path: &str) -> ReadinessProbe {
        lower_timer_slack();
        ReadinessProbe {
            addr,
            request: http1::encode_request(
                "GET",
                path,
                &addr.to_string(),
                &[("Connection", "close")],
                None,
            ),
            exchanger: Exchanger::default(),
        }
    }

    /// One attempt: connect, and if accepted, ask.
    pub fn probe(&mut self) -> Probe {
        let Ok(mut stream) = TcpStream::connect(self.addr) else {
            return Probe::Refused;
        };
        let _ = stream.set_nodelay(true);
        if stream.set_read_timeout(Some(PROBE_TIMEOUT)).is_err() {
            return Probe::NotReady;
        }
        match self.exchanger.exchange(&mut stream, &self.request, true) {
            Ok(response) if response.status == 200 => Probe::Ready,
            _ => Probe::NotReady,
        }
    }

    /// How long to wait before the next attempt after `outcome`.
    pub fn pause_after(outcome: Probe) -> Duration {
        match outcome {
            Probe::Refused => CONNECT_RETRY,
            _ => NOT_READY_RETRY,
        }
    }
}
