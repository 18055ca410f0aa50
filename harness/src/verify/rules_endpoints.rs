//! Rules for the read-only endpoints: `/health`, `/api/users/{id}` and routing errors.

use serde_json::{json, Value};

use super::{describe, expect_json_error, Session};

/// `GET /health` -> 200 `{"status":"healthy","timestamp":<epoch ms>}`, timestamp near now.
pub(super) fn check_health(session: &mut Session) {
    let response = match session.send("GET", "/health", None) {
        Ok(response) => response,
        Err(err) => {
            session.record("health.shape", false, err.clone());
            session.record("health.timestamp_now", false, err);
            return;
        }
    };
    let observed = describe(&response);
    let body = response.json().ok();
    let timestamp = body
        .as_ref()
        .and_then(|b| b.get("timestamp"))
        .and_then(Value::as_i64);
    let shape_ok = response.status == 200
        && body
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|object| {
                object.len() == 2 && object.get("status") == Some(&json!("healthy"))
            })
        && timestamp.is_some();
    session.record("health.shape", shape_ok, observed.clone());
    let timestamp_ok = timestamp.is_some_and(|ts| session.near_now(ts));
    let timestamp_observed = match timestamp {
        Some(ts) => format!("timestamp {ts}, harness clock {}", super::now_epoch_ms()),
        None => format!("no integer timestamp: {observed}"),
    };
    session.record("health.timestamp_now", timestamp_ok, timestamp_observed);
}

/// Valid, out-of-range and non-integer user ids.
pub(super) fn check_users(session: &mut Session) {
    for id in [1u64, 1_000_000] {
        let rule = format!("users.valid_{id}");
        let result = session
            .send("GET", &format!("/api/users/{id}"), None)
            .and_then(|response| {
                let expected = json!({
                    "id": id,
                    "name": format!("User {id}"),
                    "email": format!("user{id}@example.com"),
                });
                let observed = describe(&response);
                match response.json() {
                    Ok(body) if response.status == 200 && body == expected => Ok(observed),
                    _ => Err(format!("expected 200 {expected}, got {observed}")),
                }
            });
        session.record_result(&rule, result);
    }
    let errors = [
        ("users.out_of_range_0", "/api/users/0", 404),
        ("users.out_of_range_1000001", "/api/users/1000001", 404),
        ("users.non_integer_abc", "/api/users/abc", 400),
    ];
    for (rule, path, status) in errors {
        let result = session
            .send("GET", path, None)
            .and_then(|response| expect_json_error(&response, status));
        session.record_result(rule, result);
    }
}

/// Unknown paths give a JSON 404; a wrong method on a known path gives 405 (or 404).
pub(super) fn check_routing(session: &mut Session) {
    let result = session
        .send("GET", "/no/such/path", None)
        .and_then(|response| expect_json_error(&response, 404));
    session.record_result("routing.unknown_path_404", result);
    let wrong_methods = [
        ("routing.wrong_method_delete_health", "DELETE", "/health"),
        ("routing.wrong_method_get_orders", "GET", "/api/orders"),
    ];
    for (rule, method, path) in wrong_methods {
        let result = session.send(method, path, None).and_then(|response| {
            let observed = describe(&response);
            if matches!(response.status, 404 | 405) {
                Ok(observed)
            } else {
                Err(format!("expected 405 (or 404), got {observed}"))
            }
        });
        session.record_result(rule, result);
    }
}
