// A bound on how long the step waits for work it cannot cancel itself (the Azure library's token
// request: Azure DevOps, Entra or IMDS may never answer, and the library has no timeout).

/** Thrown when `ms` passed before the work ended. */
export class DeadlineError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms / 1000} s`);
    this.name = 'DeadlineError';
  }
}

/**
 * The work's result, or a DeadlineError once `ms` passed; the work is left to end on its own (its
 * outcome, if it ever comes, is ignored). The timer does not keep the process alive.
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(ms)), ms);
    timer.unref();
  });
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
