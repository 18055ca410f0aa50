'use strict';
// Service-to-service mode (CONTRACT.md): with ORDERS_URL set, this process is a user service
// that calls its order service through ONE pooled keep-alive client per process, an undici
// Pool made at start-up. The routes stay in each target; this file holds what they share:
// parsing ORDERS_URL, the client (with the process's circuit breaker, breaker.js), and the
// downstream half of the two chain endpoints.
//
// Without ORDERS_URL nothing here runs and undici is never loaded (see process.js).

const { validateOrder, decodeOrder, isPlainObject } = require('./orders');
const { REFUSED } = require('./breaker');

// http://HOST:PORT with at most one trailing slash. HOST is a name, an IPv4 address or a
// bracketed IPv6 address; anything that would carry a path, a query or credentials fails.
const ORDERS_URL_FORM = /^http:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})\/?$/;

// Returns {origin} (no trailing slash), or {error} as a one-line message.
function parseOrdersUrl(raw) {
  const match = ORDERS_URL_FORM.exec(raw);
  const port = match === null ? 0 : Number(match[2]);
  if (match === null || port < 1 || port > 65535) {
    return { error: `ORDERS_URL must be http://HOST:PORT (no path), got '${raw}'` };
  }
  return { origin: `http://${match[1]}:${port}` };
}

// The user service's order: the path's id wins over any user_id in the body, whatever its
// type, and the items are checked as POST /api/orders checks them, the store's limits
// included (the BIGINT columns in database mode). Returns {error} or {order}.
function orderForUser(userId, body, store) {
  if (!isPlainObject(body)) return { error: 'request body must be a JSON object' };
  const order = { user_id: userId, items: body.items };
  const problem = validateOrder(order) || store.orderProblem(order);
  if (problem !== null) return { error: problem };
  // Only the contract's item fields travel downstream; unknown extras stay here.
  const items = order.items.map((item) => ({
    product_id: item.product_id,
    quantity: item.quantity,
    price: item.price,
  }));
  return { order: { user_id: userId, items } };
}

function decodeOrderList(value) {
  if (!Array.isArray(value)) return null;
  const orders = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    orders[i] = decodeOrder(value[i]);
    if (orders[i] === null) return null;
  }
  return orders;
}

// The answer's JSON, or undefined when it is not JSON (a failure to read it still throws).
async function readJson(body) {
  try {
    return await body.json();
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

// Drains an unwanted answer so that its connection can go back to the pool.
function discard(body) {
  return body.dump().catch(() => {});
}

class OrdersClient {
  // undici is each target's own dependency (like pg), so it is resolved from the entry point.
  // `breaker` is the process's CircuitBreaker, or null when BREAKER_FAILURES=0.
  constructor({ origin, timeoutMs, connections }, breaker) {
    const { Pool } = require.main.require('undici');
    // Chosen once: without a breaker a call does no breaker work at all, not even a check.
    this.breaker = breaker;
    this.call = breaker === null ? this.request : this.guardedCall;
    this.timeoutMs = timeoutMs;
    this.timeoutMessage = `no complete answer within ${timeoutMs} ms`;
    // At most `connections` sockets, each kept alive between calls and reused (undici's
    // default keep-alive: 4 s idle, or the server's Keep-Alive hint less 2 s). No pipelining:
    // one request per socket at a time, so a failure never takes a second request with it.
    // undici never retries on its own (that is its RetryAgent, not used here). The phase
    // timeouts only stop a connect, or a socket, outliving the per-call deadline below.
    this.pool = new Pool(origin, {
      connections,
      pipelining: 1,
      connectTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  // A call through the breaker: refused at once while it is open (or while the half-open probe
  // is in flight), otherwise made and its outcome, value or failure, settled on the breaker.
  // The refusal's failure text makes the order post's 503 'orders unavailable: circuit open'.
  async guardedCall(options, onResponse) {
    const ticket = this.breaker.admit();
    if (ticket === REFUSED) return { failure: 'circuit open' };
    let result = { failure: 'call did not complete' };
    try {
      result = await this.request(options, onResponse);
    } finally {
      // Even if request() broke its promise never to reject, the probe is settled, so the
      // breaker cannot stay half-open forever.
      this.breaker.settle(ticket, result.value !== undefined);
    }
    return result;
  }

  // One call with a deadline over all of it: waiting for a pooled socket, connecting,
  // sending, the headers and the whole body. `onResponse(statusCode, body)` reads the answer
  // and returns a promise of {value} or {failure}. Never rejects.
  async request(options, onResponse) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(this.timeoutMessage)), this.timeoutMs);
    try {
      const { statusCode, body } = await this.pool.request({ ...options, signal: controller.signal });
      return await onResponse(statusCode, body);
    } catch (err) {
      return { failure: err.message || String(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  // GET {ORDERS_URL}/api/users/{id}/orders: {value: orders} or {failure}.
  userOrders(userId) {
    return this.call({ method: 'GET', path: `/api/users/${userId}/orders` }, async (status, body) => {
      if (status !== 200) {
        await discard(body);
        return { failure: `order service answered ${status}` };
      }
      const orders = decodeOrderList(await readJson(body));
      if (orders === null) return { failure: 'order service answered something that is not a list of orders' };
      return { value: orders };
    });
  }

  // The summary of a user found by the store: its orders, or null and degraded when the
  // order service could not give them.
  async summary(user) {
    const result = await this.userOrders(user.id);
    const orders = result.value === undefined ? null : result.value;
    return { id: user.id, name: user.name, email: user.email, orders, degraded: orders === null };
  }

  // POST {ORDERS_URL}/api/orders, sent once: a retry could create the order twice.
  // Resolves to {status: 201, body: order} or {status: 503, body: {error}}.
  async createOrder(order) {
    const result = await this.call({
      method: 'POST',
      path: '/api/orders',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(order),
      // undici marks a POST non-idempotent already; said again since this is the rule.
      idempotent: false,
    }, async (status, body) => {
      if (status !== 201) {
        await discard(body);
        return { failure: `order service answered ${status}` };
      }
      const created = decodeOrder(await readJson(body));
      if (created === null) return { failure: 'order service answered something that is not an order' };
      return { value: created };
    });
    if (result.value !== undefined) return { status: 201, body: result.value };
    return { status: 503, body: { error: `orders unavailable: ${result.failure}` } };
  }
}

module.exports = { parseOrdersUrl, orderForUser, OrdersClient };
