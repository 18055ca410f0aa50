//! Rules of database mode (`STORE=postgres`, CONTRACT.md "Database mode").
//!
//! Unlike the memory-mode order rules, these post on **fresh connections**, one per
//! request, so a multi-process target's requests land on different processes: with one
//! database behind them every process must see every order, ids must increase across
//! all of them, and nothing a failed order began may remain. With the target's database
//! at hand the rules also read what was really stored.

use std::time::Instant;

use serde_json::{json, Value};

use super::rules_orders::{created, fresh_user_id, listed_ids, sample_order, CAP_POSTS, ORDER_CAP};
use super::{describe, expect_json_error, OrderDatabase, Session};
use crate::store::StoredOrder;

/// Orders posted by the consistency rule, each on its own connection.
const SPREAD_POSTS: usize = 8;
/// Items in [`sample_order`].
const SAMPLE_ITEMS: u64 = 2;
/// One above the largest BIGINT: valid JSON, valid u64, too large for the column.
const TOO_LARGE_PRODUCT: &str = "9223372036854775808";

/// Runs the database rules that keep the database in place.
pub(super) fn check_database(session: &mut Session, database: Option<&dyn OrderDatabase>) {
    check_across_connections(session);
    check_cap_across_connections(session);
    check_rollback(session, database);
    check_orders_survive(session, database);
}

/// Posts `count` orders for a fresh user, each on a new connection; returns the user
/// and the ids in posting order.
fn post_spread(session: &mut Session, count: usize) -> Result<(u64, Vec<u64>), String> {
    let user_id = fresh_user_id();
    let (order, _) = sample_order(user_id);
    let body = order.to_string();
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let response = session.send_fresh("POST", "/api/orders", Some(&body))?;
        ids.push(created(&response)?.0);
    }
    Ok((user_id, ids))
}

/// The user's order list, read on a new connection.
fn list_fresh(session: &mut Session, user_id: u64) -> Result<Vec<u64>, String> {
    let response = session.send_fresh("GET", &format!("/api/users/{user_id}/orders"), None)?;
    listed_ids(&response, user_id)
}

fn check_across_connections(session: &mut Session) {
    let result = post_spread(session, SPREAD_POSTS).and_then(|(user_id, ids)| {
        if !ids.windows(2).all(|pair| pair[0] < pair[1]) {
            return Err(format!(
                "ids posted on {SPREAD_POSTS} connections are not increasing: {ids:?}"
            ));
        }
        let listed = list_fresh(session, user_id)?;
        let expected: Vec<u64> = ids.iter().rev().copied().collect();
        if listed == expected {
            Ok(format!(
                "{SPREAD_POSTS} orders on {SPREAD_POSTS} connections, all listed newest first: {listed:?}"
            ))
        } else {
            let missing: Vec<u64> = ids.iter().copied().filter(|id| !listed.contains(id)).collect();
            Err(format!(
                "expected {expected:?} from another connection, got {listed:?} (missing {missing:?})"
            ))
        }
    });
    session.record_result("db.consistent_across_connections", result);
}

fn check_cap_across_connections(session: &mut Session) {
    let result = post_spread(session, CAP_POSTS).and_then(|(user_id, ids)| {
        let listed = list_fresh(session, user_id)?;
        let expected: Vec<u64> = ids.iter().rev().take(ORDER_CAP).copied().collect();
        if listed == expected {
            Ok(format!(
                "newest {ORDER_CAP} of {CAP_POSTS} orders posted on {CAP_POSTS} connections"
            ))
        } else {
            Err(format!(
                "posted {CAP_POSTS} on separate connections, expected the newest {ORDER_CAP} {expected:?}, got {} {listed:?}",
                listed.len()
            ))
        }
    });
    session.record_result("db.cap_16_across_connections", result);
}

/// An order whose last item cannot be stored is a 400 that leaves nothing behind: the
/// user's list, and the rows in the database, are as before.
fn check_rollback(session: &mut Session, database: Option<&dyn OrderDatabase>) {
    let result = rollback(session, database);
    session.record_result("db.rollback_leaves_nothing", result);
}

fn rollback(session: &mut Session, database: Option<&dyn OrderDatabase>) -> Result<String, String> {
    let (user_id, kept) = post_spread(session, 1)?;
    let before = list_fresh(session, user_id)?;
    let bad = format!(
        r#"{{"user_id":{user_id},"items":[{{"product_id":7,"quantity":2,"price":9.99}},{{"product_id":{TOO_LARGE_PRODUCT},"quantity":1,"price":0.5}}]}}"#
    );
    let response = session.send_fresh("POST", "/api/orders", Some(&bad))?;
    let refused = expect_json_error(&response, 400)
        .map_err(|problem| format!("product_id {TOO_LARGE_PRODUCT} in the last item: {problem}"))?;
    let after = list_fresh(session, user_id)?;
    if after != before {
        return Err(format!(
            "the refused order changed the user's list: {before:?} before, {after:?} after"
        ));
    }
    let mut observed = format!("{refused}; list unchanged {after:?}");
    if let Some(database) = database {
        let stored = database.stored_orders(user_id)?;
        let expected = [StoredOrder {
            id: kept[0],
            items: SAMPLE_ITEMS,
        }];
        if stored != expected {
            return Err(format!(
                "database rows for user {user_id}: expected only order {} with {SAMPLE_ITEMS} items, found {}",
                kept[0],
                describe_stored(&stored)
            ));
        }
        observed.push_str("; the database holds only the earlier order");
    }
    Ok(observed)
}

/// An order posted on one connection is there, whole, for another one (and in the
/// database, with all its items).
fn check_orders_survive(session: &mut Session, database: Option<&dyn OrderDatabase>) {
    let result = orders_survive(session, database);
    session.record_result("db.orders_survive", result);
}

fn orders_survive(
    session: &mut Session,
    database: Option<&dyn OrderDatabase>,
) -> Result<String, String> {
    let user_id = fresh_user_id();
    let (order, _) = sample_order(user_id);
    let response = session.send_fresh("POST", "/api/orders", Some(&order.to_string()))?;
    let (id, body) = created(&response)?;
    let response = session.send_fresh("GET", &format!("/api/users/{user_id}/orders"), None)?;
    let listed = listed_ids(&response, user_id)?;
    let first = response
        .json()
        .ok()
        .and_then(|list| list.get(0).cloned())
        .unwrap_or(Value::Null);
    if listed != [id] || !same_order(&first, &body) {
        return Err(format!(
            "order {id} created as {body}, another connection lists {}",
            describe(&response)
        ));
    }
    let mut observed = format!("order {id} read back whole on another connection");
    if let Some(database) = database {
        let stored = database.stored_orders(user_id)?;
        if stored
            != [StoredOrder {
                id,
                items: SAMPLE_ITEMS,
            }]
        {
            return Err(format!(
                "order {id} is not in the database with its {SAMPLE_ITEMS} items: found {}",
                describe_stored(&stored)
            ));
        }
        observed.push_str(", and stored in the database with its items");
    }
    Ok(observed)
}

/// The listed order and the created one agree on every field.
fn same_order(listed: &Value, created: &Value) -> bool {
    ["id", "user_id", "status", "created_at"]
        .iter()
        .all(|key| listed.get(key) == created.get(key))
        && listed.get("items").map(normalise) == created.get("items").map(normalise)
        && match (
            listed.get("total").and_then(Value::as_f64),
            created.get("total").and_then(Value::as_f64),
        ) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            _ => false,
        }
}

/// Items with numbers as f64, so `2` and `2.0` compare equal.
fn normalise(items: &Value) -> Value {
    let numbers = |item: &Value| {
        json!(["product_id", "quantity", "price"]
            .iter()
            .map(|key| item.get(key).and_then(Value::as_f64))
            .collect::<Vec<_>>())
    };
    match items {
        Value::Array(items) => Value::Array(items.iter().map(numbers).collect()),
        other => other.clone(),
    }
}

fn describe_stored(stored: &[StoredOrder]) -> String {
    if stored.is_empty() {
        return "no orders".to_string();
    }
    let orders: Vec<String> = stored
        .iter()
        .map(|order| format!("order {} with {} items", order.id, order.items))
        .collect();
    orders.join(", ")
}

/// The last rule: with the database gone, a request that needs it is a prompt 503
/// with a JSON error (CONTRACT.md: never a hang, never a 500).
pub(super) fn check_database_gone(session: &mut Session, database: &dyn OrderDatabase) {
    let result = database_gone(session, database);
    session.record_result("db.unavailable_503", result);
}

fn database_gone(session: &mut Session, database: &dyn OrderDatabase) -> Result<String, String> {
    database.take_away()?;
    let (order, _) = sample_order(fresh_user_id());
    let order = order.to_string();
    let requests = [
        ("GET", "/api/users/1".to_string(), None),
        ("POST", "/api/orders".to_string(), Some(order.as_str())),
    ];
    let mut seen = Vec::new();
    for (method, path, body) in requests {
        let started = Instant::now();
        let response = session
            .send_fresh(method, &path, body)
            .map_err(|error| format!("with the database gone: {error}"))?;
        let elapsed = started.elapsed();
        expect_json_error(&response, 503)
            .map_err(|problem| format!("{method} {path} with the database gone: {problem}"))?;
        seen.push(format!("{method} {path} 503 in {} ms", elapsed.as_millis()));
    }
    Ok(format!("database dropped: {}", seen.join(", ")))
}
