"""Database mode (STORE=postgres): users and orders in PostgreSQL through an asyncpg pool.

Each uvicorn worker process opens its own pool at startup (the app's lifespan), with the
statements targets/CONTRACT.md prescribes; asyncpg prepares and caches each one per
connection by default.

Run as a script (`python postgres.py`) it is the preflight the target's run command does
before uvicorn starts: it checks STORE and DATABASE_URL and that the database answers, with
a one-line error and exit code 2 (bad setting) or 1 (unreachable database).
"""

import asyncio
import math
import os
import sys
import time
import urllib.parse
from collections.abc import Iterable

import asyncpg

# How long a request may wait for a pool connection (or a new connection to open).
ACQUIRE_TIMEOUT_S = 3.0
BIGINT_MAX = 2**63 - 1

SELECT_USER = "SELECT id, name, email FROM users WHERE id = $1"
INSERT_ORDER = (
    "INSERT INTO orders (user_id, total, status, created_at) "
    "VALUES ($1, $2, 'created', $3) RETURNING id"
)
INSERT_ITEMS = (
    "INSERT INTO order_items (order_id, position, product_id, quantity, price) "
    "SELECT $1, t.position, t.product_id, t.quantity, t.price "
    "FROM unnest($2::bigint[], $3::bigint[], $4::float8[]) WITH ORDINALITY "
    "AS t(product_id, quantity, price, position)"
)
SELECT_ORDERS = (
    "SELECT o.id, o.total, o.status, o.created_at, i.product_id, i.quantity, i.price "
    "FROM (SELECT id, total, status, created_at FROM orders WHERE user_id = $1 "
    "ORDER BY id DESC LIMIT 16) AS o "
    "JOIN order_items AS i ON i.order_id = o.id ORDER BY o.id DESC, i.position"
)


class StoreError(Exception):
    """A store failure with the HTTP status to answer: 400 for an order the columns
    cannot hold, 503 when the database failed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SettingError(Exception):
    """STORE or DATABASE_URL is unusable (exit code 2)."""


def store_kind() -> str:
    """STORE: "memory" (the default) or "postgres"."""
    kind = os.environ.get("STORE", "memory")
    if kind not in ("memory", "postgres"):
        raise SettingError(f"STORE must be 'memory' or 'postgres', got '{kind}'")
    return kind


def database_url() -> str:
    """DATABASE_URL, checked to be a postgres:// URL with a valid port."""
    url = os.environ.get("DATABASE_URL")
    if url is None:
        raise SettingError("STORE=postgres needs DATABASE_URL (postgres://...)")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SettingError(f"DATABASE_URL must be a postgres:// URL, got '{url}'")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise SettingError(f"DATABASE_URL '{url}': {exc}") from None
    return url


def pool_size(workers: int) -> int:
    """CONTRACT.md, "Pool size": max(4, 2 * WORKERS) connections in all, split over the
    worker processes (4 for a single process, 2 per worker otherwise)."""
    return math.ceil(max(4, 2 * workers) / workers)


def _bigint(value: int, field: str) -> int:
    if value > BIGINT_MAX:
        raise StoreError(400, f"invalid order: {field} {value} does not fit the database's BIGINT (max {BIGINT_MAX})")
    return value


def check_fits(user_id: int, items: Iterable[tuple[int, int]]) -> None:
    """Raises the 400 for a user_id or an item's (product_id, quantity) that the BIGINT
    columns cannot hold."""
    _bigint(user_id, "user_id")
    for product_id, quantity in items:
        _bigint(product_id, "product_id")
        _bigint(quantity, "quantity")


class PgStore:
    """Users and orders in PostgreSQL; the methods return rows as plain tuples for main.py
    to turn into its response models."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._size = size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        # min_size = max_size: asyncpg's default shape (a fixed pool opened at startup).
        self._pool = await asyncpg.create_pool(
            self._url, min_size=self._size, max_size=self._size, timeout=ACQUIRE_TIMEOUT_S
        )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()

    async def user(self, user_id: int) -> asyncpg.Record | None:
        try:
            async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
                return await conn.fetchrow(SELECT_USER, user_id)
        except Exception as exc:
            raise StoreError(503, f"database unavailable: {exc!r}") from exc

    async def order_rows(self, user_id: int) -> list[asyncpg.Record]:
        """The rows of SELECT_ORDERS: order id, then position."""
        try:
            async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
                return await conn.fetch(SELECT_ORDERS, user_id)
        except Exception as exc:
            raise StoreError(503, f"database unavailable: {exc!r}") from exc

    async def insert(self, user_id: int, items: list[tuple[int, int, float]], total: float) -> tuple[int, int]:
        """Writes the order and its (product_id, quantity, price) items in one
        transaction; returns (id, created_at)."""
        # Everything is checked before the transaction starts, so a bad item writes nothing.
        check_fits(user_id, ((product_id, quantity) for product_id, quantity, _ in items))
        created_at = time.time_ns() // 1_000_000
        try:
            async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
                async with conn.transaction():
                    order_id = await conn.fetchval(INSERT_ORDER, user_id, total, created_at)
                    await conn.execute(
                        INSERT_ITEMS,
                        order_id,
                        [item[0] for item in items],
                        [item[1] for item in items],
                        [item[2] for item in items],
                    )
        except Exception as exc:
            raise StoreError(503, f"database unavailable: {exc!r}") from exc
        return order_id, created_at


async def _probe(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=ACQUIRE_TIMEOUT_S)
    await conn.close()


def preflight() -> int:
    """The exit code for the run command: 0 to go on and start uvicorn."""
    try:
        if store_kind() == "memory":
            return 0
        url = database_url()
    except SettingError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        asyncio.run(_probe(url))
    except Exception as exc:
        print(f"cannot connect to the database (DATABASE_URL): {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(preflight())
