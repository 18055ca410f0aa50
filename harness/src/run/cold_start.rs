//! Cold start: how long a fresh process takes to answer each of the scenario's requests
//! for the first time, measured from spawn. It adds the un-warmed first requests (lazy
//! initialisation, JIT, first allocation of pools) to the time to ready.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::load::exchange::Exchanger;
use crate::load::request::PreparedRequest;

/// Sends each request once, in order, on one keep-alive connection, and checks its
/// status. Returns the latency of each request.
pub fn first_responses(
    addr: SocketAddr,
    requests: &[PreparedRequest],
    timeout: Duration,
) -> Result<Vec<Duration>, String> {
    let connect = || -> Result<TcpStream, String> {
        let stream =
            TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(stream)
    };
    let mut stream = connect()?;
    let mut exchanger = Exchanger::default();
    let mut latencies = Vec::with_capacity(requests.len());
    for request in requests {
        let bytes = request.render_once();
        let started = Instant::now();
        let response = exchanger
            .exchange(&mut stream, &bytes, request.body_expected)
            .map_err(|e| {
                if e.is_timeout() {
                    format!(
                        "no response to {} within {}",
                        request.describe(),
                        humantime::format_duration(timeout)
                    )
                } else {
                    e.to_string()
                }
            })?;
        latencies.push(started.elapsed());
        if let Some(kind) = request.expect.judge(response.status) {
            return Err(format!(
                "{} answered {} ({kind:?})",
                request.describe(),
                response.status
            ));
        }
        if !response.keep_alive {
            stream = connect()?;
        }
    }
    Ok(latencies)
}
