'use strict';
// Entry point: the node:http request handler (app.js) started as one process or a
// node:cluster of WORKERS processes by ../node-common/process.js.

require('../node-common/process').start(require('./app').createHandler);
