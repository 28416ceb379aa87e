import * as assert from 'node:assert/strict';
import { limiter, mapLimit } from '../../tasks/VaultAzureLoginV1/src/core/concurrency';

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

describe('limiter', () => {
  /** A call that ends when `end(i)` is called; `started` lists the calls that have begun. */
  const controlled = () => {
    const started: number[] = [];
    const enders = new Map<number, (fail?: boolean) => void>();
    const call = (i: number) => () => {
      started.push(i);
      return new Promise<number>((resolve, reject) => enders.set(i, (fail) => (fail ? reject(new Error(`call ${i}`)) : resolve(i))));
    };
    const end = async (i: number, fail = false) => {
      enders.get(i)!(fail);
      for (let k = 0; k < 3; k++) await new Promise((r) => setImmediate(r));
    };
    return { started, call, end };
  };

  it('runs at most `limit` calls at once; a waiting call starts when one ends, in the order they came', async () => {
    const gate = limiter(2);
    const c = controlled();
    const done = [0, 1, 2, 3].map((i) => gate(c.call(i)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(c.started, [0, 1]);
    await c.end(1);
    assert.deepEqual(c.started, [0, 1, 2]);
    await c.end(0);
    assert.deepEqual(c.started, [0, 1, 2, 3]);
    await c.end(2);
    await c.end(3);
    assert.deepEqual(await Promise.all(done), [0, 1, 2, 3]);
  });

  it('starts an urgent call ahead of the waiting calls that are not, after the urgent ones that came before it', async () => {
    const gate = limiter(1);
    const c = controlled();
    const done = [gate(c.call(0)), gate(c.call(1)), gate(c.call(2), true), gate(c.call(3)), gate(c.call(4), true)];
    await new Promise((r) => setImmediate(r));
    for (const i of [0, 2, 4, 1, 3]) await c.end(i);
    assert.deepEqual(c.started, [0, 2, 4, 1, 3]);
    await Promise.all(done);
  });

  it('gives the place of a failed call on and passes the failure to its caller', async () => {
    const gate = limiter(1);
    const c = controlled();
    const first = assert.rejects(gate(c.call(0)), /call 0/);
    const second = gate(c.call(1));
    await new Promise((r) => setImmediate(r));
    await c.end(0, true);
    await first;
    assert.deepEqual(c.started, [0, 1]);
    await c.end(1);
    assert.equal(await second, 1);
    // The place is free again: the next call starts at once.
    const third = gate(c.call(2));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(c.started, [0, 1, 2]);
    await c.end(2);
    await third;
  });
});
