'use strict';
// Process start-up shared by the Node targets (express, node-http): one plain process when
// WORKERS=1, otherwise a node:cluster primary that forks WORKERS workers sharing the
// listening socket. Each process keeps its own in-memory store (see orders.js for how
// order ids stay unique), or with STORE=postgres its own pool to the one database
// (postgres.js), and with ORDERS_URL its own client to the order service (chain.js) behind
// its own circuit breaker (breaker.js). A target gives only its request handler and the
// protocols it serves; the server for PROTOCOL comes from protocol.js.

const cluster = require('node:cluster');
const os = require('node:os');
const { OrderStore } = require('./orders');
const { PgStore, checkDatabaseUrl, probeDatabase } = require('./postgres');
const { parseOrdersUrl, OrdersClient } = require('./chain');
const { breakerSettingsFromEnv, createBreaker } = require('./breaker');
const { protocolFromEnv, createServer } = require('./protocol');

// Bad configuration is a one-line error and exit code 2, as the contract asks.
function intFromEnv(name, max, fallback, emptyIsUnset = true) {
  const raw = process.env[name];
  const unset = raw === undefined || (emptyIsUnset && raw === '');
  if (unset && fallback !== undefined) return fallback;
  const value = /^[0-9]+$/.test(raw || '') ? Number(raw) : NaN;
  if (!(value >= 1 && value <= max)) {
    console.error(`${name} must be an integer in 1..=${max}, got '${raw === undefined ? '' : raw}'`);
    process.exit(2);
  }
  return value;
}

const port = intFromEnv('PORT', 65535);
// Unset WORKERS means every CPU this process may run on (its affinity mask).
const workers = intFromEnv('WORKERS', 4096, os.availableParallelism());

function storeKindFromEnv() {
  const kind = process.env.STORE;
  if (kind === undefined || kind === 'memory') return 'memory';
  if (kind !== 'postgres') {
    console.error(`STORE must be 'memory' or 'postgres', got '${kind}'`);
    process.exit(2);
  }
  const url = process.env.DATABASE_URL;
  if (url === undefined) {
    console.error('STORE=postgres needs DATABASE_URL (postgres://...)');
    process.exit(2);
  }
  const problem = checkDatabaseUrl(url);
  if (problem !== null) {
    console.error(problem);
    process.exit(2);
  }
  return 'postgres';
}

const storeKind = storeKindFromEnv();
// CONTRACT.md, "Pool size": max(4, 2 * WORKERS) connections in all, split over the
// worker processes (4 for a single process, 2 per worker otherwise).
const poolSize = Math.ceil(Math.max(4, 2 * workers) / workers);

// Service-to-service mode: the two downstream settings are checked even without ORDERS_URL,
// so a typo fails at once. setTimeout cannot wait longer than 2^31-1 ms.
// The contract makes any set value that is not a positive integer an error, the empty
// string included (as every other target reads it).
const downstreamTimeoutMs = intFromEnv('DOWNSTREAM_TIMEOUT_MS', 2147483647, 1000, false);
const downstreamConnections = intFromEnv('DOWNSTREAM_CONNECTIONS', Number.MAX_SAFE_INTEGER, 64, false);

// The breaker settings too, for the same reason; BREAKER_FAILURES=0 is valid and means none.
const breakerSettings = (() => {
  const read = breakerSettingsFromEnv(process.env);
  if (read.error !== undefined) {
    console.error(read.error);
    process.exit(2);
  }
  return read.settings;
})();

function ordersFromEnv() {
  const raw = process.env.ORDERS_URL;
  if (raw === undefined || raw === '') return null;
  const parsed = parseOrdersUrl(raw);
  if (parsed.error !== undefined) {
    console.error(parsed.error);
    process.exit(2);
  }
  return { origin: parsed.origin, timeoutMs: downstreamTimeoutMs, connections: downstreamConnections };
}

const orders = ordersFromEnv();

function createStore(workerIndex) {
  if (storeKind === 'postgres') return new PgStore(process.env.DATABASE_URL, poolSize);
  return new OrderStore(workerIndex, workers);
}

// The database comes first (checked once, by the first process), so the server only
// answers once it can serve every route.
async function checkDatabase() {
  if (storeKind !== 'postgres') return;
  try {
    await probeDatabase(process.env.DATABASE_URL);
  } catch (err) {
    console.error(`cannot connect to the database (DATABASE_URL): ${err.message}`);
    process.exit(1);
  }
}

function serve(createHandler, protocol, workerIndex) {
  // One pooled client and one breaker per serving process (per cluster worker), made before
  // the first request.
  const client = orders === null ? null : new OrdersClient(orders, createBreaker(breakerSettings));
  const server = createServer(protocol, createHandler(createStore(workerIndex), client));
  server.listen(port, '127.0.0.1');
  server.on('error', (err) => {
    console.error(`cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  });
  // Idle keep-alive connections would hold server.close() open; a benchmark server
  // has nothing to drain, so SIGTERM ends the process at once.
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

function runPrimary() {
  let stopping = false;
  for (let k = 1; k <= workers; k++) {
    cluster.fork({ WORKER_INDEX: String(k) });
  }
  // A worker that dies would silently shrink the server, so the whole target fails
  // loudly instead of being measured with fewer workers than it was given. Exit code 0
  // means the worker got SIGTERM/SIGINT itself (a signal to the process group can reach
  // it before the primary), so that is a normal stop.
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      if (code !== 0) {
        console.error(`worker ${worker.process.pid} exited (code ${code}, signal ${signal})`);
      }
      stop(code === 0 ? 0 : 1);
    } else if (liveWorkers().length === 0) {
      process.exit(process.exitCode || 0);
    }
  });
  // A worker that just exited may still be listed in cluster.workers.
  function liveWorkers() {
    return Object.values(cluster.workers).filter((worker) => !worker.isDead());
  }
  function stop(code) {
    if (stopping) return;
    stopping = true;
    process.exitCode = code;
    const live = liveWorkers();
    for (const worker of live) worker.process.kill('SIGTERM');
    if (live.length === 0) process.exit(code);
    setTimeout(() => process.exit(code), 3000).unref();
  }
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
}

// Starts the target: `createHandler(store, orderService)` returns its (req, res) request
// handler; `orderService` is the OrdersClient of a user service (ORDERS_URL set), otherwise null.
// `protocols` lists the PROTOCOL values the target serves (its target.toml's `protocols`).
// The primary checks PROTOCOL and the TLS files before it forks, so a bad setting is one
// line and exit code 2, not one per worker.
function start(createHandler, protocols) {
  const protocol = protocolFromEnv(protocols);
  if (workers === 1) {
    checkDatabase().then(() => serve(createHandler, protocol, 1));
  } else if (cluster.isPrimary) {
    checkDatabase().then(runPrimary);
  } else {
    serve(createHandler, protocol, Number(process.env.WORKER_INDEX));
  }
}

module.exports = { start };
