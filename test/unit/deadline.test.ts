import * as assert from 'node:assert/strict';
import * as sinon from 'sinon';
import { DeadlineError, withDeadline } from '../../tasks/VaultAzureLoginV1/src/core/deadline';

describe('withDeadline', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => (clock = sinon.useFakeTimers()));
  afterEach(() => clock.restore());

  it('gives the result of work that ends in time, and leaves no timer behind', async () => {
    const done = withDeadline(Promise.resolve('token'), 2000);
    assert.equal(await done, 'token');
    assert.equal(clock.countTimers(), 0);
  });

  it('passes on the failure of work that fails in time', async () => {
    await assert.rejects(withDeadline(Promise.reject(new Error('refused')), 2000), /refused/);
    assert.equal(clock.countTimers(), 0);
  });

  it('fails with a DeadlineError once the time is up, and ignores what the work does later', async () => {
    let settle!: (v: string) => void;
    const work = new Promise<string>((resolve) => (settle = resolve));
    const bounded = withDeadline(work, 2000);
    const outcome = bounded.then(
      () => 'resolved',
      (err: unknown) => err,
    );
    await clock.tickAsync(1999);
    assert.equal(clock.countTimers(), 1, 'still waiting at 1999 ms');
    await clock.tickAsync(1);
    const err = await outcome;
    assert.ok(err instanceof DeadlineError);
    assert.equal(err.ms, 2000);
    assert.equal(err.message, 'no answer within 2 s');
    settle('late');
    await clock.tickAsync(0);
  });

  it('never makes a late failure of the work an unhandled rejection', async () => {
    let fail!: (e: Error) => void;
    const work = new Promise<string>((_, reject) => (fail = reject));
    const bounded = withDeadline(work, 10).catch((e: unknown) => e);
    await clock.tickAsync(10);
    assert.ok((await bounded) instanceof DeadlineError);
    const unhandled = sinon.spy();
    process.on('unhandledRejection', unhandled);
    fail(new Error('late'));
    await clock.tickAsync(0);
    await clock.tickAsync(1);
    process.off('unhandledRejection', unhandled);
    assert.equal(unhandled.callCount, 0);
  });
});
