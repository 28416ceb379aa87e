import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { inOneWrite, onFirstRequestSent } from '../../tasks/VaultAzureLoginV1/src/pipeline/scheduling';

/** A stream that records each write it receives as the list of lines in it. */
function recorder() {
  const writes: string[][] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      writes.push([String(chunk)]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map((c) => String(c.chunk)));
      done();
    },
  });
  return { stream, writes };
}

describe('inOneWrite', () => {
  it('hands every line written inside to the stream in one write, in order, when it returns', () => {
    const { stream, writes } = recorder();
    const value = inOneWrite(() => {
      for (const line of ['##vso[task.setsecret]a\n', '##vso[task.setvariable variable=A;issecret=true;]a\n', 'published A\n'])
        stream.write(line);
      assert.deepEqual(writes, [], 'nothing is written before the end');
      return 42;
    }, stream);
    assert.equal(value, 42);
    assert.deepEqual(writes, [['##vso[task.setsecret]a\n', '##vso[task.setvariable variable=A;issecret=true;]a\n', 'published A\n']]);
  });

  it('still writes what was written before a failure, and passes the failure on', () => {
    const { stream, writes } = recorder();
    assert.throws(
      () =>
        inOneWrite(() => {
          stream.write('##vso[task.setsecret]a\n');
          throw new Error('multi-line secret');
        }, stream),
      /multi-line secret/,
    );
    assert.deepEqual(writes.flat(), ['##vso[task.setsecret]a\n']);
    stream.write('later\n');
    assert.deepEqual(writes.flat(), ['##vso[task.setsecret]a\n', 'later\n'], 'the stream is not left held');
  });
});

describe('onFirstRequestSent', () => {
  let server: http.Server;
  let url: string;
  before(async () => {
    // Answers each request a while after it arrives, as a distant server would.
    server = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 100));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (): Promise<string> =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent: false }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });

  it('runs once the first request is sent, while its answer is awaited, and not again', async () => {
    const events: string[] = [];
    onFirstRequestSent(() => events.push('ran'));
    events.push(`answer: ${await get()}`);
    events.push(`answer: ${await get()}`);
    assert.deepEqual(events, ['ran', 'answer: ok', 'answer: ok']);
  });

  it('does not run once cancelled', async () => {
    let ran = false;
    const warmUp = onFirstRequestSent(() => {
      ran = true;
    });
    warmUp.cancel();
    await get();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ran, false);
  });
});
