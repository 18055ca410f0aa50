//! The chain rules judged end to end: a user service calling a real order service.
//! What the user service says must be what the order service holds, asked directly.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::chain_judge::{check_summary, expected_summary, same_json, ChainDatabases};
use super::http_client::HttpClient;
use super::rules_orders::fresh_user_id;
use super::{describe, expect_json_error, Session};
use crate::store::StoredOrder;

/// Runs every end-to-end rule; `orders` is the order service, started without
/// `ORDERS_URL`.
pub(super) fn check(session: &mut Session, orders: SocketAddr, databases: Option<&ChainDatabases>) {
    let mut direct = HttpClient::new(orders, session.options.request_timeout);
    // Not judged: a runtime's first downstream calls (class loading, a JIT) may be slow.
    for user in 1..=3 {
        let _ = session.send("GET", &format!("/api/users/{user}/summary"), None);
    }
    let user = fresh_user_id();
    let result = session
        .send("GET", &format!("/api/users/{user}/summary"), None)
        .and_then(|response| check_summary(&response, &expected_summary(user, json!([]), false)));
    session.record_result("chain.e2e.fresh_summary_empty", result);
    let created = post_both(session, user);
    let ids: Vec<u64> = created.clone().unwrap_or_default();
    session.record_result(
        "chain.e2e.order_created",
        created.map(|ids| {
            format!("orders {ids:?} created through the user service, user_id {user} from the path")
        }),
    );
    let result = summary_matches(session, &mut direct, user, &ids);
    session.record_result("chain.e2e.summary_matches_order_service", result);
    let result = direct
        .get("/api/users/1/summary")
        .map_err(|e| format!("GET /api/users/1/summary on the order service: {e}"))
        .and_then(|response| expect_json_error(&response, 404))
        .map(|observed| format!("the order service, started without ORDERS_URL: {observed}"));
    session.record_result("chain.plain_summary_404", result);
    if let Some(databases) = databases {
        let result = stored_in_order_database(databases, user, &ids);
        session.record_result("chain.db.orders_in_order_service_database", result);
    }
}

/// Posts two orders through the user service (the body's `user_id` another number,
/// then a string); the ids created.
fn post_both(session: &mut Session, user: u64) -> Result<Vec<u64>, String> {
    let items = json!([{"product_id": 7, "quantity": 2, "price": 9.99}, {"product_id": 3, "quantity": 1, "price": 0.5}]);
    let mut ids = Vec::new();
    for user_id in [json!(user + 1), json!("seven")] {
        let body = json!({"user_id": user_id, "items": items}).to_string();
        let response = session.send("POST", &format!("/api/users/{user}/orders"), Some(&body))?;
        let observed = describe(&response);
        let created = match (response.status, response.json()) {
            (201, Ok(created)) => created,
            _ => {
                return Err(format!(
                    "body user_id {user_id}: expected 201, got {observed}"
                ))
            }
        };
        let right = created.get("user_id") == Some(&json!(user))
            && created
                .get("items")
                .is_some_and(|got| same_json(got, &items))
            && created
                .get("total")
                .and_then(Value::as_f64)
                .is_some_and(|t| (t - 20.48).abs() < 1e-6);
        match created.get("id").and_then(Value::as_u64) {
            Some(id) if right => ids.push(id),
            _ => return Err(format!(
                "body user_id {user_id}: expected the order of user {user} with the items sent and total 20.48, got {observed}"
            )),
        }
    }
    Ok(ids)
}

/// The summary's orders are the order service's own list, field for field.
fn summary_matches(
    session: &mut Session,
    direct: &mut HttpClient,
    user: u64,
    created: &[u64],
) -> Result<String, String> {
    let path = format!("/api/users/{user}/orders");
    let own = direct
        .get(&path)
        .map_err(|e| format!("GET {path} on the order service: {e}"))?;
    let list = match (own.status, own.json()) {
        (200, Ok(list @ Value::Array(_))) => list,
        _ => {
            return Err(format!(
                "the order service's GET {path}: {}",
                describe(&own)
            ))
        }
    };
    let listed: Vec<u64> = list
        .as_array()
        .map(|orders| {
            orders
                .iter()
                .filter_map(|o| o.get("id").and_then(Value::as_u64))
                .collect()
        })
        .unwrap_or_default();
    let newest_first: Vec<u64> = created.iter().rev().copied().collect();
    if listed != newest_first {
        return Err(format!(
            "the order service lists {listed:?} for user {user}, expected {newest_first:?}"
        ));
    }
    let response = session.send("GET", &format!("/api/users/{user}/summary"), None)?;
    check_summary(&response, &expected_summary(user, list, false)).map(|_| {
        format!("the summary lists the order service's orders {listed:?}, same fields and values")
    })
}

/// The orders are in the order service's database, none in the user service's.
fn stored_in_order_database(
    databases: &ChainDatabases,
    user: u64,
    created: &[u64],
) -> Result<String, String> {
    let in_orders = databases.orders.stored_orders(user)?;
    let in_users = databases.users.stored_orders(user)?;
    let expected: Vec<StoredOrder> = created
        .iter()
        .map(|&id| StoredOrder { id, items: 2 })
        .collect();
    if in_orders != expected || !in_users.is_empty() {
        return Err(format!(
            "user {user}: the order service's database holds {}, the user service's {}; expected orders {created:?} with 2 items each, and none",
            describe_stored(&in_orders),
            describe_stored(&in_users)
        ));
    }
    Ok(format!(
        "orders {created:?} in the order service's database, none in the user service's"
    ))
}

fn describe_stored(stored: &[StoredOrder]) -> String {
    match stored {
        [] => "no orders".to_string(),
        _ => stored
            .iter()
            .map(|order| format!("order {} with {} items", order.id, order.items))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
