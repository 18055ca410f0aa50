//! The benchmark endpoint contract (`targets/CONTRACT.md`) served by hyperlane.
//!
//! hyperlane leaves the whole response to the application: it has no built-in 404, no method
//! check, no `Date` header and sends nothing by itself. So a request middleware prepares a JSON
//! 404 and the `Date` header, the matched route overwrites status and body, and a response
//! middleware builds and sends the bytes. Parse errors reach the request-error hook.
//!
//! The route hooks are generic over the [`store::Store`] they read and write: orders in
//! memory (the default) or users and orders in PostgreSQL (`STORE=postgres`), both from
//! `targets/rust-store`.
//!
//! With `ORDERS_URL` set the process is also a user service (`src/chain.rs`): more route hooks that
//! call the order service through one pooled hyper-util client. Without it they are not
//! registered and nothing else changes.
//!
//! `PROTOCOL` goes to hyperlane's own server configuration: its protocol (HTTP/1.1 or HTTP/2, the
//! latter with prior knowledge on plain TCP) and its TLS files, which hyperlane loads and
//! terminates with rustls itself. The hooks are the same on every protocol: on HTTP/2 hyperlane
//! frames the bytes the response middleware sends.

mod chain;
mod store;

use std::process::ExitCode;
use std::time::SystemTime;

use hyperlane::*;
use serde::{Deserialize, Serialize};

use store::{Item, MemoryStore, PgStore, Store, StoreError};
use target_store::downstream::{downstream_from_env, Downstream};
use target_store::hyper_client::OrdersClient;
use target_store::protocol::{protocol_from_env, Protocol, ProtocolSetting};
use target_store::{epoch_millis, order_total, pool_size, store_from_env, StoreSetting};

/// Highest user id that exists; ids 1..=MAX_USER_ID are users.
const MAX_USER_ID: u64 = 1_000_000;

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

/// Why a path's `{id}` is not a user: the HTTP status and message differ.
enum BadUserId {
    NotInteger,
    OutOfRange,
}

/// An integer outside 1..=MAX_USER_ID (negative or huge included) is an unknown user (404);
/// anything that is not an integer at all is a bad request (400).
fn parse_user_id(raw: &str) -> Result<u64, BadUserId> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadUserId::NotInteger);
    }
    match raw.parse::<u64>() {
        Ok(id) if (1..=MAX_USER_ID).contains(&id) => Ok(id),
        _ => Err(BadUserId::OutOfRange),
    }
}

/// Puts a JSON status and body into the response that the response middleware will send.
fn set_json(ctx: &mut Context, status: usize, body: &[u8]) {
    ctx.get_mut_response()
        .set_status_code(status)
        .set_header(CONTENT_TYPE, "application/json")
        .set_body(body);
}

fn set_error(ctx: &mut Context, status: usize, message: &str) {
    let body = serde_json::to_vec(&ErrorBody { error: message }).expect("error serializes");
    set_json(ctx, status, &body);
}

/// Answers 405 (with `allow`) and returns false when the method is not the route's one.
fn allow_method(ctx: &mut Context, allowed: &str) -> bool {
    let method = ctx.get_request().get_method().to_string();
    if method == allowed {
        return true;
    }
    set_error(ctx, 405, "method not allowed");
    ctx.get_mut_response().set_header(ALLOW, allowed);
    false
}

/// The `{id}` route parameter as a user id, or the 400/404 already set on the response.
fn user_id_param(ctx: &mut Context) -> Option<u64> {
    let raw = ctx.try_get_route_param("id").unwrap_or_default();
    match parse_user_id(&raw) {
        Ok(id) => Some(id),
        Err(BadUserId::NotInteger) => {
            set_error(ctx, 400, "user id must be an integer");
            None
        }
        Err(BadUserId::OutOfRange) => {
            set_error(ctx, 404, "user not found");
            None
        }
    }
}

/// Runs first: every response is a JSON 404 with a fresh `Date` unless a route says otherwise.
struct DefaultResponse;

impl ServerHook for DefaultResponse {
    async fn new(_: &mut Stream, _: &mut Context) -> Self {
        Self
    }

    async fn handle(self, _: &mut Stream, ctx: &mut Context) -> Status {
        set_error(ctx, 404, "not found");
        let date = httpdate::fmt_http_date(SystemTime::now());
        ctx.get_mut_response().set_header(DATE, date);
        Status::Continue
    }
}

/// Runs last: builds the response and writes it to the connection.
struct SendResponse;

impl ServerHook for SendResponse {
    async fn new(_: &mut Stream, _: &mut Context) -> Self {
        Self
    }

    async fn handle(self, stream: &mut Stream, ctx: &mut Context) -> Status {
        // The builder would announce keep-alive even when the server is about to close
        // (`Connection: close`, HTTP/1.0 without keep-alive), so say so explicitly.
        if !ctx.get_request().is_enable_keep_alive() {
            ctx.get_mut_response().set_header(CONNECTION, "close");
        }
        let bytes = ctx.get_mut_response().build();
        // try_send is a write_all without a flush. Over TLS the bytes can stay in rustls's
        // buffer until the next write: without this flush, more than about 126 pipelined
        // requests in one write left the next answer unsent until another request came or the
        // read timeout closed the connection. On plain TCP and HTTP/2 the flush has nothing to do.
        if stream.try_send(bytes).await.is_err() || stream.try_flush().await.is_err() {
            stream.set_closed(true);
            return Status::Reject;
        }
        Status::Continue
    }
}

/// Answers requests hyperlane could not parse. A read timeout on an idle keep-alive
/// connection, a client that went away or an empty request line (the client closed
/// between requests) is no request at all, so nothing is written for those.
struct RequestErrorReply;

impl ServerHook for RequestErrorReply {
    async fn new(_: &mut Stream, _: &mut Context) -> Self {
        Self
    }

    async fn handle(self, stream: &mut Stream, ctx: &mut Context) -> Status {
        let error = ctx.get_request_error_data();
        let silent = matches!(
            error,
            RequestError::ReadTimeout(_)
                | RequestError::ClientDisconnected(_)
                | RequestError::ClientClosedConnection(_)
                | RequestError::ServerClosedConnection(_)
                | RequestError::ReadConnection(_)
                | RequestError::HttpRequestPartsInsufficient(_)
        );
        if silent {
            return Status::Reject;
        }
        let status = error.get_http_status_code();
        let message = format!("cannot parse the request: {error}");
        set_error(ctx, status, &message);
        let date = httpdate::fmt_http_date(SystemTime::now());
        let bytes = ctx
            .get_mut_response()
            .set_header(DATE, date)
            .set_header(CONNECTION, "close")
            .build();
        let _ = stream.try_send(bytes).await;
        stream.set_closed(true);
        Status::Reject
    }
}

struct HealthRoute;

impl ServerHook for HealthRoute {
    async fn new(_: &mut Stream, _: &mut Context) -> Self {
        Self
    }

    async fn handle(self, _: &mut Stream, ctx: &mut Context) -> Status {
        if allow_method(ctx, "GET") {
            let health = Health {
                status: "healthy",
                timestamp: epoch_millis(),
            };
            set_json(
                ctx,
                200,
                &serde_json::to_vec(&health).expect("health serializes"),
            );
        }
        Status::Continue
    }
}

/// Answers a store failure: 400 for an order the store cannot hold, 503 for the database.
fn set_store_error(ctx: &mut Context, error: StoreError) {
    let (status, message) = error.status_and_message();
    set_error(ctx, usize::from(status), &message);
}

struct UserRoute<S: 'static>(&'static S);

impl<S: Store> ServerHook for UserRoute<S> {
    async fn new(_: &mut Stream, _: &mut Context) -> Self {
        Self(S::global())
    }

    async fn handle(self, _: &mut Stream, ctx: &mut Context) -> Status {
        if !allow_method(ctx, "GET") {
            return Status::Continue;
        }
        if let Some(id) = user_id_param(ctx) {
            match self.0.user(id).await {
                Ok(Some(user)) => set_json(
                    ctx,
                    200,
                    &serde_json::to_vec(&user).expect("user serializes"),
                ),
                Ok(None) => set_error(ctx, 404, "user not found"),
                Err(error) => set_store_error(ctx, error),
            }
        }
        Status::Continue
    }
}

struct UserOrdersRoute<S: 'static>(&'static S);

impl<S: Store> ServerHook for UserOrdersRoute<S> {
    async fn new(_: &mut Stream, _: &mut Context) -> Self {
        Self(S::global())
    }

    async fn handle(self, _: &mut Stream, ctx: &mut Context) -> Status {
        if allow_method(ctx, "GET") {
            answer_user_orders(self.0, ctx).await;
        }
        Status::Continue
    }
}

/// `GET /api/users/{id}/orders`: the user's orders from the local store.
async fn answer_user_orders<S: Store>(store: &S, ctx: &mut Context) {
    if let Some(id) = user_id_param(ctx) {
        match store.orders_json(id).await {
            Ok(body) => set_json(ctx, 200, &body),
            Err(error) => set_store_error(ctx, error),
        }
    }
}

struct OrdersRoute<S: 'static>(&'static S);

impl<S: Store> ServerHook for OrdersRoute<S> {
    async fn new(_: &mut Stream, _: &mut Context) -> Self {
        Self(S::global())
    }

    async fn handle(self, _: &mut Stream, ctx: &mut Context) -> Status {
        if !allow_method(ctx, "POST") {
            return Status::Continue;
        }
        let new_order = match ctx.get_request().try_get_body_json::<NewOrder>() {
            Ok(new_order) => new_order,
            Err(error) => {
                set_error(ctx, 400, &format!("invalid order: {error}"));
                return Status::Continue;
            }
        };
        let total = match order_total(&new_order.items) {
            Ok(total) => total,
            Err(message) => {
                set_error(ctx, 400, &format!("invalid order: {message}"));
                return Status::Continue;
            }
        };
        match self
            .0
            .create(new_order.user_id, new_order.items, total)
            .await
        {
            Ok(order) => set_json(
                ctx,
                201,
                &serde_json::to_vec(&order).expect("order serializes"),
            ),
            Err(error) => set_store_error(ctx, error),
        }
        Status::Continue
    }
}

/// What the harness gives the process through the environment.
struct Settings {
    port: u16,
    workers: usize,
    store: StoreSetting,
    downstream: Option<Downstream>,
    protocol: ProtocolSetting,
}

/// Why the process stops: a setting the server refused (exit 2, like every bad setting) or a
/// failure while running (exit 1).
enum ServeError {
    Setting(String),
    Failed(String),
}

impl From<String> for ServeError {
    fn from(message: String) -> Self {
        ServeError::Failed(message)
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
    Ok(Settings {
        port,
        workers,
        store,
        downstream,
        protocol,
    })
}

async fn serve(settings: Settings) -> Result<(), ServeError> {
    // One client for the whole process, shared by every worker thread.
    let user_service = match &settings.downstream {
        Some(downstream) => {
            chain::install(OrdersClient::new(downstream)?);
            true
        }
        None => false,
    };
    let config = server_config(&settings);
    // The database comes first, so the server only answers once it can serve every route.
    match settings.store {
        StoreSetting::Memory => serve_with::<MemoryStore>(config, user_service).await,
        StoreSetting::Postgres(options) => {
            store::install(PgStore::connect(*options, pool_size(settings.workers)).await?);
            serve_with::<PgStore>(config, user_service).await
        }
    }
}

/// hyperlane's server configuration: the address, TCP_NODELAY and the protocol.
fn server_config(settings: &Settings) -> ServerConfig {
    let mut config = ServerConfig::default();
    config
        .set_address(format!("127.0.0.1:{}", settings.port))
        .set_nodelay(Some(true));
    let protocol = match settings.protocol.protocol {
        Protocol::H1 | Protocol::H1Tls => ServerProtocol::Http1,
        Protocol::H2c | Protocol::H2 => ServerProtocol::Http2,
    };
    config.set_protocol(protocol);
    // hyperlane reads the files itself; they were read once already, so a missing one was
    // reported before the store was opened.
    let tls = settings
        .protocol
        .tls
        .as_ref()
        .map(|files| TlsConfig::new(files.cert_path.clone(), files.key_path.clone()));
    config.set_tls(tls);
    config
}

/// The TLS file paths of `config`, for an error message.
fn tls_paths(config: &ServerConfig) -> String {
    match config.get_tls() {
        Some(tls) => format!("{:?}, {:?}", tls.certificate_path, tls.private_key_path),
        None => "none".to_string(),
    }
}

async fn serve_with<S: Store>(config: ServerConfig, user_service: bool) -> Result<(), ServeError> {
    let address = config.get_address().clone();
    let mut server = Server::default();
    server
        .server_config(config.clone())
        .request_error::<RequestErrorReply>()
        .request_middleware::<DefaultResponse>()
        .route::<HealthRoute>("/health")
        .route::<UserRoute<S>>("/api/users/{id}")
        .route::<OrdersRoute<S>>("/api/orders")
        .response_middleware::<SendResponse>();
    if user_service {
        server
            .route::<chain::SummaryRoute<S>>("/api/users/{id}/summary")
            .route::<chain::UserOrdersChainRoute<S>>("/api/users/{id}/orders");
    } else {
        server.route::<UserOrdersRoute<S>>("/api/users/{id}/orders");
    }
    let control = server.run().await.map_err(|error| match *error {
        ServerError::Tls(message) => ServeError::Setting(format!(
            "hyperlane refused TLS_CERT/TLS_KEY ({}): {message}",
            tls_paths(&config)
        )),
        error => ServeError::Failed(format!("cannot listen on {address}: {error}")),
    })?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|error| format!("cannot install the SIGTERM handler: {error}"))?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    control.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let settings = match settings_from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("target-hyperlane: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.workers)
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    let result = runtime.block_on(serve(settings));
    // Open keep-alive connections must not hold the exit back after SIGTERM.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServeError::Setting(message)) => {
            eprintln!("target-hyperlane: {message}");
            ExitCode::from(2)
        }
        Err(ServeError::Failed(message)) => {
            eprintln!("target-hyperlane: {message}");
            ExitCode::FAILURE
        }
    }
}
