'use strict';
// Order validation and the per-process in-memory order store (the default store; the
// PostgreSQL one is in postgres.js), shared by the Node targets (express, node-http). Kept
// apart from the HTTP layer so the routes only translate between HTTP and these calls.

const MAX_USER_ID = 1000000;
const ORDERS_PER_USER = 16;

// Parses a path id: digits only (a leading '-' still counts as an integer, just out
// of range). Returns {ok:false,status,error} or {ok:true,id}.
function parseUserId(raw) {
  if (!/^-?[0-9]+$/.test(raw)) {
    return { ok: false, status: 400, error: `user id must be an integer, got '${raw}'` };
  }
  const id = Number(raw);
  if (!(id >= 1 && id <= MAX_USER_ID)) {
    return { ok: false, status: 404, error: `user ${raw} not found` };
  }
  return { ok: true, id };
}

// The contract's ids are u64. JSON.parse yields doubles, so ids above 2^53 are accepted
// but lose precision: the platform's parser cannot do better without a custom one.
const U64_MAX = 18446744073709551615;

function isU64(value) {
  return Number.isInteger(value) && value >= 0 && value <= U64_MAX;
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// Checks an order request body against the contract. Returns an error message, or
// null when the body is a valid order.
function validateOrder(body) {
  if (!isPlainObject(body)) return 'request body must be a JSON object';
  if (!isU64(body.user_id)) return 'user_id must be a non-negative integer';
  if (!Array.isArray(body.items)) return 'items must be an array';
  if (body.items.length === 0) return 'items must not be empty';
  for (let i = 0; i < body.items.length; i++) {
    const item = body.items[i];
    if (!isPlainObject(item)) return `items[${i}] must be an object`;
    if (!isU64(item.product_id)) {
      return `items[${i}].product_id must be a non-negative integer`;
    }
    if (!Number.isSafeInteger(item.quantity) || item.quantity < 1) {
      return `items[${i}].quantity must be an integer >= 1`;
    }
    // JSON.parse turns 1e999 into Infinity, so finiteness needs its own check.
    if (typeof item.price !== 'number' || !Number.isFinite(item.price) || item.price < 0) {
      return `items[${i}].price must be a finite number >= 0`;
    }
  }
  const total = orderTotal(body.items);
  if (!Number.isFinite(total)) return 'order total (sum of price * quantity) is not a finite number';
  return null;
}

// An order as another service sent it (service-to-service mode), rebuilt field by field
// into the shape the store creates, or null when it is not one.
function decodeOrder(value) {
  if (!isPlainObject(value) || !isU64(value.id) || !isU64(value.user_id) || !Array.isArray(value.items)
    || typeof value.total !== 'number' || typeof value.status !== 'string' || !isU64(value.created_at)) {
    return null;
  }
  const items = new Array(value.items.length);
  for (let i = 0; i < items.length; i++) {
    const item = value.items[i];
    if (!isPlainObject(item) || !isU64(item.product_id) || !Number.isSafeInteger(item.quantity)
      || typeof item.price !== 'number') {
      return null;
    }
    items[i] = { product_id: item.product_id, quantity: item.quantity, price: item.price };
  }
  return {
    id: value.id,
    user_id: value.user_id,
    items,
    total: value.total,
    status: value.status,
    created_at: value.created_at,
  };
}

function orderTotal(items) {
  return items.reduce((sum, item) => sum + item.price * item.quantity, 0);
}

// A store failure with the HTTP status to answer: 400 for an order the store cannot
// hold, 503 when the database failed.
class StoreError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// One store per process. With node:cluster, worker k of n hands out ids k, k+n,
// k+2n, ... so ids stay unique across workers and increase within each one.
class OrderStore {
  constructor(workerIndex, workerCount) {
    this.nextId = workerIndex;
    this.step = workerCount;
    this.byUser = new Map();
  }

  create(order) {
    const items = order.items.map((item) => ({
      product_id: item.product_id,
      quantity: item.quantity,
      price: item.price,
    }));
    const total = orderTotal(items);
    const created = {
      id: this.nextId,
      user_id: order.user_id,
      items,
      total,
      status: 'created',
      created_at: Date.now(),
    };
    this.nextId += this.step;
    let list = this.byUser.get(order.user_id);
    if (list === undefined) {
      list = [];
      this.byUser.set(order.user_id, list);
    }
    list.unshift(created);
    // Only the newest orders are kept so memory stays bounded under a long POST load.
    if (list.length > ORDERS_PER_USER) list.length = ORDERS_PER_USER;
    return created;
  }

  forUser(userId) {
    return this.byUser.get(userId) || [];
  }

  // Every valid order fits memory; the database store has limits of its own.
  orderProblem() {
    return null;
  }

  // Every id in range is a user, computed from the id.
  user(id) {
    return { id, name: `User ${id}`, email: `user${id}@example.com` };
  }
}

module.exports = {
  parseUserId, validateOrder, decodeOrder, isPlainObject, orderTotal, OrderStore, StoreError,
};
