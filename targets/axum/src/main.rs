//! The benchmark endpoint contract (`targets/CONTRACT.md`) served by axum.
//!
//! Written the way axum's own examples do it: a `Router` with `State`, the `Json` extractor
//! (its rejections turned into the contract's 400 body), a JSON fallback for unknown paths and a
//! JSON method-not-allowed fallback. hyper adds `Date` and `Content-Length`.
//!
//! The handlers are generic over the [`target_store::Store`] they read and write: orders in memory
//! (the default) or users and orders in PostgreSQL (`STORE=postgres`), both from `targets/rust-store`.
//!
//! With `ORDERS_URL` set the process is also a user service (`src/chain.rs`): two more routes that
//! call the order service through one pooled hyper-util client. Without it those routes do not
//! exist and nothing else changes.
//!
//! `PROTOCOL`: `axum::serve` answers HTTP/1.1 and HTTP/2 with prior knowledge on plain TCP (`h1`,
//! `h2c`); `h1-tls` and `h2` serve the same router behind rustls (`src/tls.rs`).

mod chain;
mod tls;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use target_store::downstream::{downstream_from_env, Downstream};
use target_store::hyper_client::OrdersClient;
use target_store::protocol::{protocol_from_env, Protocol};
use target_store::tls::{server_config, ALPN_H2, ALPN_HTTP1};
use target_store::{
    epoch_millis, order_total, pool_size, store_from_env, Item, MemoryStore, Order, PgStore, Store,
    StoreError, StoreSetting, User,
};

/// Highest user id that exists; ids 1..=MAX_USER_ID are users.
const MAX_USER_ID: u64 = 1_000_000;
/// How long open connections may finish after SIGTERM. Idle HTTP/1.1 connections close at
/// once; an HTTP/2 connection waits for its client to acknowledge the GOAWAY, which a stalled
/// client never does, so the wait has to be bounded to exit promptly.
pub(crate) const DRAIN: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Serialize)]
struct Health {
    status: &'static str,
    timestamp: u64,
}

#[derive(Deserialize)]
struct NewOrder {
    user_id: u64,
    items: Vec<Item>,
}

/// An error response: the status plus the contract's `{"error": "..."}` body.
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let (status, message) = error.status_and_message();
        Self::new(
            StatusCode::from_u16(status).expect("400 and 503 are valid statuses"),
            message,
        )
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

/// An integer outside 1..=MAX_USER_ID (negative or huge included) is an unknown user (404);
/// anything that is not an integer at all is a bad request (400).
pub(crate) fn parse_user_id(raw: &str) -> Result<u64, ApiError> {
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

/// The Json extractor's rejection or the items' rules as the contract's 400.
pub(crate) fn invalid_order(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, format!("invalid order: {message}"))
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy",
        timestamp: epoch_millis(),
    })
}

async fn get_user<S: Store>(
    State(store): State<S>,
    Path(raw_id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let id = parse_user_id(&raw_id)?;
    match store.user(id).await? {
        Some(user) => Ok(Json(user)),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "user not found")),
    }
}

async fn get_user_orders<S: Store>(
    State(store): State<S>,
    Path(raw_id): Path<String>,
) -> Result<Json<Vec<Order>>, ApiError> {
    let id = parse_user_id(&raw_id)?;
    Ok(Json(store.orders_of(id).await?))
}

async fn create_order<S: Store>(
    State(store): State<S>,
    payload: Result<Json<NewOrder>, JsonRejection>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    // axum answers 415/422 for some JSON rejections; the contract wants 400 for all of them.
    let Json(new_order) = payload.map_err(|rejection| invalid_order(rejection.body_text()))?;
    let total = order_total(&new_order.items).map_err(invalid_order)?;
    let order = store
        .create(new_order.user_id, new_order.items, total)
        .await?;
    Ok((StatusCode::CREATED, Json(order)))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

fn app<S: Store>(store: S, orders: Option<OrdersClient>) -> Router {
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/api/users/{id}", get(get_user::<S>))
        .route("/api/users/{id}/orders", get(get_user_orders::<S>))
        .route("/api/orders", post(create_order::<S>));
    if let Some(orders) = orders {
        // Merged before the fallbacks so that its routes get the JSON 405 too.
        router = router.merge(chain::routes(store.clone(), Arc::new(orders)));
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(store)
}

/// What the harness gives the process through the environment.
struct Settings {
    port: u16,
    workers: usize,
    store: StoreSetting,
    downstream: Option<Downstream>,
    /// The rustls configuration for `h1-tls` and `h2`; `None` on plain TCP.
    tls: Option<tokio_rustls::rustls::ServerConfig>,
}

/// What the server offers by ALPN: HTTP/2 first where it is the protocol asked for.
fn alpn_for(protocol: Protocol) -> &'static [&'static [u8]] {
    match protocol {
        Protocol::H2 => &[ALPN_H2, ALPN_HTTP1],
        _ => &[ALPN_HTTP1],
    }
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
    let store = store_from_env()?;
    let downstream = downstream_from_env()?;
    let protocol = protocol_from_env(&Protocol::ALL)?;
    let tls = match &protocol.tls {
        Some(files) => Some(server_config(files, alpn_for(protocol.protocol))?),
        None => None,
    };
    Ok(Settings {
        port,
        workers,
        store,
        downstream,
        tls,
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    // One client for the whole process, shared by every worker thread.
    let orders = settings
        .downstream
        .as_ref()
        .map(OrdersClient::new)
        .transpose()?;
    // The database comes first, so the server only answers once it can serve every route.
    let app = match settings.store {
        StoreSetting::Memory => app(MemoryStore::leaked(), orders),
        StoreSetting::Postgres(options) => app(
            PgStore::connect(*options, pool_size(settings.workers)).await?,
            orders,
        ),
    };
    let address = SocketAddr::from(([127, 0, 0, 1], settings.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}"))?;
    if let Some(config) = settings.tls {
        tls::serve(listener, app, config, shutdown_signal()).await;
        return Ok(());
    }
    let listener = listener.tap_io(|stream| {
        // Same socket option on every target, so small responses are not delayed.
        let _ = stream.set_nodelay(true);
    });
    let signalled = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&signalled);
    let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        notify.notify_one();
    });
    tokio::select! {
        result = serving.into_future() => result.map_err(|error| format!("server failed: {error}")),
        _ = async {
            signalled.notified().await;
            tokio::time::sleep(DRAIN).await;
        } => Ok(()),
    }
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
    let result = runtime.block_on(serve(settings));
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("target-axum: {message}");
            ExitCode::FAILURE
        }
    }
}
