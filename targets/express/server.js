'use strict';
// Entry point: the Express app (app.js), which is a request handler, started as one
// process or a node:cluster of WORKERS processes by ../node-common/process.js.

require('../node-common/process').start(require('./app').createApp);
