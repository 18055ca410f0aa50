//! Faults injected by the proxy between two services (issue 23): each kind switched on
//! through the control port of a `ProxyServer` started in this process, in front of a
//! tiny order service of the test's own, on ephemeral loopback ports. What a plain
//! blocking client sees, what the order service saw, and the counter each lands in.
//! No test asserts a speed: delays are lower bounds only.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lanebench::load::exchange::Exchanger;
use lanebench::load::protocol::http1::{encode_request, Message, RequestReader};
use lanebench::proxy::{
    fetch_counts, set_fault, Fault, ProxyCounts, ProxyError, ProxyServer, INJECTED_BODY,
};

/// What the order service answers to every request.
const ORDERS: &[u8] = br#"[{"id":1,"user_id":7,"items":[{"product_id":3,"quantity":2}]}]"#;

/// An order service that answers every request 200 with [`ORDERS`], keep-alive, and
/// counts the requests it saw.
struct Upstream {
    addr: SocketAddr,
    seen: Arc<AtomicU64>,
}

impl Upstream {
    fn start() -> Upstream {
        Upstream::start_slow(Duration::ZERO)
    }

    /// One that waits `pause` before each answer.
    fn start_slow(pause: Duration) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || serve(stream, &counter, pause));
            }
        });
        Upstream { addr, seen }
    }

    fn seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, seen: &AtomicU64, pause: Duration) {
    let mut reader = RequestReader::default();
    while let Ok(Some(_)) = reader.read(&mut stream, 1 << 20) {
        seen.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(pause);
        if stream.write_all(&answer_bytes()).is_err() {
            return;
        }
    }
}

/// The order service's whole answer, byte for byte.
fn answer_bytes() -> Vec<u8> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        ORDERS.len()
    );
    [head.as_bytes(), ORDERS].concat()
}

fn start() -> (Upstream, ProxyServer) {
    let upstream = Upstream::start();
    let proxy = ProxyServer::start(upstream.addr, 0, 0).unwrap();
    (upstream, proxy)
}

fn switch(proxy: &ProxyServer, fault: Fault) {
    set_fault(proxy.control_addr(), &fault).unwrap();
}

/// A keep-alive client connection.
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

fn request() -> Vec<u8> {
    encode_request::<&str, &str>("GET", "/api/users/7/orders", "x", &[], None)
}

/// One request on `stream` and its whole response.
fn get(stream: &mut TcpStream) -> Message {
    Exchanger::default()
        .exchange_message(stream, &request(), true, 1 << 20)
        .unwrap()
}

/// Polls the totals until `done` holds, for up to 10 s.
fn counts_when(proxy: &ProxyServer, done: impl Fn(&ProxyCounts) -> bool) -> ProxyCounts {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counts = fetch_counts(proxy.control_addr()).unwrap();
        if done(&counts) || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a read on `stream` gets nothing within `wait`.
fn silent_for(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        Ok(n) => {
            eprintln!("expected silence, read {n} bytes");
            false
        }
    }
}

/// Switching back to no fault: a new connection gets the order service's answer.
fn relays_normally(proxy: &ProxyServer) {
    switch(proxy, Fault::None);
    let message = get(&mut connect(proxy.addr()));
    assert_eq!((message.status, message.body.as_slice()), (200, ORDERS));
}

#[test]
fn a_delay_holds_each_request_and_is_in_its_downstream_latency() {
    let (upstream, proxy) = start();
    let delay = Duration::from_millis(150);
    switch(&proxy, Fault::Delay { delay_ms: 150 });
    let mut client = connect(proxy.addr());
    for _ in 0..3 {
        let sent = Instant::now();
        let message = get(&mut client);
        assert!(sent.elapsed() >= delay, "{:?}", sent.elapsed());
        assert_eq!((message.status, message.body.as_slice()), (200, ORDERS));
    }
    let counts = counts_when(&proxy, |c| c.relayed == 3);
    assert_eq!(counts.fault, Fault::Delay { delay_ms: 150 });
    assert_eq!(
        (counts.received, counts.forwarded, counts.relayed),
        (3, 3, 3)
    );
    assert_eq!(counts.injected.delayed, 3);
    assert_eq!(upstream.seen(), 3);
    let latency = proxy.stats(false).latency().unwrap();
    assert_eq!(latency.len(), 3);
    assert!(
        latency.min() >= delay.as_nanos() as u64,
        "{}",
        latency.min()
    );
    relays_normally(&proxy);
    let counts = counts_when(&proxy, |c| c.relayed == 4);
    assert_eq!((counts.injected.delayed, counts.fault), (3, Fault::None));
}

#[test]
fn an_error_is_answered_by_the_proxy_in_order_and_keep_alive() {
    let (upstream, proxy) = start();
    let all = Fault::Error {
        status: 503,
        share: 1.0,
    };
    switch(&proxy, all);
    let mut client = connect(proxy.addr());
    for _ in 0..3 {
        let message = get(&mut client);
        assert_eq!(message.status, 503);
        assert_eq!(message.body, INJECTED_BODY.as_bytes());
        let content_type = message
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        assert_eq!(
            content_type.map(|(_, v)| v.as_str()),
            Some("application/json")
        );
        assert!(message.keep_alive);
    }
    let counts = counts_when(&proxy, |c| c.injected.errored == 3);
    assert_eq!(
        (counts.received, counts.forwarded, counts.relayed),
        (3, 0, 0)
    );
    assert_eq!(upstream.seen(), 0, "an errored request is never forwarded");
    let stats = proxy.stats(false);
    assert_eq!((stats.injected.errored, stats.responses_relayed), (3, 0));
    assert_eq!(stats.latency().unwrap().len(), 0, "not in the histogram");
    relays_normally(&proxy);
}

#[test]
fn half_the_requests_are_errored_deterministically_and_the_rest_relayed() {
    let (upstream, proxy) = start();
    switch(
        &proxy,
        Fault::Error {
            status: 500,
            share: 0.5,
        },
    );
    let mut client = connect(proxy.addr());
    let mut errored = 0;
    for _ in 0..100 {
        match get(&mut client) {
            m if m.status == 500 => errored += 1,
            m => assert_eq!((m.status, m.body.as_slice()), (200, ORDERS)),
        }
    }
    assert!((49..=51).contains(&errored), "{errored} of 100");
    let counts = counts_when(&proxy, |c| c.relayed == 100 - errored);
    assert_eq!(counts.injected.errored, errored);
    assert_eq!((counts.received, counts.forwarded), (100, 100 - errored));
    assert_eq!(upstream.seen(), 100 - errored);
    relays_normally(&proxy);
}

#[test]
fn an_injected_error_waits_for_the_answers_before_it_on_its_connection() {
    let upstream = Upstream::start_slow(Duration::from_millis(100));
    let proxy = ProxyServer::start(upstream.addr, 0, 0).unwrap();
    switch(
        &proxy,
        Fault::Error {
            status: 500,
            share: 0.5,
        },
    );
    let mut client = connect(proxy.addr());
    // Pipelined: the first and third are forwarded to a slow order service, the second
    // and fourth errored at once, and yet answered after the ones before them.
    let four: Vec<u8> = (0..4).flat_map(|_| request()).collect();
    client.write_all(&four).unwrap();
    let injected = format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{INJECTED_BODY}",
        INJECTED_BODY.len()
    );
    let (ok, err) = (answer_bytes(), injected.into_bytes());
    let want = [ok.clone(), err.clone(), ok, err].concat();
    let mut got = vec![0u8; want.len()];
    client.read_exact(&mut got).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    let counts = counts_when(&proxy, |c| c.relayed == 2);
    assert_eq!(
        (counts.received, counts.forwarded, counts.injected.errored),
        (4, 2, 2)
    );
    assert_eq!(upstream.seen(), 2);
}

#[test]
fn a_blackhole_swallows_requests_and_still_accepts_connections() {
    let (upstream, proxy) = start();
    switch(&proxy, Fault::Blackhole);
    let mut first = connect(proxy.addr());
    first.write_all(&request()).unwrap();
    assert!(silent_for(&mut first, Duration::from_millis(500)));
    let mut second = connect(proxy.addr());
    second.write_all(&request()).unwrap();
    assert!(silent_for(&mut second, Duration::from_millis(300)));
    let counts = counts_when(&proxy, |c| c.injected.blackholed == 2);
    assert_eq!(counts.injected.blackholed, 2);
    assert_eq!((counts.received, counts.forwarded), (2, 0));
    assert_eq!((counts.accepted, counts.open_connections), (2, 2));
    assert_eq!(upstream.seen(), 0);
    // A client that gives up on a swallowed request ends its connection.
    drop(second);
    let counts = counts_when(&proxy, |c| c.open_connections == 1);
    assert_eq!(counts.open_connections, 1);
    relays_normally(&proxy);
    // A swallowed request stays unanswered after the blackhole: its client times out.
    assert!(silent_for(&mut first, Duration::from_millis(300)));
    assert_eq!(proxy.stats(false).responses_relayed, 1);
}

#[test]
fn a_refuse_closes_the_port_and_open_connections_then_listens_again() {
    let (_upstream, proxy) = start();
    let mut open = connect(proxy.addr());
    assert_eq!(get(&mut open).status, 200);
    counts_when(&proxy, |c| c.open_connections == 1);
    switch(&proxy, Fault::Refuse);
    let mut buf = [0u8; 16];
    match open.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the open connection is not closed: {other:?}"),
    }
    let refused = TcpStream::connect(proxy.addr()).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    let counts = counts_when(&proxy, |c| c.open_connections == 0);
    assert_eq!(counts.injected.refuse_closed, 1);
    assert_eq!((counts.open_connections, counts.fault), (0, Fault::Refuse));
    relays_normally(&proxy);
    let counts = counts_when(&proxy, |c| c.relayed == 2);
    assert_eq!((counts.accepted, counts.injected.refuse_closed), (2, 1));
}

#[test]
fn a_reset_forwards_the_request_and_cuts_its_answer() {
    let (upstream, proxy) = start();
    switch(&proxy, Fault::Reset);
    let mut client = connect(proxy.addr());
    client.write_all(&request()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let ending = loop {
        match client.read(&mut buf) {
            Ok(0) => break "closed",
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break "reset",
            Err(e) => panic!("{e}"),
        }
    };
    let whole = answer_bytes();
    assert!(
        !got.is_empty() && got.len() < whole.len(),
        "{} of {} bytes, then {ending}",
        got.len(),
        whole.len()
    );
    assert!(whole.starts_with(&got), "the part is the answer's start");
    assert_eq!(
        ending, "reset",
        "the client's connection is reset, not closed"
    );
    let counts = counts_when(&proxy, |c| c.injected.reset == 1);
    assert_eq!(
        (counts.received, counts.forwarded, counts.relayed),
        (1, 1, 0)
    );
    assert_eq!(upstream.seen(), 1, "a reset request is forwarded");
    let stats = proxy.stats(false);
    assert_eq!((stats.requests_forwarded, stats.responses_relayed), (1, 0));
    assert_eq!(stats.upstream_failures, Default::default());
    assert_eq!(stats.client_abandoned, 0);
    relays_normally(&proxy);
}

#[test]
fn a_bad_fault_is_refused_with_400_and_changes_nothing() {
    let (_upstream, proxy) = start();
    switch(&proxy, Fault::Delay { delay_ms: 1 });
    let bad = Fault::Error {
        status: 503,
        share: 0.0,
    };
    match set_fault(proxy.control_addr(), &bad) {
        Err(ProxyError::FaultRefused { status, error, .. }) => {
            assert_eq!(status, 400);
            assert!(error.contains("share"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        proxy.set_fault(Fault::Delay { delay_ms: 600_001 }),
        Err(ProxyError::BadFault(_))
    ));
    for body in [
        &br#"{"kind":"slow"}"#[..],
        br#"{"kind":"error","status":101,"share":1}"#,
        br#"{"kind":"blackhole","extra":1}"#,
        b"not json",
    ] {
        let mut stream = TcpStream::connect(proxy.control_addr()).unwrap();
        let request = encode_request("PUT", "/fault", "x", &[("Connection", "close")], Some(body));
        let message = Exchanger::default()
            .exchange_message(&mut stream, &request, true, 1 << 16)
            .unwrap();
        assert_eq!(message.status, 400);
        let text = String::from_utf8(message.body).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(json["error"].is_string(), "{text}");
    }
    assert_eq!(proxy.counts().fault, Fault::Delay { delay_ms: 1 });
}

#[test]
fn the_control_port_answers_a_fault_with_the_fault_in_effect() {
    let (_upstream, proxy) = start();
    let mut stream = TcpStream::connect(proxy.control_addr()).unwrap();
    let body = br#"{"kind":"error","status":429,"share":0.25}"#;
    let request = encode_request("PUT", "/fault", "x", &[("Connection", "close")], Some(body));
    let message = Exchanger::default()
        .exchange_message(&mut stream, &request, true, 1 << 16)
        .unwrap();
    assert_eq!(message.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&message.body).unwrap();
    let want = serde_json::json!({"fault": {"kind": "error", "status": 429, "share": 0.25}});
    assert_eq!(json, want);
    let fault = Fault::Error {
        status: 429,
        share: 0.25,
    };
    assert_eq!(proxy.counts().fault, fault);
    assert_eq!(fetch_counts(proxy.control_addr()).unwrap().fault, fault);
}
