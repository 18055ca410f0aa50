//! Cold start: how long a fresh process takes to answer each of the scenario's requests
//! for the first time, measured from spawn. It adds the un-warmed first requests (lazy
//! initialisation, JIT, first allocation of pools) to the time to ready.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::load::request::PreparedRequest;
use crate::load::response::{Progress, ResponseParser};

/// Sends each request once, in order, on one keep-alive connection, and checks its
/// status. Returns the latency of each request.
pub fn first_responses(
    addr: SocketAddr,
    requests: &[PreparedRequest],
    timeout: Duration,
) -> Result<Vec<Duration>, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut latencies = Vec::with_capacity(requests.len());
    let mut parser = ResponseParser::default();
    let mut buf = vec![0u8; 16 * 1024];
    for request in requests {
        let bytes = request.render_once();
        let started = Instant::now();
        stream
            .write_all(&bytes)
            .map_err(|e| format!("write: {e}"))?;
        parser.reset(request.body_expected);
        let response = loop {
            let n = stream.read(&mut buf).map_err(|e| match e.kind() {
                // A read timeout surfaces as WouldBlock on Linux; say what it means.
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!(
                    "no response to {} within {}",
                    request.describe(),
                    humantime::format_duration(timeout)
                ),
                _ => format!("read: {e}"),
            })?;
            if n == 0 {
                match parser.finish_on_close() {
                    Some(response) => break response,
                    None => return Err("server closed the connection mid-response".into()),
                }
            }
            match parser.feed(&buf[..n]).map_err(|e| e.to_string())? {
                Progress::Complete(response) => break response,
                Progress::NeedMore => {}
            }
        };
        latencies.push(started.elapsed());
        if let Some(kind) = request.expect.judge(response.status) {
            return Err(format!(
                "{} answered {} ({kind:?})",
                request.describe(),
                response.status
            ));
        }
        if !response.keep_alive {
            stream =
                TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
            stream
                .set_read_timeout(Some(timeout))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(latencies)
}
