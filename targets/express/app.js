'use strict';
// The Express application: routes of the lanebench endpoint contract, with every
// response (errors, 404 and 405 included) sent as JSON through res.json.

const express = require('express');
const { parseUserId, validateOrder, OrderStore } = require('./orders');

function methodNotAllowed(allowed) {
  return (req, res) => {
    res.set('Allow', allowed);
    res.status(405).json({ error: `method ${req.method} not allowed on ${req.path}` });
  };
}

function createApp(store) {
  const app = express();
  // Express's production best-practice guide recommends not advertising the framework.
  app.disable('x-powered-by');
  // The contract matches paths exactly: /api/users/42/ is an unknown path, not /api/users/42.
  app.enable('strict routing');

  app.get('/health', (req, res) => {
    res.json({ status: 'healthy', timestamp: Date.now() });
  });
  app.all('/health', methodNotAllowed('GET, HEAD'));

  app.get('/api/users/:id', (req, res) => {
    const parsed = parseUserId(req.params.id);
    if (!parsed.ok) return res.status(parsed.status).json({ error: parsed.error });
    const id = parsed.id;
    res.json({ id, name: `User ${id}`, email: `user${id}@example.com` });
  });
  app.all('/api/users/:id', methodNotAllowed('GET, HEAD'));

  app.get('/api/users/:id/orders', (req, res) => {
    const parsed = parseUserId(req.params.id);
    if (!parsed.ok) return res.status(parsed.status).json({ error: parsed.error });
    res.json(store.forUser(parsed.id));
  });
  app.all('/api/users/:id/orders', methodNotAllowed('GET, HEAD'));

  app.post('/api/orders', express.json(), (req, res) => {
    const problem = validateOrder(req.body);
    if (problem !== null) return res.status(400).json({ error: problem });
    res.status(201).json(store.create(req.body));
  });
  app.all('/api/orders', methodNotAllowed('POST'));

  app.use((req, res) => {
    res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
  });

  // Body-parser errors (malformed JSON, too large, bad charset; they carry a `type`)
  // and the router's undecodable path parameters come with their own 4xx status;
  // anything else is a bug and still answers in JSON.
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
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
