//! Service-to-service mode: the routes of a user service (`targets/CONTRACT.md`,
//! "Service-to-service mode"), registered only when `ORDERS_URL` is set, and their client to
//! the order service on awc, actix's own client.
//!
//! awc's `Client` is `!Send` (its pool lives in an `Rc`, like everything on an actix worker's
//! single-threaded runtime), so each worker thread makes one at its start, when its `App` is
//! built, and shares it with its requests as `ThinData`. The process's `DOWNSTREAM_CONNECTIONS`
//! are split evenly over the workers, so the process as a whole holds no more than that.
//!
//! - Pool: awc's connector `limit` (connections open at once, idle or busy; callers wait for
//!   one), idle connections reused, dropped after 4 s idle (before the usual 5 s server
//!   keep-alive) and checked on checkout: one the order service closed is dropped.
//! - Deadline: the whole call (waiting for a connection, connecting, sending, the head and the
//!   body) under one timeout of `DOWNSTREAM_TIMEOUT_MS`; awc's own request timeout is off.
//! - awc never retries or replays a request.
//! - Breaker: ONE for the process, made before the workers and shared by their clients as an
//!   `Arc` (the contract's "one breaker per process"; a breaker per worker would let each
//!   worker make its own `BREAKER_FAILURES` calls to a dead order service). None with
//!   `BREAKER_FAILURES=0`.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web::{self, ThinData};
use actix_web::HttpResponse;
use awc::{Client, Connector};

use target_store::breaker::Breaker;
use target_store::downstream::{
    decode_order, decode_orders, Downstream, DownstreamError, OrderRequest, Summary, UserOrder,
    MAX_DOWNSTREAM_BODY,
};
use target_store::{order_total, Item, Order, Store, User};

use crate::{parse_user_id, ApiError};

/// Idle connections are dropped a little before the 5 s keep-alive timeout of many servers
/// (actix-web's own, Node, uvicorn), so a request is not sent on a connection the order
/// service is closing at that very moment.
const IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// One worker's client to the order service. Cloning shares it.
#[derive(Clone)]
pub struct OrdersClient(Rc<Inner>);

struct Inner {
    client: Client,
    base_url: String,
    timeout: Duration,
    breaker: Option<Arc<Breaker>>,
}

/// The process's breaker, to be shared by every worker's client; `None` when it is off.
pub fn process_breaker(downstream: &Downstream) -> Option<Arc<Breaker>> {
    downstream
        .breaker
        .map(|settings| Arc::new(Breaker::new(settings)))
}

impl OrdersClient {
    /// The client of one of `workers` worker threads, calling through the process's
    /// `breaker`; no connection is opened until the first call.
    pub fn new(downstream: &Downstream, workers: usize, breaker: Option<Arc<Breaker>>) -> Self {
        let limit = downstream.connections.div_ceil(workers.max(1)).max(1);
        let connector = Connector::new()
            .limit(limit)
            .timeout(downstream.timeout)
            .conn_keep_alive(IDLE_TIMEOUT);
        let client = Client::builder()
            .connector(connector)
            .disable_timeout()
            .finish();
        Self(Rc::new(Inner {
            client,
            base_url: downstream.base_url(),
            timeout: downstream.timeout,
            breaker,
        }))
    }

    /// `GET {ORDERS_URL}/api/users/{id}/orders`, decoded.
    async fn user_orders(&self, user_id: u64) -> Result<Vec<Order>, DownstreamError> {
        let url = format!("{}/api/users/{user_id}/orders", self.0.base_url);
        let exchange = async {
            let response = self.0.client.get(url).send().await;
            decode_orders(&body_of(response, StatusCode::OK).await?)
        };
        self.within_deadline(exchange).await
    }

    /// `POST {ORDERS_URL}/api/orders` with the user's items, sent once; the created order.
    async fn create_order(&self, user_id: u64, items: &[Item]) -> Result<Order, DownstreamError> {
        let url = format!("{}/api/orders", self.0.base_url);
        let exchange = async {
            let request = OrderRequest { user_id, items };
            // send_json sets `Content-Type: application/json`.
            let response = self.0.client.post(url).send_json(&request).await;
            decode_order(&body_of(response, StatusCode::CREATED).await?)
        };
        self.within_deadline(exchange).await
    }

    /// The whole exchange (decoding included: a bad body is a failure) under the deadline,
    /// and through the breaker when there is one.
    async fn within_deadline<T>(
        &self,
        exchange: impl std::future::Future<Output = Result<T, DownstreamError>>,
    ) -> Result<T, DownstreamError> {
        let timed = async {
            match actix_web::rt::time::timeout(self.0.timeout, exchange).await {
                Ok(result) => result,
                Err(_) => Err(DownstreamError::timed_out(self.0.timeout)),
            }
        };
        match &self.0.breaker {
            Some(breaker) => breaker.call(timed).await,
            None => timed.await,
        }
    }
}

/// The whole body of an answer with the `expected` status; any other status is a failure.
async fn body_of(
    response: Result<awc::ClientResponse, awc::error::SendRequestError>,
    expected: StatusCode,
) -> Result<web::Bytes, DownstreamError> {
    let mut response = response.map_err(|error| DownstreamError(error.to_string()))?;
    if response.status() != expected {
        return Err(DownstreamError::status(response.status().as_u16()));
    }
    response
        .body()
        .limit(MAX_DOWNSTREAM_BODY)
        .await
        .map_err(|error| DownstreamError(format!("reading the body: {error}")))
}

/// Registers `GET /api/users/{id}/summary` and this worker's client for the chain handlers.
pub fn configure<S: Store>(config: &mut web::ServiceConfig, client: OrdersClient) {
    config.app_data(ThinData(client)).service(
        web::resource("/api/users/{id}/summary")
            .route(web::get().to(summary::<S>))
            .default_service(crate::method_not_allowed("GET")),
    );
}

/// The id rules, then the user from this service's own store (404 when there is none).
async fn known_user<S: Store>(store: &S, raw_id: &str) -> Result<User, ApiError> {
    let id = parse_user_id(raw_id)?;
    store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "user not found"))
}

async fn summary<S: Store>(
    ThinData(store): ThinData<S>,
    ThinData(orders): ThinData<OrdersClient>,
    raw_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = known_user(&store, &raw_id).await?;
    Ok(match orders.user_orders(user.id).await {
        Ok(list) => HttpResponse::Ok().json(Summary::new(user, Some(list))),
        Err(_) => HttpResponse::Ok()
            .insert_header(("x-degraded", "true"))
            .json(Summary::new(user, None)),
    })
}

/// `POST /api/users/{id}/orders`. The body's extraction error is held back until the user is
/// known: an unknown user is a 404 whatever the body holds.
pub async fn create_user_order<S: Store>(
    ThinData(store): ThinData<S>,
    ThinData(orders): ThinData<OrdersClient>,
    raw_id: web::Path<String>,
    body: Result<web::Json<UserOrder>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let user = known_user(&store, &raw_id).await?;
    let body = body?.into_inner();
    order_total(&body.items).map_err(|message| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("invalid order: {message}"))
    })?;
    match orders.create_order(user.id, &body.items).await {
        Ok(order) => Ok(HttpResponse::Created().json(order)),
        Err(error) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.message()).into()),
    }
}
