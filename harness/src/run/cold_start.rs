//! Cold start: how long a fresh process takes to answer each of the scenario's requests
//! for the first time, measured from spawn. It adds the un-warmed first requests (lazy
//! initialisation, JIT, first allocation of pools) to the time to ready. The requests go
//! on one connection of the process's protocol (the TLS handshake and HTTP/2's set-up
//! are inside the first one's latency).

use std::time::{Duration, Instant};

use crate::load::exchange::Exchanger;
use crate::load::protocol::http2::parts;
use crate::load::request::PreparedRequest;
use crate::targets::connect::{Connector, H1Stream};
use crate::targets::H2Connection;

/// One connection of the process's protocol.
enum Connection {
    H1(H1Stream, Exchanger),
    H2(H2Connection),
}

/// Sends each request once, in order, on one keep-alive connection, and checks its
/// status. Returns the latency of each request.
pub fn first_responses(
    connector: &Connector,
    requests: &[PreparedRequest],
    timeout: Duration,
) -> Result<Vec<Duration>, String> {
    let connector = connector.with_timeout(timeout);
    let http2 = connector.protocol().http2();
    let connect = || -> Result<Connection, String> {
        if http2 {
            let h2 = connector
                .connect_h2()
                .map_err(|e| format!("connect: {e}"))?;
            return Ok(Connection::H2(h2));
        }
        let stream = connector
            .connect_h1()
            .map_err(|e| format!("connect: {e}"))?;
        Ok(Connection::H1(stream, Exchanger::default()))
    };
    let mut latencies = Vec::with_capacity(requests.len());
    let mut connection: Option<Connection> = None;
    for request in requests {
        let started = Instant::now();
        let mut open = match connection.take() {
            Some(open) => open,
            None => connect()?,
        };
        let (status, keep_alive) = exchange(&mut open, request, timeout)?;
        latencies.push(started.elapsed());
        if let Some(kind) = request.expect.judge(status) {
            return Err(format!(
                "{} answered {status} ({kind:?})",
                request.describe()
            ));
        }
        if keep_alive {
            connection = Some(open);
        }
    }
    Ok(latencies)
}

/// One request on `connection`: its status and whether the connection stays open.
fn exchange(
    connection: &mut Connection,
    request: &PreparedRequest,
    timeout: Duration,
) -> Result<(u16, bool), String> {
    let bytes = request.render_once();
    match connection {
        Connection::H1(stream, exchanger) => {
            let response = exchanger
                .exchange(stream, &bytes, request.body_expected)
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
            Ok((response.status, response.keep_alive))
        }
        Connection::H2(h2) => {
            let parts = parts(&bytes).map_err(|e| format!("{}: {e}", request.describe()))?;
            let body = (!parts.body.is_empty()).then(|| &bytes[parts.body.clone()]);
            // The body's length is the DATA frames'.
            let headers: Vec<(&str, &str)> = parts
                .headers
                .iter()
                .filter(|(n, _)| n != "content-length")
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let response = h2
                .request(&parts.method, &parts.path, &headers, body)
                .map_err(|e| format!("{}: {e}", request.describe()))?;
            Ok((response.status, true))
        }
    }
}
