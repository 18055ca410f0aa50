//! The proxy's two listeners: the relay port, where every accepted connection gets its
//! own upstream connection and threads, and the control port, which serves the figures
//! and switches faults.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::fault::Fault;
use super::listener::{AfterError, Gate};
use super::relay::{relay, THREAD_STACK};
use super::shared::Shared;
use super::stats::{ProxyCounts, ProxyStats};
use super::ProxyError;
use crate::load::protocol::http1::RequestReader;

/// How long a control client may take to send its request.
const CONTROL_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a control answer may take to write: a `Refuse` may first wait for the
/// connections being set up, up to their connect timeout.
const CONTROL_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest control request body: a fault is a few dozen bytes.
pub const MAX_CONTROL_BODY: usize = 64 * 1024;

/// A running proxy in this process. Dropping it stops accepting; connections already
/// relayed go on until their peers end them.
pub struct ProxyServer {
    addr: SocketAddr,
    control_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl ProxyServer {
    /// Listens on 127.0.0.1:`port` (relaying to `upstream`) and 127.0.0.1:`control_port`
    /// (port 0: any free one). Both listen when this returns.
    pub fn start(
        upstream: SocketAddr,
        port: u16,
        control_port: u16,
    ) -> Result<ProxyServer, ProxyError> {
        let listen = |port: u16| {
            TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                .and_then(|l| Ok((l.local_addr()?, l)))
                .map_err(|source| ProxyError::Listen { port, source })
        };
        let (addr, relays) = listen(port)?;
        let (control_addr, control) = listen(control_port)?;
        let shared = Arc::new(Shared::new(Gate::new(relays, addr)));
        let stop = Arc::new(AtomicBool::new(false));
        let spawn = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(work)
                .map(drop)
                .map_err(|source| ProxyError::Listen { port, source })
        };
        let (sh, s) = (Arc::clone(&shared), Arc::clone(&stop));
        spawn(
            "proxy-accept",
            Box::new(move || accept_relays(upstream, &sh, &s)),
        )?;
        let (sh, s) = (Arc::clone(&shared), Arc::clone(&stop));
        spawn(
            "proxy-control",
            Box::new(move || serve_control(&control, &sh, &s)),
        )?;
        Ok(ProxyServer {
            addr,
            control_addr,
            shared,
            stop,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `GET /stats`, `GET /counts` and `PUT /fault` are served.
    pub fn control_addr(&self) -> SocketAddr {
        self.control_addr
    }

    /// The figures so far, read in process; with `reset`, a new window starts.
    pub fn stats(&self, reset: bool) -> ProxyStats {
        self.shared.recorder.snapshot(reset)
    }

    /// The counts since the start, read in process.
    pub fn counts(&self) -> ProxyCounts {
        self.shared.counts()
    }

    /// Puts `fault` in effect, as `PUT /fault` does; returns once it is.
    pub fn set_fault(&self, fault: Fault) -> Result<(), ProxyError> {
        self.shared.set_fault(fault)
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.shared.gate.stop();
        // A blocked accept only notices the flag with a connection to return.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = TcpStream::connect_timeout(&self.control_addr, Duration::from_secs(1));
    }
}

fn accept_relays(upstream: SocketAddr, shared: &Arc<Shared>, stop: &AtomicBool) {
    let mut listener = shared.gate.listener();
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let client = match accepted {
            Ok((client, _)) => client,
            // An accept error (out of descriptors, a connection reset while queued) is
            // the client's or the moment's, never a reason to stop serving the others;
            // a `Refuse` stopping the listener is waited out.
            Err(_) => match shared.gate.after_accept_error() {
                AfterError::Resume => {
                    listener = shared.gate.listener();
                    continue;
                }
                AfterError::Stop => return,
                AfterError::Retry => {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
            },
        };
        shared.recorder.accepted();
        shared.gate.starting();
        let shared_too = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("proxy-requests".to_string())
            .stack_size(THREAD_STACK)
            .spawn(move || relay(client, upstream, &shared_too));
        // Without a thread the client is dropped: it sees its connection closed.
        if spawned.is_err() {
            shared.gate.gave_up();
            shared.recorder.connection_closed();
        }
    }
}

fn serve_control(listener: &TcpListener, shared: &Shared, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(stream) = stream {
            answer_control(stream, shared);
        }
    }
}

/// A control request, as routed.
#[derive(Debug, PartialEq)]
enum Control {
    Stats { reset: bool },
    Counts,
    SetFault,
    Unknown,
}

/// Answers one control request and closes: `GET /stats`, `GET /stats?reset=1`,
/// `GET /counts`, `PUT /fault`.
fn answer_control(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(CONTROL_READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CONTROL_WRITE_TIMEOUT));
    let request = RequestReader::default().read(&mut stream, MAX_CONTROL_BODY);
    let (status, body) = match request {
        Ok(Some(request)) => match control_request(&request.method, &request.target) {
            Control::Stats { reset } => (200, to_json(&shared.recorder.snapshot(reset))),
            Control::Counts => (200, to_json(&shared.counts())),
            Control::SetFault => put_fault(&request.body, shared),
            Control::Unknown => (
                404,
                error_json("GET /stats[?reset=1], GET /counts or PUT /fault"),
            ),
        },
        Ok(None) => return,
        Err(e) => (400, error_json(&format!("not an HTTP/1.1 request: {e}"))),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        500 => "Internal Server Error",
        _ => "Not Found",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

/// `PUT /fault`: switches to the fault in `body`, and answers once it is in effect.
fn put_fault(body: &[u8], shared: &Shared) -> (u16, String) {
    let fault = match Fault::parse(body) {
        Ok(fault) => fault,
        Err(why) => return (400, error_json(&format!("not a fault: {why}"))),
    };
    match shared.set_fault(fault.clone()) {
        Ok(()) => (200, to_json(&InEffect { fault: &fault })),
        Err(ProxyError::BadFault(why)) => (400, error_json(&why)),
        Err(e) => (500, error_json(&e.to_string())),
    }
}

/// The answer to `PUT /fault`, with the fault's fields in their declared order.
#[derive(serde::Serialize)]
struct InEffect<'a> {
    fault: &'a Fault,
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A one-line JSON error.
fn error_json(message: &str) -> String {
    to_json(&serde_json::json!({ "error": message }))
}

/// What a control request asks for.
fn control_request(method: &str, target: &str) -> Control {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match (method, path) {
        ("GET", "/stats") => Control::Stats {
            reset: query
                .split('&')
                .any(|p| p == "reset=1" || p == "reset=true"),
        },
        ("GET", "/counts") => Control::Counts,
        ("PUT", "/fault") => Control::SetFault,
        _ => Control::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_requests_are_stats_counts_and_fault() {
        let stats = |reset| Control::Stats { reset };
        assert_eq!(control_request("GET", "/stats"), stats(false));
        assert_eq!(control_request("GET", "/stats?reset=1"), stats(true));
        assert_eq!(control_request("GET", "/stats?x=2&reset=true"), stats(true));
        assert_eq!(control_request("GET", "/stats?reset=0"), stats(false));
        assert_eq!(control_request("GET", "/counts"), Control::Counts);
        assert_eq!(control_request("PUT", "/fault"), Control::SetFault);
        assert_eq!(control_request("POST", "/stats"), Control::Unknown);
        assert_eq!(control_request("GET", "/stat"), Control::Unknown);
        assert_eq!(control_request("GET", "/fault"), Control::Unknown);
    }
}
