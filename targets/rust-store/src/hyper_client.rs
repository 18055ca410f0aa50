//! The order service's client for the tokio-based targets (axum, hyperlane): one hyper-util
//! legacy `Client` (the pooled HTTP/1.1 client under reqwest, used here directly so that its
//! retry of unsent requests can be turned off) per process, made at startup.
//!
//! - Deadline: the whole call (waiting for a connection slot, connecting, sending, the head
//!   and the body) runs under one `tokio::time::timeout`, so a stalled or slow order service
//!   costs at most `DOWNSTREAM_TIMEOUT_MS`.
//! - Pool: hyper-util only caps idle connections, so a semaphore of `DOWNSTREAM_CONNECTIONS`
//!   permits caps the calls in flight, and with them the connections held (one call per
//!   HTTP/1.1 connection). Idle connections are reused; a connection the order service
//!   closed is seen closed by its connection task and dropped from the pool.
//! - No replay: `retry_canceled_requests(false)`, so a POST is sent at most once. A GET is
//!   not replayed either (the contract allows one replay but does not ask for it).
//! - Breaker: the process's one [`Breaker`], shared by the clones, around each whole call
//!   (decoding included, since a bad body is a failure too); none with `BREAKER_FAILURES=0`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::http::uri::{Authority, Scheme};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Semaphore;

use crate::breaker::Breaker;
use crate::downstream::{
    decode_order, decode_orders, Downstream, DownstreamError, OrderRequest, MAX_DOWNSTREAM_BODY,
};
use crate::{Item, Order};

/// Idle connections are dropped a little before the usual 5 s keep-alive timeout of servers
/// (actix-web, Node, uvicorn), so a request is not sent on a connection the order service is
/// closing at that very moment (which, without replay, would be a failed call).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// The process's client to the order service. Cloning shares the pool.
#[derive(Clone)]
pub struct OrdersClient {
    client: Client<HttpConnector, Full<Bytes>>,
    authority: Authority,
    timeout: Duration,
    slots: Arc<Semaphore>,
    breaker: Option<Arc<Breaker>>,
}

impl OrdersClient {
    /// Builds the client; no connection is opened until the first call.
    pub fn new(downstream: &Downstream) -> Result<Self, String> {
        let authority = Authority::try_from(downstream.authority.as_str())
            .map_err(|error| format!("ORDERS_URL {:?}: {error}", downstream.authority))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(downstream.connections)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .retry_canceled_requests(false)
            .build(connector);
        Ok(Self {
            client,
            authority,
            timeout: downstream.timeout,
            slots: Arc::new(Semaphore::new(downstream.connections)),
            breaker: downstream
                .breaker
                .map(|settings| Arc::new(Breaker::new(settings))),
        })
    }

    /// `GET {ORDERS_URL}/api/users/{id}/orders`, decoded.
    pub async fn user_orders(&self, user_id: u64) -> Result<Vec<Order>, DownstreamError> {
        self.guarded(self.fetch_orders(user_id)).await
    }

    /// `POST {ORDERS_URL}/api/orders` with the user's items, sent once; the created order.
    pub async fn create_order(
        &self,
        user_id: u64,
        items: &[Item],
    ) -> Result<Order, DownstreamError> {
        self.guarded(self.post_order(user_id, items)).await
    }

    async fn guarded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, DownstreamError>>,
    ) -> Result<T, DownstreamError> {
        match &self.breaker {
            Some(breaker) => breaker.call(call).await,
            None => call.await,
        }
    }

    async fn fetch_orders(&self, user_id: u64) -> Result<Vec<Order>, DownstreamError> {
        let request = Request::get(self.uri(&format!("/api/users/{user_id}/orders"))?)
            .body(Full::default())
            .map_err(|error| DownstreamError(error.to_string()))?;
        let body = self.call(request, StatusCode::OK).await?;
        decode_orders(&body)
    }

    async fn post_order(&self, user_id: u64, items: &[Item]) -> Result<Order, DownstreamError> {
        let json = serde_json::to_vec(&OrderRequest { user_id, items })
            .map_err(|error| DownstreamError(error.to_string()))?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.uri("/api/orders")?)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(Bytes::from(json)))
            .map_err(|error| DownstreamError(error.to_string()))?;
        let body = self.call(request, StatusCode::CREATED).await?;
        decode_order(&body)
    }

    fn uri(&self, path: &str) -> Result<Uri, DownstreamError> {
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|error| DownstreamError(error.to_string()))
    }

    /// Sends the request and reads the whole body, all under the deadline; any status but
    /// `expected` is a failure.
    async fn call(
        &self,
        request: Request<Full<Bytes>>,
        expected: StatusCode,
    ) -> Result<Bytes, DownstreamError> {
        let exchange = async {
            let _slot = self
                .slots
                .acquire()
                .await
                .map_err(|error| DownstreamError(error.to_string()))?;
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| DownstreamError(describe(&error)))?;
            if response.status() != expected {
                return Err(DownstreamError::status(response.status().as_u16()));
            }
            let body = Limited::new(response.into_body(), MAX_DOWNSTREAM_BODY)
                .collect()
                .await
                .map_err(|error| DownstreamError(format!("reading the body: {error}")))?;
            Ok(body.to_bytes())
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(DownstreamError::timed_out(self.timeout)),
        }
    }
}

/// hyper-util's error with its cause (its own text is only "client error (Connect)").
fn describe(error: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
