//! Orders in memory (the default store): one global id counter and, per user, the newest
//! orders first. Users are computed from their id.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::future::{ready, Future};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::{epoch_millis, Item, Order, Store, StoreError, User, ORDERS_PER_USER};

/// Lock shards for the order store; enough that concurrent users rarely share a lock.
const STORE_SHARDS: usize = 64;

pub struct MemoryStore {
    next_id: AtomicU64,
    shards: Vec<Mutex<HashMap<u64, VecDeque<Order>>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self {
            next_id: AtomicU64::new(1),
            shards: (0..STORE_SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// A store that lives as long as the process, so handlers share it by reference.
    pub fn leaked() -> &'static MemoryStore {
        Box::leak(Box::new(Self::new()))
    }

    fn shard(&self, user_id: u64) -> &Mutex<HashMap<u64, VecDeque<Order>>> {
        &self.shards[(user_id % STORE_SHARDS as u64) as usize]
    }

    /// Every id is a user: the contract's users are computed, not stored.
    pub fn user(&self, id: u64) -> User {
        User {
            id,
            name: format!("User {id}"),
            email: format!("user{id}@example.com"),
        }
    }

    /// Stores a new order. The id is taken under the user's lock so that a user's list is
    /// ordered by id even when that user's orders arrive concurrently.
    pub fn insert(&self, user_id: u64, items: Vec<Item>, total: f64) -> Order {
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

    /// A copy of a user's orders, newest first (empty for a user without orders).
    pub fn copy_of(&self, user_id: u64) -> Vec<Order> {
        let shard = self
            .shard(user_id)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        shard
            .get(&user_id)
            .map(|orders| orders.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A user's orders, newest first, serialized under the lock instead of copied (an
    /// empty array for a user without orders).
    pub fn serialize_orders(&self, user_id: u64) -> Vec<u8> {
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

impl Store for &'static MemoryStore {
    fn user(&self, id: u64) -> impl Future<Output = Result<Option<User>, StoreError>> + Send {
        ready(Ok(Some(MemoryStore::user(self, id))))
    }

    fn orders_of(
        &self,
        user_id: u64,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send {
        ready(Ok(self.copy_of(user_id)))
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
