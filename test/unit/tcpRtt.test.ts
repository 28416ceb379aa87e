// The bench's preload for the TCP handshake's round trip (bench/tcpRtt.js), in a Node process of
// its own as the bench loads it: a connection is up for its client no sooner than one RTT after it
// began; until then it reads as connecting, and what was written meanwhile reaches the server
// intact after it; TLS begun on it waits for it, and its handshake completes.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { type Ca, createCa } from '../emulators/pki';
import { REPO } from '../emulators/world';

const RTT = 80;

/** What the client script prints: when its socket was up, and its state before that. */
interface Seen {
  upAfterMs: number;
  connectingUntilUp: boolean;
  secureAfterMs?: number;
}

// Connects to PORT on 127.0.0.1 (an address: the round trip counts from connect()), writes at
// once, and reports; with TLS, begins TLS on the connecting socket as the task's start-up does.
const CLIENT = `'use strict';
const net = require('node:net');
const tls = require('node:tls');
const { performance } = require('node:perf_hooks');
const [port, withTls] = [Number(process.argv[2]), process.argv[3] === 'tls'];
const started = performance.now();
const socket = net.connect({ host: '127.0.0.1', port });
let connectingUntilUp = true;
const check = setInterval(() => (connectingUntilUp &&= socket.connecting), 1);
const seen = {};
socket.once('connect', () => {
  clearInterval(check);
  seen.upAfterMs = performance.now() - started;
  seen.connectingUntilUp = connectingUntilUp;
});
if (withTls) {
  const secure = tls.connect({ socket, servername: 'localhost', ca: process.env.CA_PEM });
  secure.once('secureConnect', () => {
    seen.secureAfterMs = performance.now() - started;
    secure.end('over tls');
  });
  secure.on('end', () => process.stdout.write(JSON.stringify(seen)));
} else {
  socket.end('written while connecting');
  socket.on('close', () => process.stdout.write(JSON.stringify(seen)));
}
`;

describe("bench/tcpRtt.js: the TCP handshake's round trip on the client's side", function () {
  this.timeout(30_000);
  let dir: string;
  let loader: string;
  let client: string;
  let ca: Ca;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'val-tcprtt-'));
    loader = join(dir, 'loader.js');
    writeFileSync(loader, `globalThis.__tcpRttMs = ${RTT};\nrequire(${JSON.stringify(join(REPO, 'bench', 'tcpRtt.js'))});\n`);
    client = join(dir, 'client.js');
    writeFileSync(client, CLIENT);
    ca = await createCa();
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await ca?.dispose();
  });

  function runClient(port: number, mode: 'tcp' | 'tls'): Promise<Seen> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        ['--require', loader, client, String(port), mode],
        { env: { ...process.env, CA_PEM: ca.certPem } },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Seen)),
      );
    });
  }

  function listen(server: net.Server): Promise<number> {
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  }

  it('up no sooner than one RTT after connect(), connecting until then; what was written arrives after it, intact', async () => {
    const received: string[] = [];
    const server = net.createServer((s) => {
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.on('end', () => received.push(text));
    });
    try {
      const seen = await runClient(await listen(server), 'tcp');
      assert.ok(seen.upAfterMs >= RTT, `up after ${seen.upAfterMs} ms`);
      assert.equal(seen.connectingUntilUp, true);
      assert.deepEqual(received, ['written while connecting']);
    } finally {
      server.close();
    }
  });

  it('TLS begun on the connecting socket starts once it is up, and completes', async () => {
    const leaf = await ca.issue(['localhost']);
    const received: string[] = [];
    const server = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => {
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.on('end', () => {
        received.push(text);
        s.end();
      });
    });
    try {
      const seen = await runClient(await listen(server), 'tls');
      assert.ok(seen.upAfterMs >= RTT, `up after ${seen.upAfterMs} ms`);
      assert.ok(seen.secureAfterMs !== undefined && seen.secureAfterMs >= seen.upAfterMs, JSON.stringify(seen));
      assert.deepEqual(received, ['over tls']);
    } finally {
      server.close();
    }
  });
});
