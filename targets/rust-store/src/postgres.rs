//! Database mode (`STORE=postgres`): users and orders in PostgreSQL through a sqlx `PgPool`,
//! with the statements `targets/CONTRACT.md` prescribes (sqlx prepares and caches each one
//! per connection by default).

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;

use crate::{epoch_millis, Item, Order, Store, StoreError, User};

/// How long a request may wait for a pool connection (or a new connection to open).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

const SELECT_USER: &str = "SELECT id, name, email FROM users WHERE id = $1";
const INSERT_ORDER: &str = "INSERT INTO orders (user_id, total, status, created_at) \
     VALUES ($1, $2, 'created', $3) RETURNING id";
const INSERT_ITEMS: &str =
    "INSERT INTO order_items (order_id, position, product_id, quantity, price) \
     SELECT $1, t.position, t.product_id, t.quantity, t.price \
     FROM unnest($2::bigint[], $3::bigint[], $4::float8[]) WITH ORDINALITY \
     AS t(product_id, quantity, price, position)";
const SELECT_ORDERS: &str = "SELECT o.id, o.total, o.status, o.created_at, \
     i.product_id, i.quantity, i.price \
     FROM (SELECT id, total, status, created_at FROM orders WHERE user_id = $1 \
     ORDER BY id DESC LIMIT 16) AS o \
     JOIN order_items AS i ON i.order_id = o.id ORDER BY o.id DESC, i.position";

/// One row of `SELECT_ORDERS`: an order's columns repeated for each of its items.
type OrderItemRow = (i64, f64, String, i64, i64, i64, f64);

/// Parses `DATABASE_URL`; the message names the variable and the problem.
pub fn parse_url(url: &str) -> Result<PgConnectOptions, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(format!(
            "DATABASE_URL must be a postgres:// URL, got {url:?}"
        ));
    }
    PgConnectOptions::from_str(url).map_err(|error| format!("DATABASE_URL {url:?}: {error}"))
}

/// Users and orders in PostgreSQL. Cloning shares the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Checks that the database answers, so an unreachable one fails at startup with the
    /// driver's own reason (the pool would only report that it timed out), then opens the
    /// pool. The pool is checked on use rather than pinged before every acquire (sqlx's
    /// default), so a request costs the same round trips as on the other targets' drivers;
    /// a broken connection fails its request with a 503 and is dropped.
    pub async fn connect(options: PgConnectOptions, max_connections: u32) -> Result<Self, String> {
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(|error| format!("cannot connect to the database (DATABASE_URL): {error}"))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        Ok(Self { pool })
    }
}

fn unavailable(error: sqlx::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

/// A u64 from the request as a BIGINT, or the 400 naming the field.
fn bigint(value: u64, field: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| {
        StoreError::Invalid(format!(
            "{field} {value} does not fit the database's BIGINT (max {})",
            i64::MAX
        ))
    })
}

/// Groups the rows of `SELECT_ORDERS` (ordered by order id, then position) into orders.
fn group_orders(user_id: u64, rows: Vec<OrderItemRow>) -> Vec<Order> {
    let mut orders: Vec<Order> = Vec::new();
    for (id, total, status, created_at, product_id, quantity, price) in rows {
        let item = Item {
            product_id: product_id as u64,
            quantity: quantity as u64,
            price,
        };
        match orders.last_mut() {
            Some(order) if order.id == id as u64 => order.items.push(item),
            _ => orders.push(Order {
                id: id as u64,
                user_id,
                items: vec![item],
                total,
                status: Cow::Owned(status),
                created_at: created_at as u64,
            }),
        }
    }
    orders
}

impl PgStore {
    /// Stores a new order with its items in one transaction and returns it with its id.
    pub async fn create(
        &self,
        user_id: u64,
        items: Vec<Item>,
        total: f64,
    ) -> Result<Order, StoreError> {
        // Everything is checked before the transaction starts, so a bad item writes nothing.
        let user = bigint(user_id, "user_id")?;
        let mut product_ids = Vec::with_capacity(items.len());
        let mut quantities = Vec::with_capacity(items.len());
        let mut prices = Vec::with_capacity(items.len());
        for item in &items {
            product_ids.push(bigint(item.product_id, "product_id")?);
            quantities.push(bigint(item.quantity, "quantity")?);
            prices.push(item.price);
        }
        let created_at = epoch_millis();
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let (id,): (i64,) = sqlx::query_as(INSERT_ORDER)
            .bind(user)
            .bind(total)
            .bind(created_at as i64)
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query(INSERT_ITEMS)
            .bind(id)
            .bind(product_ids)
            .bind(quantities)
            .bind(prices)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Order {
            id: id as u64,
            user_id,
            items,
            total,
            status: Cow::Borrowed("created"),
            created_at,
        })
    }

    /// The user with this id, or `None` if there is none.
    pub async fn user(&self, id: u64) -> Result<Option<User>, StoreError> {
        let row: Option<(i64, String, String)> = sqlx::query_as(SELECT_USER)
            .bind(id as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(row.map(|(id, name, email)| User {
            id: id as u64,
            name,
            email,
        }))
    }

    /// The user's newest orders (at most 16), newest first.
    pub async fn orders_of(&self, user_id: u64) -> Result<Vec<Order>, StoreError> {
        let rows: Vec<OrderItemRow> = sqlx::query_as(SELECT_ORDERS)
            .bind(user_id as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(group_orders(user_id, rows))
    }
}

impl Store for PgStore {
    async fn user(&self, id: u64) -> Result<Option<User>, StoreError> {
        PgStore::user(self, id).await
    }

    async fn orders_of(&self, user_id: u64) -> Result<Vec<Order>, StoreError> {
        PgStore::orders_of(self, user_id).await
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
