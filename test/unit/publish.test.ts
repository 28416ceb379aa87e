import * as assert from 'node:assert/strict';
import { maskAll, maskPiecesOf, publishAll, tooShortToMask, VariableSink } from '../../tasks/VaultAzureLoginV1/src/pipeline/publish';

class RecordingSink implements VariableSink {
  readonly events: string[] = [];
  setSecret(value: string): void {
    if (/[\r\n]/.test(value)) throw new Error('multi-line mask');
    this.events.push(`mask ${value}`);
  }
  setVariable(name: string, value: string, secret: boolean, isOutput: boolean): void {
    this.events.push(`set ${name}=${value} secret=${secret}${isOutput ? ' output' : ''}`);
  }
}

describe('masking and publishing', () => {
  it('publishes file paths as plain variables and everything as output variables when asked', () => {
    const sink = new RecordingSink();
    publishAll(
      [
        { name: 'CERT', value: '/agent/tmp/VaultAzureLogin-1/CERT', source: 'p cert', secret: false },
        { name: 'K', value: '{\n "a": 1\n}', source: 'p k', secret: true },
      ],
      sink,
      true,
    );
    assert.deepEqual(sink.events, [
      'set CERT=/agent/tmp/VaultAzureLogin-1/CERT secret=false output',
      'set K={\n "a": 1\n} secret=true output',
    ]);
  });

  it('masks a value line by line exactly as read, file or variable, leaving out lines of JSON punctuation alone', () => {
    for (const toFile of [true, false]) {
      const sink = new RecordingSink();
      maskAll([{ name: 'F', value: '{\n  "a": 1,\n  "b": [\n    "x"\n  ],\n}', source: 's k', toFile }], sink);
      assert.deepEqual(sink.events, ['mask "a": 1,', 'mask "b": [', 'mask "x"']);
    }
  });

  it('masks each non-empty line of a multi-line value, trimmed and once each, and never white space alone', () => {
    assert.deepEqual(maskPiecesOf('-----BEGIN KEY-----\r\nabc\n\n  def  \nabc\n'), ['-----BEGIN KEY-----', 'abc', 'def']);
    assert.deepEqual(maskPiecesOf('one-line'), ['one-line']);
    assert.deepEqual(maskPiecesOf(' padded '), [' padded '], 'a one-line value is masked as it is');
    assert.deepEqual(maskPiecesOf(''), []);
    assert.deepEqual(maskPiecesOf('   '), []);
    assert.deepEqual(maskPiecesOf('\t \n  \r\n'), []);
    assert.deepEqual(maskPiecesOf('{\n}'), []);
  });

  it('finds the values of one or two characters, which the log cannot usefully mask', () => {
    const v = (value: string) => ({ name: 'N', value, source: 's k' });
    assert.deepEqual(
      tooShortToMask([v('a'), v('ab'), v('abc'), v(''), v('  '), v(' x '), v('é1'), v('😀')]).map((x) => x.value),
      ['a', 'ab', ' x ', 'é1', '😀'],
    );
  });

  it('sets every value as a secret variable in order, a multi-line one unchanged', () => {
    const sink = new RecordingSink();
    const published = publishAll(
      [
        { name: 'A', value: 'x', source: 'p a', secret: true },
        { name: 'PEM', value: 'l1\nl2', source: 'p pem', secret: true },
        { name: 'B', value: 'y', source: 'p b', secret: true },
      ],
      sink,
      false,
    );
    assert.deepEqual(sink.events, ['set A=x secret=true', 'set PEM=l1\nl2 secret=true', 'set B=y secret=true']);
    assert.deepEqual(
      published.map((p) => p.name),
      ['A', 'PEM', 'B'],
    );
  });
});
