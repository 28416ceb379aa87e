import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type * as net from 'node:net';
import type * as Tls from 'node:tls';
import * as sinon from 'sinon';
import {
  ANSWER_TOO_LARGE,
  createTransport,
  MAX_ANSWER_BYTES,
  MAX_HTTP1_CONNECTIONS,
  TransportError,
} from '../../tasks/VaultAzureLoginV1/src/vault/transport';
import { Ca, createCa, selfSignedClientCert } from '../emulators/pki';
import { ForwardProxy } from '../emulators/proxy';
import { drainedOrClosed } from '../emulators/serve';

// The module object itself (not an import copy), so that the spy is what the transport calls.
const tls = require('node:tls') as typeof Tls;

describe('transport: the TLS context', () => {
  afterEach(() => sinon.restore());

  it('is built when the first connection opens, not when the transport is made, and once for every connection', async () => {
    const ca = await createCa('Transport Test CA');
    const build = sinon.spy(tls, 'createSecureContext');
    // Nothing listens on port 1: each request fails to connect, and the next one connects again.
    const transport = createTransport('https://127.0.0.1:1', { tls: { verify: true, ca: [ca.certPem] }, timeoutMs: 5000 });
    assert.equal(build.callCount, 0, 'not built with the transport (the step is busy with the token request then)');
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        transport.send({ method: 'GET', url: new URL('https://127.0.0.1:1/v1/sys/health'), headers: {} }),
        (err: unknown) => err instanceof TransportError && err.code === 'ECONNREFUSED',
      );
    }
    assert.equal(build.callCount, 1, 'one context for both connection attempts');
    const options = build.firstCall.args[0] as Tls.SecureContextOptions;
    assert.deepEqual(options.ca, [...tls.rootCertificates, ca.certPem], 'the extra CA is trusted in addition to the public roots');
    transport.close();
  });
});

/** A loopback server for the transport: HTTP/2 (ALPN h2 only), HTTP/1.1 over TLS (no h2 offered), or plain http. */
type ServerKind = 'h2' | 'http/1.1' | 'http';

interface TestServer {
  address: string;
  /** TCP connections accepted. */
  connections: number;
  /** Most requests in flight at once. */
  maxInFlight: number;
  close(): Promise<void>;
}

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void | Promise<void>;

/** `clientCa`: require a client certificate issued by it (mutual TLS); `dnsNames`: the certificate names these, not 127.0.0.1. */
async function startServer(
  kind: ServerKind,
  ca: Ca,
  handle: Handler,
  { clientCa, dnsNames }: { clientCa?: string; dnsNames?: string[] } = {},
): Promise<TestServer> {
  const leaf = dnsNames ? await ca.issue(dnsNames) : await ca.issue([], ['127.0.0.1']);
  const tlsOptions = {
    cert: leaf.certPem,
    key: leaf.keyPem,
    ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  };
  const state = { connections: 0, maxInFlight: 0, inFlight: 0 };
  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    state.inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    res.on('close', () => (state.inFlight -= 1));
    void handle(req, res);
  };
  const server: net.Server =
    kind === 'h2'
      ? http2.createSecureServer(tlsOptions, handler)
      : kind === 'http/1.1'
        ? https.createServer({ ...tlsOptions, ALPNProtocols: ['http/1.1'] }, handler)
        : http.createServer(handler);
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `${kind === 'http' ? 'http' : 'https'}://127.0.0.1:${port}`,
    get connections() {
      return state.connections;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const get = (address: string, path: string) => ({ method: 'GET', url: new URL(path, address), headers: {} });

describe('transport: an answer larger than MAX_ANSWER_BYTES', function () {
  this.timeout(60_000);
  let ca: Ca;
  before(async () => (ca = await createCa('Transport Limits CA')));
  after(() => ca?.dispose());

  /** What the server got to write of a big answer before the client stopped it. */
  interface Written {
    bytes: number;
    /** The server wrote the whole answer. */
    ended: boolean;
  }

  /** Writes `total` bytes of one JSON string, 1 MiB at a time as the client takes them; Content-Length only if `declare`. */
  function bigAnswer(total: number, declare: boolean, written: Written): Handler {
    return async (_req, res) => {
      let closed = false;
      res.on('close', () => (closed = true));
      res.writeHead(200, { 'content-type': 'application/json', ...(declare ? { 'content-length': String(total) } : {}) });
      const chunk = Buffer.alloc(1024 * 1024, 'a');
      let left = total;
      const write = (buf: Buffer) => (res as http.ServerResponse).write(buf);
      write(Buffer.from('"'));
      left -= 2;
      while (left > 0 && !closed) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        written.bytes += part.length;
        if (!write(part)) await drainedOrClosed(res);
      }
      if (closed) return;
      res.end('"');
      written.ended = true;
    };
  }

  const kinds: ServerKind[] = ['h2', 'http/1.1'];
  const shapes: Array<[string, boolean]> = [
    ['a Content-Length above the limit', true],
    ['no Content-Length, counted as it arrives', false],
  ];
  for (const kind of kinds) {
    for (const [shape, declare] of shapes) {
      it(`${kind}, ${shape}: fails with ${ANSWER_TOO_LARGE}, naming the path and the limit, and stops the server's writing`, async () => {
        const total = 2 * MAX_ANSWER_BYTES;
        const written: Written = { bytes: 0, ended: false };
        const server = await startServer(kind, ca, bigAnswer(total, declare, written));
        const transport = createTransport(server.address, { tls: { verify: true, ca: [ca.certPem] }, timeoutMs: 30_000 });
        try {
          await assert.rejects(transport.send(get(server.address, '/v1/secret/data/ci/big')), (err: unknown) => {
            assert.ok(err instanceof TransportError);
            assert.equal(err.code, ANSWER_TOO_LARGE);
            assert.equal(err.message, 'the answer to GET /v1/secret/data/ci/big is larger than 32 MiB');
            return true;
          });
          await sleep(200);
          assert.equal(written.ended, false, 'the server never got to write the whole answer');
          assert.ok(written.bytes < total - 1024 * 1024, `the server wrote ${written.bytes} of ${total} bytes`);
          if (declare) assert.ok(written.bytes < MAX_ANSWER_BYTES / 2, `stopped at the headers: ${written.bytes} bytes written`);
        } finally {
          transport.close();
          await server.close();
        }
      });
    }

    it(`${kind}: an answer of exactly the limit is read; one byte more is not; the next request still works`, async () => {
      let size = 0;
      const server = await startServer(kind, ca, (req, res) => {
        if (req.url?.endsWith('/small')) return void res.end('{"data":{"ok":true}}');
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(Buffer.alloc(size, 'x'));
      });
      const transport = createTransport(server.address, { tls: { verify: true, ca: [ca.certPem] }, timeoutMs: 30_000 });
      try {
        size = MAX_ANSWER_BYTES;
        const exact = await transport.send(get(server.address, '/v1/exact'));
        assert.equal((exact.body as string).length, MAX_ANSWER_BYTES);
        size = MAX_ANSWER_BYTES + 1;
        await assert.rejects(
          transport.send(get(server.address, '/v1/over')),
          (err: unknown) => err instanceof TransportError && err.code === ANSWER_TOO_LARGE,
        );
        const next = await transport.send(get(server.address, '/v1/small'));
        assert.equal(next.status, 200);
        assert.equal(next.protocol, kind === 'h2' ? 'h2' : 'http/1.1');
        if (kind === 'h2') assert.equal(server.connections, 1, 'HTTP/2: the stream was cancelled, the connection kept');
      } finally {
        transport.close();
        await server.close();
      }
    });
  }
});

describe('transport: connections per run', function () {
  this.timeout(60_000);
  let ca: Ca;
  before(async () => (ca = await createCa('Transport Connections CA')));
  after(() => ca?.dispose());
  let proxy: ForwardProxy | undefined;
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });

  const slowAnswer: Handler = async (_req, res) => {
    await sleep(20);
    res.end('{"data":{"value":"v"}}');
  };

  const cases: Array<[string, ServerKind, boolean, number]> = [
    ['a server that offers HTTP/1.1 only', 'http/1.1', false, MAX_HTTP1_CONNECTIONS],
    ['plain http', 'http', false, MAX_HTTP1_CONNECTIONS],
    ["the agent's proxy (CONNECT tunnels)", 'http/1.1', true, MAX_HTTP1_CONNECTIONS],
    ['HTTP/2', 'h2', false, 1],
  ];
  for (const [title, kind, viaProxy, most] of cases) {
    it(`${title}: 64 requests in flight use ${most === 1 ? 'one connection' : `at most ${most} connections`}, every one answered`, async () => {
      const server = await startServer(kind, ca, slowAnswer);
      const proxyUrl = viaProxy ? await (proxy = new ForwardProxy()).start(0, '127.0.0.1') : undefined;
      const transport = createTransport(server.address, {
        tls: { verify: true, ca: [ca.certPem] },
        proxy: proxyUrl ? { url: proxyUrl } : undefined,
        timeoutMs: 10_000,
      });
      try {
        const answers = await Promise.all(
          Array.from({ length: 64 }, (_, i) => transport.send(get(server.address, `/v1/secret/data/p${i}`))),
        );
        assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
        assert.ok(server.connections <= most, `${server.connections} connections`);
        assert.equal(server.maxInFlight, kind === 'h2' ? 64 : most, 'as many in flight as connections allow');
        if (proxy) assert.equal(proxy.tunnelTargets().length, server.connections, 'one tunnel per connection');
      } finally {
        transport.close();
        await server.close();
      }
    });
  }

  it("the agent's proxy: Vault's TLS inside the tunnel uses the task's CA and client certificate", async () => {
    const client = await selfSignedClientCert('pipeline-agent');
    const server = await startServer('http/1.1', ca, slowAnswer, { clientCa: client.certPem });
    const proxyUrl = await (proxy = new ForwardProxy()).start(0, '127.0.0.1');
    const transport = createTransport(server.address, {
      tls: { verify: true, ca: [ca.certPem], cert: client.certPem, key: client.keyPem },
      proxy: { url: proxyUrl },
      timeoutMs: 10_000,
    });
    try {
      assert.equal((await transport.send(get(server.address, '/v1/p'))).status, 200);
      assert.equal(proxy.tunnelTargets().length, 1);
    } finally {
      transport.close();
      await server.close();
    }
  });

  it("the agent's proxy: a certificate that does not name Vault's address is refused inside the tunnel", async () => {
    const server = await startServer('http/1.1', ca, slowAnswer, { dnsNames: ['vault.other.example'] });
    const proxyUrl = await (proxy = new ForwardProxy()).start(0, '127.0.0.1');
    const transport = createTransport(server.address, {
      tls: { verify: true, ca: [ca.certPem] },
      proxy: { url: proxyUrl },
      timeoutMs: 10_000,
    });
    try {
      await assert.rejects(
        transport.send(get(server.address, '/v1/p')),
        (err: unknown) => err instanceof TransportError && err.code === 'ERR_TLS_CERT_ALTNAME_INVALID' && /127\.0\.0\.1/.test(err.message),
      );
    } finally {
      transport.close();
      await server.close();
    }
  });

  it('HTTP/1.1: the connection that chose the protocol carries the first request (no extra handshake)', async () => {
    const server = await startServer('http/1.1', ca, slowAnswer);
    const transport = createTransport(server.address, { tls: { verify: true, ca: [ca.certPem] }, timeoutMs: 10_000 });
    try {
      transport.warmUp();
      await sleep(100);
      assert.equal(server.connections, 1, 'the protocol choice opened one connection');
      for (let i = 0; i < 3; i++) assert.equal((await transport.send(get(server.address, `/v1/p${i}`))).protocol, 'http/1.1');
      assert.equal(server.connections, 1, 'and the requests, one after another, went over it');
    } finally {
      transport.close();
      await server.close();
    }
  });

  it('HTTP/1.1: a request waiting for a connection does not spend its timeout waiting', async () => {
    // 96 requests of 100 ms each over 8 connections take 1.2 s; each has 1 s from when it is sent.
    const server = await startServer('http/1.1', ca, async (_req, res) => {
      await sleep(100);
      res.end('{}');
    });
    const transport = createTransport(server.address, { tls: { verify: true, ca: [ca.certPem] }, timeoutMs: 1000 });
    try {
      const answers = await Promise.all(Array.from({ length: 96 }, (_, i) => transport.send(get(server.address, `/v1/p${i}`))));
      assert.equal(answers.length, 96);
      assert.ok(server.connections <= MAX_HTTP1_CONNECTIONS);
    } finally {
      transport.close();
      await server.close();
    }
  });
});

describe('transport: whether a failed request may have reached the server', function () {
  this.timeout(60_000);
  let ca: Ca;
  before(async () => (ca = await createCa('Transport Sent CA')));
  after(() => ca?.dispose());

  const post = (address: string) => ({ method: 'POST', url: new URL('/v1/sys/wrapping/unwrap', address), headers: {}, json: {} });
  const failure = async (send: Promise<unknown>): Promise<TransportError> => {
    const err = await send.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof TransportError, String(err));
    return err;
  };

  for (const kind of ['h2', 'http/1.1', 'http'] as ServerKind[]) {
    it(`${kind}: a connection dropped once the request arrived, or no answer in time, may have been performed`, async () => {
      let arrived = 0;
      const server = await startServer(kind, ca, (req) => {
        arrived += 1;
        if (req.url?.endsWith('/unwrap')) (req as http.IncomingMessage).socket.destroy();
      });
      const transport = createTransport(server.address, { tls: { verify: true, ca: [ca.certPem] }, timeoutMs: 500 });
      try {
        const dropped = await failure(transport.send(post(server.address)));
        assert.equal(dropped.sent, true, `${dropped.code} after the request arrived`);
        const late = await failure(transport.send({ ...post(server.address), url: new URL('/v1/auth/approle/login', server.address) }));
        assert.deepEqual([late.code, late.sent], ['ETIMEDOUT', true]);
        assert.equal(arrived, 2, 'both requests reached the server');
      } finally {
        transport.close();
        await server.close();
      }
    });
  }

  it('a refused connection, and a TLS handshake that never ends, were not sent (HTTP/2 and HTTP/1.1 through a proxy)', async () => {
    const refused = createTransport('https://127.0.0.1:1', { tls: { verify: true, ca: [ca.certPem] }, timeoutMs: 2000 });
    const r = await failure(refused.send(post('https://127.0.0.1:1')));
    assert.deepEqual([r.code, r.sent], ['ECONNREFUSED', false]);
    refused.close();

    // Accepts TCP connections and never answers the TLS handshake.
    const silent = (await import('node:net')).createServer(() => undefined);
    const held = new Set<net.Socket>();
    silent.on('connection', (s: net.Socket) => held.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const proxy = new ForwardProxy();
    const proxyUrl = await proxy.start(0, '127.0.0.1');
    try {
      for (const viaProxy of [false, true]) {
        const transport = createTransport(address, {
          tls: { verify: true, ca: [ca.certPem] },
          proxy: viaProxy ? { url: proxyUrl } : undefined,
          timeoutMs: 300,
        });
        const err = await failure(transport.send(post(address)));
        assert.deepEqual([err.code, err.sent], ['ETIMEDOUT', false], viaProxy ? 'through the proxy' : 'directly');
        transport.close();
      }
    } finally {
      await proxy.stop();
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
