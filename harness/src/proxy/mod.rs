//! The harness's own HTTP/1.1 proxy between two services: a user service's calls to
//! its order service pass through it, and it times and counts them (issue 22, the
//! service chain).
//!
//! What it does, and what it does not:
//! - One upstream connection per client connection, opened when the client's is
//!   accepted and ended with it, so the order service sees exactly the connections of
//!   the user service's pool: a client's close is a close upstream, an upstream close or
//!   reset is a close or reset of the client's connection, and a refused upstream
//!   connect resets the client's connection. The proxy keeps no pool and never retries.
//! - Each request is read whole (at most one message is held; a head over the parser's
//!   64 KiB, a message over 1 MiB + 64 KiB, and anything that is not a request close the
//!   connection, answering nothing) and written upstream unchanged; response bytes are relayed as
//!   they are read. Unless a fault is switched on, the proxy never answers on the
//!   upstream's behalf, so it adds no error that the upstream did not cause.
//! - The downstream latency of a request runs from the moment the read that completed
//!   the request returned to the moment the read that completed its response returned:
//!   the proxy's write upstream, the loopback and the order service, not the proxy's
//!   write back to the client. It goes into an HDR histogram with the load engine's
//!   bounds and precision (`load::histogram`), encoded like `LoadResult.latency_hdr`.
//! - The figures ([`ProxyStats`]) are served as JSON on a second loopback port:
//!   `GET /stats`, and `GET /stats?reset=1` to read and start a new window in one step.
//!   [`fetch_stats`] is the client. `GET /counts` ([`ProxyCounts`], [`fetch_counts`]) is
//!   the totals since the start, without the histogram, cheap enough to poll several
//!   times a second.
//! - Faults (issue 23, [`Fault`]): `PUT /fault` ([`set_fault`]) switches to one and
//!   answers once it is in effect; the harness keeps the schedule. `Delay` holds each
//!   request before forwarding it (the delay is in its downstream latency); `Error`
//!   answers a share of requests itself, in order with the other answers, keep-alive;
//!   `Blackhole` swallows requests (a connection that swallowed one swallows every later
//!   one, and is closed 30 s after the blackhole ended if its client has not); `Refuse`
//!   stops listening and closes every client connection, and listens again on the same
//!   socket when it ends; `Reset` forwards each request, holds its answer whole, writes
//!   half of it and resets the client's connection. Injected answers, swallowed requests
//!   and cut answers are not in the histogram nor in `responses_relayed`; each fault has
//!   its count (`injected`, per window and in the totals).
//!
//! Thread per connection and direction with blocking I/O: the clients are one service's
//! pool, at most a few hundred connections, and two plain loops are easy to see correct.
//! Requests and responses are framed by the load engine's one HTTP/1.1 parser.
//!
//! Layer: uses the load engine and nothing else of the harness; `system::ProxyProcess`
//! runs it as a process, `cli` gives it the `proxy` subcommand.

mod fault;
mod listener;
mod relay;
mod server;
mod shared;
mod stats;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

pub use fault::{Fault, BLACKHOLE_CLOSE_AFTER, INJECTED_BODY, MAX_DELAY_MS};
pub use relay::{CONNECT_TIMEOUT, MAX_BODY_BYTES};
pub use server::{ProxyServer, MAX_CONTROL_BODY};
pub use stats::{InjectedCounts, ProxyCounts, ProxyStats, Route, RouteCounts, UpstreamFailures};

use crate::load::exchange::{ExchangeError, Exchanger};
use crate::load::protocol::http1::{encode_request, Message};

/// How long [`fetch_stats`] and [`fetch_counts`] wait to connect, and then for the
/// whole answer.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`set_fault`] waits for its answer: a `Refuse` first waits (up to the
/// upstream connect timeout) for the connections being set up.
const FAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest stats answer read: the histogram is at most a few hundred KB encoded.
const MAX_STATS_BYTES: usize = 4 * 1024 * 1024;

/// Why the proxy could not be started or asked.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream is not a loopback address with a port.
    #[error("upstream `{0}` is not a loopback HOST:PORT (127.0.0.1:P, [::1]:P or localhost:P)")]
    Upstream(String),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("cannot start the proxy `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// The proxy process did not say where it listens.
    #[error("the proxy did not start: {why}; its stderr: {stderr}")]
    NotReady { why: String, stderr: String },
    #[error("proxy control {addr}: cannot connect: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("proxy control {addr}: {source}")]
    Exchange {
        addr: SocketAddr,
        source: ExchangeError,
    },
    #[error("proxy control {addr}: answered {status}")]
    Status { addr: SocketAddr, status: u16 },
    #[error("proxy control {addr}: the stats are not what this harness reads: {source}")]
    Decode {
        addr: SocketAddr,
        source: serde_json::Error,
    },
    /// A fault the proxy cannot inject (a value out of range).
    #[error("bad fault: {0}")]
    BadFault(String),
    /// The fault was refused by the proxy's control port.
    #[error("proxy control {addr}: the fault was refused ({status}): {error}")]
    FaultRefused {
        addr: SocketAddr,
        status: u16,
        error: String,
    },
    /// The relay port could not listen again after a `Refuse`.
    #[error("cannot listen again after a refuse: {0}")]
    Relisten(std::io::Error),
}

/// The upstream address in `text` when it is a loopback address with a port:
/// `127.0.0.1:P` (any 127.x), `[::1]:P` or `localhost:P` (as 127.0.0.1). The harness
/// measures one machine; it never sends a service's traffic anywhere else.
pub fn loopback_upstream(text: &str) -> Result<SocketAddr, ProxyError> {
    let refused = || ProxyError::Upstream(text.to_string());
    let addr = match text.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            let (host, port) = text.rsplit_once(':').ok_or_else(refused)?;
            if !host.eq_ignore_ascii_case("localhost") {
                return Err(refused());
            }
            let port = port.parse::<u16>().map_err(|_| refused())?;
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        }
    };
    if !addr.ip().is_loopback() || addr.port() == 0 {
        return Err(refused());
    }
    Ok(addr)
}

/// Reads the proxy's figures from its control port; with `reset`, the proxy starts a
/// new window at the same instant.
pub fn fetch_stats(control_addr: SocketAddr, reset: bool) -> Result<ProxyStats, ProxyError> {
    let target = if reset { "/stats?reset=1" } else { "/stats" };
    let message = control_exchange(control_addr, "GET", target, None, CONTROL_TIMEOUT)?;
    decode_ok(control_addr, &message)
}

/// Reads the proxy's totals since it started (`GET /counts`).
pub fn fetch_counts(control_addr: SocketAddr) -> Result<ProxyCounts, ProxyError> {
    let message = control_exchange(control_addr, "GET", "/counts", None, CONTROL_TIMEOUT)?;
    decode_ok(control_addr, &message)
}

/// Switches the proxy to `fault` (`PUT /fault`); returns once it is in effect.
pub fn set_fault(control_addr: SocketAddr, fault: &Fault) -> Result<(), ProxyError> {
    let addr = control_addr;
    let body = serde_json::to_vec(fault).map_err(|source| ProxyError::Decode { addr, source })?;
    let message = control_exchange(addr, "PUT", "/fault", Some(&body), FAULT_TIMEOUT)?;
    if message.status == 200 {
        return Ok(());
    }
    let error = serde_json::from_slice::<serde_json::Value>(&message.body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&message.body).into_owned());
    Err(ProxyError::FaultRefused {
        addr,
        status: message.status,
        error,
    })
}

/// One request to the control port and its whole answer.
fn control_exchange(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Message, ProxyError> {
    let mut stream = TcpStream::connect_timeout(&addr, CONTROL_TIMEOUT)
        .map_err(|source| ProxyError::Connect { addr, source })?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let mut headers = vec![("Connection", "close")];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let request = encode_request(method, target, &addr.to_string(), &headers, body);
    Exchanger::default()
        .exchange_message(&mut stream, &request, true, MAX_STATS_BYTES)
        .map_err(|source| ProxyError::Exchange { addr, source })
}

/// The JSON of a 200 answer.
fn decode_ok<T: serde::de::DeserializeOwned>(
    addr: SocketAddr,
    message: &Message,
) -> Result<T, ProxyError> {
    if message.status != 200 {
        return Err(ProxyError::Status {
            addr,
            status: message.status,
        });
    }
    serde_json::from_slice(&message.body).map_err(|source| ProxyError::Decode { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_upstreams_with_a_port_are_accepted() {
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.2:1",
            "[::1]:80",
            "localhost:9000",
            "LOCALHOST:1",
        ] {
            assert!(loopback_upstream(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            loopback_upstream("localhost:9000").unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
        for refused in [
            "10.0.0.1:80",
            "0.0.0.0:80",
            "example.com:80",
            "127.0.0.1",
            "127.0.0.1:0",
            "localhost",
            "localhost:x",
            "http://127.0.0.1:80",
            "",
        ] {
            let e = loopback_upstream(refused).unwrap_err();
            assert!(
                e.to_string().contains("not a loopback HOST:PORT"),
                "{refused}: {e}"
            );
        }
    }
}
