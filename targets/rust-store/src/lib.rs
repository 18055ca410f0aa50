//! Users and orders for the Rust targets (hyperlane, axum, actix-web), so the three serve
//! the contract's data from the same code and differ only in their framework: the data
//! model (`targets/CONTRACT.md`), the in-memory store (the default), the PostgreSQL store
//! (`STORE=postgres`) and how `STORE`, `DATABASE_URL` and the pool size are read; for
//! service-to-service mode, the environment and bodies of a user service ([`downstream`]), the
//! process's circuit breaker ([`breaker`]) and, with the `hyper-client` feature, the tokio
//! targets' client to the order service; `PROTOCOL` and the TLS files ([`protocol`]) and, with
//! the `tls` feature, the rustls server configuration built from them.
//!
//! [`Store`] is what axum's and actix-web's handlers are generic over: they are
//! monomorphized per store, so memory mode runs the same code as before the database
//! existed (its store is a `&'static`, copying the state is free, and its futures are ready
//! at once). hyperlane's hooks carry no state, so that target wraps the same stores in a
//! trait of its own that reaches a process-wide static.

pub mod breaker;
pub mod downstream;
pub mod error;
#[cfg(feature = "hyper-client")]
pub mod hyper_client;
pub mod memory;
pub mod postgres;
pub mod protocol;
#[cfg(feature = "tls")]
pub mod tls;

use std::borrow::Cow;
use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use memory::MemoryStore;
pub use postgres::PgStore;

/// Orders kept and listed per user, newest first.
pub const ORDERS_PER_USER: usize = 16;

#[derive(Serialize)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
}

#[derive(Clone, Deserialize, Serialize)]
pub struct Item {
    pub product_id: u64,
    pub quantity: u64,
    pub price: f64,
}

/// Deserialized too: a user service decodes the order service's answers into it.
#[derive(Clone, Deserialize, Serialize)]
pub struct Order {
    pub id: u64,
    pub user_id: u64,
    pub items: Vec<Item>,
    pub total: f64,
    /// Borrowed `"created"` in memory; read from the row in database mode.
    pub status: Cow<'static, str>,
    pub created_at: u64,
}

/// Why a store could not do what was asked.
#[derive(Debug)]
pub enum StoreError {
    /// The request is valid JSON but cannot be stored (a 400), e.g. an id above BIGINT.
    Invalid(String),
    /// The database failed or could not be reached (a 503).
    Unavailable(String),
}

impl StoreError {
    /// The contract's answer to this failure: the HTTP status and the error message.
    pub fn status_and_message(self) -> (u16, String) {
        match self {
            StoreError::Invalid(message) => (400, format!("invalid order: {message}")),
            StoreError::Unavailable(message) => (503, format!("database unavailable: {message}")),
        }
    }
}

/// Users and orders, as the handlers need them. Ids reaching a store are already in
/// the contract's ranges (users 1..=1000000, a validated order).
pub trait Store: Clone + Send + Sync + 'static {
    /// The user with this id, or `None` if there is none.
    fn user(&self, id: u64) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// The user's newest orders (at most 16), newest first.
    fn orders_of(
        &self,
        user_id: u64,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;

    /// Stores a new order with its items and returns it with its id.
    fn create(
        &self,
        user_id: u64,
        items: Vec<Item>,
        total: f64,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;
}

/// Checks what the item types cannot express and computes the order's total (the rules of
/// `POST /api/orders`, also applied by a user service before it calls the order service).
pub fn order_total(items: &[Item]) -> Result<f64, &'static str> {
    if items.is_empty() {
        return Err("items must not be empty");
    }
    let mut total = 0.0;
    for item in items {
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

/// Milliseconds since the Unix epoch (the health body's timestamp, an order's created_at).
#[inline]
pub fn epoch_millis() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_millis() as u64
}

/// `STORE` (and, for PostgreSQL, `DATABASE_URL`).
pub enum StoreSetting {
    Memory,
    Postgres(Box<sqlx::postgres::PgConnectOptions>),
}

/// Reads `STORE` and `DATABASE_URL`; the message names the variable and the problem.
pub fn store_from_env() -> Result<StoreSetting, String> {
    match std::env::var("STORE").as_deref() {
        Err(_) | Ok("memory") => Ok(StoreSetting::Memory),
        Ok("postgres") => match std::env::var("DATABASE_URL") {
            Ok(url) => {
                postgres::parse_url(&url).map(|options| StoreSetting::Postgres(Box::new(options)))
            }
            Err(_) => Err("STORE=postgres needs DATABASE_URL (postgres://...)".to_string()),
        },
        Ok(other) => Err(format!(
            "STORE must be \"memory\" or \"postgres\", got {other:?}"
        )),
    }
}

/// Connections for the one process: about two concurrent database sessions per worker
/// thread, and at least four (CONTRACT.md, "Pool size").
pub fn pool_size(workers: usize) -> u32 {
    u32::try_from(workers.saturating_mul(2).max(4)).unwrap_or(u32::MAX)
}
