//! `lanebench proxy`: the harness's HTTP/1.1 proxy between two services, as its own
//! process. `run` starts it between a user service and its order service; people may
//! run it by hand to look at one service's calls.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::proxy::{loopback_upstream, ProxyServer, MAX_BODY_BYTES};

use super::{stop_on_signals, EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// How often the main thread looks at the stop flag: the bound on how long a stop
/// signal waits.
const STOP_POLL: Duration = Duration::from_millis(20);

/// Arguments of `lanebench proxy`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("\
What it is: the proxy `lanebench run` puts between a user service and its order service in a
service chain (scenarios with a chain), so that each hop is measured. You may also run it by
hand: point a user service's ORDERS_URL at http://127.0.0.1:P and read the figures with
`curl 127.0.0.1:C/stats` (add `?reset=1` to start a new window in the same step).

How it relays: every client connection gets its own upstream connection, opened when the
client's is accepted and closed or reset with it (a refused upstream resets the client's).
Requests are relayed whole and unchanged (up to {} MiB of body), responses byte for byte as
they arrive; the proxy never retries, nor answers for the upstream unless a fault says so.

What it measures: the downstream latency of each request (from the moment the request has
been read whole from the client until its response has been read whole from the upstream)
in an HDR histogram like the load generator's, and counts of connections, requests by route,
responses by status and failures by kind. docs/metrics.md defines them.

Faults: `curl -XPUT -d '{{\"kind\":\"delay\",\"delay_ms\":200}}' 127.0.0.1:C/fault` switches to one
(none, delay, error with status and share, blackhole, refuse, reset) and answers once it is in
effect; `curl 127.0.0.1:C/counts` gives the totals since the start. docs/metrics.md says what
each does.

Prints `listening on 127.0.0.1:P control 127.0.0.1:C` once both ports listen; stops on SIGINT
or SIGTERM (exit 0). Exit 2: the upstream is not a loopback address; 1: a port could not be
listened on.", MAX_BODY_BYTES >> 20))]
pub struct ProxyArgs {
    /// The order service the proxy relays to: a loopback HOST:PORT (127.0.0.1:P, [::1]:P
    /// or localhost:P).
    #[arg(long, value_name = "HOST:PORT")]
    pub upstream: String,
    /// Port clients connect to, on 127.0.0.1 (0: a free port, printed).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,
    /// Port of the control channel (`GET /stats[?reset=1]`, `GET /counts`, `PUT /fault`),
    /// on 127.0.0.1 (0: a free port, printed).
    #[arg(long, value_name = "C", default_value_t = 0)]
    pub control_port: u16,
}

/// Runs `lanebench proxy` until SIGINT or SIGTERM.
pub fn run(args: ProxyArgs) -> i32 {
    let upstream = match loopback_upstream(&args.upstream) {
        Ok(upstream) => upstream,
        Err(e) => {
            eprintln!("error: --upstream: {e}");
            return EXIT_USAGE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    // Nothing to wind down: a second signal may end the process at once.
    stop_on_signals(&stop, true);
    let server = match ProxyServer::start(upstream, args.port, args.control_port) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    println!(
        "listening on {} control {}",
        server.addr(),
        server.control_addr()
    );
    let _ = std::io::stdout().flush();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(STOP_POLL);
    }
    // The relays' threads end with the process; their sockets close with it.
    EXIT_OK
}
