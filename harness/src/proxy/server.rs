//! The proxy's two listeners: the relay port, where every accepted connection gets its
//! own upstream connection and threads, and the control port, which serves the figures.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::relay::{relay, THREAD_STACK};
use super::stats::{ProxyStats, Recorder};
use super::ProxyError;
use crate::load::protocol::http1::RequestParser;

/// How long a control client may take to send its request.
const CONTROL_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// A running proxy in this process. Dropping it stops accepting; connections already
/// relayed go on until their peers end them.
pub struct ProxyServer {
    addr: SocketAddr,
    control_addr: SocketAddr,
    recorder: Arc<Recorder>,
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
        let recorder = Arc::new(Recorder::new());
        let stop = Arc::new(AtomicBool::new(false));
        let spawn = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(work)
                .map(drop)
                .map_err(|source| ProxyError::Listen { port, source })
        };
        let (r, s) = (Arc::clone(&recorder), Arc::clone(&stop));
        spawn(
            "proxy-accept",
            Box::new(move || accept_relays(&relays, upstream, &r, &s)),
        )?;
        let (r, s) = (Arc::clone(&recorder), Arc::clone(&stop));
        spawn(
            "proxy-control",
            Box::new(move || serve_control(&control, &r, &s)),
        )?;
        Ok(ProxyServer {
            addr,
            control_addr,
            recorder,
            stop,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `GET /stats` is served.
    pub fn control_addr(&self) -> SocketAddr {
        self.control_addr
    }

    /// The figures so far, read in process; with `reset`, a new window starts.
    pub fn stats(&self, reset: bool) -> ProxyStats {
        self.recorder.snapshot(reset)
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A blocked accept only notices the flag with a connection to return.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = TcpStream::connect_timeout(&self.control_addr, Duration::from_secs(1));
    }
}

fn accept_relays(
    listener: &TcpListener,
    upstream: SocketAddr,
    recorder: &Arc<Recorder>,
    stop: &AtomicBool,
) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        // An accept error (out of descriptors, a connection reset while queued) is the
        // client's or the moment's, never a reason to stop serving the others.
        let Ok(client) = client else {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        recorder.accepted();
        let recorder = Arc::clone(recorder);
        let spawned = std::thread::Builder::new()
            .name("proxy-requests".to_string())
            .stack_size(THREAD_STACK)
            .spawn(move || relay(client, upstream, &recorder));
        // Without a thread the client is dropped: it sees its connection closed.
        drop(spawned);
    }
}

fn serve_control(listener: &TcpListener, recorder: &Recorder, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(stream) = stream {
            answer_control(stream, recorder);
        }
    }
}

/// Answers one control request and closes: `GET /stats`, `GET /stats?reset=1`.
fn answer_control(mut stream: TcpStream, recorder: &Recorder) {
    let _ = stream.set_read_timeout(Some(CONTROL_READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CONTROL_READ_TIMEOUT));
    let mut parser = RequestParser::default();
    let mut buf = [0u8; 4096];
    let complete = loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break false,
            Ok(n) => n,
        };
        match parser.advance(&buf[..n]) {
            Ok((Some(_), _)) => break true,
            Ok((None, _)) => continue,
            Err(_) => break false,
        }
    };
    let (status, body) = if !complete {
        (400, r#"{"error":"not an HTTP/1.1 request"}"#.to_string())
    } else {
        match control_request(parser.method(), parser.target()) {
            Some(reset) => {
                let stats = recorder.snapshot(reset);
                let json = serde_json::to_string(&stats).unwrap_or_default();
                (200, json)
            }
            None => (
                404,
                r#"{"error":"GET /stats or GET /stats?reset=1"}"#.to_string(),
            ),
        }
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

/// Whether a control request asks for the figures, and with a reset: `Some(reset)`.
fn control_request(method: &str, target: &str) -> Option<bool> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" || path != "/stats" {
        return None;
    }
    Some(
        query
            .split('&')
            .any(|p| p == "reset=1" || p == "reset=true"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_requests_are_stats_with_or_without_reset() {
        assert_eq!(control_request("GET", "/stats"), Some(false));
        assert_eq!(control_request("GET", "/stats?reset=1"), Some(true));
        assert_eq!(control_request("GET", "/stats?x=2&reset=true"), Some(true));
        assert_eq!(control_request("GET", "/stats?reset=0"), Some(false));
        assert_eq!(control_request("POST", "/stats"), None);
        assert_eq!(control_request("GET", "/stat"), None);
    }
}
