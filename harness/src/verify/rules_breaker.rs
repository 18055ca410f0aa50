//! The circuit breaker rules (CONTRACT.md, "Circuit breaker"), judged against the fake
//! order service from its call counts and the user service's answer times.
//!
//! The user service runs as one process (`WORKERS=1`: the contract has one breaker per
//! process, and calls counted across several breakers say nothing about any of them),
//! with [`CHECKED_FAILURES`] and [`CHECKED_OPEN_MS`], short so that the rules are quick.
//! Each rule makes its own starting point: a closed breaker (the fake healthy until a
//! summary is normal) for the rules that count failures, a breaker just opened by
//! failing summaries for the others. The rules run in an order where a breaker that
//! never closes again fails only the rules about closing: the counting rules first,
//! and last the one that leaves a call stalled at the fake.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::chain_judge::{check_summary, expected_summary, RECOVERY_WITHIN, SCHEDULING_ALLOWANCE};
use super::fake_orders::{raw_orders, Counts, FakeMode, FakeOrders};
use super::http_client::{HttpClient, Response};
use super::rules_chain_faults::{calls_during, timed, wait_normal, warm_up, within};
use super::rules_orders::fresh_user_id;
use super::{expect_json_error, Session};

/// `BREAKER_FAILURES` of the user service the breaker rules check.
pub const CHECKED_FAILURES: u64 = 3;
/// `BREAKER_OPEN_MS` of the user service the breaker rules check.
pub const CHECKED_OPEN_MS: u64 = 1000;
/// `DOWNSTREAM_TIMEOUT_MS` of that user service: the contract's default, long enough
/// that the concurrent summaries of the half-open rule are surely sent while the probe
/// is in flight, and far from the fail-fast bound, so that a call made while the breaker
/// should be open shows in the time as well as in the count.
pub const BREAKER_DOWNSTREAM_TIMEOUT_MS: u64 = 1000;
/// The contract's "at once" for an open or half-open breaker.
const FAIL_FAST: Duration = Duration::from_millis(50);
/// Failing summaries sent with the breaker off; each must call.
const OFF_SUMMARIES: u64 = 20;
/// Summaries asked at most to open the breaker for the rules that need it open.
const OPEN_ATTEMPTS: u64 = CHECKED_FAILURES + 3;
/// Added to the end of an open period before the next call is expected to be a probe:
/// the harness's clock and the service's timer need not tick together.
const PERIOD_MARGIN: Duration = Duration::from_millis(50);
/// How long the probe has to reach the fake once the open period is over.
const PROBE_ARRIVAL: Duration = Duration::from_secs(1);
/// Summaries sent at once while the probe is in flight.
const CONCURRENT: usize = 5;
/// Summaries that must call after a successful probe closed the breaker.
const AFTER_CLOSING: u64 = 5;
/// Cut from the end of the second open period watched after a failed probe: the
/// failure that reopened the breaker came before the probe's answer, by up to the time
/// the user service took to answer.
const REOPEN_MARGIN: Duration = Duration::from_millis(300);
/// Pause between summaries while watching an open period.
const WATCH_POLL: Duration = Duration::from_millis(100);

fn open_period() -> Duration {
    Duration::from_millis(CHECKED_OPEN_MS)
}

/// How long an answer may take while the breaker is open or half-open.
pub fn fail_fast_bound() -> Duration {
    FAIL_FAST + SCHEDULING_ALLOWANCE
}

/// Runs every breaker rule on a user service started with [`CHECKED_FAILURES`],
/// [`CHECKED_OPEN_MS`] and [`BREAKER_DOWNSTREAM_TIMEOUT_MS`].
pub(super) fn check(session: &mut Session, fake: &mut FakeOrders) {
    fake.set_mode(FakeMode::Ok);
    warm_up(session);
    let mut settles = true;
    check_consecutive_only(session, fake);
    check_opens_after_n(session, fake);
    check_posts_count(session, fake);
    check_fails_fast(session, fake, &mut settles);
    check_probe_success_closes(session, fake, &mut settles);
    check_half_open_one_probe(session, fake, &mut settles);
    fake.set_mode(FakeMode::Ok);
}

/// `breaker.off_with_zero`, on a user service started with `BREAKER_FAILURES=0`.
pub(super) fn check_off(session: &mut Session, fake: &mut FakeOrders) {
    fake.set_mode(FakeMode::Status500);
    let (sent, calls) = calls_during(fake, || {
        (0..OFF_SUMMARIES)
            .map(|_| send_summary(session))
            .collect::<Result<Vec<_>, String>>()
    });
    fake.set_mode(FakeMode::Ok);
    let result = sent.and_then(|_| match calls.gets {
        OFF_SUMMARIES => Ok(format!(
            "{OFF_SUMMARIES} summaries while the order service answered 500: {OFF_SUMMARIES} calls"
        )),
        made => Err(format!(
            "{OFF_SUMMARIES} summaries while the order service answered 500 made {made} calls: with BREAKER_FAILURES=0 every one must call"
        )),
    });
    session.record_result("breaker.off_with_zero", result);
}

fn send_summary(session: &mut Session) -> Result<Response, String> {
    let user = fresh_user_id();
    session.send("GET", &format!("/api/users/{user}/summary"), None)
}

fn send_post(session: &mut Session) -> Result<Response, String> {
    let user = fresh_user_id();
    let body = json!({"items": [{"product_id": 3, "quantity": 1, "price": 4.5}]}).to_string();
    session.send("POST", &format!("/api/users/{user}/orders"), Some(&body))
}

/// A summary or an order post through the user service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Summary,
    Post,
}

impl Kind {
    fn send(self, session: &mut Session) -> Result<Response, String> {
        match self {
            Kind::Summary => send_summary(session),
            Kind::Post => send_post(session),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Summary => "summary",
            Kind::Post => "order post",
        }
    }

    /// The calls of this kind in `calls`.
    fn of(self, calls: Counts) -> u64 {
        match self {
            Kind::Summary => calls.gets,
            Kind::Post => calls.posts,
        }
    }
}

/// Sends `kind` and tells how many downstream calls it made.
fn calls_of(session: &mut Session, fake: &FakeOrders, kind: Kind) -> Result<u64, String> {
    let (sent, calls) = calls_during(fake, || kind.send(session));
    sent.map(|_| calls.calls())
}

/// A closed breaker with no failure counted: the fake healthy until a summary is
/// normal (an open breaker closes on its probe, a closed one forgets its failures).
fn closed_start(session: &mut Session, fake: &FakeOrders) -> Result<(), String> {
    fake.set_mode(FakeMode::Ok);
    wait_normal(session, open_period() + RECOVERY_WITHIN)
        .map(|_| ())
        .map_err(|problem| format!("could not start from a closed breaker: {problem}"))
}

/// Opens the breaker with summaries failing with 500, one at a time, until one makes no
/// call; returns when the last call that did was answered (the failure that opened the
/// breaker came before it). Starts from a closed breaker when one can be had: not
/// judged, and not waited for again once it did not come.
fn open_fresh(
    session: &mut Session,
    fake: &FakeOrders,
    settles: &mut bool,
) -> Result<Instant, String> {
    if *settles {
        *settles = closed_start(session, fake).is_ok();
    }
    fake.set_mode(FakeMode::Status500);
    let mut last_call = None;
    for _ in 0..OPEN_ATTEMPTS {
        let calls = calls_of(session, fake, Kind::Summary)?;
        if calls == 0 {
            return Ok(last_call.unwrap_or_else(Instant::now));
        }
        last_call = Some(Instant::now());
    }
    Err(format!(
        "{OPEN_ATTEMPTS} summaries in a row, the order service answering 500, each called it: the breaker never opened"
    ))
}

/// Sleeps until the open period begun at `opened` is surely over.
fn wait_out(session: &Session, opened: Instant) {
    let end = opened + open_period() + PERIOD_MARGIN;
    while !session.interrupted() {
        match end.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => std::thread::sleep(left.min(WATCH_POLL)),
            _ => return,
        }
    }
}

/// Failures interleaved with successes, never `CHECKED_FAILURES` in a row: every
/// request calls, the breaker never opens.
fn check_consecutive_only(session: &mut Session, fake: &FakeOrders) {
    use Kind::{Post, Summary};
    let steps = [
        (Summary, false),
        (Post, false),
        (Summary, true),
        (Summary, false),
        (Summary, false),
        (Post, true),
        (Post, false),
        (Summary, false),
        (Summary, true),
        (Summary, false),
        (Summary, false),
        (Summary, true),
    ];
    let result = closed_start(session, fake).and_then(|()| {
        let mut problems = Vec::new();
        for (i, (kind, ok)) in steps.into_iter().enumerate() {
            fake.set_mode(if ok {
                FakeMode::Ok
            } else {
                FakeMode::Status500
            });
            let (sent, calls) = calls_during(fake, || kind.send(session));
            sent?;
            if kind.of(calls) != 1 || calls.calls() != 1 {
                let outcome = if ok { "succeeding" } else { "failing" };
                problems.push(format!(
                    "request {} ({outcome} {}) made {} call(s)",
                    i + 1,
                    kind.name(),
                    calls.calls()
                ));
            }
        }
        fake.set_mode(FakeMode::Ok);
        match problems.as_slice() {
            [] => Ok(format!(
                "{} requests, failures at most 2 in a row between successes: every one called",
                steps.len()
            )),
            _ => Err(problems.join("; ")),
        }
    });
    session.record_result("breaker.consecutive_only", result);
}

/// From a closed breaker, `first` failing requests (each must call), then `then`
/// requests while it is open (none may call). The calls of each, in order.
fn count_opening(
    session: &mut Session,
    fake: &FakeOrders,
    first: &[Kind],
    then: &[Kind],
) -> Result<String, String> {
    closed_start(session, fake)?;
    fake.set_mode(FakeMode::Status500);
    let mut before = Vec::new();
    for kind in first {
        before.push((*kind, calls_of(session, fake, *kind)?));
    }
    let opened = Instant::now();
    let mut after = Vec::new();
    for (i, kind) in then.iter().enumerate() {
        // A correct breaker lets a probe through once the period is over: only the
        // first two are sent whatever the time.
        if i >= 2 && opened.elapsed() > open_period() / 2 {
            break;
        }
        after.push((*kind, calls_of(session, fake, *kind)?));
    }
    fake.set_mode(FakeMode::Ok);
    let list = |seen: &[(Kind, u64)]| {
        seen.iter()
            .map(|(kind, calls)| format!("{} {calls}", kind.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let n = first.len();
    let observed = format!(
        "calls of the {n} failing requests: {}; then, once they had failed: {}",
        list(&before),
        list(&after)
    );
    if before.iter().any(|(_, calls)| *calls != 1) {
        return Err(format!(
            "each of the first {n} must call (opened early?): {observed}"
        ));
    }
    if after.iter().any(|(_, calls)| *calls != 0) {
        return Err(format!(
            "open after {n} consecutive failures, nothing may call (opened late, or not at all?): {observed}"
        ));
    }
    Ok(observed)
}

fn check_opens_after_n(session: &mut Session, fake: &FakeOrders) {
    use Kind::{Post, Summary};
    let first = [Summary; CHECKED_FAILURES as usize];
    let result = count_opening(session, fake, &first, &[Summary, Post, Summary, Summary]);
    session.record_result("breaker.opens_after_n", result);
}

/// Failed order posts count as failed summaries do: one breaker for both.
fn check_posts_count(session: &mut Session, fake: &FakeOrders) {
    use Kind::{Post, Summary};
    let result = count_opening(session, fake, &[Post, Post, Summary], &[Summary, Post]);
    session.record_result("breaker.posts_count", result);
}

/// While open, with the fake stalling (a call would wait for the timeout), summaries
/// are the fallback and order posts 503, within the fail-fast bound, without a call.
fn check_fails_fast(session: &mut Session, fake: &FakeOrders, settles: &mut bool) {
    let bound = fail_fast_bound();
    let judged = |session: &mut Session, kind: Kind| -> Result<String, String> {
        let user = fresh_user_id();
        let ((sent, took), calls) = calls_during(fake, || {
            timed(|| match kind {
                Kind::Summary => session.send("GET", &format!("/api/users/{user}/summary"), None),
                Kind::Post => send_post(session),
            })
        });
        let checked = sent.and_then(|response| match kind {
            Kind::Summary => check_summary(&response, &expected_summary(user, Value::Null, true)),
            // The breaker's section asks only for the status: the message is free text.
            Kind::Post => expect_json_error(&response, 503),
        });
        match calls.calls() {
            0 => checked.and_then(|observed| within(took, bound, observed)),
            made => Err(format!("{} made {made} call(s) while open", kind.name())),
        }
    };
    let result = open_fresh(session, fake, settles).and_then(|opened| {
        fake.set_mode(FakeMode::Stall);
        let seen = [Kind::Summary, Kind::Post, Kind::Summary]
            .into_iter()
            .map(|kind| judged(session, kind))
            .collect::<Result<Vec<_>, String>>()?;
        if opened.elapsed() >= open_period() {
            return Err(format!(
                "inconclusive: the open period was over before the checks ended ({} ms)",
                opened.elapsed().as_millis()
            ));
        }
        Ok(format!(
            "while open (limit: the contract's {} ms + the scheduling allowance of {} ms): {}",
            FAIL_FAST.as_millis(),
            SCHEDULING_ALLOWANCE.as_millis(),
            seen.join("; ")
        ))
    });
    fake.set_mode(FakeMode::Ok);
    session.record_result("breaker.fails_fast", result);
}

/// After the open period, the order service healthy: the probe is a normal summary,
/// and the summaries after it all call.
fn check_probe_success_closes(session: &mut Session, fake: &FakeOrders, settles: &mut bool) {
    let result = open_fresh(session, fake, settles).and_then(|opened| {
        fake.set_mode(FakeMode::Ok);
        wait_out(session, opened);
        for i in 0..=AFTER_CLOSING {
            let what = match i {
                0 => "the probe".to_string(),
                _ => format!("summary {i} after it"),
            };
            let user = fresh_user_id();
            let orders = serde_json::from_str(&raw_orders(user)).unwrap_or_default();
            let (sent, calls) = calls_during(fake, || {
                session.send("GET", &format!("/api/users/{user}/summary"), None)
            });
            let normal = sent
                .and_then(|response| check_summary(&response, &expected_summary(user, orders, false)))
                .map_err(|problem| format!("{what}: {problem}"))?;
            if calls.gets != 1 {
                return Err(format!("{what} made {} call(s), not 1: {normal}", calls.gets));
            }
        }
        Ok(format!(
            "{} ms after the breaker opened: the probe and the {AFTER_CLOSING} summaries after it were normal, one call each",
            opened.elapsed().as_millis()
        ))
    });
    session.record_result("breaker.probe_success_closes", result);
}

/// What a concurrent summary of the half-open rule saw: its answer (or error), how long
/// it took, and when it ended.
type Concurrent = (Result<Response, String>, Duration, Instant);
/// The probe's answer and when it came, or why there was none.
type Probe = Result<(Response, Instant), String>;

/// After the open period, the fake stalling: one summary goes through as the probe;
/// while it is in flight, concurrent summaries call nothing and answer fast; the
/// probe's timeout opens the breaker again for a whole period.
fn check_half_open_one_probe(session: &mut Session, fake: &FakeOrders, settles: &mut bool) {
    let result = open_fresh(session, fake, settles).and_then(|opened| {
        fake.set_mode(FakeMode::Stall);
        wait_out(session, opened);
        let before = fake.counts();
        let (probe, concurrent) =
            probe_and_concurrent(session.addr, session.options.request_timeout, fake, before);
        let (probe, probe_answered) = probe?;
        let made = fake.counts().since(before).calls();
        if made != 1 {
            return Err(format!(
                "{made} calls in the half-open state, the probe and {CONCURRENT} concurrent summaries sent once it reached the order service: only the probe may call"
            ));
        }
        let in_flight = judge_concurrent(&concurrent, probe_answered)?;
        let probe = degraded(&probe)
            .map_err(|problem| format!("the probe, the order service stalling: {problem}"))?;
        let reopened = watch_reopened(session, fake, before, probe_answered)?;
        Ok(format!("one probe ({probe}); {in_flight}; {reopened}"))
    });
    fake.set_mode(FakeMode::Ok);
    session.record_result("breaker.half_open_one_probe", result);
}

/// A degraded summary whatever the user: the probe's id is not known here.
fn degraded(response: &Response) -> Result<String, String> {
    let body = response
        .json()
        .map_err(|e| format!("body is not JSON ({e})"))?;
    let user = body["id"].as_u64().unwrap_or(0);
    check_summary(response, &expected_summary(user, Value::Null, true))
}

/// Sends the probe, waits until it reached the fake, then sends [`CONCURRENT`]
/// summaries at once, each on a connection of its own.
fn probe_and_concurrent(
    addr: SocketAddr,
    timeout: Duration,
    fake: &FakeOrders,
    before: Counts,
) -> (Probe, Vec<Concurrent>) {
    let summary = move || {
        let mut client = HttpClient::new(addr, timeout);
        let user = fresh_user_id();
        let (sent, took) = timed(|| client.get(&format!("/api/users/{user}/summary")));
        (sent.map_err(|e| e.to_string()), took, Instant::now())
    };
    std::thread::scope(|scope| {
        let probe = scope.spawn(summary);
        let started = Instant::now();
        while fake.counts().since(before).calls() == 0
            && !probe.is_finished()
            && started.elapsed() < PROBE_ARRIVAL
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        let arrived = fake.counts().since(before).calls() > 0;
        let others: Vec<_> = (0..CONCURRENT).map(|_| scope.spawn(summary)).collect();
        let concurrent: Vec<Concurrent> = others
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| (Err("panicked".into()), Duration::ZERO, Instant::now()))
            })
            .collect();
        let probe = match (arrived, probe.join()) {
            (false, _) => Err(format!(
                "no call reached the order service within {} ms of the end of the open period: no probe",
                PROBE_ARRIVAL.as_millis()
            )),
            (true, Ok((Ok(response), _, at))) => Ok((response, at)),
            (true, Ok((Err(error), took, _))) => Err(format!(
                "the probe got no answer ({error}, after {} ms): no timeout on it",
                took.as_millis()
            )),
            (true, Err(_)) => Err("the probe's thread panicked".to_string()),
        };
        (probe, concurrent)
    })
}

/// Each concurrent summary degraded within the fail-fast bound; how many were answered
/// while the probe was in flight.
fn judge_concurrent(concurrent: &[Concurrent], probe_answered: Instant) -> Result<String, String> {
    let bound = fail_fast_bound();
    let mut slowest = Duration::ZERO;
    for (sent, took, _) in concurrent {
        let response = sent
            .as_ref()
            .map_err(|e| format!("a concurrent summary: {e}"))?;
        let observed = degraded(response).map_err(|p| format!("a concurrent summary: {p}"))?;
        within(*took, bound, observed).map_err(|p| format!("a concurrent summary {p}"))?;
        slowest = slowest.max(*took);
    }
    let during = concurrent
        .iter()
        .filter(|(_, _, at)| *at < probe_answered)
        .count();
    Ok(format!(
        "{} concurrent summaries ({during} answered while the probe was in flight) degraded within {} ms (limit {} ms: the contract's {} ms + the scheduling allowance)",
        concurrent.len(),
        slowest.as_millis(),
        bound.as_millis(),
        FAIL_FAST.as_millis()
    ))
}

/// After the failed probe, summaries until shortly before the second open period ends:
/// no call beyond the probe's.
fn watch_reopened(
    session: &mut Session,
    fake: &FakeOrders,
    before: Counts,
    probe_answered: Instant,
) -> Result<String, String> {
    let until = probe_answered + open_period() - REOPEN_MARGIN;
    let mut asked = 0;
    while Instant::now() < until && !session.interrupted() {
        send_summary(session)?;
        asked += 1;
        std::thread::sleep(WATCH_POLL);
    }
    match fake.counts().since(before).calls() {
        1 => Ok(format!(
            "open again after the failed probe: {asked} summaries over the next {} ms made no call",
            (open_period() - REOPEN_MARGIN).as_millis()
        )),
        made => Err(format!(
            "after the probe failed, {asked} summaries within {} ms made {} call(s): not open again",
            (open_period() - REOPEN_MARGIN).as_millis(),
            made.saturating_sub(1)
        )),
    }
}
