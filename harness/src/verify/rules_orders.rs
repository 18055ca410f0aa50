//! Rules for `POST /api/orders` and `GET /api/users/{id}/orders`.
//!
//! All order rules share the session's single keep-alive connection: multi-process
//! targets keep one store per worker, and one connection always reaches one worker.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use serde_json::{json, Value};

use super::http_client::Response;
use super::{describe, expect_json_error, Session};

/// How many orders the store keeps per user.
pub(super) const ORDER_CAP: usize = 16;
/// How many orders the cap rule posts for one user.
pub(super) const CAP_POSTS: usize = 20;

/// Runs every order rule.
pub(super) fn check_orders(session: &mut Session) {
    check_create(session);
    check_ids_increasing(session);
    check_bad_orders(session);
    check_newest_first(session);
    check_cap(session);
}

/// The order body used by the rules, with its expected total.
pub(super) fn sample_order(user_id: u64) -> (Value, f64) {
    let order = json!({
        "user_id": user_id,
        "items": [
            {"product_id": 7, "quantity": 2, "price": 9.99},
            {"product_id": 3, "quantity": 1, "price": 0.5}
        ]
    });
    (order, 2.0 * 9.99 + 0.5)
}

/// A user id no earlier run is likely to have used, so its order list starts empty.
pub(super) fn fresh_user_id() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    hasher.write_u128(now.map(|elapsed| elapsed.as_nanos()).unwrap_or(0));
    hasher.write_u32(std::process::id());
    1 + hasher.finish() % 1_000_000
}

/// Posts one order; returns the response's `id` if it was a 201 with an integer id.
fn post_order(session: &mut Session, order: &Value) -> Result<(u64, Value), String> {
    let response = session.send("POST", "/api/orders", Some(&order.to_string()))?;
    created(&response)
}

/// The id and body of a `201` created order, or what was wrong with the response.
pub(super) fn created(response: &Response) -> Result<(u64, Value), String> {
    let observed = describe(response);
    if response.status != 201 {
        return Err(format!("expected 201, got {observed}"));
    }
    let body = response
        .json()
        .map_err(|err| format!("body is not JSON ({err}): {observed}"))?;
    let id = body
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("no integer id: {observed}"))?;
    Ok((id, body))
}

fn check_create(session: &mut Session) {
    let user_id = fresh_user_id();
    let (order, total) = sample_order(user_id);
    let result = post_order(session, &order).and_then(|(_, body)| {
        let observed = body.to_string();
        let problems = created_order_problems(session, &body, &order, total);
        if problems.is_empty() {
            Ok(observed)
        } else {
            Err(format!("{}: {observed}", problems.join("; ")))
        }
    });
    session.record_result("orders.create", result);
}

/// Everything wrong with a created order's body, empty if it matches the contract.
fn created_order_problems(
    session: &Session,
    body: &Value,
    sent: &Value,
    total: f64,
) -> Vec<String> {
    let mut problems = Vec::new();
    if body.get("user_id") != sent.get("user_id") {
        problems.push("user_id differs from the request".to_string());
    }
    if !same_items(body.get("items"), sent.get("items")) {
        problems.push("items differ from the request".to_string());
    }
    match body.get("total").and_then(Value::as_f64) {
        Some(got) if (got - total).abs() < 1e-6 => {}
        _ => problems.push(format!("total is not {total}")),
    }
    if body.get("status") != Some(&json!("created")) {
        problems.push("status is not \"created\"".to_string());
    }
    match body.get("created_at").and_then(Value::as_i64) {
        Some(created_at) if session.near_now(created_at) => {}
        Some(created_at) => problems.push(format!(
            "created_at {created_at} is not near the harness clock {}",
            super::now_epoch_ms()
        )),
        None => problems.push("created_at is not an integer".to_string()),
    }
    problems
}

/// Compares item lists numerically, so `0.5` and `0.50` or `2` and `2.0` agree.
fn same_items(got: Option<&Value>, sent: Option<&Value>) -> bool {
    let (Some(Value::Array(got)), Some(Value::Array(sent))) = (got, sent) else {
        return false;
    };
    got.len() == sent.len()
        && got.iter().zip(sent).all(|(g, s)| {
            ["product_id", "quantity", "price"].iter().all(|key| {
                match (
                    g.get(key).and_then(Value::as_f64),
                    s.get(key).and_then(Value::as_f64),
                ) {
                    (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                    _ => false,
                }
            })
        })
}

fn check_ids_increasing(session: &mut Session) {
    let user_id = fresh_user_id();
    let (order, _) = sample_order(user_id);
    let mut ids = Vec::new();
    let result = (0..5)
        .try_for_each(|_| post_order(session, &order).map(|(id, _)| ids.push(id)))
        .and_then(|()| {
            if ids.windows(2).all(|pair| pair[0] < pair[1]) {
                Ok(format!("ids {ids:?}"))
            } else {
                Err(format!("ids not increasing: {ids:?}"))
            }
        });
    session.record_result("orders.ids_increasing", result);
}

fn check_bad_orders(session: &mut Session) {
    let item = r#"{"product_id":1,"quantity":1,"price":1.0}"#;
    let cases = [
        (
            "orders.bad.malformed_json",
            r#"{"user_id": 1, "items": ["#.to_string(),
        ),
        (
            "orders.bad.missing_field",
            format!(r#"{{"items":[{item}]}}"#),
        ),
        (
            "orders.bad.wrong_type",
            format!(r#"{{"user_id":"abc","items":[{item}]}}"#),
        ),
        (
            "orders.bad.empty_items",
            r#"{"user_id":1,"items":[]}"#.to_string(),
        ),
        (
            "orders.bad.quantity_zero",
            r#"{"user_id":1,"items":[{"product_id":1,"quantity":0,"price":1.0}]}"#.to_string(),
        ),
    ];
    for (rule, body) in cases {
        let result = session
            .send("POST", "/api/orders", Some(&body))
            .and_then(|response| expect_json_error(&response, 400));
        session.record_result(rule, result);
    }
}

/// Posts `count` orders for a fresh user and fetches that user's list.
fn post_then_list(session: &mut Session, count: usize) -> Result<(Vec<u64>, Vec<u64>), String> {
    let user_id = fresh_user_id();
    let (order, _) = sample_order(user_id);
    let mut posted = Vec::with_capacity(count);
    for _ in 0..count {
        posted.push(post_order(session, &order)?.0);
    }
    let response = session.send("GET", &format!("/api/users/{user_id}/orders"), None)?;
    Ok((posted, listed_ids(&response, user_id)?))
}

/// The ids of a `200` order list, all of which must belong to `user_id`.
pub(super) fn listed_ids(response: &Response, user_id: u64) -> Result<Vec<u64>, String> {
    let observed = describe(response);
    if response.status != 200 {
        return Err(format!("expected 200, got {observed}"));
    }
    let listed = match response.json() {
        Ok(Value::Array(orders)) => orders
            .iter()
            .map(|order| {
                let same_user = order.get("user_id").and_then(Value::as_u64) == Some(user_id);
                order
                    .get("id")
                    .and_then(Value::as_u64)
                    .filter(|_| same_user)
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| {
                format!("orders without an integer id or with another user_id: {observed}")
            })?,
        _ => return Err(format!("expected a JSON array, got {observed}")),
    };
    Ok(listed)
}

fn check_newest_first(session: &mut Session) {
    let result = post_then_list(session, 3).and_then(|(posted, listed)| {
        let expected: Vec<u64> = posted.iter().rev().copied().collect();
        if listed == expected {
            Ok(format!("ids {listed:?}"))
        } else {
            Err(format!("expected ids {expected:?}, got {listed:?}"))
        }
    });
    session.record_result("orders.newest_first", result);
}

fn check_cap(session: &mut Session) {
    let result = post_then_list(session, CAP_POSTS).and_then(|(posted, listed)| {
        let expected: Vec<u64> = posted.iter().rev().take(ORDER_CAP).copied().collect();
        if listed == expected {
            Ok(format!("{} of {CAP_POSTS} orders kept, newest first", listed.len()))
        } else {
            Err(format!(
                "posted {CAP_POSTS}, expected the newest {ORDER_CAP} {expected:?}, got {} {listed:?}",
                listed.len()
            ))
        }
    });
    session.record_result("orders.cap_16", result);
}
