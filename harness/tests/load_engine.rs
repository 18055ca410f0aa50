//! The load engine against real servers on ephemeral loopback ports: an in-process hyper
//! server for exact counts and rates, and `lanebench-fixture` processes for servers that
//! misbehave (errors, garbage, stalls, SIGSTOP pauses).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lanebench::load::result::LoadResult;
use lanebench::load::{LoadRun, LoadSettings};

mod fixture_server;
use fixture_server::Fixture;

/// A keep-alive hyper server counting the requests it answers; stops with the test process.
fn counting_server() -> (SocketAddr, Arc<AtomicU64>) {
    serving(false)
}

/// Like `counting_server`, every answer a 200 marked as a degraded fallback
/// (`X-Degraded: true`) when `degraded`.
fn serving(degraded: bool) -> (SocketAddr, Arc<AtomicU64>) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        async move {
                            let mut response = hyper::Response::new(Full::new(Bytes::from_static(
                                b"{\"ok\":true}",
                            )));
                            if degraded {
                                response.headers_mut().insert(
                                    "x-degraded",
                                    hyper::header::HeaderValue::from_static("true"),
                                );
                            }
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
    });
    (rx.recv().unwrap(), seen)
}

fn settings(addr: SocketAddr, connections: usize) -> LoadSettings {
    LoadSettings {
        connections,
        threads: 2,
        ..fixture_server::get_load(addr, "/health")
    }
}

fn run(settings: LoadSettings) -> LoadResult {
    LoadRun::start(settings, Arc::new(AtomicBool::new(false)))
        .unwrap()
        .wait()
        .unwrap()
}

#[test]
fn request_count_matches_what_the_server_saw() {
    let (addr, seen) = counting_server();
    let mut s = settings(addr, 8);
    s.duration = None;
    s.requests = Some(2_000);
    let result = run(s);
    assert_eq!(result.requests, 2_000);
    assert_eq!(seen.load(Ordering::SeqCst), 2_000);
    assert_eq!(result.error_total, 0);
    assert_eq!(result.status_codes.get("200"), Some(&2_000));
    let per_second: u64 = result.timeline.iter().map(|p| p.requests).sum();
    assert_eq!(per_second, 2_000, "the timeline accounts for every request");
    assert_eq!(
        result.latency_distribution.last().unwrap().percentile,
        100.0
    );
}

#[test]
fn warmup_traffic_is_sent_but_not_counted() {
    let (addr, seen) = counting_server();
    let mut s = settings(addr, 4);
    s.warmup = Duration::from_millis(300);
    s.duration = None;
    s.requests = Some(500);
    let result = run(s);
    assert_eq!(result.requests, 500);
    assert!(
        seen.load(Ordering::SeqCst) > 500,
        "warm-up requests reached the server too"
    );
}

#[test]
fn open_loop_rate_is_within_two_percent() {
    let (addr, _) = counting_server();
    let mut s = settings(addr, 10);
    s.rate = Some(1_000.0);
    s.duration = Some(Duration::from_secs(3));
    s.warmup = Duration::from_millis(200);
    let result = run(s);
    let expected = 3_000.0;
    let got = result.requests as f64;
    assert!(
        (got - expected).abs() / expected <= 0.02,
        "{got} requests for a planned {expected}"
    );
    let schedule = result.schedule.unwrap();
    assert!(
        (schedule.planned as f64 - expected).abs() <= 10.0,
        "{schedule:?}"
    );
    assert!(result.latency_uncorrected_ms.is_some());
    assert_eq!(result.timeline.len(), 3);
}

#[test]
fn server_pause_shows_in_corrected_latency_only() {
    let fixture = Fixture::start("ok");
    let mut s = settings(fixture.addr, 4);
    s.rate = Some(400.0);
    s.duration = Some(Duration::from_secs(4));
    let started = Instant::now();
    let load = LoadRun::start(s, Arc::new(AtomicBool::new(false))).unwrap();
    std::thread::sleep(Duration::from_millis(1_000));
    fixture.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(1_000));
    fixture.signal(libc::SIGCONT);
    let result = load.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(8));
    let corrected = result.latency_ms;
    let uncorrected = result.latency_uncorrected_ms.unwrap();
    // A quarter of the run was intended during the 1 s stall, so the corrected p99 must
    // show most of that second; only the few requests in flight at the pause saw it as
    // service time.
    assert!(
        corrected.p99 >= 500.0,
        "corrected p99 {} ms hides the stall",
        corrected.p99
    );
    assert!(
        uncorrected.p99 * 4.0 < corrected.p99,
        "uncorrected p99 {} vs corrected {}",
        uncorrected.p99,
        corrected.p99
    );
    let schedule = result.schedule.unwrap();
    assert!(
        schedule.queued > 100,
        "sends due during the stall waited for their connection: {schedule:?}"
    );
    assert!(
        schedule.late < schedule.queued,
        "the server's delay is not the generator's send lag: {schedule:?}"
    );
}

#[test]
fn unexpected_statuses_are_errors_by_class() {
    let fixture = Fixture::start("status:503");
    let mut s = settings(fixture.addr, 2);
    s.duration = None;
    s.requests = Some(100);
    let result = run(s);
    assert_eq!(result.requests, 100);
    assert_eq!(result.errors.status_5xx, 100);
    assert_eq!(result.error_rate, 1.0);

    let fixture = Fixture::start("status:404");
    let mut s = settings(fixture.addr, 2);
    s.duration = None;
    s.requests = Some(50);
    let result = run(s);
    assert_eq!(result.errors.status_4xx, 50);
}

#[test]
fn broken_responses_are_classified_and_the_generator_keeps_going() {
    for (mode, class) in [
        ("garbage", "parse"),
        ("close", "read"),
        ("truncate", "read"),
    ] {
        let fixture = Fixture::start(mode);
        let mut s = settings(fixture.addr, 2);
        s.duration = Some(Duration::from_millis(500));
        let result = run(s);
        let errors = result.errors;
        let counted = if class == "parse" {
            errors.parse
        } else {
            errors.read
        };
        assert!(counted > 10, "{mode}: {errors:?}");
        assert_eq!(
            errors.total(),
            counted,
            "{mode}: only {class} errors expected, got {errors:?}"
        );
        assert!(
            result.reconnects > 10,
            "{mode}: the generator reconnects after each failure"
        );
    }
}

#[test]
fn chunked_responses_complete() {
    let fixture = Fixture::start("chunked");
    let mut s = settings(fixture.addr, 2);
    s.duration = None;
    s.requests = Some(200);
    let result = run(s);
    assert_eq!(result.requests, 200);
    assert_eq!(result.error_total, 0);
}

#[test]
fn stalled_server_times_out_and_the_run_ends_on_time() {
    let fixture = Fixture::start("stall");
    let mut s = settings(fixture.addr, 2);
    s.duration = Some(Duration::from_millis(1_000));
    s.timeout = Duration::from_millis(200);
    let started = Instant::now();
    let result = run(s);
    assert!(
        started.elapsed() < Duration::from_millis(1_000 + 200 + 500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.requests, 0);
    assert!(result.errors.timeout >= 4, "{:?}", result.errors);
}

#[test]
fn nobody_listening_counts_connect_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut s = settings(port, 2);
    s.duration = Some(Duration::from_millis(300));
    let result = run(s);
    assert_eq!(result.requests, 0);
    assert!(result.errors.connect > 0);
    assert_eq!(result.errors.total(), result.errors.connect);
}

#[test]
fn stop_flag_ends_the_run_early_with_what_was_measured() {
    let (addr, _) = counting_server();
    let mut s = settings(addr, 2);
    s.duration = Some(Duration::from_secs(60));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let load = LoadRun::start(s, Arc::clone(&stop)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let result = load.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(result.requests > 0);
    assert!(result.duration_s < 5.0);
}

#[test]
fn timeouts_enter_the_tail_at_their_timeout() {
    // Every 50th request is never answered: 2% of the samples wait out the timeout,
    // so the p99 must be at least the timeout (a tail that dropped them would be ~0).
    let fixture = Fixture::start("stall-every:50");
    let mut s = settings(fixture.addr, 4);
    s.duration = Some(Duration::from_secs(2));
    s.timeout = Duration::from_millis(500);
    let result = run(s);
    assert!(result.censored.timeout > 0, "{:?}", result.censored);
    assert_eq!(result.censored.timeout, result.errors.timeout);
    assert!(
        result.latency_ms.p99 >= 500.0,
        "p99 {} ms hides the timeouts",
        result.latency_ms.p99
    );
    assert!(result.latency_ms.max >= 500.0);
}

#[test]
fn degraded_answers_are_errors_of_their_own_class_not_successes() {
    let (addr, seen) = serving(true);
    let mut s = settings(addr, 2);
    s.duration = None;
    s.requests = Some(200);
    let result = run(s);
    assert_eq!(seen.load(Ordering::SeqCst), 200);
    assert_eq!(result.requests, 200);
    assert_eq!(result.successes, 0);
    assert_eq!(result.errors.degraded, 200);
    assert_eq!(result.error_total, 200);
    let json = serde_json::to_string(&result.errors).unwrap();
    assert!(json.contains("\"degraded\":200"), "{json}");
    // Absent when there were none, so files without degraded answers keep their shape.
    let (addr, _) = serving(false);
    let mut s = settings(addr, 2);
    s.duration = None;
    s.requests = Some(50);
    let result = run(s);
    assert_eq!(result.successes, 50);
    assert!(!serde_json::to_string(&result.errors)
        .unwrap()
        .contains("degraded"));
}

#[test]
fn a_server_answering_503_has_no_successes() {
    let fixture = Fixture::start("status:503");
    let mut s = settings(fixture.addr, 2);
    s.duration = Some(Duration::from_millis(500));
    let result = run(s);
    assert!(result.rps > 0.0);
    assert_eq!(result.successes, 0);
    assert_eq!(result.success_rps, 0.0);
    assert!(result.timeline.iter().all(|p| p.successes == 0));

    let fixture = Fixture::start("ok");
    let mut s = settings(fixture.addr, 2);
    s.duration = None;
    s.requests = Some(300);
    let result = run(s);
    assert_eq!(result.successes, 300);
    assert!((result.success_rps - result.rps).abs() < 1e-9);
}

#[test]
fn requests_in_flight_at_the_deadline_are_censored_in_closed_loop() {
    let fixture = Fixture::start("stall");
    let mut s = settings(fixture.addr, 2);
    s.duration = Some(Duration::from_millis(600));
    s.timeout = Duration::from_secs(30);
    let result = run(s);
    assert_eq!(result.requests, 0);
    assert_eq!(result.censored.in_flight_at_end, 2);
    // Both were sent at the start and waited the whole window.
    assert!(result.latency_ms.min >= 500.0, "{:?}", result.latency_ms);
    assert_eq!(
        result.error_total, 0,
        "cut off by the deadline is not an error"
    );
}

#[test]
fn unsent_open_loop_requests_enter_at_deadline_minus_intended() {
    // One connection at 100/s: the first request stalls, so the other 99 slots of the
    // second are never sent. Each waited from its slot to the end: spread evenly over
    // 0-1 s, so their median is about half a second whatever the machine.
    let fixture = Fixture::start("stall");
    let mut s = settings(fixture.addr, 1);
    s.threads = 1;
    s.rate = Some(100.0);
    s.duration = Some(Duration::from_secs(1));
    s.timeout = Duration::from_secs(30);
    let result = run(s);
    let schedule = result.schedule.clone().unwrap();
    assert_eq!(schedule.planned, 100);
    assert_eq!(schedule.sent, 1);
    assert_eq!(result.censored.unsent, 99);
    assert_eq!(schedule.unsent, result.censored.unsent);
    assert_eq!(result.censored.in_flight_at_end, 1);
    assert!(
        (400.0..=600.0).contains(&result.latency_ms.p50),
        "median {} ms",
        result.latency_ms.p50
    );
    assert!(result.latency_ms.max >= 950.0, "{:?}", result.latency_ms);
    assert!(schedule.generator_limited, "{schedule:?}");
    assert!(schedule.limited_by.iter().any(|r| r.contains("never sent")));
}

#[test]
fn waiting_for_in_flight_answers_records_their_real_latency() {
    let fixture = Fixture::start_with("ok", &["--delay-ms", "300"]);
    let mut s = settings(fixture.addr, 2);
    s.duration = Some(Duration::from_millis(450));
    s.timeout = Duration::from_secs(5);
    let cut = run(s.clone());
    assert_eq!(cut.censored.in_flight_at_end, 2, "{:?}", cut.censored);
    s.wait_in_flight = true;
    let waited = run(s);
    assert_eq!(waited.censored.in_flight_at_end, 0, "{:?}", waited.censored);
    assert_eq!(
        waited.requests, 4,
        "two answers each, the second after the deadline"
    );
    // The histogram keeps 3 significant digits: its lowest value of a 300 ms bucket
    // can read up to 0.1% below the true latency, which is never below the delay.
    assert!(
        waited.latency_ms.min >= 300.0 * 0.999,
        "{:?}",
        waited.latency_ms
    );
}

#[test]
fn open_loop_records_a_send_lag_for_every_send() {
    let (addr, _) = counting_server();
    let mut s = settings(addr, 4);
    s.rate = Some(500.0);
    s.duration = Some(Duration::from_secs(1));
    let result = run(s);
    let schedule = result.schedule.clone().unwrap();
    let lag = lanebench::load::hdr_log::decode_histogram(result.send_lag_hdr.as_deref().unwrap())
        .unwrap();
    assert_eq!(lag.len(), schedule.sent);
    let l = schedule.lag_ms;
    assert!(0.0 <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max, "{l:?}");
    assert_eq!(schedule.max_send_lag_ms, 1.0);
    assert!(result.latency_hdr.is_some());
}
