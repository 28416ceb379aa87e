import * as assert from 'node:assert/strict';
import { maskAll, maskPiecesOf, publishAll, publishedForm, VariableSink } from '../../tasks/VaultAzureLoginV1/src/publish';

class RecordingSink implements VariableSink {
  readonly events: string[] = [];
  readonly flagAtSet: Array<string | undefined> = [];
  setSecret(value: string): void {
    if (/[\r\n]/.test(value)) throw new Error('multi-line mask');
    this.events.push(`mask ${value}`);
  }
  setVariable(name: string, value: string, secret: boolean, isOutput: boolean): void {
    this.flagAtSet.push(process.env.SYSTEM_UNSAFEALLOWMULTILINESECRET);
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
    assert.deepEqual(sink.events, ['set CERT=/agent/tmp/VaultAzureLogin-1/CERT secret=false output', 'set K={"a":1} secret=true output']);
  });

  it('masks a file value line by line as written, not compacted', () => {
    const sink = new RecordingSink();
    maskAll([{ name: 'F', value: '{\n  "a": 1\n}', source: 's k', toFile: true }], sink);
    assert.deepEqual(sink.events, ['mask {', 'mask "a": 1', 'mask }']);
  });

  afterEach(() => delete process.env.SYSTEM_UNSAFEALLOWMULTILINESECRET);

  it('masks each non-empty line of a multi-line value, trimmed and once each', () => {
    assert.deepEqual(maskPiecesOf('-----BEGIN KEY-----\r\nabc\n\n  def  \nabc\n'), ['-----BEGIN KEY-----', 'abc', 'def']);
    assert.deepEqual(maskPiecesOf('one-line'), ['one-line']);
    assert.deepEqual(maskPiecesOf(''), []);
  });

  it('publishes multi-line JSON as compact JSON and masks that one line', () => {
    assert.deepEqual(publishedForm('{\n  "a": 1\n}'), { value: '{"a":1}', compacted: true });
    assert.deepEqual(publishedForm('line1\nline2'), { value: 'line1\nline2', compacted: false });
    const sink = new RecordingSink();
    maskAll([{ name: 'CFG', value: '{\n  "a": 1\n}', source: 's .' }], sink);
    assert.deepEqual(sink.events, ['mask {"a":1}']);
  });

  it('sets every value as a secret variable and allows multi-line only while setting it', () => {
    process.env.SYSTEM_UNSAFEALLOWMULTILINESECRET = 'false';
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
    assert.deepEqual(sink.flagAtSet, ['false', 'true', 'false']);
    assert.equal(process.env.SYSTEM_UNSAFEALLOWMULTILINESECRET, 'false', 'the flag is restored');
    assert.deepEqual(published.map((p) => p.name), ['A', 'PEM', 'B']);
  });

  it('removes the multi-line flag again when it was not set before', () => {
    publishAll([{ name: 'PEM', value: 'l1\nl2', source: 'p pem', secret: true }], new RecordingSink(), false);
    assert.equal('SYSTEM_UNSAFEALLOWMULTILINESECRET' in process.env, false);
  });
});
