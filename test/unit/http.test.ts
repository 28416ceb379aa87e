// The bounds every outside request of the task has (net/http.ts): an answer past its cap is
// stopped, the whole request (connecting and the body included) ends within its time, a redirect
// is returned and never followed, and an answer that is not JSON comes back as its text.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { LosslessNumber } from 'lossless-json';
import {
  ANSWER_TOO_LARGE,
  MAX_ANSWER_BYTES,
  MAX_METADATA_BYTES,
  parseBody,
  send,
  TransportError,
} from '../../tasks/VaultAzureLoginV1/src/net/http';

interface Server {
  url(path: string): URL;
  /** The paths asked for, in order. */
  paths: string[];
  close(): Promise<void>;
}

async function serve(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Server> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    handle(req, res);
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: (path) => new URL(path, `http://127.0.0.1:${port}`),
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

const get = (url: URL) => ({ method: 'GET', url, headers: {} });

async function failure(p: Promise<unknown>): Promise<TransportError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof TransportError, `a TransportError, not ${String(err)}`);
  return err;
}

describe('net/http: the bounds of every outside request', function () {
  this.timeout(20_000);
  let server: Server | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  describe('the size cap', () => {
    for (const declare of [true, false]) {
      it(`stops an answer one byte past the cap (${declare ? 'by its Content-Length' : 'counted as it arrives'}), naming the path, the cap and the status`, async () => {
        server = await serve((_req, res) => {
          const body = Buffer.alloc(MAX_METADATA_BYTES + 1, 'a');
          res.writeHead(503, declare ? { 'content-length': String(body.length) } : {});
          res.end(body);
        });
        const err = await failure(send(get(server.url('/identity?x=1')), { timeoutMs: 5000, maxBytes: MAX_METADATA_BYTES }));
        assert.deepEqual(
          [err.code, err.message, err.status, err.sent],
          [ANSWER_TOO_LARGE, 'the answer to GET /identity is larger than 64 KiB', 503, true],
        );
      });
    }

    it('reads an answer of exactly the cap; the cap is MAX_ANSWER_BYTES (32 MiB) unless a smaller one is named', async () => {
      let size = MAX_METADATA_BYTES;
      server = await serve((_req, res) => res.end(Buffer.alloc(size, 'a')));
      const exact = await send(get(server.url('/exact')), { timeoutMs: 5000, maxBytes: MAX_METADATA_BYTES });
      assert.equal(exact.text.length, MAX_METADATA_BYTES);
      size = MAX_ANSWER_BYTES + 1;
      const err = await failure(send(get(server.url('/big')), { timeoutMs: 20_000 }));
      assert.deepEqual([err.code, err.message], [ANSWER_TOO_LARGE, 'the answer to GET /big is larger than 32 MiB']);
    });
  });

  describe('the time', () => {
    it('bounds the whole request, the body included: an answer that trickles in is stopped when the time is up', async () => {
      let writes = 0;
      server = await serve((_req, res) => {
        res.writeHead(200);
        // A byte every 50 ms, for ever: no pause is long enough for an idle timeout.
        const tick = setInterval(() => {
          writes += 1;
          res.write('a');
        }, 50);
        res.on('close', () => clearInterval(tick));
      });
      const err = await failure(send(get(server.url('/slow')), { timeoutMs: 400 }));
      assert.deepEqual([err.code, err.message, err.sent], ['ETIMEDOUT', 'no answer within 0.4 s', true]);
      assert.ok(writes >= 2, `the answer had begun (${writes} writes)`);
    });

    it('a connection that is not made within connectTimeoutMs fails as not sent, before the whole time is up', async () => {
      // Takes TCP connections and never answers the TLS handshake: https is not connected until it ends.
      const silent = net.createServer(() => undefined);
      const held = new Set<net.Socket>();
      silent.on('connection', (s: net.Socket) => held.add(s));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const url = new URL(`https://127.0.0.1:${(silent.address() as net.AddressInfo).port}/token`);
      try {
        const err = await failure(send(get(url), { timeoutMs: 10_000, connectTimeoutMs: 300 }));
        assert.deepEqual([err.code, err.message, err.sent], ['ETIMEDOUT', 'no connection within 0.3 s', false]);
        const whole = await failure(send(get(url), { timeoutMs: 300 }));
        assert.deepEqual([whole.code, whole.message, whole.sent], ['ETIMEDOUT', 'no answer within 0.3 s', false]);
      } finally {
        for (const s of held) s.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('a refused connection was not sent', async () => {
      const err = await failure(send(get(new URL('http://127.0.0.1:1/')), { timeoutMs: 2000 }));
      assert.deepEqual([err.code, err.sent], ['ECONNREFUSED', false]);
    });
  });

  it('returns a redirect as the answer and never asks where it points', async () => {
    const elsewhere = await serve((_req, res) => res.end('{"oidcToken":"a.b.c"}'));
    try {
      server = await serve((_req, res) => {
        res.writeHead(302, { location: elsewhere.url('/stolen').toString() });
        res.end();
      });
      const answer = await send(
        { method: 'POST', url: server.url('/token'), headers: { authorization: 'Bearer t' }, json: {} },
        { timeoutMs: 5000 },
      );
      assert.equal(answer.status, 302);
      assert.deepEqual(server.paths, ['/token']);
      assert.deepEqual(elsewhere.paths, [], 'the redirect was not followed');
    } finally {
      await elsewhere.close();
    }
  });

  it('an answer that is not JSON comes back as its text; parseBody keeps it as text, and keeps JSON numbers as sent', async () => {
    server = await serve((_req, res) => res.end('<html>gateway error {"errors":'));
    const answer = await send(get(server.url('/v1/secret')), { timeoutMs: 5000 });
    assert.deepEqual(answer, { status: 200, text: '<html>gateway error {"errors":' });
    assert.equal(parseBody(answer.text), '<html>gateway error {"errors":');
    assert.equal(parseBody(''), undefined);
    assert.deepEqual(parseBody('{"n":12345678901234567890}'), { n: new LosslessNumber('12345678901234567890') });
  });

  it('sends the headers and the JSON body it is given, and nothing the environment says about proxies', async () => {
    let seen: { headers: http.IncomingHttpHeaders; body: string } | undefined;
    server = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen = { headers: req.headers, body };
        res.end('{}');
      });
    });
    const saved = process.env.HTTP_PROXY;
    process.env.HTTP_PROXY = 'http://127.0.0.1:1';
    try {
      await send(
        { method: 'POST', url: server.url('/x'), headers: { 'metadata-flavor': 'Google' }, json: { a: 1 } },
        { timeoutMs: 5000 },
        { agent: false },
      );
    } finally {
      if (saved === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved;
    }
    assert.equal(seen?.headers['metadata-flavor'], 'Google');
    assert.equal(seen?.headers['content-type'], 'application/json');
    assert.equal(seen?.body, '{"a":1}');
  });
});
