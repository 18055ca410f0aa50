//! The benchmark endpoint contract (`targets/CONTRACT.md`) served by actix-web 4.
//!
//! Written the way actix-web's own examples do it: one `App` per worker thread sharing
//! application data, a `JsonConfig` error handler that turns every JSON payload error into the
//! contract's 400 body, a per-resource default service for 405 and an app-wide one for 404.
//! actix-web adds `Date` and `Content-Length` and handles SIGTERM itself.
//!
//! The handlers are generic over the [`target_store::Store`] they read and write, shared as
//! `web::ThinData`: orders in memory (the default) or users and orders in PostgreSQL
//! (`STORE=postgres`), both from `targets/rust-store`.
//!
//! With `ORDERS_URL` set the process is also a user service (`src/chain.rs`): two more routes that
//! call the order service through one pooled awc client per worker thread. Without it they are
//! not registered, no client exists and nothing else changes.
//!
//! `PROTOCOL` only picks how `HttpServer` binds the port: `bind` (h1), `bind_auto_h2c` (h2c, with
//! HTTP/1.1 on the same port) or `bind_rustls_0_23` (h1-tls and h2). Workers, apps and routes are
//! the same on every protocol.

mod chain;

use std::process::ExitCode;

use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::web::ThinData;
use actix_web::{web, App, HttpResponse, HttpServer, ResponseError};
use serde::{Deserialize, Serialize};

use target_store::downstream::{downstream_from_env, Downstream};
use target_store::protocol::{protocol_from_env, Protocol};
use target_store::{
    epoch_millis, order_total, pool_size, store_from_env, Item, MemoryStore, PgStore, Store,
    StoreError, StoreSetting,
};

use chain::OrdersClient;

/// Highest user id that exists; ids 1..=MAX_USER_ID are users.
const MAX_USER_ID: u64 = 1_000_000;
/// How long workers may finish in-flight requests after SIGTERM (actix's default is 30 s).
const SHUTDOWN_TIMEOUT_SECS: u64 = 2;

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

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// An error response: the status plus the contract's `{"error": "..."}` body.
#[derive(Debug)]
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

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
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

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(ErrorBody {
            error: &self.message,
        })
    }
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

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "healthy",
        timestamp: epoch_millis(),
    })
}

async fn get_user<S: Store>(
    ThinData(store): ThinData<S>,
    raw_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_user_id(&raw_id)?;
    match store.user(id).await? {
        Some(user) => Ok(HttpResponse::Ok().json(user)),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "user not found")),
    }
}

async fn get_user_orders<S: Store>(
    ThinData(store): ThinData<S>,
    raw_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_user_id(&raw_id)?;
    Ok(HttpResponse::Ok().json(store.orders_of(id).await?))
}

async fn create_order<S: Store>(
    ThinData(store): ThinData<S>,
    new_order: web::Json<NewOrder>,
) -> Result<HttpResponse, ApiError> {
    let new_order = new_order.into_inner();
    let total = order_total(&new_order.items).map_err(|message| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("invalid order: {message}"))
    })?;
    let order = store
        .create(new_order.user_id, new_order.items, total)
        .await?;
    Ok(HttpResponse::Created().json(order))
}

async fn not_found() -> HttpResponse {
    ApiError::new(StatusCode::NOT_FOUND, "not found").error_response()
}

/// A 405 naming the method the resource does serve.
fn method_not_allowed(allowed: &'static str) -> actix_web::Route {
    web::to(move || async move {
        let mut response =
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").error_response();
        let allow = actix_web::http::header::HeaderValue::from_static(allowed);
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, allow);
        response
    })
}

/// Every JSON payload error (syntax, missing field, wrong type, content type, size) is a 400
/// with the contract's error body.
fn json_error_handler(
    error: actix_web::error::JsonPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    let message = format!("invalid order: {error}");
    let response = ApiError::new(StatusCode::BAD_REQUEST, message.clone()).error_response();
    InternalError::from_response(message, response).into()
}

/// Registers the contract's routes; each resource answers 405 for a method it does not serve.
/// A user service (`orders` set) also has the summary and a POST on the user's orders.
fn routes<S: Store>(config: &mut web::ServiceConfig, orders: Option<OrdersClient>) {
    let user_orders =
        web::resource("/api/users/{id}/orders").route(web::get().to(get_user_orders::<S>));
    let user_orders = match orders {
        Some(client) => {
            chain::configure::<S>(config, client);
            user_orders
                .route(web::post().to(chain::create_user_order::<S>))
                .default_service(method_not_allowed("GET, POST"))
        }
        None => user_orders.default_service(method_not_allowed("GET")),
    };
    config
        .service(
            web::resource("/health")
                .route(web::get().to(health))
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/api/users/{id}")
                .route(web::get().to(get_user::<S>))
                .default_service(method_not_allowed("GET")),
        )
        .service(user_orders)
        .service(
            web::resource("/api/orders")
                .route(web::post().to(create_order::<S>))
                .default_service(method_not_allowed("POST")),
        );
}

/// What the harness gives the process through the environment.
struct Settings {
    port: u16,
    workers: usize,
    store: StoreSetting,
    downstream: Option<Downstream>,
    protocol: Protocol,
    /// The rustls configuration for `h1-tls` and `h2`; `None` on plain TCP.
    tls: Option<target_store::tls::ServerConfig>,
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
    // No ALPN of our own: actix's binding puts "h2" (with its http2 feature) and "http/1.1" in
    // front of whatever the configuration lists.
    let tls = match &protocol.tls {
        Some(files) => Some(target_store::tls::server_config(files, &[])?),
        None => None,
    };
    Ok(Settings {
        port,
        workers,
        store,
        downstream,
        protocol: protocol.protocol,
        tls,
    })
}

/// Why the server could not run: the database at startup, or the listener.
enum ServeError {
    Database(String),
    Listen(std::io::Error),
}

async fn serve(mut settings: Settings) -> Result<(), ServeError> {
    // The database comes first, so the server only answers once it can serve every route.
    match settings.store {
        StoreSetting::Memory => serve_with(MemoryStore::leaked(), &mut settings).await,
        StoreSetting::Postgres(ref options) => {
            let store = PgStore::connect((**options).clone(), pool_size(settings.workers))
                .await
                .map_err(ServeError::Database)?;
            serve_with(store, &mut settings).await
        }
    }
}

async fn serve_with<S: Store>(store: S, settings: &mut Settings) -> Result<(), ServeError> {
    let downstream = settings.downstream.clone();
    let workers = settings.workers;
    // Made once, here, so that every worker's client calls through the same breaker.
    let breaker = downstream.as_ref().and_then(chain::process_breaker);
    let server = HttpServer::new(move || {
        // Runs once on each worker thread: that worker's own client (awc's is !Send).
        let orders = downstream
            .as_ref()
            .map(|downstream| OrdersClient::new(downstream, workers, breaker.clone()));
        App::new()
            .app_data(ThinData(store.clone()))
            .app_data(web::JsonConfig::default().error_handler(json_error_handler))
            .configure(|config| routes::<S>(config, orders))
            .default_service(web::to(not_found))
    })
    .workers(settings.workers)
    .tcp_nodelay(true)
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);
    let address = ("127.0.0.1", settings.port);
    let server = match (settings.protocol, settings.tls.take()) {
        (_, Some(config)) => server.bind_rustls_0_23(address, config),
        (Protocol::H2c, None) => server.bind_auto_h2c(address),
        _ => server.bind(address),
    };
    server
        .map_err(ServeError::Listen)?
        .run()
        .await
        .map_err(ServeError::Listen)
}

fn main() -> ExitCode {
    let settings = match settings_from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("target-actix-web: {message}");
            return ExitCode::from(2);
        }
    };
    let port = settings.port;
    match actix_web::rt::System::new().block_on(serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServeError::Database(message)) => {
            eprintln!("target-actix-web: {message}");
            ExitCode::FAILURE
        }
        Err(ServeError::Listen(error)) => {
            eprintln!("target-actix-web: cannot serve on 127.0.0.1:{port}: {error}");
            ExitCode::FAILURE
        }
    }
}
