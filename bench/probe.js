// biome-ignore lint/suspicious/noRedundantUseStrict: CommonJS, not a module: the directive is what makes this file strict
'use strict';
// Preloaded into the task process by `npm run bench` (node --require), never shipped: records when
// each connection is opened and ready and when each request is sent and answered (Node's http and
// https clients, fetch, HTTP/2 sessions), in milliseconds since the process started, and the
// process's peak resident memory (VmHWM) at exit. Writes JSON to the file globalThis.__probeOut names. Records
// methods, hosts and paths only: no header, body or query value.
const fs = require('node:fs');
const net = require('node:net');
const http2 = require('node:http2');
const diagnostics = require('node:diagnostics_channel');
const { performance } = require('node:perf_hooks');

const out = globalThis.__probeOut;
const events = [];
const now = () => Math.round(performance.now() * 10) / 10;
const note = (what, detail) => events.push({ t: now(), what, detail });
note('preload', '');

// The task's bundles loaded after its entry (step.js, and what it loads on demand): start and end
// of the first require of each (a later one finds it loaded).
const Module = require('node:module');
const load = Module._load;
const loaded = new Set();
Module._load = function (request, ...rest) {
  if (!/^\.\/\w+\.js$/.test(request) || loaded.has(request)) return load.call(this, request, ...rest);
  loaded.add(request);
  note('load', request.slice(2));
  try {
    return load.call(this, request, ...rest);
  } finally {
    note('loaded', request.slice(2));
  }
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const o =
    typeof args[0] === 'object' && args[0] !== null ? (Array.isArray(args[0]) ? args[0][0] : args[0]) : { port: args[0], host: args[1] };
  const to = o?.path ? o.path : `${o?.host || 'localhost'}:${o?.port}`;
  if (!this.__probed) {
    this.__probed = true;
    note('connect', to);
    this.once('connect', () => note('tcp up', to));
    this.once('secureConnect', () => note('tls up', `${to} ${this.alpnProtocol || ''}`.trim()));
  }
  return connect.apply(this, args);
};

// TLS begun on a TCP connection that is still connecting (the task's start-up entry).
const tls = require('node:tls');
const tlsConnect = tls.connect;
tls.connect = function (...args) {
  const socket = tlsConnect.apply(this, args);
  const o = args.find((a) => typeof a === 'object' && a !== null);
  if (o?.socket) socket.once('secureConnect', () => note('tls up', `${o.host}:${o.socket.remotePort} ${socket.alpnProtocol || ''}`.trim()));
  return socket;
};

diagnostics.subscribe('http.client.request.start', ({ request }) => {
  const what = `${request.method} ${request.host}${request.path.split('?')[0]}`;
  note('send', what);
  request.once('response', (res) => res.once('end', () => note('answer', `${res.statusCode} ${what}`)));
});
diagnostics.subscribe('undici:request:create', ({ request }) => {
  const what = `${request.method} ${request.origin}${String(request.path).split('?')[0]}`;
  request.__probe = what;
  note('send', `${what} (fetch)`);
});
diagnostics.subscribe('undici:request:headers', ({ request, response }) =>
  note('answer', `${response.statusCode} ${request.__probe} (fetch)`),
);

const h2connect = http2.connect;
http2.connect = function (authority, ...rest) {
  const session = h2connect.call(this, authority, ...rest);
  const origin = String(authority);
  const request = session.request;
  session.request = function (headers, ...more) {
    const what = `${headers[':method']} ${origin.replace(/\/$/, '')}${String(headers[':path']).split('?')[0]} (h2)`;
    note('send', what);
    const stream = request.call(this, headers, ...more);
    let status = 0;
    stream.once('response', (h) => (status = h[':status']));
    stream.once('end', () => note('answer', `${status} ${what}`));
    return stream;
  };
  return session;
};

process.on('exit', () => {
  if (!out) return;
  let vmHwmBytes;
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) vmHwmBytes = Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  note('exit', '');
  fs.writeFileSync(out, JSON.stringify({ events, vmHwmBytes }));
});
