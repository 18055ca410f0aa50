'use strict';
// Entry point: the Express app (app.js), which is a request handler, started as one
// process or a node:cluster of WORKERS processes by ../node-common/process.js. HTTP/1.1
// only, over TCP or TLS (node:https): Express 5 does not run on node:http2 (target.toml,
// `[unsupported]`). The list is the same as target.toml's `protocols`.

require('../node-common/process').start(require('./app').createApp, ['h1', 'h1-tls']);
