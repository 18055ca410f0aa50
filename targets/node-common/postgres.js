'use strict';
// Database mode (STORE=postgres): users and orders in PostgreSQL through node-postgres
// (pg) and its Pool, one pool per process, with the statements CONTRACT.md prescribes.
// pg runs them as unnamed statements (parsed per execution), its default. Shared by the
// Node targets (express, node-http).

// pg is each target's own dependency (its package.json and lock file), and this file is
// outside their folders, so pg is resolved from the target's entry point.
const pg = require.main.require('pg');
const { StoreError, orderTotal } = require('./orders');

// BIGINT columns arrive as strings by default (they may exceed 2^53); the memory store
// answers JavaScript numbers, so the database store does too.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

// How long a request may wait for a pool connection (or a new connection to open).
const CONNECT_TIMEOUT_MS = 3000;
// JSON numbers are doubles: the largest BIGINT, 2^63-1, already reads as 2^63, which does
// not fit, so every integer from 2^63 on is refused.
const BIGINT_LIMIT = 2 ** 63;

const SELECT_USER = 'SELECT id, name, email FROM users WHERE id = $1';
const INSERT_ORDER = 'INSERT INTO orders (user_id, total, status, created_at) '
  + "VALUES ($1, $2, 'created', $3) RETURNING id";
const INSERT_ITEMS = 'INSERT INTO order_items (order_id, position, product_id, quantity, price) '
  + 'SELECT $1, t.position, t.product_id, t.quantity, t.price '
  + 'FROM unnest($2::bigint[], $3::bigint[], $4::float8[]) WITH ORDINALITY '
  + 'AS t(product_id, quantity, price, position)';
const SELECT_ORDERS = 'SELECT o.id, o.total, o.status, o.created_at, i.product_id, i.quantity, i.price '
  + 'FROM (SELECT id, total, status, created_at FROM orders WHERE user_id = $1 '
  + 'ORDER BY id DESC LIMIT 16) AS o '
  + 'JOIN order_items AS i ON i.order_id = o.id ORDER BY o.id DESC, i.position';

// Checks DATABASE_URL; returns an error message naming it, or null.
function checkDatabaseUrl(url) {
  if (!/^postgres(ql)?:\/\//.test(url)) return `DATABASE_URL must be a postgres:// URL, got '${url}'`;
  try {
    new URL(url); // eslint-disable-line no-new
  } catch (err) {
    return `DATABASE_URL '${url}': ${err.message}`;
  }
  return null;
}

// Opens one connection and closes it, so an unreachable database fails at startup.
async function probeDatabase(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
  } finally {
    await client.end().catch(() => {});
  }
}

function unavailable(err) {
  return new StoreError(503, `database unavailable: ${err.message}`);
}

function bigintProblem(value, field) {
  if (value < BIGINT_LIMIT) return null;
  return `${field} ${value} does not fit the database's BIGINT (max 9223372036854775807)`;
}

// Why a valid order cannot be stored, or null.
function orderProblem(order) {
  let problem = bigintProblem(order.user_id, 'user_id');
  for (let i = 0; problem === null && i < order.items.length; i++) {
    problem = bigintProblem(order.items[i].product_id, 'product_id');
  }
  return problem;
}

// Rows come ordered by order id, then position: one order's items are adjacent.
function groupOrders(userId, rows) {
  const orders = [];
  for (const row of rows) {
    const item = { product_id: row.product_id, quantity: row.quantity, price: row.price };
    const last = orders[orders.length - 1];
    if (last !== undefined && last.id === row.id) {
      last.items.push(item);
    } else {
      orders.push({
        id: row.id,
        user_id: userId,
        items: [item],
        total: row.total,
        status: row.status,
        created_at: row.created_at,
      });
    }
  }
  return orders;
}

// The same methods as the memory store, returning promises; failures reject with a
// StoreError (400 for an order the columns cannot hold, 503 for the database).
class PgStore {
  constructor(url, max) {
    this.pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    // An idle connection that breaks (the database restarted) is dropped by the pool;
    // without a listener the 'error' event would end the process.
    this.pool.on('error', () => {});
  }

  // The BIGINT limit, for a user service that validates an order it forwards.
  orderProblem(order) {
    return orderProblem(order);
  }

  async user(id) {
    let result;
    try {
      result = await this.pool.query(SELECT_USER, [id]);
    } catch (err) {
      throw unavailable(err);
    }
    return result.rows.length === 0 ? null : result.rows[0];
  }

  async forUser(userId) {
    let result;
    try {
      result = await this.pool.query(SELECT_ORDERS, [userId]);
    } catch (err) {
      throw unavailable(err);
    }
    return groupOrders(userId, result.rows);
  }

  async create(order) {
    // Everything is checked before the transaction starts, so a bad item writes nothing.
    const problem = orderProblem(order);
    if (problem !== null) throw new StoreError(400, problem);
    const items = order.items.map((item) => (
      { product_id: item.product_id, quantity: item.quantity, price: item.price }
    ));
    const total = orderTotal(items);
    const createdAt = Date.now();
    let client;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err);
    }
    let failure;
    try {
      await client.query('BEGIN');
      const inserted = await client.query(INSERT_ORDER, [order.user_id, total, createdAt]);
      const id = inserted.rows[0].id;
      await client.query(INSERT_ITEMS, [
        id,
        items.map((item) => item.product_id),
        items.map((item) => item.quantity),
        items.map((item) => item.price),
      ]);
      await client.query('COMMIT');
      return { id, user_id: order.user_id, items, total, status: 'created', created_at: createdAt };
    } catch (err) {
      failure = err;
      await client.query('ROLLBACK').catch(() => {});
      throw unavailable(err);
    } finally {
      // A connection that failed mid-transaction is discarded rather than reused.
      client.release(failure);
    }
  }
}

module.exports = { PgStore, checkDatabaseUrl, probeDatabase };
