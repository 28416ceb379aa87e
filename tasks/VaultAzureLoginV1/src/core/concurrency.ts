// Runs async work over a list with at most `limit` calls in flight, keeping result order.

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The calls start one per event-loop turn. Node sends what an HTTP/2 session has queued at the
 * end of a turn, so 64 requests started in one turn would all wait until the last was made
 * (about 15 ms on a cold start) before the first left; started a turn apart, each leaves as soon
 * as it is made, and the answers come back spread out instead of in one burst.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  };
  const workers: Array<Promise<void>> = [];
  const count = Math.max(1, Math.min(limit, items.length));
  for (let i = 0; i < count; i++) {
    if (i > 0) await nextTurn();
    const started = worker();
    // Handled at once, so a failure while later calls are still starting is not reported as
    // unhandled; Promise.all below passes it on.
    started.catch(() => undefined);
    workers.push(started);
  }
  await Promise.all(workers);
  return results;
}

/**
 * A gate that lets at most `limit` calls run at once, whoever makes them: the others wait for a call
 * to end, in the order they came, an `urgent` one ahead of all that are not.
 */
export function limiter(limit: number): <R>(fn: () => Promise<R>, urgent?: boolean) => Promise<R> {
  let running = 0;
  const waiting: Array<{ go: () => void; urgent: boolean }> = [];
  return async (fn, urgent = false) => {
    if (running < limit) running++;
    else {
      // The ending call hands its place on.
      await new Promise<void>((go) => {
        const at = urgent ? waiting.findIndex((w) => !w.urgent) : -1;
        waiting.splice(at < 0 ? waiting.length : at, 0, { go, urgent });
      });
    }
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next.go();
      else running--;
    }
  };
}
