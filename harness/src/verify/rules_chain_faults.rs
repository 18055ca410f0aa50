//! The chain rules judged against the fake order service: what the user service
//! answers for each failure of the order service, how fast, how many downstream calls
//! it makes, and whether it recovers when the order service comes back.
//!
//! The fake is switched between failures on one running user service, in an order
//! that keeps a healthy pooled connection for as long as possible (well-framed wrong
//! answers first, then the failures that end connections, then a stop and a restart).
//! That user service runs with its circuit breaker off (`BREAKER_FAILURES=0`), so every
//! summary and order post must reach the order service; the breaker has rules of its
//! own (`rules_breaker`).

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::chain_judge::{
    check_summary, expected_summary, fallback_bound, passed_through, same_json, RECOVERY_WITHIN,
};
use super::fake_orders::{raw_orders, Counts, FakeMode, FakeOrders};
use super::http_client::Response;
use super::rules_orders::fresh_user_id;
use super::{describe, expect_json_error, Session};

/// Summaries asked in a row to count the downstream GETs of each.
const SUMMARIES_COUNTED: u64 = 3;
/// Summaries and order posts made to warm the user service up.
const WARM_UP_CALLS: u64 = 5;
/// Pause between summaries while waiting for the recovery.
const RECOVERY_POLL: Duration = Duration::from_millis(100);
/// The failures that the fake answers while it listens.
const FAILURES: [FakeMode; 6] = [
    FakeMode::Status500,
    FakeMode::Garbage,
    FakeMode::WrongShape,
    FakeMode::Stall,
    FakeMode::Close,
    FakeMode::Reset,
];

/// What the rules counting downstream calls have seen, judged at the end.
#[derive(Default)]
struct Tally {
    summaries: u64,
    order_posts: u64,
    problems_get: Vec<String>,
    problems_post: Vec<String>,
}

/// Runs every fault rule.
pub(super) fn check(session: &mut Session, fake: &mut FakeOrders) {
    let mut tally = Tally::default();
    let mut reencoded = Reencoding::default();
    check_health_local(session, fake);
    warm_up(session);
    check_summary_ok(session, fake, &mut tally, &mut reencoded);
    check_id_rules(session, fake);
    check_wrong_methods(session, fake);
    check_order_created(session, fake, &mut tally, &mut reencoded);
    record_reencoded(session, reencoded);
    let mut settles = true;
    for mode in FAILURES {
        // Healthy again first, so that pooled connections broken by the last failure
        // are dropped and this failure meets a working client; not judged, and not
        // waited for again once it did not come.
        fake.set_mode(FakeMode::Ok);
        settles = settles && wait_normal(session, RECOVERY_WITHIN).is_ok();
        fake.set_mode(mode);
        check_failure(session, fake, mode.name(), Some(mode), &mut tally);
    }
    fake.set_mode(FakeMode::Ok);
    fake.stop();
    check_failure(session, fake, "refused", None, &mut tally);
    check_recovery(session, fake);
    record_tally(session, tally);
}

/// Summaries and order posts through a healthy order service, not judged, so that a
/// runtime's first calls (class loading, a JIT) are not judged against the short
/// deadline of the fault part.
pub(super) fn warm_up(session: &mut Session) {
    let body = json!({"items": [{"product_id": 1, "quantity": 1, "price": 1.0}]}).to_string();
    for user in 1..=WARM_UP_CALLS {
        let _ = session.send("GET", &format!("/api/users/{user}/summary"), None);
        let _ = session.send("POST", &format!("/api/users/{user}/orders"), Some(&body));
    }
}

/// The calls `fake` received while `act` ran.
pub(super) fn calls_during<T>(fake: &FakeOrders, act: impl FnOnce() -> T) -> (T, Counts) {
    let before = fake.counts();
    let value = act();
    (value, fake.counts().since(before))
}

/// Adds "and called the order service" to a passing check that made a call.
fn no_call(result: Result<String, String>, calls: Counts) -> Result<String, String> {
    let made = calls.calls();
    match result {
        Ok(_) if made > 0 => Err(format!("called the order service {made} time(s)")),
        Ok(observed) => Ok(format!("{observed}; no downstream call")),
        other => other,
    }
}

fn check_health_local(session: &mut Session, fake: &FakeOrders) {
    let (result, calls) = calls_during(fake, || session.send("GET", "/health", None));
    let result = result.and_then(|response| match response.status {
        200 => Ok(describe(&response)),
        _ => Err(format!("expected 200, got {}", describe(&response))),
    });
    session.record_result("chain.health_local", no_call(result, calls));
}

fn check_summary_ok(
    session: &mut Session,
    fake: &FakeOrders,
    tally: &mut Tally,
    reencoded: &mut Reencoding,
) {
    let orders =
        |user: u64| -> Value { serde_json::from_str(&raw_orders(user)).unwrap_or_default() };
    let user = fresh_user_id();
    let (sent, calls) = calls_during(fake, || {
        session.send("GET", &format!("/api/users/{user}/summary"), None)
    });
    count_gets(tally, "ok", 1, calls, 1..=1);
    let result = sent.and_then(|response| {
        reencoded.look("summary", &response);
        check_summary(&response, &expected_summary(user, orders(user), false))
    });
    session.record_result("chain.summary_ok", result);
    let (sent, calls) = calls_during(fake, || {
        (0..SUMMARIES_COUNTED)
            .map(|i| session.send("GET", &format!("/api/users/{}/summary", i + 1), None))
            .collect::<Result<Vec<_>, String>>()
    });
    if let Err(error) = sent {
        tally.problems_get.push(error);
    }
    count_gets(
        tally,
        "ok",
        SUMMARIES_COUNTED,
        calls,
        SUMMARIES_COUNTED..=SUMMARIES_COUNTED,
    );
    // One after the other, the calls of a pooled keep-alive client share one
    // connection, kept since the warm-up; a client made per call opens one each.
    let result = match calls.connections {
        0 | 1 => Ok(format!(
            "{SUMMARIES_COUNTED} summaries in a row: {} new connection(s) to the order service",
            calls.connections
        )),
        opened => Err(format!(
            "{SUMMARIES_COUNTED} summaries in a row opened {opened} connections to the order service: no pooled keep-alive client"
        )),
    };
    session.record_result("chain.pooled_keep_alive", result);
}

/// Checks the GETs of `summaries` summaries are in `allowed`, and that none was a POST.
fn count_gets(
    tally: &mut Tally,
    mode: &str,
    summaries: u64,
    calls: Counts,
    allowed: RangeInclusive<u64>,
) {
    tally.summaries += summaries;
    if !allowed.contains(&calls.gets) || calls.posts > 0 {
        tally.problems_get.push(format!(
            "{mode}: {summaries} summaries made {} GET(s) and {} POST(s)",
            calls.gets, calls.posts
        ));
    }
}

/// A rule, the request (method, path, body) and the status it must get.
type IdCase = (
    &'static str,
    &'static str,
    &'static str,
    Option<String>,
    u16,
);

/// The id and item rules of both endpoints, none of which may call the order service.
fn check_id_rules(session: &mut Session, fake: &FakeOrders) {
    let item = r#"{"product_id":1,"quantity":1,"price":1.0}"#;
    let bad_item = r#"{"product_id":1,"quantity":0,"price":1.0}"#;
    let good = format!(r#"{{"items":[{item}]}}"#);
    let bad = format!(r#"{{"items":[{bad_item}]}}"#);
    let cases: [IdCase; 7] = [
        (
            "chain.summary_non_integer_400",
            "GET",
            "/api/users/abc/summary",
            None,
            400,
        ),
        (
            "chain.summary_unknown_0_404",
            "GET",
            "/api/users/0/summary",
            None,
            404,
        ),
        (
            "chain.summary_unknown_1000001_404",
            "GET",
            "/api/users/1000001/summary",
            None,
            404,
        ),
        (
            "chain.order_non_integer_400",
            "POST",
            "/api/users/abc/orders",
            Some(good),
            400,
        ),
        (
            "chain.order_unknown_user_bad_items_404",
            "POST",
            "/api/users/1000001/orders",
            Some(bad.clone()),
            404,
        ),
        (
            "chain.order_empty_items_400",
            "POST",
            "/api/users/5/orders",
            Some(r#"{"items":[]}"#.into()),
            400,
        ),
        (
            "chain.order_bad_quantity_400",
            "POST",
            "/api/users/5/orders",
            Some(bad),
            400,
        ),
    ];
    for (rule, method, path, body, status) in cases {
        let (sent, calls) = calls_during(fake, || session.send(method, path, body.as_deref()));
        let result = sent.and_then(|response| expect_json_error(&response, status));
        session.record_result(rule, no_call(result, calls));
    }
}

/// A wrong method on either new path is a 405 (or the 404 the contract allows), and
/// calls nothing.
fn check_wrong_methods(session: &mut Session, fake: &FakeOrders) {
    let wrong = [
        ("DELETE", "/api/users/1/summary"),
        ("PUT", "/api/users/1/orders"),
    ];
    let (sent, calls) = calls_during(fake, || {
        wrong
            .iter()
            .map(|(method, path)| {
                let response = session.send(method, path, None)?;
                match response.status {
                    405 | 404 => expect_json_error(&response, response.status)
                        .map(|observed| format!("{method} {path}: {observed}")),
                    _ => Err(format!(
                        "{method} {path}: expected 405, got {}",
                        describe(&response)
                    )),
                }
            })
            .collect::<Result<Vec<_>, String>>()
    });
    session.record_result(
        "chain.wrong_method_405",
        no_call(sent.map(|s| s.join("; ")), calls),
    );
}

/// An order posted through the user service: one downstream POST with the path's user
/// id whatever the body's `user_id`, and the created order answered re-encoded.
fn check_order_created(
    session: &mut Session,
    fake: &FakeOrders,
    tally: &mut Tally,
    reencoded: &mut Reencoding,
) {
    let user = fresh_user_id();
    let items = json!([{"product_id": 7, "quantity": 2, "price": 9.99}]);
    let bodies = [
        (
            "another user_id",
            json!({"user_id": user + 1, "items": items}),
        ),
        (
            "a string user_id",
            json!({"user_id": "seven", "items": items}),
        ),
    ];
    let mut seen = Vec::new();
    let mut result = Ok(());
    for (what, body) in bodies {
        let (sent, calls) = calls_during(fake, || {
            session.send(
                "POST",
                &format!("/api/users/{user}/orders"),
                Some(&body.to_string()),
            )
        });
        count_posts(tally, "ok", calls, false);
        let checked = sent.and_then(|response| {
            reencoded.look("created order", &response);
            created_through(&response, fake, user, &items)
        });
        match checked {
            Ok(observed) => seen.push(format!("{what}: {observed}")),
            Err(problem) => {
                result = Err(format!("with {what}: {problem}"));
                break;
            }
        }
    }
    session.record_result("chain.order_created", result.map(|()| seen.join("; ")));
}

fn created_through(
    response: &Response,
    fake: &FakeOrders,
    user: u64,
    items: &Value,
) -> Result<String, String> {
    let observed = describe(response);
    let body = match (response.status, response.json()) {
        (201, Ok(body)) => body,
        _ => {
            return Err(format!(
                "expected 201 with the created order, got {observed}"
            ))
        }
    };
    if body.get("user_id") != Some(&json!(user))
        || !body.get("items").is_some_and(|i| same_json(i, items))
    {
        return Err(format!(
            "expected the created order of user {user} with the items sent, got {observed}"
        ));
    }
    let post = fake
        .last_post()
        .ok_or("the order service received no POST")?;
    let sent: Value = serde_json::from_slice(&post.body).unwrap_or_default();
    let json_type = post
        .content_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
    if sent.get("user_id") != Some(&json!(user))
        || !sent.get("items").is_some_and(|i| same_json(i, items))
        || !json_type
    {
        return Err(format!(
            "the order service received {} with Content-Type {:?}, expected {{\"user_id\":{user},\"items\":{items}}} as application/json",
            String::from_utf8_lossy(&post.body),
            post.content_type
        ));
    }
    Ok(format!("201, downstream got user_id {user}"))
}

/// Checks one order post made one downstream POST (while `failing`, none is left to
/// the recovery rule, as for summaries) and no GET.
fn count_posts(tally: &mut Tally, mode: &str, calls: Counts, failing: bool) {
    tally.order_posts += 1;
    let fewest = u64::from(!failing);
    if !(fewest..=1).contains(&calls.posts) || calls.gets > 0 {
        tally.problems_post.push(format!(
            "{mode}: one order post made {} POST(s) and {} GET(s)",
            calls.posts, calls.gets
        ));
    }
}

/// What the re-encoding rule has seen of the successful answers carrying orders.
#[derive(Default)]
struct Reencoding {
    judged: usize,
    found: Vec<String>,
}

impl Reencoding {
    fn look(&mut self, what: &str, response: &Response) {
        let with_orders = || response.json().is_ok_and(|body| body["orders"].is_array());
        if response.status == 201 || (response.status == 200 && with_orders()) {
            self.judged += 1;
            if let Some(found) = passed_through(&response.body) {
                self.found.push(format!("{what}: {found}"));
            }
        }
    }
}

fn record_reencoded(session: &mut Session, seen: Reencoding) {
    let result = match (seen.judged, seen.found.as_slice()) {
        (0, _) => Err("no summary with orders nor created order to judge".to_string()),
        (n, []) => Ok(format!(
            "{n} answers re-encoded: no byte of the order service's layout survives"
        )),
        (_, found) => Err(format!("passed through: {}", found.join("; "))),
    };
    session.record_result("chain.reencoded", result);
}

/// One failure of the order service (`mode`; `None`: stopped, connecting refused): a
/// degraded summary and a 503 order post, both within the deadline.
fn check_failure(
    session: &mut Session,
    fake: &FakeOrders,
    name: &str,
    mode: Option<FakeMode>,
    tally: &mut Tally,
) {
    let bound = fallback_bound();
    let user = fresh_user_id();
    let ((sent, took), calls) = calls_during(fake, || {
        timed(|| session.send("GET", &format!("/api/users/{user}/summary"), None))
    });
    if mode.is_some() {
        let may_replay = matches!(mode, Some(FakeMode::Close | FakeMode::Reset));
        // Two only as the replay the contract allows on a reused connection that was
        // closed or reset. None is left to the recovery rule: a call lost on a dead
        // pooled connection never reaches the order service.
        let most = if may_replay { 2 } else { 1 };
        count_gets(tally, name, 1, calls, 0..=most);
    }
    let waited = |error: String| format!("{error} (after {} ms)", took.as_millis());
    let result = sent
        .map_err(waited)
        .and_then(|response| check_summary(&response, &expected_summary(user, Value::Null, true)))
        .and_then(|observed| within(took, bound, observed));
    session.record_result(&format!("chain.fallback.{name}"), result);
    let body = json!({"items": [{"product_id": 1, "quantity": 1, "price": 2.5}]}).to_string();
    let ((sent, took), calls) = calls_during(fake, || {
        timed(|| session.send("POST", &format!("/api/users/{user}/orders"), Some(&body)))
    });
    if mode.is_some() {
        count_posts(tally, name, calls, true);
    }
    let waited = |error: String| format!("{error} (after {} ms)", took.as_millis());
    let result = sent
        .map_err(waited)
        .and_then(|response| unavailable(&response))
        .and_then(|observed| within(took, bound, observed));
    session.record_result(&format!("chain.post_unavailable.{name}"), result);
}

pub(super) fn timed<T>(act: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = act();
    (value, started.elapsed())
}

pub(super) fn within(took: Duration, bound: Duration, observed: String) -> Result<String, String> {
    let (ms, limit) = (took.as_millis(), bound.as_millis());
    if took <= bound {
        Ok(format!("{observed} in {ms} ms (limit {limit} ms)"))
    } else {
        Err(format!(
            "answered after {ms} ms, limit {limit} ms: {observed}"
        ))
    }
}

fn unavailable(response: &Response) -> Result<String, String> {
    let observed = expect_json_error(response, 503)?;
    let message = response
        .json()
        .ok()
        .and_then(|body| {
            body.get("error")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    match message.starts_with("orders unavailable: ") {
        true => Ok(observed),
        false => Err(format!(
            "error is not \"orders unavailable: ...\": {observed}"
        )),
    }
}

/// With the order service back on its address, summaries are normal again in time.
fn check_recovery(session: &mut Session, fake: &mut FakeOrders) {
    if let Err(error) = fake.start_again() {
        session.record(
            "chain.recovers_after_restart",
            false,
            format!("the fake could not listen again: {error}"),
        );
        return;
    }
    let observed = match wait_normal(session, RECOVERY_WITHIN) {
        Ok((took, asked)) => Ok(format!(
            "normal summary {} ms after the order service came back ({asked} asked)",
            took.as_millis()
        )),
        Err(problem) => Err(problem),
    };
    session.record_result("chain.recovers_after_restart", observed);
}

/// Asks summaries until one is normal, for at most `limit`: how long it took and how
/// many were asked, or the last problem seen.
pub(super) fn wait_normal(
    session: &mut Session,
    limit: Duration,
) -> Result<(Duration, u32), String> {
    let started = Instant::now();
    let user = fresh_user_id();
    let orders = serde_json::from_str(&raw_orders(user)).unwrap_or_default();
    let expected = expected_summary(user, orders, false);
    let mut last = String::from("no answer");
    let mut asked = 0;
    while started.elapsed() < limit && !session.interrupted() {
        asked += 1;
        let sent = session.send("GET", &format!("/api/users/{user}/summary"), None);
        match sent.and_then(|response| check_summary(&response, &expected)) {
            Ok(_) => return Ok((started.elapsed(), asked)),
            Err(problem) => last = problem,
        }
        std::thread::sleep(RECOVERY_POLL);
    }
    Err(format!(
        "still not a normal summary {} s after the order service came back ({asked} asked); last: {last}",
        limit.as_secs_f64()
    ))
}

fn record_tally(session: &mut Session, tally: Tally) {
    let gets = match tally.problems_get.as_slice() {
        [] => Ok(format!(
            "{} summaries: one GET each while healthy, at most one (two after a close or reset) while failing",
            tally.summaries
        )),
        problems => Err(problems.join("; ")),
    };
    session.record_result("chain.one_get_per_summary", gets);
    let posts = match tally.problems_post.as_slice() {
        [] => Ok(format!(
            "{} order posts: one POST each while healthy, never more than one",
            tally.order_posts
        )),
        problems => Err(problems.join("; ")),
    };
    session.record_result("chain.one_post_per_order", posts);
}
