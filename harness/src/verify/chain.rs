//! The service-to-service rules (CONTRACT.md, "Service-to-service mode"), in two
//! parts that the CLI runs on separately started processes:
//!
//! - end to end ([`verify_chain_end_to_end`]): a user service calling a real order
//!   service, checked for what flows through it (and, in database mode, where the
//!   orders are stored);
//! - faults ([`verify_chain_faults`]): a user service calling the harness's
//!   [`FakeOrders`], which fails on demand, so that the fallbacks, their deadline, the
//!   number of downstream calls and the recovery can be provoked and judged.
//!
//! The rules that need a process of their own (a user service started with a bad
//! environment) are judged by [`env_rule`] from what the launch gave.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::fake_orders::FakeOrders;
use super::http_client::Response;
use super::{describe, OrderDatabase, RuleOutcome, Session, VerifyOptions, VerifyReport};

/// `DOWNSTREAM_TIMEOUT_MS` the user service gets in the fault part: short, so that a
/// stalled order service costs little, and far from the harness's own timeouts.
pub const FAULT_DOWNSTREAM_TIMEOUT_MS: u64 = 300;
/// What the contract allows beyond `DOWNSTREAM_TIMEOUT_MS` for a fallback.
const CONTRACT_MARGIN: Duration = Duration::from_millis(100);
/// Added to the contract's bound for the harness's own side: the request crossing
/// loopback and both processes being scheduled on a machine shared with the services.
/// Small against the timeout it would hide: a missing timeout waits for the
/// harness's request timeout (seconds).
pub const SCHEDULING_ALLOWANCE: Duration = Duration::from_millis(200);
/// How long a user service has to answer normally again once the order service is back.
pub const RECOVERY_WITHIN: Duration = Duration::from_secs(5);

/// The environments a user service must refuse (exit code 2, one line on stderr), with
/// the rule each one is judged by. `{orders}` stands for a valid ORDERS_URL.
pub const BAD_ENVIRONMENTS: [(&str, &str, &str); 5] = [
    ("chain.env_other_scheme", "ORDERS_URL", "ftp://127.0.0.1:1"),
    ("chain.env_no_port", "ORDERS_URL", "http://127.0.0.1"),
    ("chain.env_path", "ORDERS_URL", "http://127.0.0.1:1/x"),
    ("chain.env_timeout_zero", "DOWNSTREAM_TIMEOUT_MS", "0"),
    ("chain.env_connections_abc", "DOWNSTREAM_CONNECTIONS", "abc"),
];

/// How long a fallback may take in the fault part: the contract's bound and the
/// harness's allowance.
pub fn fallback_bound() -> Duration {
    Duration::from_millis(FAULT_DOWNSTREAM_TIMEOUT_MS) + CONTRACT_MARGIN + SCHEDULING_ALLOWANCE
}

/// The databases of a chain in database mode.
pub struct ChainDatabases<'a> {
    /// The user service's own database (it must hold none of the chain's orders).
    pub users: &'a dyn OrderDatabase,
    /// The order service's database (it holds them).
    pub orders: &'a dyn OrderDatabase,
}

/// Checks what flows through the user service at `user` calling the order service at
/// `orders` (a target started without `ORDERS_URL`, also checked for having no summary).
pub fn verify_chain_end_to_end(
    user: SocketAddr,
    orders: SocketAddr,
    options: &VerifyOptions,
    databases: Option<&ChainDatabases>,
) -> VerifyReport {
    let mut session = Session::new(user, options);
    super::rules_chain_e2e::check(&mut session, orders, databases);
    VerifyReport {
        base_url: format!("http://{user}"),
        rules: session.outcomes,
    }
}

/// Checks the user service at `user`, started with `ORDERS_URL` at `fake` and
/// `DOWNSTREAM_TIMEOUT_MS` = [`FAULT_DOWNSTREAM_TIMEOUT_MS`], against every failure of
/// the order service. `still_running` says whether the user service is still alive
/// (`Err` with how it ended otherwise).
pub fn verify_chain_faults(
    user: SocketAddr,
    fake: &mut FakeOrders,
    options: &VerifyOptions,
    still_running: &mut dyn FnMut() -> Result<(), String>,
) -> VerifyReport {
    let mut session = Session::new(user, options);
    super::rules_chain_faults::check(&mut session, fake);
    let never_500 = never_500(&session, still_running());
    session.record_result("chain.never_500", never_500);
    VerifyReport {
        base_url: format!("http://{user}"),
        rules: session.outcomes,
    }
}

/// The outcome of a bad-environment rule from how the launch ended: `exited` is the
/// exit status and stderr when the process exited before it was ready, `None` when it
/// started serving.
pub fn env_rule(
    rule: &str,
    variable: &str,
    value: &str,
    exited: Option<(&str, &[String])>,
    took: Duration,
) -> RuleOutcome {
    let setting = format!("{variable}={value}");
    let (passed, observed) = match exited {
        None => (
            false,
            format!("{setting}: started and answered its health check"),
        ),
        Some((status, stderr)) => {
            let lines: Vec<&String> = stderr.iter().filter(|l| !l.trim().is_empty()).collect();
            let ms = took.as_millis();
            let said = lines
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(" | ");
            match (status == "exit code 2", lines.len()) {
                (true, 1) => (
                    true,
                    format!("{setting}: exit code 2 after {ms} ms: {said}"),
                ),
                (true, n) => (
                    false,
                    format!("{setting}: exit code 2, but {n} lines on stderr, not one: {said}"),
                ),
                (false, _) => (
                    false,
                    format!("{setting}: {status}, not exit code 2: {said}"),
                ),
            }
        }
    };
    RuleOutcome {
        rule: rule.to_string(),
        passed,
        observed,
    }
}

fn never_500(session: &Session, alive: Result<(), String>) -> Result<String, String> {
    let errors: Vec<&str> = session
        .exchanges
        .iter()
        .filter(|e| e.response.status == 500)
        .map(|e| e.request.as_str())
        .collect();
    if let Some(first) = errors.first() {
        return Err(format!(
            "{} answers were 500, first to {first}",
            errors.len()
        ));
    }
    alive.map_err(|how| format!("the user service died: {how}"))?;
    Ok(format!(
        "no 500 in {} answers; still running",
        session.exchanges.len()
    ))
}

/// The summary of `user_id` the contract asks for: the user's fields, `orders` and
/// `degraded`, and nothing else.
pub(super) fn expected_summary(user_id: u64, orders: Value, degraded: bool) -> Value {
    json!({
        "id": user_id,
        "name": format!("User {user_id}"),
        "email": format!("user{user_id}@example.com"),
        "orders": orders,
        "degraded": degraded,
    })
}

/// Checks `response` is the summary `expected` (numbers compared as numbers), with
/// `X-Degraded: true` exactly when it is degraded.
pub(super) fn check_summary(response: &Response, expected: &Value) -> Result<String, String> {
    let observed = describe(response);
    if response.status != 200 {
        return Err(format!("expected 200, got {observed}"));
    }
    let body = response
        .json()
        .map_err(|err| format!("body is not JSON ({err}): {observed}"))?;
    if !same_json(&body, expected) {
        return Err(format!("expected {expected}, got {observed}"));
    }
    let degraded = expected["degraded"] == json!(true);
    let header = response.header_values("x-degraded");
    match (degraded, header.as_slice()) {
        (true, [value]) if value.eq_ignore_ascii_case("true") => Ok(observed),
        (true, _) => Err(format!(
            "X-Degraded is {header:?}, not [\"true\"]: {observed}"
        )),
        (false, []) => Ok(observed),
        (false, _) => Err(format!(
            "X-Degraded {header:?} on a summary that is not degraded: {observed}"
        )),
    }
}

/// JSON equality with numbers compared as numbers (`2`, `2.0` and `2.00` are equal).
pub(super) fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| same_json(x, y)))
        }
        _ => a == b,
    }
}

/// What of the order service's own bytes survives in `body`, if anything: its odd
/// `" :  ` separator or its `9.990`. A serializer writes neither.
pub(super) fn passed_through(body: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(body);
    [
        ("\" :  ", "the order service's `\" :  ` separators"),
        ("9.990", "the order service's `9.990`"),
    ]
    .into_iter()
    .find(|(bytes, _)| text.contains(bytes))
    .map(|(_, what)| what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_as_numbers_and_shapes_exactly() {
        assert!(same_json(
            &json!({"a": [2, 9.99]}),
            &json!({"a": [2.0, 9.990]})
        ));
        assert!(!same_json(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!same_json(&json!([1, 2]), &json!([2, 1])));
        assert!(!same_json(&json!("1"), &json!(1)));
    }

    #[test]
    fn the_fakes_bytes_are_recognised() {
        let raw = super::super::fake_orders::raw_orders(3);
        assert!(passed_through(raw.as_bytes()).is_some());
        let reencoded = serde_json::to_string(&serde_json::from_str::<Value>(&raw).unwrap());
        assert_eq!(passed_through(reencoded.unwrap().as_bytes()), None);
    }

    #[test]
    fn an_env_rule_wants_exit_2_and_one_line() {
        let line = vec!["error: ORDERS_URL has no port".to_string()];
        let ok = env_rule(
            "r",
            "ORDERS_URL",
            "x",
            Some(("exit code 2", &line)),
            Duration::ZERO,
        );
        assert!(ok.passed, "{}", ok.observed);
        let two = vec!["a".to_string(), "b".to_string()];
        assert!(!env_rule("r", "V", "x", Some(("exit code 2", &two)), Duration::ZERO).passed);
        assert!(!env_rule("r", "V", "x", Some(("exit code 1", &line)), Duration::ZERO).passed);
        assert!(!env_rule("r", "V", "x", None, Duration::ZERO).passed);
    }
}
