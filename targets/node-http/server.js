'use strict';
// Entry point: the node:http request handler (app.js) started as one process or a
// node:cluster of WORKERS processes by ../node-common/process.js, on every protocol the
// contract names (node:https for h1-tls, node:http2 for h2c and h2; the same list as
// target.toml's `protocols`).

require('../node-common/process').start(require('./app').createHandler, ['h1', 'h1-tls', 'h2c', 'h2']);
