//! Pipelined HTTP/1.1 through whole runs: requests really go out before earlier answers
//! come, answers are matched to requests by order, each request's latency is taken from
//! its own send, and the ways a server can break the order (answers swapped, one
//! dropped, the connection closed mid-batch) end up in the right error classes.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::h1::{answer, drain, Requests};
use common::{client, get, run, serve, settings, url};
use lanebench_load::outcome::ExpectedStatus;
use lanebench_load::protocol::ProtocolName;
use lanebench_load::request::RequestPlan;

#[test]
fn requests_are_pipelined_and_answered_in_order() {
    let first_batch = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&first_batch);
    let addr = serve(None, move |conn| {
        let mut requests = Requests::default();
        conn.set_timeout(Some(Duration::from_secs(2)));
        let Some(first) = requests.at_least(conn, 8) else {
            return;
        };
        seen.fetch_max(first.len(), Ordering::SeqCst);
        conn.set_timeout(None);
        let mut batch = first;
        loop {
            let out: Vec<u8> = batch.iter().flat_map(|_| answer(200)).collect();
            if conn.write_all(&out).is_err() {
                return;
            }
            match requests.next_batch(conn) {
                Some(next) => batch = next,
                None => return,
            }
        }
    });
    let result = run(settings(addr, false, 200), client(false, 8));
    assert_eq!(first_batch.load(Ordering::SeqCst), 8);
    assert_eq!(result.successes, 200, "{:?}", result.errors);
    assert_eq!(result.errors.total(), 0);
    assert_eq!(result.reconnects, 0);
    let facts = result.protocol.expect("protocol facts");
    assert_eq!(facts.name, ProtocolName::H1);
    assert_eq!(facts.pipeline, Some(8));
}

/// The server holds the first answer `HOLD`, then the rest of the first batch another
/// `HOLD`. Meanwhile the first lane's next request went out: it waits one `HOLD`, not
/// two, though it is answered with the batch that waited two.
#[test]
fn each_requests_latency_runs_from_its_own_send() {
    const HOLD: Duration = Duration::from_millis(400);
    let addr = serve(None, move |conn| {
        let mut requests = Requests::default();
        let Some(first) = requests.at_least(conn, 4) else {
            return;
        };
        std::thread::sleep(HOLD);
        let _ = conn.write_all(&answer(200));
        std::thread::sleep(HOLD);
        let mut out: Vec<u8> = first[1..].iter().flat_map(|_| answer(200)).collect();
        loop {
            if conn.write_all(&out).is_err() {
                return;
            }
            match requests.next_batch(conn) {
                Some(next) => out = next.iter().flat_map(|_| answer(200)).collect(),
                None => return,
            }
        }
    });
    let result = run(settings(addr, false, 20), client(false, 4));
    assert_eq!(result.successes, 20, "{:?}", result.errors);
    // The three held twice; not the one sent after the first answer.
    assert_eq!(common::latencies_at_least(&result, HOLD * 3 / 2), 3);
    assert!(result.latency_ms.max >= 2.0 * HOLD.as_secs_f64() * 1e3);
}

/// Paths `/ok` (expects 200) and `/missing` (expects 404), picked at random.
fn ok_and_missing(base: &str) -> RequestPlan {
    RequestPlan::weighted(vec![
        (get(base, "/ok", ExpectedStatus::Exactly(200)), 1),
        (get(base, "/missing", ExpectedStatus::Exactly(404)), 1),
    ])
}

fn status_of(path: &str) -> u16 {
    if path == "/ok" {
        200
    } else {
        404
    }
}

/// A server answering each pair of pipelined requests in order, or swapped; returns
/// its address and how many pairs held two different paths.
fn pairs_server(swap: bool) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let mixed = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&mixed);
    let addr = serve(None, move |conn| {
        let mut requests = Requests::default();
        let mut queue: Vec<String> = Vec::new();
        loop {
            while queue.len() >= 2 {
                let mut pair: Vec<String> = queue.drain(..2).collect();
                if pair[0] != pair[1] {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                if swap {
                    pair.reverse();
                }
                let out: Vec<u8> = pair.iter().flat_map(|p| answer(status_of(p))).collect();
                if conn.write_all(&out).is_err() {
                    return;
                }
            }
            match requests.next_batch(conn) {
                Some(next) => queue.extend(next),
                None => return,
            }
        }
    });
    (addr, mixed)
}

#[test]
fn answers_out_of_order_are_status_errors() {
    for swap in [false, true] {
        let (addr, mixed) = pairs_server(swap);
        let mut s = settings(addr, false, 60);
        s.plan = ok_and_missing(&url(addr, false));
        let result = run(s, client(false, 2));
        let mixed = mixed.load(Ordering::SeqCst) as u64;
        assert_eq!(result.requests, 60, "{:?}", result.errors);
        let wrong = if swap { 2 * mixed } else { 0 };
        assert_eq!(
            result.errors.total(),
            wrong,
            "swap {swap}: {:?}",
            result.errors
        );
        assert_eq!(result.errors.status_4xx, mixed.min(wrong));
        assert_eq!(result.successes, 60 - wrong);
        if swap {
            assert!(
                mixed > 0,
                "60 random picks of two paths never mixed in a pair"
            );
        }
    }
}

#[test]
fn a_dropped_answer_times_out_the_requests_behind_it() {
    let answered = Arc::new(Mutex::new(0u64));
    let count = Arc::clone(&answered);
    let addr = serve(None, move |conn| {
        let mut requests = Requests::default();
        if requests.at_least(conn, 1).is_none() {
            return;
        }
        // The first answer, then nothing: the second is never answered.
        if conn.write_all(&answer(200)).is_ok() {
            *count.lock().unwrap() += 1;
        }
        drain(conn, &mut requests);
    });
    let mut s = settings(addr, false, 8);
    s.timeout = Duration::from_millis(200);
    let result = run(s, client(false, 4));
    let answered = *answered.lock().unwrap();
    assert!(answered >= 1);
    assert_eq!(result.successes, answered);
    assert!(result.errors.timeout > 0, "{:?}", result.errors);
    assert_eq!(
        result.errors.total(),
        result.errors.timeout,
        "{:?}",
        result.errors
    );
    assert_eq!(result.censored.timeout, result.errors.timeout);
    assert_eq!(result.successes + result.errors.timeout, 8);
    assert!(result.reconnects > 0);
}

#[test]
fn a_connection_closed_mid_batch_fails_the_rest_and_the_run_goes_on() {
    let answered = Arc::new(Mutex::new(0u64));
    let count = Arc::clone(&answered);
    let addr = serve(None, move |conn| {
        let mut requests = Requests::default();
        // The run's last requests may be fewer than a batch.
        conn.set_timeout(Some(Duration::from_millis(100)));
        if requests.up_to(conn, 4).is_none() {
            return;
        }
        if conn.write_all(&answer(200)).is_ok() {
            *count.lock().unwrap() += 1;
        }
        conn.close_write();
        drain(conn, &mut requests);
    });
    let result = run(settings(addr, false, 40), client(false, 4));
    let answered = *answered.lock().unwrap();
    assert_eq!(result.successes, answered, "{:?}", result.errors);
    assert!(result.errors.read > 0, "{:?}", result.errors);
    assert_eq!(
        result.errors.total(),
        result.errors.read,
        "{:?}",
        result.errors
    );
    assert_eq!(result.successes + result.errors.read, 40);
    assert!(result.reconnects > 0);
    // Per answer, the other three of its batch fail, and at most one request sent
    // before the client saw the close; none is started on the closed socket.
    assert!(result.errors.read <= 4 * answered, "{:?}", result.errors);
}
