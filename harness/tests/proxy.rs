//! The proxy between two services as the harness runs it: a `lanebench proxy` process
//! (`system::ProxyProcess`) in front of `lanebench-fixture` servers or a listener of the
//! test's own, on ephemeral loopback ports. Exact counts, no added errors, the
//! downstream latency recorded, connections mirrored one to one, failures counted by
//! kind, and no process left behind.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lanebench::load::exchange::Exchanger;
use lanebench::load::protocol::http1::{encode_request, Message};
use lanebench::load::{LoadRun, LoadSettings};
use lanebench::proxy::ProxyStats;
use lanebench::system::{Component, ProxyOptions, ProxyProcess, Role};

mod fixture_server;
use fixture_server::Fixture;

fn proxy_to(upstream: SocketAddr) -> ProxyProcess {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_lanebench"));
    ProxyProcess::start(binary, upstream, None).unwrap()
}

/// A keep-alive client connection.
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// One request on `stream` and its whole response.
fn exchange(stream: &mut TcpStream, method: &str, path: &str, body: Option<&[u8]>) -> Message {
    let request = encode_request(method, path, "x", &[("Accept", "*/*")], body);
    Exchanger::default()
        .exchange_message(stream, &request, method != "HEAD", 1 << 20)
        .unwrap()
}

/// Polls the proxy's figures (without reset) until `done` holds, for up to 10 s.
fn stats_when(proxy: &ProxyProcess, done: impl Fn(&ProxyStats) -> bool) -> ProxyStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = proxy.stats(false).unwrap();
        if done(&stats) || Instant::now() > deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How a connection ended for a client that got no byte of an answer.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Closed,
    Reset,
}

/// What a client reads once the other end gave up: no byte, then a close or a reset.
fn reads_nothing_then_ends(stream: &mut TcpStream) -> Ending {
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => Ending::Closed,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Ending::Reset,
        other => panic!("expected a close or a reset, got {other:?}"),
    }
}

fn load_settings(addr: SocketAddr, path: &str, requests: u64) -> LoadSettings {
    LoadSettings {
        connections: 8,
        threads: 2,
        duration: None,
        requests: Some(requests),
        timeout: Duration::from_secs(10),
        ..fixture_server::get_load(addr, path)
    }
}

#[test]
fn every_request_is_forwarded_and_answered_once_with_exact_route_counts() {
    let upstream = Fixture::start("ok");
    let proxy = proxy_to(upstream.addr);
    assert_eq!((proxy.name(), proxy.role()), ("proxy", Role::Proxy));
    let n = 1_500;
    let stop = Arc::new(AtomicBool::new(false));
    let settings = load_settings(proxy.addr(), "/api/users/42/orders", n);
    let result = LoadRun::start(settings, stop).unwrap().wait().unwrap();
    assert_eq!((result.requests, result.error_total), (n, 0));
    let mut client = connect(proxy.addr());
    for _ in 0..3 {
        assert_eq!(
            exchange(&mut client, "POST", "/api/orders", Some(b"{}")).status,
            200
        );
    }
    assert_eq!(exchange(&mut client, "GET", "/health", None).status, 200);
    let stats = stats_when(&proxy, |s| s.responses_relayed == n + 4);
    assert_eq!(stats.requests_forwarded, n + 4);
    assert_eq!(stats.responses_relayed, n + 4);
    assert_eq!(
        (
            stats.routes.user_orders,
            stats.routes.create_order,
            stats.routes.other
        ),
        (n, 3, 1)
    );
    assert_eq!(stats.statuses.get(&200), Some(&(n + 4)));
    assert_eq!(stats.statuses.len(), 1);
    assert_eq!(stats.upstream_failures, Default::default());
    assert_eq!((stats.client_abandoned, stats.client_malformed), (0, 0));
    assert_eq!(
        stats.connections_accepted,
        8 + 1,
        "one per client connection"
    );
    assert_eq!(stats.latency().unwrap().len(), n + 4);
}

#[test]
fn the_client_sees_exactly_what_the_upstream_answered() {
    for mode in ["ok", "status:418", "status:503", "chunked"] {
        let upstream = Fixture::start(mode);
        let proxy = proxy_to(upstream.addr);
        let (mut direct, mut proxied) = (connect(upstream.addr), connect(proxy.addr()));
        for (method, path, body) in [
            ("GET", "/api/users/1/orders", None),
            ("POST", "/api/orders", Some(&b"{\"items\":[]}"[..])),
        ] {
            let want = exchange(&mut direct, method, path, body);
            let got = exchange(&mut proxied, method, path, body);
            assert_eq!(got, want, "{mode}: {method} {path}");
        }
        let stats = stats_when(&proxy, |s| s.responses_relayed == 2);
        let status = exchange(&mut direct, "GET", "/", None).status;
        assert_eq!(stats.statuses.get(&status), Some(&2), "{mode}");
    }
}

#[test]
fn the_downstream_latency_is_recorded_from_request_to_response() {
    let delay = 60;
    let upstream = Fixture::start_with("ok", &["--delay-ms", &delay.to_string()]);
    let proxy = proxy_to(upstream.addr);
    let mut client = connect(proxy.addr());
    for _ in 0..5 {
        exchange(&mut client, "GET", "/api/users/3/orders", None);
    }
    let stats = stats_when(&proxy, |s| s.responses_relayed == 5);
    let latency = stats.latency().unwrap();
    assert_eq!(latency.len(), 5);
    let floor_ns = delay * 1_000_000;
    assert!(
        latency.value_at_quantile(0.5) >= floor_ns,
        "p50 {} ns",
        latency.value_at_quantile(0.5)
    );
    assert!(latency.min() >= floor_ns, "min {} ns", latency.min());
}

#[test]
fn a_read_with_reset_returns_its_window_and_starts_an_empty_one() {
    let upstream = Fixture::start("ok");
    let proxy = proxy_to(upstream.addr);
    let mut client = connect(proxy.addr());
    for _ in 0..3 {
        exchange(&mut client, "GET", "/api/users/3/orders", None);
    }
    stats_when(&proxy, |s| s.responses_relayed == 3);
    let first = proxy.stats(true).unwrap();
    assert_eq!((first.requests_forwarded, first.responses_relayed), (3, 3));
    let empty = proxy.stats(false).unwrap();
    assert_eq!(
        (empty.requests_forwarded, empty.connections_accepted),
        (0, 0)
    );
    assert_eq!(empty.latency().unwrap().len(), 0);
    assert!(empty.window_seconds < first.window_seconds + 10.0);
    for _ in 0..2 {
        exchange(&mut client, "POST", "/api/orders", Some(b"{}"));
    }
    let second = stats_when(&proxy, |s| s.responses_relayed == 2);
    assert_eq!(
        (second.requests_forwarded, second.routes.create_order),
        (2, 2)
    );
}

#[test]
fn an_upstream_that_is_down_resets_the_client_and_traffic_flows_when_it_is_back() {
    let upstream = Fixture::start("ok");
    let port = upstream.addr.port().to_string();
    let proxy = proxy_to(upstream.addr);
    drop(upstream);
    // Nothing is written: the reset may come before a write could, and a write would
    // then take the reset's error for itself.
    let mut client = connect(proxy.addr());
    assert_eq!(reads_nothing_then_ends(&mut client), Ending::Reset);
    let stats = stats_when(&proxy, |s| s.upstream_failures.refused == 1);
    assert_eq!(stats.upstream_failures.refused, 1);
    assert_eq!((stats.requests_forwarded, stats.responses_relayed), (0, 0));
    assert!(stats.statuses.is_empty(), "no answer made up by the proxy");
    let _back = Fixture::start_with("ok", &["--port", &port]);
    let mut client = connect(proxy.addr());
    assert_eq!(
        exchange(&mut client, "GET", "/api/users/1/orders", None).status,
        200
    );
    let stats = stats_when(&proxy, |s| s.responses_relayed == 1);
    assert_eq!(stats.upstream_failures.refused, 1);
}

#[test]
fn an_upstream_that_closes_resets_or_answers_garbage_is_counted_and_mirrored() {
    for (mode, closed, malformed) in [
        ("close", 1, 0),
        ("reset", 1, 0),
        ("garbage", 0, 1),
        ("truncate", 1, 0),
    ] {
        let upstream = Fixture::start(mode);
        let proxy = proxy_to(upstream.addr);
        let mut client = connect(proxy.addr());
        let request = encode_request::<&str, &str>("GET", "/api/users/1/orders", "x", &[], None);
        client.write_all(&request).unwrap();
        if mode == "truncate" {
            // What the upstream sent is relayed as read, then its close is the client's.
            let mut all = Vec::new();
            let _ = client.read_to_end(&mut all);
            assert!(
                all.ends_with(b"0123456789"),
                "{mode}: {}",
                String::from_utf8_lossy(&all)
            );
        } else {
            let want = if mode == "reset" {
                Ending::Reset
            } else {
                Ending::Closed
            };
            assert_eq!(reads_nothing_then_ends(&mut client), want, "{mode}");
        }
        let failures = |s: &ProxyStats| s.upstream_failures.closed + s.upstream_failures.malformed;
        let stats = stats_when(&proxy, |s| failures(s) == 1);
        assert_eq!(
            (
                stats.upstream_failures.closed,
                stats.upstream_failures.malformed
            ),
            (closed, malformed),
            "{mode}"
        );
        assert_eq!(
            (stats.requests_forwarded, stats.responses_relayed),
            (1, 0),
            "{mode}"
        );
    }
}

#[test]
fn connections_are_mirrored_one_to_one_and_closes_pass_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = proxy_to(listener.local_addr().unwrap());
    let clients: Vec<TcpStream> = (0..3).map(|_| connect(proxy.addr())).collect();
    let mut upstreams: Vec<TcpStream> = (0..3).map(|_| listener.accept().unwrap().0).collect();
    listener.set_nonblocking(true).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(listener.accept().is_err(), "no fourth upstream connection");
    // A client's close reaches its upstream connection.
    drop(clients);
    for upstream in &mut upstreams {
        upstream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(
            upstream.read(&mut buf).unwrap(),
            0,
            "upstream sees the close"
        );
    }
    // An idle upstream close reaches its client at once, not on its next request.
    let mut client = connect(proxy.addr());
    listener.set_nonblocking(false).unwrap();
    let (upstream, _) = listener.accept().unwrap();
    drop(upstream);
    let mut buf = [0u8; 16];
    assert_eq!(client.read(&mut buf).unwrap(), 0);
    let stats = proxy.stats(false).unwrap();
    assert_eq!(stats.connections_accepted, 4);
    assert_eq!(
        stats.upstream_failures,
        Default::default(),
        "idle closes are no failures"
    );
}

#[test]
fn a_client_that_gives_up_is_counted_as_abandoned_and_its_upstream_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = proxy_to(listener.local_addr().unwrap());
    let mut client = connect(proxy.addr());
    let (mut upstream, _) = listener.accept().unwrap();
    upstream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = encode_request::<&str, &str>("POST", "/api/orders", "x", &[], Some(b"{}"));
    client.write_all(&request).unwrap();
    let mut got = vec![0u8; request.len()];
    upstream.read_exact(&mut got).unwrap();
    assert_eq!(got, request, "the request arrives unchanged");
    drop(client);
    let mut buf = [0u8; 16];
    assert_eq!(upstream.read(&mut buf).unwrap(), 0);
    let stats = stats_when(&proxy, |s| s.client_abandoned == 1);
    assert_eq!((stats.client_abandoned, stats.requests_forwarded), (1, 1));
    assert_eq!(stats.upstream_failures, Default::default());
}

#[test]
fn a_client_that_sends_garbage_is_closed_and_nothing_reaches_the_upstream() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = proxy_to(listener.local_addr().unwrap());
    let mut client = connect(proxy.addr());
    let (mut upstream, _) = listener.accept().unwrap();
    upstream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    assert_eq!(reads_nothing_then_ends(&mut client), Ending::Closed);
    let mut buf = [0u8; 16];
    assert_eq!(
        upstream.read(&mut buf).unwrap(),
        0,
        "nothing forwarded, then closed"
    );
    let stats = stats_when(&proxy, |s| s.client_malformed == 1);
    assert_eq!((stats.client_malformed, stats.requests_forwarded), (1, 0));
}

#[test]
fn a_killed_proxy_is_reported_and_a_dropped_one_is_stopped() {
    let upstream = Fixture::start("ok");
    let mut proxy = proxy_to(upstream.addr);
    assert!(proxy.check_running().is_ok());
    assert!(proxy.cpu_time().is_some());
    let pid = proxy.pid().unwrap();
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.check_running().is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = proxy.check_running().unwrap_err();
    assert!(
        error.contains("the proxy exited (killed by signal 9"),
        "{error}"
    );
    drop(proxy);

    let proxy = proxy_to(upstream.addr);
    let pid = proxy.pid().unwrap();
    drop(proxy);
    assert!(!alive(pid), "dropping the component stops the proxy");

    let proxy = proxy_to(upstream.addr);
    let pid = proxy.pid().unwrap();
    assert!(proxy.stop().unwrap().success(), "SIGTERM ends it cleanly");
    assert!(!alive(pid));
}

/// Whether `pid` still exists (the tests reap what they stop, so a stopped one does not).
fn alive(pid: u32) -> bool {
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

#[test]
fn a_proxy_to_anything_but_loopback_is_refused_with_one_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["proxy", "--upstream", "192.0.2.1:80"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a loopback HOST:PORT"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_body_delimited_by_the_close_is_relayed_and_counted_as_an_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = proxy_to(listener.local_addr().unwrap());
    let mut client = connect(proxy.addr());
    let request = encode_request::<&str, &str>("GET", "/api/users/9/orders", "x", &[], None);
    client.write_all(&request).unwrap();
    let (mut upstream, _) = listener.accept().unwrap();
    let mut got = vec![0u8; request.len()];
    upstream.read_exact(&mut got).unwrap();
    upstream.write_all(b"HTTP/1.1 200 OK\r\n\r\n[]").unwrap();
    drop(upstream);
    let mut all = Vec::new();
    client.read_to_end(&mut all).unwrap();
    assert_eq!(all, b"HTTP/1.1 200 OK\r\n\r\n[]");
    let stats = stats_when(&proxy, |s| s.responses_relayed == 1);
    assert_eq!(stats.statuses.get(&200), Some(&1));
    assert_eq!(stats.upstream_failures, Default::default());
}

#[test]
fn a_request_over_the_size_cap_is_refused_without_forwarding_anything() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = proxy_to(listener.local_addr().unwrap());
    let mut client = connect(proxy.addr());
    let (mut upstream, _) = listener.accept().unwrap();
    upstream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = vec![b'x'; lanebench::proxy::MAX_BODY_BYTES + 64 * 1024 + 1];
    let request = encode_request::<&str, &str>("POST", "/api/orders", "x", &[], Some(&body));
    // The proxy closes while this is still being written: the write may fail.
    let _ = client.write_all(&request);
    let mut buf = [0u8; 16];
    assert_eq!(
        upstream.read(&mut buf).unwrap(),
        0,
        "nothing forwarded, then closed"
    );
    let stats = stats_when(&proxy, |s| s.client_malformed == 1);
    assert_eq!((stats.client_malformed, stats.requests_forwarded), (1, 0));
}

#[test]
fn a_pinned_proxy_runs_on_its_cpus_only() {
    let upstream = Fixture::start("ok");
    let binary = env!("CARGO_BIN_EXE_lanebench");
    let cpu = *lanebench::load::cpus::CpuList::allowed()
        .cpus()
        .last()
        .unwrap();
    let mut options = ProxyOptions::new(binary, upstream.addr);
    options.cpus = Some(cpu.to_string().parse().unwrap());
    let proxy = ProxyProcess::start_with(options).unwrap();
    assert_eq!(proxy.cpus().unwrap().cpus(), [cpu]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", proxy.pid().unwrap())).unwrap();
    let allowed = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    assert_eq!(
        allowed.split_whitespace().nth(1),
        Some(cpu.to_string().as_str())
    );
    let mut client = connect(proxy.addr());
    assert_eq!(
        exchange(&mut client, "GET", "/api/users/1/orders", None).status,
        200
    );
}
