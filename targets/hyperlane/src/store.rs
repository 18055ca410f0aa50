//! Where users and orders come from: the [`Store`] trait the route hooks are generic over,
//! implemented by the shared in-memory and PostgreSQL stores (`targets/rust-store`).
//!
//! hyperlane hooks carry no application state, so each store is a process-wide static that
//! the route hooks reach through [`Store::global`]. The hooks are monomorphized per store,
//! so memory mode runs the same code as before the database existed: its futures are ready
//! at once.

use std::future::{ready, Future};
use std::sync::{LazyLock, OnceLock};

pub use target_store::{Item, MemoryStore, Order, PgStore, StoreError, User};

static MEMORY: LazyLock<MemoryStore> = LazyLock::new(MemoryStore::new);

/// The process's database store, installed by [`install`] before the server starts.
static POSTGRES: OnceLock<PgStore> = OnceLock::new();

/// Makes `store` the one [`Store::global`] returns for `PgStore` (the first, if called twice).
pub fn install(store: PgStore) {
    POSTGRES.get_or_init(|| store);
}

/// Users and orders, as the hooks need them. Ids reaching a store are already in the
/// contract's ranges (users 1..=1000000, a validated order).
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

impl Store for MemoryStore {
    fn global() -> &'static Self {
        &MEMORY
    }

    fn user(&self, id: u64) -> impl Future<Output = Result<Option<User>, StoreError>> + Send {
        ready(Ok(Some(MemoryStore::user(self, id))))
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

impl Store for PgStore {
    fn global() -> &'static Self {
        POSTGRES
            .get()
            .expect("the database store is installed before the server starts")
    }

    async fn user(&self, id: u64) -> Result<Option<User>, StoreError> {
        PgStore::user(self, id).await
    }

    async fn orders_json(&self, user_id: u64) -> Result<Vec<u8>, StoreError> {
        let orders = PgStore::orders_of(self, user_id).await?;
        Ok(serde_json::to_vec(&orders).expect("orders serialize"))
    }

    async fn create(
        &self,
        user_id: u64,
        items: Vec<Item>,
        total: f64,
    ) -> Result<Order, StoreError> {
        PgStore::create(self, user_id, items, total).await
    }
}
