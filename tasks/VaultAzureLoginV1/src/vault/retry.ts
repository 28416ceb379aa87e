// Retry policy as Vault's own client has it: connection errors, 412, 429 and 5xx except 501,
// with linear jittered backoff; never the azure login's permanent 500s. Pure: sleep and random
// arrive as parameters.
import { isPermanentTlsFailure } from '../core/tlsFailures';
import { ANSWER_TOO_LARGE, VaultHttpError, VaultNetworkError } from '../core/failures';

export interface RetryPolicy {
  retries: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /** Told about each retry: what failed, attempt number, attempts in all, cause, wait. */
  onRetry: (what: string, attempt: number, attempts: number, cause: string, waitMs: number) => void;
}

/** Errors the azure auth plugin returns as 500 that no retry can fix. */
const permanentLogin = [/^oidc: /, /service principal not authorized/, /failed to verify signature/, /token is not yet valid/, /^invalid role name/];

export function isRetryable(err: unknown): boolean {
  // As Vault's Go client judges: a certificate failure or an answer too large to read comes back
  // the same however often the request is made.
  if (err instanceof VaultNetworkError) return !isPermanentTlsFailure(err.code) && err.code !== ANSWER_TOO_LARGE;
  if (!(err instanceof VaultHttpError)) return false;
  if (err.errors.some((e) => permanentLogin.some((p) => p.test(e)))) return false;
  return err.status === 412 || err.status === 429 || (err.status >= 500 && err.status !== 501);
}

/** Wait before retry number `attempt` (1-based): attempt × 1–1.5 s, as Vault's LinearJitterBackoff. */
export function backoffMs(attempt: number, random: () => number): number {
  return Math.round(attempt * (1000 + random() * 500));
}

export function describeFailure(err: unknown): string {
  if (err instanceof VaultHttpError) return `HTTP ${err.status}${err.errors.length ? `: ${err.errors.join('; ').replace(/\s+/g, ' ').trim()}` : ''}`;
  if (err instanceof VaultNetworkError) return err.code;
  return err instanceof Error ? err.message : String(err);
}

export async function withRetry<T>(what: string, fn: () => Promise<T>, policy: RetryPolicy, retryable: (err: unknown) => boolean = isRetryable): Promise<T> {
  const attempts = policy.retries + 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err;
      const wait = backoffMs(attempt, policy.random);
      policy.onRetry(what, attempt, attempts, describeFailure(err), wait);
      await policy.sleep(wait);
    }
  }
}
