//! Where users and orders come from: the [`Store`] trait the handlers are generic over, and
//! its in-memory implementation (the default). The PostgreSQL one is in `postgres.rs`.
//!
//! hyperlane hooks carry no application state, so each store is a process-wide static that
//! the route hooks reach through [`Store::global`]. The hooks are monomorphized per store,
//! so memory mode runs the same code as before the database existed: its futures are ready
//! at once.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::future::{ready, Future};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use serde::{Deserialize, Serialize};

use crate::epoch_millis;

/// Orders kept per user, newest first, so memory stays bounded under a long POST load.
const ORDERS_PER_USER: usize = 16;
/// Lock shards for the order store; enough that concurrent users rarely share a lock.
const STORE_SHARDS: usize = 64;

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

#[derive(Clone, Serialize)]
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

/// Users and orders, as the handlers need them. Ids reaching a store are already in
/// the contract's ranges (users 1..=1000000, a validated order).
pub trait Store: Send + Sync + 'static {
    /// The process's store, set up before the server starts.
    fn global() -> &'static Self;

    /// The user with this id, or `None` if there is none.
    fn user(&self, id: u64) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// The user's newest orders (at most 16), newest first, as a JSON array.
    fn orders_json(&self, user_id: u64)
        -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Stores a new order with its items and returns it with its id.
    fn create(
        &self,
        user_id: u64,
        items: Vec<Item>,
        total: f64,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;
}

/// Orders in memory: one global id counter and, per user, the newest orders first.
/// Users are computed from their id.
pub struct MemoryStore {
    next_id: AtomicU64,
    shards: Vec<Mutex<HashMap<u64, VecDeque<Order>>>>,
}

static MEMORY: LazyLock<MemoryStore> = LazyLock::new(MemoryStore::new);

impl MemoryStore {
    fn new() -> Self {
        Self {
            next_id: AtomicU64::new(1),
            shards: (0..STORE_SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, user_id: u64) -> &Mutex<HashMap<u64, VecDeque<Order>>> {
        &self.shards[(user_id % STORE_SHARDS as u64) as usize]
    }

    /// The id is taken under the user's lock so that a user's list is ordered by id even
    /// when that user's orders arrive concurrently.
    fn insert(&self, user_id: u64, items: Vec<Item>, total: f64) -> Order {
        let mut shard = self
            .shard(user_id)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let order = Order {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user_id,
            items,
            total,
            status: Cow::Borrowed("created"),
            created_at: epoch_millis(),
        };
        let orders = shard.entry(user_id).or_default();
        orders.push_front(order.clone());
        orders.truncate(ORDERS_PER_USER);
        order
    }

    /// Serializes a user's orders, newest first (an empty array for a user without orders).
    fn serialize_orders(&self, user_id: u64) -> Vec<u8> {
        let shard = self
            .shard(user_id)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match shard.get(&user_id) {
            Some(orders) => serde_json::to_vec(orders).expect("orders serialize"),
            None => b"[]".to_vec(),
        }
    }
}

impl Store for MemoryStore {
    fn global() -> &'static Self {
        &MEMORY
    }

    fn user(&self, id: u64) -> impl Future<Output = Result<Option<User>, StoreError>> + Send {
        ready(Ok(Some(User {
            id,
            name: format!("User {id}"),
            email: format!("user{id}@example.com"),
        })))
    }

    fn orders_json(
        &self,
        user_id: u64,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send {
        ready(Ok(self.serialize_orders(user_id)))
    }

    fn create(
        &self,
        user_id: u64,
        items: Vec<Item>,
        total: f64,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send {
        ready(Ok(self.insert(user_id, items, total)))
    }
}
