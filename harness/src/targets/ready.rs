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
//!
//! A target started on another protocol is asked on that protocol (a server that
//! only serves TLS would never answer plain HTTP/1.1): the TLS handshake, or the
//! HTTP/2 preface and settings, come between the accepted connect and the request.
//! The connect itself stays a plain blocking one, so a refused attempt costs the same.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::connect::Connector;
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
    path: String,
    request: Vec<u8>,
    exchanger: Exchanger,
    via: Via,
}

/// How an accepted connection is asked.
enum Via {
    /// Plain HTTP/1.1: the request right away.
    H1,
    /// HTTP/1.1 over TLS: the handshake first.
    H1Tls(Connector),
    /// HTTP/2 (h2c or h2), on a runtime made with the probe.
    H2(Connector, Arc<tokio::runtime::Runtime>),
}

impl std::fmt::Debug for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::H1 => f.write_str("H1"),
            Via::H1Tls(c) | Via::H2(c, _) => write!(f, "{}", c.protocol()),
        }
    }
}

impl ReadinessProbe {
    /// Prepares a probe of `GET path` at `addr` over plain HTTP/1.1 (call before
    /// spawning the server).
    pub fn new(addr: SocketAddr, path: &str) -> ReadinessProbe {
        lower_timer_slack();
        ReadinessProbe {
            addr,
            path: path.to_string(),
            request: http1::encode_request(
                "GET",
                path,
                &addr.to_string(),
                &[("Connection", "close")],
                None,
            ),
            exchanger: Exchanger::default(),
            via: Via::H1,
        }
    }

    /// Prepares a probe of `GET path` on `connector`'s protocol and address (its
    /// timeout is replaced by the probe's own). Fails only when the HTTP/2 runtime
    /// cannot be made.
    pub fn on(connector: &Connector, path: &str) -> std::io::Result<ReadinessProbe> {
        let mut probe = ReadinessProbe::new(connector.addr(), path);
        let connector = connector.with_timeout(PROBE_TIMEOUT);
        probe.via = match connector.protocol() {
            p if p.http2() => {
                let runtime = super::h2_connection::runtime()
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                Via::H2(connector, Arc::new(runtime))
            }
            p if p.tls() => Via::H1Tls(connector),
            _ => Via::H1,
        };
        Ok(probe)
    }

    /// One attempt: connect, and if accepted, ask.
    pub fn probe(&mut self) -> Probe {
        let Ok(stream) = TcpStream::connect(self.addr) else {
            return Probe::Refused;
        };
        let _ = stream.set_nodelay(true);
        if stream.set_read_timeout(Some(PROBE_TIMEOUT)).is_err() {
            return Probe::NotReady;
        }
        let (exchanger, request) = (&mut self.exchanger, &self.request);
        let ready = match &self.via {
            Via::H1 => ask_h1(exchanger, request, stream),
            Via::H1Tls(connector) => match connector.h1_over(stream) {
                Ok(tls) => ask_h1(exchanger, request, tls),
                Err(_) => false,
            },
            Via::H2(connector, runtime) => connector
                .h2_over(Arc::clone(runtime), stream)
                .and_then(|mut h2| h2.request("GET", &self.path, &[], None))
                .is_ok_and(|answer| answer.status == 200),
        };
        if ready {
            Probe::Ready
        } else {
            Probe::NotReady
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

/// The health request on an HTTP/1.1 connection: answered 200?
fn ask_h1<S: std::io::Read + std::io::Write>(
    exchanger: &mut Exchanger,
    request: &[u8],
    mut stream: S,
) -> bool {
    matches!(
        exchanger.exchange(&mut stream, request, true),
        Ok(response) if response.status == 200
    )
}
