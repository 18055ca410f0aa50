'use strict';
// Request handling on bare node:http: a hand-written router for the lanebench
// endpoint contract. Every response is JSON.stringify'd per request and sent with an
// explicit Content-Length; node:http adds the Date header itself.

const { parseUserId, validateOrder } = require('./orders');

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

function handleCreateOrder(req, res, store) {
  readBody(req, (text, tooLarge) => {
    if (tooLarge) return sendJson(res, 413, { error: `request body exceeds ${MAX_BODY_BYTES} bytes` });
    let body;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return sendJson(res, 400, { error: `invalid JSON body: ${err.message}` });
    }
    const problem = validateOrder(body);
    if (problem !== null) return sendJson(res, 400, { error: problem });
    sendJson(res, 201, store.create(body));
  });
}

const USER_PATH = /^\/api\/users\/([^/]+)$/;
const USER_ORDERS_PATH = /^\/api\/users\/([^/]+)\/orders$/;

// A GET route also answers HEAD, as Express and most frameworks do; node:http drops the body.
function isGet(req) {
  return req.method === 'GET' || req.method === 'HEAD';
}

function createHandler(store) {
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
      const id = parsed.id;
      return sendJson(res, 200, { id, name: `User ${id}`, email: `user${id}@example.com` });
    }
    match = USER_ORDERS_PATH.exec(path);
    if (match !== null) {
      if (!isGet(req)) return sendMethodNotAllowed(req, res, path, 'GET, HEAD');
      const parsed = parseUserId(decodeURIComponentSafe(match[1]));
      if (!parsed.ok) return sendJson(res, parsed.status, { error: parsed.error });
      return sendJson(res, 200, store.forUser(parsed.id));
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
