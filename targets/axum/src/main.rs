//! The benchmark endpoint contract (`targets/CONTRACT.md`) served by axum.
//!
//! Written the way axum's own examples do it: a `Router` with `State`, the `Json` extractor
//! (its rejections turned into the contract's 400 body), a JSON fallback for unknown paths and a
//! JSON method-not-allowed fallback. hyper adds `Date` and `Content-Length`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// Highest user id that exists; ids 1..=MAX_USER_ID are users.
const MAX_USER_ID: u64 = 1_000_000;
/// Orders kept per user, newest first, so memory stays bounded under a long POST load.
const ORDERS_PER_USER: usize = 16;
/// Lock shards for the order store; enough that concurrent users rarely share a lock.
const STORE_SHARDS: usize = 64;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    timestamp: u64,
}

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
    email: String,
}

#[derive(Deserialize)]
struct NewOrder {
    user_id: u64,
    items: Vec<Item>,
}

#[derive(Clone, Deserialize, Serialize)]
struct Item {
    product_id: u64,
    quantity: u64,
    price: f64,
}

#[derive(Clone, Serialize)]
struct Order {
    id: u64,
    user_id: u64,
    items: Vec<Item>,
    total: f64,
    status: &'static str,
    created_at: u64,
}

/// An error response: the status plus the contract's `{"error": "..."}` body.
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// Orders in memory: one global id counter and, per user, the newest orders first.
struct OrderStore {
    next_id: AtomicU64,
    shards: Vec<Mutex<HashMap<u64, VecDeque<Order>>>>,
}

impl OrderStore {
    fn new() -> Self {
        Self {
            next_id: AtomicU64::new(1),
            shards: (0..STORE_SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, user_id: u64) -> &Mutex<HashMap<u64, VecDeque<Order>>> {
        &self.shards[(user_id % STORE_SHARDS as u64) as usize]
    }

    /// Stores a new order and returns it. The id is taken under the user's lock so that a
    /// user's list is ordered by id even when that user's orders arrive concurrently.
    fn create(&self, user_id: u64, items: Vec<Item>, total: f64) -> Order {
        let mut shard = self
            .shard(user_id)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let order = Order {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user_id,
            items,
            total,
            status: "created",
            created_at: epoch_millis(),
        };
        let orders = shard.entry(user_id).or_default();
        orders.push_front(order.clone());
        orders.truncate(ORDERS_PER_USER);
        order
    }

    /// A copy of a user's orders, newest first (empty for a user without orders).
    fn orders_of(&self, user_id: u64) -> Vec<Order> {
        let shard = self
            .shard(user_id)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        shard
            .get(&user_id)
            .map(|orders| orders.iter().cloned().collect())
            .unwrap_or_default()
    }
}

type SharedStore = Arc<OrderStore>;

fn epoch_millis() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_millis() as u64
}

/// An integer outside 1..=MAX_USER_ID (negative or huge included) is an unknown user (404);
/// anything that is not an integer at all is a bad request (400).
fn parse_user_id(raw: &str) -> Result<u64, ApiError> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "user id must be an integer",
        ));
    }
    match raw.parse::<u64>() {
        Ok(id) if (1..=MAX_USER_ID).contains(&id) => Ok(id),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "user not found")),
    }
}

/// Checks what the types cannot express and computes the total.
fn validate(order: &NewOrder) -> Result<f64, &'static str> {
    if order.items.is_empty() {
        return Err("items must not be empty");
    }
    let mut total = 0.0;
    for item in &order.items {
        if item.quantity < 1 {
            return Err("quantity must be at least 1");
        }
        if !item.price.is_finite() || item.price < 0.0 {
            return Err("price must be a finite number >= 0");
        }
        total += item.price * item.quantity as f64;
    }
    if !total.is_finite() {
        return Err("total is not a finite number");
    }
    Ok(total)
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy",
        timestamp: epoch_millis(),
    })
}

async fn get_user(Path(raw_id): Path<String>) -> Result<Json<User>, ApiError> {
    let id = parse_user_id(&raw_id)?;
    Ok(Json(User {
        id,
        name: format!("User {id}"),
        email: format!("user{id}@example.com"),
    }))
}

async fn get_user_orders(
    State(store): State<SharedStore>,
    Path(raw_id): Path<String>,
) -> Result<Json<Vec<Order>>, ApiError> {
    let id = parse_user_id(&raw_id)?;
    Ok(Json(store.orders_of(id)))
}

async fn create_order(
    State(store): State<SharedStore>,
    payload: Result<Json<NewOrder>, JsonRejection>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    // axum answers 415/422 for some JSON rejections; the contract wants 400 for all of them.
    let Json(new_order) = payload.map_err(|rejection| {
        let message = format!("invalid order: {}", rejection.body_text());
        ApiError::new(StatusCode::BAD_REQUEST, message)
    })?;
    let total = validate(&new_order).map_err(|message| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("invalid order: {message}"))
    })?;
    let order = store.create(new_order.user_id, new_order.items, total);
    Ok((StatusCode::CREATED, Json(order)))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

fn app(store: SharedStore) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/users/{id}", get(get_user))
        .route("/api/users/{id}/orders", get(get_user_orders))
        .route("/api/orders", post(create_order))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(store)
}

/// What the harness gives the process through the environment.
struct Settings {
    port: u16,
    workers: usize,
}

fn settings_from_env() -> Result<Settings, String> {
    let port = match std::env::var("PORT") {
        Ok(raw) => match raw.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => {
                return Err(format!(
                    "PORT must be a TCP port number 1-65535, got {raw:?}"
                ))
            }
        },
        Err(_) => return Err("PORT is not set (the TCP port to listen on)".to_string()),
    };
    let workers = match std::env::var("WORKERS") {
        Ok(raw) => match raw.parse::<usize>() {
            Ok(workers) if workers > 0 => workers,
            _ => return Err(format!("WORKERS must be a positive integer, got {raw:?}")),
        },
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    Ok(Settings { port, workers })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn serve(port: u16) -> Result<(), String> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}"))?
        .tap_io(|stream| {
            // Same socket option on every target, so small responses are not delayed.
            let _ = stream.set_nodelay(true);
        });
    let store = Arc::new(OrderStore::new());
    axum::serve(listener, app(store))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| format!("server failed: {error}"))
}

fn main() -> ExitCode {
    let settings = match settings_from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("target-axum: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.workers)
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    let result = runtime.block_on(serve(settings.port));
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("target-axum: {message}");
            ExitCode::FAILURE
        }
    }
}
