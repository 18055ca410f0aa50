'use strict';
// The protocol a Node target serves (CONTRACT.md, "Protocols"): PROTOCOL, TLS_CERT and
// TLS_KEY are read here and the matching built-in server is made. The request handler is
// the same function on every protocol: node:http2's compatibility API hands it request and
// response objects with the methods node:http's have (url, method, headers, writeHead, end).

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');
const tls = require('node:tls');

const KNOWN = ['h1', 'h1-tls', 'h2c', 'h2'];
const NEEDS_TLS = new Set(['h1-tls', 'h2']);

// Configuration errors are one line on stderr and exit code 2, as for every other setting.
function fail(message) {
  console.error(message);
  process.exit(2);
}

function readPem(name) {
  const path = process.env[name];
  if (path === undefined || path === '') fail(`PROTOCOL=${process.env.PROTOCOL} needs ${name} (a PEM file)`);
  try {
    return fs.readFileSync(path);
  } catch (err) {
    return fail(`cannot read ${name} '${path}': ${err.message}`);
  }
}

// Reads the files at start-up, and has OpenSSL parse them, so that a bad pair stops the
// server before it listens rather than failing every handshake.
function tlsFromEnv() {
  const cert = readPem('TLS_CERT');
  const key = readPem('TLS_KEY');
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    fail(`TLS_CERT/TLS_KEY are not a usable PEM certificate chain and private key: ${err.message}`);
  }
  return { cert, key };
}

// `served` lists the protocols the target serves, as its target.toml does. Only an unset
// PROTOCOL means h1: an empty value is a value the target does not know.
function protocolFromEnv(served) {
  const raw = process.env.PROTOCOL;
  const name = raw === undefined ? 'h1' : raw;
  if (!KNOWN.includes(name)) fail(`PROTOCOL must be one of ${KNOWN.join(', ')}, got '${raw}'`);
  if (!served.includes(name)) {
    fail(`PROTOCOL=${name} is not served by this target (it serves ${served.join(', ')}; see target.toml)`);
  }
  return { name, tls: NEEDS_TLS.has(name) ? tlsFromEnv() : null };
}

// Node's own TLS defaults stay: TLS 1.2 to 1.3, its cipher list. HTTP/2 keeps node's own
// settings too (the target's notes name them).
function createServer(protocol, handler) {
  switch (protocol.name) {
    case 'h1-tls':
      // Offering only http/1.1 tells an h2-capable client not to try HTTP/2 here.
      return https.createServer({ ...protocol.tls, ALPNProtocols: ['http/1.1'] }, handler);
    case 'h2c':
      // node:http2's plain server speaks HTTP/2 from the connection preface on: prior knowledge.
      return http2.createServer(handler);
    case 'h2':
      // allowHTTP1 as node's documentation deploys it: ALPN offers h2 and http/1.1, so a
      // client without HTTP/2 is still served (HTTP/1.1 on the same handler) instead of
      // being dropped; a client that offers h2 gets HTTP/2.
      return http2.createSecureServer({ ...protocol.tls, allowHTTP1: true }, handler);
    default:
      return http.createServer(handler);
  }
}

module.exports = { protocolFromEnv, createServer };
