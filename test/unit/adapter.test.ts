import * as assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { inOneWrite } from '../../tasks/VaultAzureLoginV1/src/adapter';

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
      for (const line of ['##vso[task.setsecret]a\n', '##vso[task.setvariable variable=A;issecret=true;]a\n', 'published A\n']) stream.write(line);
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
