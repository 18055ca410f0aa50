//! How the chain rules judge what they see (`verify::chain`'s two parts share it): the
//! fault part's deadline and its allowance, the summary the contract asks for, JSON
//! compared with numbers as numbers, and the marks of an order service's bytes passed
//! through unchanged.

use std::time::Duration;

use serde_json::{json, Value};

use super::http_client::Response;
use super::{describe, OrderDatabase};

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
}
