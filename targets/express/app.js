'use strict';
// The Express application: routes of the lanebench endpoint contract, with every
// response (errors, 404 and 405 included) sent as JSON through res.json.
//
// The store is the in-memory OrderStore, which answers at once, or the PgStore, which
// returns promises; a handler waits only for a promise, so memory mode stays synchronous
// (no extra tick per request). Database failures reach the error handler as StoreErrors.
//
// With ORDERS_URL (service-to-service mode) createApp gets an OrdersClient (orderService) and mounts two
// more routes (chainRoutes); without it they do not exist, so the app is the same as before.

const express = require('express');
const { parseUserId, validateOrder, StoreError } = require('../node-common/orders');
const { orderForUser } = require('../node-common/chain');

function methodNotAllowed(allowed) {
  return (req, res) => {
    res.set('Allow', allowed);
    res.status(405).json({ error: `method ${req.method} not allowed on ${req.path}` });
  };
}

function sendUser(res, user) {
  if (user === null) return res.status(404).json({ error: 'user not found' });
  res.json(user);
}

// Route middleware: the path's user id, judged before anything else (the body included).
function userIdParam(req, res, next) {
  const parsed = parseUserId(req.params.id);
  if (!parsed.ok) return res.status(parsed.status).json({ error: parsed.error });
  res.locals.userId = parsed.id;
  next();
}

function sendSummary(res, orderService, user) {
  if (user === null) return res.status(404).json({ error: 'user not found' });
  return orderService.summary(user).then((summary) => {
    if (summary.degraded) res.set('X-Degraded', 'true');
    res.json(summary);
  });
}

// GET /api/users/:id/summary and POST /api/users/:id/orders, answered through the order
// service. Registered before the 405 catch-alls of the paths they share.
function chainRoutes(app, store, orderService) {
  app.get('/api/users/:id/summary', userIdParam, (req, res, next) => {
    const user = store.user(res.locals.userId);
    if (user instanceof Promise) return user.then((found) => sendSummary(res, orderService, found)).catch(next);
    sendSummary(res, orderService, user);
  });
  app.all('/api/users/:id/summary', methodNotAllowed('GET, HEAD'));

  app.post('/api/users/:id/orders', userIdParam, express.json(), (req, res) => {
    const checked = orderForUser(res.locals.userId, req.body, store);
    if (checked.error !== undefined) return res.status(400).json({ error: checked.error });
    orderService.createOrder(checked.order).then((result) => res.status(result.status).json(result.body));
  });
}

function createApp(store, orderService) {
  const app = express();
  // Express's production best-practice guide recommends not advertising the framework.
  app.disable('x-powered-by');
  // The contract matches paths exactly: /api/users/42/ is an unknown path, not /api/users/42.
  app.enable('strict routing');

  app.get('/health', (req, res) => {
    res.json({ status: 'healthy', timestamp: Date.now() });
  });
  app.all('/health', methodNotAllowed('GET, HEAD'));

  app.get('/api/users/:id', (req, res, next) => {
    const parsed = parseUserId(req.params.id);
    if (!parsed.ok) return res.status(parsed.status).json({ error: parsed.error });
    const user = store.user(parsed.id);
    if (user instanceof Promise) return user.then((found) => sendUser(res, found), next);
    sendUser(res, user);
  });
  app.all('/api/users/:id', methodNotAllowed('GET, HEAD'));

  if (orderService !== null) chainRoutes(app, store, orderService);

  app.get('/api/users/:id/orders', (req, res, next) => {
    const parsed = parseUserId(req.params.id);
    if (!parsed.ok) return res.status(parsed.status).json({ error: parsed.error });
    const orders = store.forUser(parsed.id);
    if (orders instanceof Promise) return orders.then((found) => res.json(found), next);
    res.json(orders);
  });
  app.all('/api/users/:id/orders', methodNotAllowed(orderService === null ? 'GET, HEAD' : 'GET, HEAD, POST'));

  app.post('/api/orders', express.json(), (req, res, next) => {
    const problem = validateOrder(req.body);
    if (problem !== null) return res.status(400).json({ error: problem });
    const created = store.create(req.body);
    if (created instanceof Promise) return created.then((order) => res.status(201).json(order), next);
    res.status(201).json(created);
  });
  app.all('/api/orders', methodNotAllowed('POST'));

  app.use((req, res) => {
    res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
  });

  // Store errors (an order the database cannot hold, the database failing), body-parser
  // errors (malformed JSON, too large, bad charset; they carry a `type`) and the router's
  // undecodable path parameters come with their own status; anything else is a bug and
  // still answers in JSON.
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    if (err instanceof StoreError) return res.status(err.status).json({ error: err.message });
    const status = Number.isInteger(err.status) && err.status >= 400 && err.status < 500
      ? err.status
      : 500;
    let message = 'internal error';
    if (status !== 500) message = err.type ? `invalid request body: ${err.message}` : err.message;
    res.status(status).json({ error: message });
  });

  return app;
}

module.exports = { createApp };
