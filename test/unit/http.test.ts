// The bounds every outside request of the task has (net/http.ts): an answer past its cap is
// stopped, the whole request (connecting and the body included) ends within its time, a redirect
// is returned and never followed, and an answer that is not JSON comes back as its text.
import * as assert from 'node:assert/strict';
import type * as http from 'node:http';
import { LosslessNumber, stringify as stringifyJson } from 'lossless-json';
import {
  ANSWER_TOO_LARGE,
  MAX_ANSWER_BYTES,
  MAX_METADATA_BYTES,
  parseBody,
  send,
  TransportError,
} from '../../tasks/VaultAzureLoginV1/src/net/http';
import { LoopbackServer, serveHttp, silentTls } from '../helpers/loopback';

const get = (at: LoopbackServer | string, path: string) => ({
  method: 'GET',
  url: new URL(path, typeof at === 'string' ? at : at.origin),
  headers: {},
});

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
  let server: LoopbackServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  describe('the size cap', () => {
    for (const declare of [true, false]) {
      it(`stops an answer one byte past the cap (${declare ? 'by its Content-Length' : 'counted as it arrives'}), naming the path, the cap and the status`, async () => {
        server = await serveHttp((res) => {
          const body = Buffer.alloc(MAX_METADATA_BYTES + 1, 'a');
          res.writeHead(503, declare ? { 'content-length': String(body.length) } : {});
          res.end(body);
        });
        const err = await failure(send(get(server, '/identity?x=1'), { timeoutMs: 5000, maxBytes: MAX_METADATA_BYTES }));
        assert.deepEqual(
          [err.code, err.message, err.status, err.sent],
          [ANSWER_TOO_LARGE, 'the answer to GET /identity is larger than 64 KiB', 503, true],
        );
      });
    }

    it('reads an answer of exactly the cap; the cap is MAX_ANSWER_BYTES (32 MiB) unless a smaller one is named', async () => {
      let size = MAX_METADATA_BYTES;
      server = await serveHttp((res) => res.end(Buffer.alloc(size, 'a')));
      const exact = await send(get(server, '/exact'), { timeoutMs: 5000, maxBytes: MAX_METADATA_BYTES });
      assert.equal(exact.text.length, MAX_METADATA_BYTES);
      size = MAX_ANSWER_BYTES + 1;
      const err = await failure(send(get(server, '/big'), { timeoutMs: 20_000 }));
      assert.deepEqual([err.code, err.message], [ANSWER_TOO_LARGE, 'the answer to GET /big is larger than 32 MiB']);
    });
  });

  describe('the time', () => {
    it('bounds the whole request, the body included: an answer that trickles in is stopped when the time is up', async () => {
      let writes = 0;
      server = await serveHttp((res) => {
        res.writeHead(200);
        // A byte every 50 ms, for ever: no pause is long enough for an idle timeout.
        const tick = setInterval(() => {
          writes += 1;
          res.write('a');
        }, 50);
        res.on('close', () => clearInterval(tick));
      });
      const err = await failure(send(get(server, '/slow'), { timeoutMs: 400 }));
      assert.deepEqual([err.code, err.message, err.sent], ['ETIMEDOUT', 'no answer within 0.4 s', true]);
      assert.ok(writes >= 2, `the answer had begun (${writes} writes)`);
    });

    it('a connection that is not made within connectTimeoutMs fails as not sent, before the whole time is up', async () => {
      // A TLS handshake that never ends: https is not connected until it does.
      const silent = await silentTls();
      try {
        const err = await failure(send(get(silent.origin, '/token'), { timeoutMs: 10_000, connectTimeoutMs: 300 }));
        assert.deepEqual([err.code, err.message, err.sent], ['ETIMEDOUT', 'no connection within 0.3 s', false]);
        const whole = await failure(send(get(silent.origin, '/token'), { timeoutMs: 300 }));
        assert.deepEqual([whole.code, whole.message, whole.sent], ['ETIMEDOUT', 'no answer within 0.3 s', false]);
      } finally {
        await silent.close();
      }
    });

    it('a refused connection was not sent', async () => {
      const err = await failure(send(get('http://127.0.0.1:1', '/'), { timeoutMs: 2000 }));
      assert.deepEqual([err.code, err.sent], ['ECONNREFUSED', false]);
    });
  });

  it('returns a redirect as the answer and never asks where it points', async () => {
    const elsewhere = await serveHttp((res) => res.end('{"oidcToken":"a.b.c"}'));
    try {
      server = await serveHttp((res) => {
        res.writeHead(302, { location: `${elsewhere.origin}/stolen` });
        res.end();
      });
      const answer = await send(
        { method: 'POST', url: new URL('/token', server.origin), headers: { authorization: 'Bearer t' }, json: {} },
        { timeoutMs: 5000 },
      );
      assert.equal(answer.status, 302);
      assert.deepEqual(
        server.seen.map((r) => r.path),
        ['/token'],
      );
      assert.deepEqual(elsewhere.seen, [], 'the redirect was not followed');
    } finally {
      await elsewhere.close();
    }
  });

  it('an answer that is not JSON comes back as its text; parseBody keeps it as text, and keeps JSON numbers as sent', async () => {
    server = await serveHttp((res) => res.end('<html>gateway error {"errors":'));
    const answer = await send(get(server, '/v1/secret'), { timeoutMs: 5000 });
    assert.deepEqual(answer, { status: 200, text: '<html>gateway error {"errors":' });
    assert.equal(parseBody(answer.text), '<html>gateway error {"errors":');
    assert.equal(parseBody(''), undefined);
    assert.deepEqual(parseBody('{"n":12345678901234567890}'), { n: new LosslessNumber('12345678901234567890') });
  });

  it('parseBody gives every number exactly as sent, whichever parser reads the answer', () => {
    // Written as Vault writes (compact, a newline after), with numbers as JavaScript writes them:
    // JSON.parse's result, plain numbers.
    const compact = '{"lease_duration":0,"data":{"data":{"pin":"0042","n":-7,"f":0.5,"big":9007199254740991},"metadata":{"version":3}}}\n';
    const plain = parseBody(compact) as { lease_duration: unknown; data: { data: Record<string, unknown> } };
    assert.deepEqual(plain.data.data, { pin: '0042', n: -7, f: 0.5, big: 9007199254740991 });
    assert.equal(typeof plain.lease_duration, 'number');
    // A number JavaScript would write otherwise anywhere in the answer: every number keeps its text.
    for (const [number, text] of [
      ['0.10', '0.10'],
      ['1e3', '1e3'],
      ['1.0', '1.0'],
      ['-0', '-0'],
      ['12345678901234567890', '12345678901234567890'],
      ['9007199254740993', '9007199254740993'],
      ['1E-7', '1E-7'],
    ]) {
      const body = parseBody(`{"lease_duration":0,"data":{"v":${number},"w":5}}`) as { data: { v: unknown; w: unknown } };
      assert.deepEqual(body.data.v, new LosslessNumber(text), number);
      assert.equal(stringifyJson(body.data), `{"v":${text},"w":5}`, number);
    }
    // Escapes as Go writes them, white space, keys out of JavaScript's order: the same values.
    assert.deepEqual(parseBody('{"v":"\\u003cb\\u003e \\u0026"}'), { v: '<b> &' });
    assert.deepEqual(parseBody('{ "a" : "x" }'), { a: 'x' });
    assert.deepEqual(Object.keys(parseBody('{"b":"1","2":"x"}') as object), ['2', 'b']);
    // `__proto__` is an own key of a plain object on both ways, never the prototype.
    for (const text of ['{"__proto__":{"polluted":"yes"}}', '{"__proto__": {"polluted": "yes"}}']) {
      const body = parseBody(text) as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(body), Object.prototype, text);
      assert.deepEqual(Object.getOwnPropertyDescriptor(body, '__proto__')?.value, { polluted: 'yes' }, text);
      assert.equal(body.polluted, undefined, text);
    }
    // A key given twice with two values is not taken as either: the answer is not JSON.
    assert.equal(parseBody('{"v":"a","v":"b"}'), '{"v":"a","v":"b"}');
    assert.deepEqual(parseBody('{"v":"a","v":"a"}'), { v: 'a' });
  });

  it('sends the headers and the JSON body it is given, and nothing the environment says about proxies', async () => {
    let seen: { headers: http.IncomingHttpHeaders; body: string } | undefined;
    server = await serveHttp((res, req) => {
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
        { method: 'POST', url: new URL('/x', server.origin), headers: { 'metadata-flavor': 'Google' }, json: { a: 1 } },
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
