//! The open-loop schedule on every protocol: the planned sends go out (and their send
//! lag is recorded), and when the server stalls, the requests in flight on pipelined and
//! HTTP/2 links and the slots never sent enter the latency histogram as censored.
//! Counts only: how fast the machine is decides nothing here.

mod common;

use std::time::Duration;

use common::h1::{answer_all, drain, Requests};
use common::h2::{serve_h2, Behaviour};
use common::{client, run, serve, settings, tls, tls_client};
use lanebench_load::hdr_log::decode_histogram;
use lanebench_load::protocol::{ClientProtocol, TlsTrust, TlsVersions};
use lanebench_load::result::LoadResult;

/// `rate` requests per second for `duration` over `connections`, driven by `client`.
fn open_loop(
    addr: std::net::SocketAddr,
    client: ClientProtocol,
    connections: usize,
    rate: f64,
    duration: Duration,
) -> LoadResult {
    let mut s = settings(addr, client.tls.is_some(), 1);
    s.requests = None;
    s.duration = Some(duration);
    s.rate = Some(rate);
    s.connections = connections;
    run(s, client)
}

/// 2000/s for half a second against a server that answers everything.
fn check_schedule_kept(addr: std::net::SocketAddr, client: ClientProtocol) {
    let result = open_loop(addr, client, 4, 2000.0, Duration::from_millis(500));
    let schedule = result.schedule.as_ref().expect("an open-loop schedule");
    assert!((950..=1050).contains(&schedule.planned), "{schedule:?}");
    assert_eq!(
        schedule.sent + schedule.unsent,
        schedule.planned,
        "{schedule:?}"
    );
    // Generous: a busy machine may leave a stretch of slots unsent behind a slow answer.
    assert!(schedule.sent * 2 >= schedule.planned, "{schedule:?}");
    assert_eq!(result.errors.total(), 0, "{:?}", result.errors);
    // Every send was answered in the window or was still out at its end.
    assert_eq!(
        schedule.sent,
        result.requests + result.censored.in_flight_at_end,
        "{schedule:?} {:?}",
        result.censored
    );
    let lag = decode_histogram(
        result
            .send_lag_hdr
            .as_deref()
            .expect("a send-lag histogram"),
    )
    .unwrap();
    assert_eq!(lag.len(), schedule.sent);
    assert!(result.latency_uncorrected_ms.is_some());
}

#[test]
fn open_loop_over_http1() {
    check_schedule_kept(serve(None, answer_all), client(false, 1));
}

#[test]
fn open_loop_over_pipelined_http1() {
    check_schedule_kept(serve(None, answer_all), client(false, 4));
}

#[test]
fn open_loop_over_http1_tls() {
    let addr = serve(Some(tls::server(&[b"http/1.1"], tls::BOTH)), answer_all);
    check_schedule_kept(
        addr,
        tls_client(false, 2, TlsTrust::Insecure, TlsVersions::Both),
    );
}

#[test]
fn open_loop_over_h2c() {
    let (addr, _) = serve_h2(Behaviour::default(), None);
    check_schedule_kept(addr, client(true, 4));
}

#[test]
fn open_loop_over_h2() {
    let (addr, _) = serve_h2(Behaviour::default(), Some(tls::server(&[b"h2"], tls::BOTH)));
    check_schedule_kept(
        addr,
        tls_client(true, 4, TlsTrust::Insecure, TlsVersions::Both),
    );
}

/// Against a server that never answers: each lane's one request is in flight at the
/// end, every later slot unsent, and all of them are in the latency histogram.
fn check_censored_tail(addr: std::net::SocketAddr, client: ClientProtocol, lanes: u64) {
    let result = open_loop(addr, client, 1, 200.0, Duration::from_millis(300));
    let schedule = result.schedule.as_ref().expect("an open-loop schedule");
    assert_eq!(result.requests, 0);
    assert_eq!(schedule.sent, lanes, "{schedule:?}");
    assert_eq!(
        result.censored.in_flight_at_end, lanes,
        "{:?}",
        result.censored
    );
    assert_eq!(result.censored.unsent, schedule.planned - lanes);
    assert_eq!(result.censored.timeout, 0);
    let latency = decode_histogram(result.latency_hdr.as_deref().expect("latencies")).unwrap();
    assert_eq!(latency.len(), schedule.planned);
}

#[test]
fn a_stalled_pipelined_link_leaves_a_censored_tail() {
    let addr = serve(None, |conn| drain(conn, &mut Requests::default()));
    check_censored_tail(addr, client(false, 8), 8);
}

#[test]
fn a_stalled_http2_link_leaves_a_censored_tail() {
    let behaviour = Behaviour {
        stall: true,
        ..Behaviour::default()
    };
    let (addr, _) = serve_h2(behaviour, None);
    check_censored_tail(addr, client(true, 4), 4);
}
