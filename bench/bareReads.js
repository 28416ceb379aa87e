// biome-ignore lint/suspicious/noRedundantUseStrict: CommonJS, not a module: the directive is what makes this file strict
'use strict';
// Run by `npm run bench` beside the task, never shipped: the bench's secrets read by the barest
// HTTP/2 client (node:http2, one connection, BARE_CONCURRENCY requests at a time, each answer's
// status checked and its body drained, nothing parsed) with a token of the bench's role, over the
// same delaying proxy: how long Vault and the network take for the reads alone. The connection is
// made and the mount looked up first, as the task's is by its login and lookup; what is timed is
// from the first read sent to the last answered. Prints {"ms": …}.
const http2 = require('node:http2');
const { performance } = require('node:perf_hooks');

const origin = process.env.BARE_ORIGIN;
const token = process.env.BARE_TOKEN;
const n = Number(process.env.BARE_N);
const concurrency = Number(process.env.BARE_CONCURRENCY);
const path = (i) => `/v1/secret/data/ci/bench/p${i}`;

const fail = (why) => {
  process.stderr.write(`${why}\n`);
  process.exit(1);
};

const session = http2.connect(origin);
session.on('error', (err) => fail(err.message));

/** One request; resolves once its answer has ended with status 200. */
function get(p) {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': p, 'x-vault-token': token });
    let status = 0;
    stream.on('response', (headers) => (status = headers[':status']));
    stream.on('error', (err) => fail(`${p}: ${err.message}`));
    stream.on('end', () => (status === 200 ? resolve() : fail(`${p}: status ${status}`)));
    stream.resume();
    stream.end();
  });
}

get('/v1/sys/internal/ui/mounts/secret/ci/bench/p0').then(async () => {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) await get(path(next++));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - started })}\n`);
  session.close();
});
