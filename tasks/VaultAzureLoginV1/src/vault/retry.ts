// Retry policy as Vault's own client has it: connection errors, 412, 429 and 5xx except 501,
// with linear jittered backoff; never the azure login's permanent 500s. Pure: sleep and random
// arrive as parameters.
import { isPermanentTlsFailure } from '../core/tlsFailures';
import { ANSWER_TOO_LARGE, answerLost, notPerformed, PLUGIN_CRASHED, VaultHttpError, VaultNetworkError } from '../core/failures';

export interface RetryPolicy {
  retries: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /** Told about each retry: what failed, attempt number, attempts in all, cause, wait. */
  onRetry: (what: string, attempt: number, attempts: number, cause: string, waitMs: number) => void;
}

/**
 * Errors the azure auth plugin returns as 500 that no retry can fix (openbao-plugins auth/azure
 * azure.go, path_login.go). Not among them: Vault unable to reach Entra (`Get "…/openid-configuration":
 * EOF` or a dial error) or to fetch its signing keys (`failed to verify signature: fetching keys …`),
 * and an ARM lookup that failed on the way: those may pass on the next attempt.
 */
const permanentLogin = [
  /^oidc: /,
  /^invalid role name/,
  /^tenant_id is required$/,
  /^resource is required$/,
  // Entra refused the discovery request: a tenant that does not exist (AADSTS90002).
  /^4\d\d [^:]*: \{/,
  /^failed to verify signature: failed to verify id token signature/,
  /^token is not yet valid/,
  /^service principal not authorized/,
  /^groups not authorized/,
  /both cannot be '\*'$/,
  /^subscription_id and resource_group_name are required$/,
  /^(subscription|resource group|location|scale set) not authorized$/,
  /^bound scale set defined but this vm isn't in a scale set$/,
  /^scale set requires the vmss_name field to be set$/,
  /^one of vm_name, vmss_name, resource_id, or an appid JWT claim must be provided$/,
  /^token object id does not match expected identities/,
  /^neither token object id nor token app id match expected identities$/,
  /client did not return identity information$/,
  /^location is empty$/,
  /xms_az_rid|xms_mirid/,
  /^provided resource_id does not match resource_group_name$/,
  /^unable to retrieve virtual machine (scale set )?metadata: [\s\S]*(AADSTS\d+|AuthorizationFailed|ResourceNotFound|ResourceGroupNotFound|SubscriptionNotFound|InvalidAuthenticationToken|ManagedIdentityCredential)/,
];

export function isRetryable(err: unknown): boolean {
  // As Vault's Go client judges: a certificate failure or an answer too large to read comes back
  // the same however often the request is made.
  if (err instanceof VaultNetworkError) return !isPermanentTlsFailure(err.code) && err.code !== ANSWER_TOO_LARGE;
  if (!(err instanceof VaultHttpError)) return false;
  if (err.errors.some((e) => permanentLogin.some((p) => p.test(e)))) return false;
  return err.status === 412 || err.status === 429 || (err.status >= 500 && err.status !== 501);
}

/**
 * For a request that spends or creates something (an unwrap spends its wrapping token, a login
 * creates a token and may use up a secret_id): retried only when Vault provably did not perform
 * it — the request never reached Vault (refused, DNS, the TLS handshake: nothing of it was
 * written), or Vault answered that it turned it away (sealed, standby, 429, 412; see
 * notPerformed). After a lost answer (a reset or a timeout once the request was written, a
 * gateway's 502) Vault may have performed it: a second attempt would find the wrapping token or
 * secret_id spent and be refused, and would leave the first attempt's token behind.
 */
export function isRetryableOnce(err: unknown): boolean {
  return notPerformed(err) && isRetryable(err);
}

/**
 * For a login, which creates a token: never retried after its answer was lost (Vault may have
 * issued a token, which a retry would leave behind; see answerLost), nor after it crashed its auth
 * plugin (the same login crashes it again); else as any request: Vault's own error answer means it
 * issued none. A login that may spend its credential (an AppRole secret_id with
 * secret_id_num_uses) follows isRetryableOnce instead.
 */
export function isRetryableLogin(err: unknown): boolean {
  if (err instanceof VaultHttpError && err.errors.some((e) => PLUGIN_CRASHED.test(e))) return false;
  return !answerLost(err) && isRetryable(err);
}

/** Wait before retry number `attempt` (1-based): attempt × 1–1.5 s, as Vault's LinearJitterBackoff. */
export function backoffMs(attempt: number, random: () => number): number {
  return Math.round(attempt * (1000 + random() * 500));
}

export function describeFailure(err: unknown): string {
  if (err instanceof VaultHttpError)
    return `HTTP ${err.status}${err.errors.length ? `: ${err.errors.join('; ').replace(/\s+/g, ' ').trim()}` : ''}`;
  if (err instanceof VaultNetworkError) return err.code;
  return err instanceof Error ? err.message : String(err);
}

export async function withRetry<T>(
  what: string,
  fn: () => Promise<T>,
  policy: RetryPolicy,
  retryable: (err: unknown) => boolean = isRetryable,
): Promise<T> {
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
