//! What the protocol tests share: servers on ephemeral loopback ports (each connection
//! on a thread of its own, over TCP or TLS), the client's settings, and whole runs
//! driven through the engine's public API as `lanebench load` drives them.

// Each test file uses its own part of these helpers.
#![allow(dead_code)]

pub mod h1;
pub mod h2;
pub mod tls;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use lanebench_load::outcome::ExpectedStatus;
use lanebench_load::protocol::{ClientProtocol, TlsSettings, TlsTrust, TlsVersions};
use lanebench_load::request::{Endpoint, PreparedRequest, RequestPlan};
use lanebench_load::result::LoadResult;
use lanebench_load::{LoadRun, LoadSettings, RunOptions};
use rustls::{ServerConnection, StreamOwned};

/// One accepted connection, plain or TLS, as a server handler sees it.
pub trait Conn: Read + Write + Send {
    fn tcp(&self) -> &TcpStream;

    /// Reads wait at most `timeout` (`None`: forever).
    fn set_timeout(&self, timeout: Option<Duration>) {
        self.tcp().set_read_timeout(timeout).unwrap();
    }

    /// The server's side is done: the client reads an end-of-file.
    fn close_write(&mut self) {
        let _ = self.flush();
        let _ = self.tcp().shutdown(Shutdown::Write);
    }

    /// The TLS version agreed on (once the handshake is over).
    fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        None
    }
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Conn for StreamOwned<ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }

    fn close_write(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Write);
    }

    fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }
}

/// True for the errors a read timeout gives.
pub fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Serves every connection to a fresh loopback port with `handle` on a thread of its
/// own, over TLS when `tls` is given. The threads end with their connections.
pub fn serve<F>(tls: Option<Arc<rustls::ServerConfig>>, handle: F) -> SocketAddr
where
    F: Fn(&mut dyn Conn) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let _ = stream.set_nodelay(true);
            let (handle, tls) = (Arc::clone(&handle), tls.clone());
            std::thread::spawn(move || match tls {
                None => handle(&mut { stream }),
                Some(config) => {
                    let session = ServerConnection::new(config).unwrap();
                    handle(&mut StreamOwned::new(session, stream))
                }
            });
        }
    });
    addr
}

/// The URL of `addr`: `https://localhost:PORT` (the test certificate's name) or
/// `http://127.0.0.1:PORT`.
pub fn url(addr: SocketAddr, https: bool) -> String {
    if https {
        format!("https://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// A GET of `path` on `base` expecting `expect`.
pub fn get(base: &str, path: &str, expect: ExpectedStatus) -> PreparedRequest {
    let endpoint = Endpoint::parse(&format!("{base}{path}"), false).unwrap();
    PreparedRequest::build("GET", &endpoint, path, &[], b"", expect).unwrap()
}

/// A closed-loop run of `requests` GET / on one connection, expecting a 2xx or 3xx.
pub fn settings(addr: SocketAddr, https: bool, requests: u64) -> LoadSettings {
    let base = url(addr, https);
    let plan = RequestPlan::single(get(&base, "/", ExpectedStatus::SuccessOrRedirect));
    LoadSettings {
        url: format!("{base}/"),
        addr,
        plan,
        connections: 1,
        threads: 1,
        duration: None,
        requests: Some(requests),
        warmup: Duration::ZERO,
        rate: None,
        timeout: Duration::from_secs(5),
        max_send_lag: lanebench_load::DEFAULT_MAX_SEND_LAG,
        wait_in_flight: false,
        cpus: None,
    }
}

/// HTTP/1.1 (pipelined when `depth` > 1) or HTTP/2 with `depth` streams, over TCP.
pub fn client(http2: bool, depth: usize) -> ClientProtocol {
    ClientProtocol {
        http2,
        tls: None,
        depth,
        reconnect_every: None,
    }
}

/// [`client`] over TLS for the test certificate's name.
pub fn tls_client(
    http2: bool,
    depth: usize,
    trust: TlsTrust,
    versions: TlsVersions,
) -> ClientProtocol {
    ClientProtocol {
        tls: Some(TlsSettings {
            server_name: "localhost".to_string(),
            trust,
            versions,
        }),
        ..client(http2, depth)
    }
}

/// Drives a whole run as `lanebench load` does.
pub fn run(settings: LoadSettings, protocol: ClientProtocol) -> LoadResult {
    let stop = Arc::new(AtomicBool::new(false));
    let options = RunOptions {
        protocol,
        ..RunOptions::default()
    };
    LoadRun::start_with(settings, options, stop)
        .unwrap()
        .wait()
        .unwrap()
}

/// How many of the run's latencies are at least `at`.
pub fn latencies_at_least(result: &LoadResult, at: Duration) -> u64 {
    let text = result.latency_hdr.as_deref().expect("a latency histogram");
    let h = lanebench_load::hdr_log::decode_histogram(text).unwrap();
    let floor = h.lowest_equivalent(at.as_nanos() as u64);
    h.iter_recorded()
        .filter(|v| v.value_iterated_to() >= floor)
        .map(|v| v.count_at_value())
        .sum()
}
