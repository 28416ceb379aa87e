import * as assert from 'node:assert/strict';
import { mapLimit } from '../../tasks/VaultAzureLoginV1/src/core/concurrency';

const later = <T>(value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), 1));

describe('mapLimit', () => {
  it('keeps the order of the items, whatever order the calls end in', async () => {
    const out = await mapLimit(
      [30, 5, 20, 1, 10],
      3,
      (ms, i) => new Promise<string>((resolve) => setTimeout(() => resolve(`${i}:${ms}`), ms)),
    );
    assert.deepEqual(out, ['0:30', '1:5', '2:20', '3:1', '4:10']);
  });

  it('has at most `limit` calls in flight, and reaches it', async () => {
    let inFlight = 0;
    let most = 0;
    await mapLimit(
      Array.from({ length: 40 }, (_, i) => i),
      8,
      async (i) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await later(i);
        inFlight -= 1;
      },
    );
    assert.equal(most, 8);
  });

  it('starts the first calls one per event-loop turn, so each request can leave before the next is made', async () => {
    // What a call queues for the end of its turn (as an HTTP/2 session queues its frames) has
    // happened by the time the next call starts.
    const flushed: boolean[] = [];
    const seenAtStart: boolean[] = [];
    let open = () => {};
    const allStarted = new Promise<void>((resolve) => (open = resolve));
    await mapLimit(
      Array.from({ length: 6 }, (_, i) => i),
      6,
      async (i) => {
        seenAtStart.push(i === 0 || flushed[i - 1] === true);
        setImmediate(() => (flushed[i] = true));
        if (i === 5) open();
        await allStarted; // none ends (and takes another item at once) before all have started
      },
    );
    assert.deepEqual(seenAtStart, [true, true, true, true, true, true]);
  });

  it('starts the first call at once, without waiting a turn', async () => {
    const started: number[] = [];
    const done = mapLimit([0, 1, 2], 3, async (i) => {
      started.push(i);
    });
    assert.deepEqual(started, [0], 'only the first call has started when mapLimit returns');
    await done;
    assert.deepEqual(started, [0, 1, 2]);
  });

  it('passes on a failure without an unhandled rejection while later calls are still starting', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await assert.rejects(
        mapLimit([0, 1, 2, 3], 4, async (i) => {
          if (i === 0) throw new Error('first call failed');
          return later(i);
        }),
        /first call failed/,
      );
      await later(0);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled, []);
  });

  it('runs nothing for no items', async () => {
    let calls = 0;
    assert.deepEqual(
      await mapLimit([], 4, async () => {
        calls += 1;
      }),
      [],
    );
    assert.equal(calls, 0);
  });
});
