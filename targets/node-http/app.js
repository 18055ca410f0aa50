'use strict';
// Request handling on bare node:http: a hand-written router for the lanebench
// endpoint contract. Every response is JSON.stringify'd per request and sent with an
// explicit Content-Length; node:http adds the Date header itself.
//
// The store is the in-memory OrderStore, which answers at once, or the PgStore, which
// returns promises; a handler waits only for a promise, so memory mode stays synchronous
// (no extra tick per request).
//
// With ORDERS_URL (service-to-service mode) the handler gets an OrdersClient (orderService)
// and serves two more routes, summaries and orders placed through the user service; without
// it they are never matched, so the other routes do exactly the work they did before.

const { parseUserId, validateOrder, StoreError } = require('../node-common/orders');
const { orderForUser } = require('../node-common/chain');

// Bodies larger than this are refused: the contract's orders are tiny, and an unbounded
// buffer would let one client exhaust the worker's memory.
const MAX_BODY_BYTES = 1024 * 1024;

function sendJson(res, status, value, extraHeaders) {
  const body = JSON.stringify(value);
  const headers = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  };
  if (extraHeaders) Object.assign(headers, extraHeaders);
  res.writeHead(status, headers);
  res.end(body);
}

// A rejected store promise: its StoreError status (400 or 503), never a crash.
function sendStoreError(res, err) {
  if (err instanceof StoreError) return sendJson(res, err.status, { error: err.message });
  sendJson(res, 503, { error: `database unavailable: ${err.message}` });
}

// Sends a store result now, or when its promise settles.
function sendResult(res, status, result) {
  if (result instanceof Promise) {
    result.then((value) => sendJson(res, status, value), (err) => sendStoreError(res, err));
  } else {
    sendJson(res, status, result);
  }
}

function sendUser(res, user) {
  if (user === null) return sendJson(res, 404, { error: 'user not found' });
  sendJson(res, 200, user);
}

function sendMethodNotAllowed(req, res, path, allowed) {
  sendJson(res, 405, { error: `method ${req.method} not allowed on ${path}` }, { Allow: allowed });
}

function readBody(req, onBody) {
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk) => {
    if (tooLarge) return;
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      tooLarge = true;
      return;
    }
    chunks.push(chunk);
  });
  // A client that disconnects mid-body just ends this request; it must not crash the worker.
  req.on('error', () => {});
  req.on('end', () => onBody(tooLarge ? null : Buffer.concat(chunks).toString('utf8'), tooLarge));
}

// Reads JSON from the request body; calls onValue(value) or answers 413/400 itself.
function readJson(req, res, onValue) {
  readBody(req, (text, tooLarge) => {
    if (tooLarge) return sendJson(res, 413, { error: `request body exceeds ${MAX_BODY_BYTES} bytes` });
    let value;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return sendJson(res, 400, { error: `invalid JSON body: ${err.message}` });
    }
    onValue(value);
  });
}

function handleCreateOrder(req, res, store) {
  readJson(req, res, (body) => {
    const problem = validateOrder(body);
    if (problem !== null) return sendJson(res, 400, { error: problem });
    sendResult(res, 201, store.create(body));
  });
}

function sendSummary(res, orderService, user) {
  if (user === null) return sendJson(res, 404, { error: 'user not found' });
  orderService.summary(user).then((summary) => {
    sendJson(res, 200, summary, summary.degraded ? { 'X-Degraded': 'true' } : undefined);
  });
}

// GET /api/users/{id}/summary: the user from the store, its orders from the order service.
function handleSummary(res, store, orderService, rawId) {
  const parsed = parseUserId(decodeURIComponentSafe(rawId));
  if (!parsed.ok) return sendJson(res, parsed.status, { error: parsed.error });
  const user = store.user(parsed.id);
  if (user instanceof Promise) {
    return user.then((found) => sendSummary(res, orderService, found), (err) => sendStoreError(res, err));
  }
  sendSummary(res, orderService, user);
}

// POST /api/users/{id}/orders: the id is judged before the body is read, then the order goes
// to the order service.
function handleUserOrder(req, res, store, orderService, rawId) {
  const parsed = parseUserId(decodeURIComponentSafe(rawId));
  if (!parsed.ok) return sendJson(res, parsed.status, { error: parsed.error });
  readJson(req, res, (body) => {
    const checked = orderForUser(parsed.id, body, store);
    if (checked.error !== undefined) return sendJson(res, 400, { error: checked.error });
    orderService.createOrder(checked.order).then((result) => sendJson(res, result.status, result.body));
  });
}

const USER_PATH = /^\/api\/users\/([^/]+)$/;
const USER_ORDERS_PATH = /^\/api\/users\/([^/]+)\/orders$/;
const USER_SUMMARY_PATH = /^\/api\/users\/([^/]+)\/summary$/;

// A GET route also answers HEAD, as Express and most frameworks do; node:http drops the body.
function isGet(req) {
  return req.method === 'GET' || req.method === 'HEAD';
}

function createHandler(store, orderService) {
  const userOrdersAllow = orderService === null ? 'GET, HEAD' : 'GET, HEAD, POST';
  return (req, res) => {
    const query = req.url.indexOf('?');
    const path = query === -1 ? req.url : req.url.slice(0, query);

    if (path === '/health') {
      if (!isGet(req)) return sendMethodNotAllowed(req, res, path, 'GET, HEAD');
      return sendJson(res, 200, { status: 'healthy', timestamp: Date.now() });
    }
    if (path === '/api/orders') {
      if (req.method !== 'POST') return sendMethodNotAllowed(req, res, path, 'POST');
      return handleCreateOrder(req, res, store);
    }
    let match = USER_PATH.exec(path);
    if (match !== null) {
      if (!isGet(req)) return sendMethodNotAllowed(req, res, path, 'GET, HEAD');
      const parsed = parseUserId(decodeURIComponentSafe(match[1]));
      if (!parsed.ok) return sendJson(res, parsed.status, { error: parsed.error });
      const user = store.user(parsed.id);
      if (user instanceof Promise) {
        return user.then((found) => sendUser(res, found), (err) => sendStoreError(res, err));
      }
      return sendUser(res, user);
    }
    match = USER_ORDERS_PATH.exec(path);
    if (match !== null) {
      if (!isGet(req)) {
        if (orderService !== null && req.method === 'POST') {
          return handleUserOrder(req, res, store, orderService, match[1]);
        }
        return sendMethodNotAllowed(req, res, path, userOrdersAllow);
      }
      const parsed = parseUserId(decodeURIComponentSafe(match[1]));
      if (!parsed.ok) return sendJson(res, parsed.status, { error: parsed.error });
      return sendResult(res, 200, store.forUser(parsed.id));
    }
    if (orderService !== null) {
      match = USER_SUMMARY_PATH.exec(path);
      if (match !== null) {
        if (!isGet(req)) return sendMethodNotAllowed(req, res, path, 'GET, HEAD');
        return handleSummary(res, store, orderService, match[1]);
      }
    }
    sendJson(res, 404, { error: `no route for ${req.method} ${path}` });
  };
}

// A malformed percent-escape is just a non-integer id, not a server error.
function decodeURIComponentSafe(raw) {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

module.exports = { createHandler };
