//! The engine runs over the protocol seam with any [`Protocol`]: a test-only line
//! protocol (each answer is one line holding a status code) drives a whole run, and the
//! scheduler, the recorder and the result count its answers as they count HTTP/1.1's.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use lanebench_load::outcome::{ErrorKind, ExpectedStatus};
use lanebench_load::protocol::{Event, PlainTcp, Protocol, Response};
use lanebench_load::request::{Endpoint, PreparedRequest, RequestPlan};
use lanebench_load::{LoadRun, LoadSettings, RunOptions};

/// Answers are `NNN\n`, one per request, in order; anything else is a protocol error.
#[derive(Debug, Clone, Copy)]
struct LineProtocol;

/// The lanes waiting in order, and the digits of the answer read so far.
#[derive(Debug, Default)]
struct LineSession {
    waiting: std::collections::VecDeque<usize>,
    status: u16,
    digits: u8,
}

impl Protocol for LineProtocol {
    type Session = LineSession;
    const ALPN: &'static [u8] = b"line";

    fn session(&self) -> LineSession {
        LineSession::default()
    }

    fn opened(&self, session: &mut LineSession, _out: &mut Vec<u8>) {
        *session = LineSession::default();
    }

    fn can_send(&self, _session: &LineSession) -> bool {
        true
    }

    fn retiring(&self, _session: &LineSession) -> bool {
        false
    }

    fn send(
        &self,
        session: &mut LineSession,
        lane: usize,
        _index: usize,
        _request: &PreparedRequest,
        wire: &[u8],
        out: &mut Vec<u8>,
    ) {
        session.waiting.push_back(lane);
        out.extend_from_slice(wire);
    }

    fn received(
        &self,
        session: &mut LineSession,
        data: &[u8],
        _out: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorKind> {
        for &b in data {
            match b {
                b'0'..=b'9' if session.digits < 3 => {
                    session.status = session.status * 10 + u16::from(b - b'0');
                    session.digits += 1;
                }
                b'\n' if session.digits == 3 => {
                    let lane = session.waiting.pop_front().ok_or(ErrorKind::Parse)?;
                    let response = Response {
                        status: session.status,
                        keep_alive: true,
                        degraded: false,
                    };
                    events.push(Event::Answered { lane, response });
                    (session.status, session.digits) = (0, 0);
                }
                _ => return Err(ErrorKind::Parse),
            }
        }
        Ok(())
    }

    fn closed(&self, session: &mut LineSession, events: &mut Vec<Event>) {
        for lane in session.waiting.drain(..) {
            events.push(Event::Failed {
                lane,
                kind: ErrorKind::Read,
            });
        }
    }
}

/// A server that answers every request head it reads with `status`, forever.
fn line_server(status: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut pending = Vec::new();
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if stream.write_all(status.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

fn settings(addr: SocketAddr, requests: u64) -> LoadSettings {
    let url = format!("http://{addr}/");
    let endpoint = Endpoint::parse(&url, false).unwrap();
    let request = PreparedRequest::build(
        "GET",
        &endpoint,
        "/",
        &[],
        b"",
        ExpectedStatus::Exactly(201),
    )
    .unwrap();
    LoadSettings {
        url,
        addr,
        plan: RequestPlan::single(request),
        connections: 2,
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

fn run_over_lines(addr: SocketAddr, requests: u64) -> lanebench_load::result::LoadResult {
    let stop = Arc::new(AtomicBool::new(false));
    LoadRun::start_speaking::<_, PlainTcp>(
        settings(addr, requests),
        RunOptions::default(),
        LineProtocol,
        (),
        stop,
    )
    .unwrap()
    .wait()
    .unwrap()
}

#[test]
fn a_second_protocol_drives_a_whole_run() {
    let result = run_over_lines(line_server("201\n"), 40);
    assert_eq!(result.requests, 40);
    assert_eq!(result.successes, 40);
    assert_eq!(result.errors.total(), 0);
    assert_eq!(result.status_codes.get("201"), Some(&40));
    assert_eq!(result.reconnects, 0);
}

#[test]
fn a_second_protocols_errors_are_the_engines_error_classes() {
    let result = run_over_lines(line_server("2x1\n"), 5);
    assert_eq!(result.successes, 0);
    assert!(result.errors.parse >= 1, "{:?}", result.errors);
}
