// The post-job work: revoke the leases of dynamic secrets, revoke the token, delete secret files.
// Only the Vault the main step saved is called, as the main step reached it: no input or variable
// is read again. Bounded: the leases are revoked in parallel, then the token, all within
// DEADLINE_TIMEOUTS × timeoutSeconds; what is left then is named in one warning. Never throws:
// every failure is a warning, because a post-job step must not fail the job.
import { mapLimit } from './core/concurrency';
import { explainNetwork } from './core/errors';
import { describeFailure, RetryPolicy } from './vault/retry';
import { JobState, SavedVault } from './pipeline/state';
import { clientOptionsFor, VaultApi, VaultClientOptions, VaultHttpError, VaultNetworkError } from './vault/client';

export interface CleanupDeps {
  createVault: (opts: VaultClientOptions) => VaultApi;
  removeFile: (path: string) => boolean;
  retry: RetryPolicy;
  /** Calls `fn` after `ms` milliseconds; returns what cancels it. */
  setTimer: (fn: () => void, ms: number) => () => void;
  log: (line: string) => void;
  warn: (line: string) => void;
  loc: (key: string, ...args: unknown[]) => string;
}

/**
 * The revocation ends this many timeouts (timeoutSeconds) after it starts; the token's turn comes
 * when the leases are done, or after one timeout at the latest, so leases that hang leave the
 * token time of its own (revoking a service token revokes its leases too).
 */
export const DEADLINE_TIMEOUTS = 2;
/** Lease revocations in flight at once. */
const LEASES_AT_ONCE = 16;

const isBatch = (state: JobState) => state.tokenType === 'batch' || /^(hvb|b)\./.test(state.token ?? '');

export async function cleanup(state: JobState, deps: CleanupDeps): Promise<void> {
  const { log, warn, loc } = deps;
  if (!state.token && !state.leaseIds.length && !state.files.length) {
    log(loc('NothingToClean'));
    return;
  }

  const revokeToken = state.revokeToken && !isBatch(state);
  if (state.token && (state.leaseIds.length || revokeToken)) {
    // Without the saved Vault the inputs are not a fallback: a later step may have pointed them
    // (or VAULT_ADDR) at another server, which would receive the token.
    if (!state.vault) warn(loc('CleanupSettingsInvalid', loc('SavedVaultMissing')));
    else await revoke(state.vault, state.token, state.leaseIds, revokeToken, deps);
  }
  if (state.token && !state.revokeToken) log(loc('TokenKept'));
  else if (state.token && isBatch(state)) log(loc('BatchTokenExpires'));

  for (const file of state.files) {
    try {
      if (deps.removeFile(file)) log(loc('FileRemoved', file));
    } catch (err) {
      warn(loc('FileRemoveFailed', file, (err as NodeJS.ErrnoException).code ?? String(err)));
    }
  }
}

/** Leases in parallel, then the token (unless kept or batch); each failure only warns, the deadline ends it all. */
async function revoke(target: SavedVault, token: string, leaseIds: string[], revokeToken: boolean, deps: CleanupDeps): Promise<void> {
  const { log, warn, loc } = deps;
  const timeoutMs = target.timeoutSeconds * 1000;
  const deadlineMs = DEADLINE_TIMEOUTS * timeoutMs;
  // Set at the deadline, or when the step is done: no outcome is reported after it and no retry starts.
  let stopped = false;
  let reachDeadline = (): void => undefined;
  const deadline = new Promise<void>((resolve) => (reachDeadline = resolve));
  let tokenTurn = (): void => undefined;
  const tokenMayStart = new Promise<void>((resolve) => (tokenTurn = resolve));
  const timers = [
    deps.setTimer(() => {
      stopped = true;
      reachDeadline();
    }, deadlineMs),
  ];
  if (revokeToken) timers.push(deps.setTimer(() => tokenTurn(), timeoutMs));

  // Vault's retry policy, within the deadline: a wait that ends after it never ends, so the
  // attempt after it is never sent.
  const never = new Promise<never>(() => undefined);
  const retry: RetryPolicy = {
    ...deps.retry,
    sleep: async (ms) => {
      if (!stopped) await deps.retry.sleep(ms);
      if (stopped) await never;
    },
    onRetry: (what, attempt, attempts, cause, waitMs) => {
      if (!stopped) deps.retry.onRetry(what, attempt, attempts, cause, waitMs);
    },
  };
  const vault = deps.createVault(clientOptionsFor(target, retry, token));
  // A cause goes inside a sentence of its own: without its closing full stop.
  const cause = (err: unknown) =>
    (err instanceof VaultNetworkError ? explainNetwork(err, target.address, target.timeoutSeconds, loc) : describeFailure(err)).replace(
      /\.$/,
      '',
    );

  const unsettled = new Set(leaseIds);
  let tokenSettled = !revokeToken;
  // Revoked now, or found gone: either way Vault revokes its leases with it.
  let tokenGone = false;
  try {
    const leases = mapLimit(leaseIds, LEASES_AT_ONCE, async (lease) => {
      if (stopped) return;
      try {
        await vault.revokeLease(lease);
        if (stopped) return;
        log(loc('LeaseRevoked', lease));
      } catch (err) {
        if (stopped) return;
        warn(loc('LeaseRevokeFailed', lease, cause(err)));
      }
      unsettled.delete(lease);
    });

    if (revokeToken) {
      await Promise.race([leases, tokenMayStart]);
      const revokeSelf = async () => {
        try {
          await vault.revokeSelf();
          if (stopped) return;
          log(loc('TokenRevoked'));
          tokenGone = true;
        } catch (err) {
          if (stopped) return;
          const refused = err instanceof VaultHttpError && err.status === 403;
          // Vault says "invalid token" for a token that is gone. OpenBao says only "permission
          // denied", which Vault also says to a live token whose policies lack revoke-self.
          const gone = refused && err.errors.some((e) => /invalid token/.test(e));
          if (gone) log(loc('TokenAlreadyGone'));
          else if (refused && err.errors.some((e) => /permission denied/.test(e))) warn(loc('TokenRevokeDenied'));
          else warn(loc('TokenRevokeFailed', cause(err)));
          tokenGone = gone;
        }
        tokenSettled = true;
      };
      if (!stopped) await Promise.race([revokeSelf(), deadline]);
    }
    if (!tokenGone) await Promise.race([leases, deadline]);
    stopped = true;

    const left = [...unsettled];
    if (tokenGone) {
      if (left.length) log(loc('LeasesWentWithToken', left.join(', ')));
    } else if (left.length || !tokenSettled) {
      const key = tokenSettled ? 'RevokeDeadlineLeases' : left.length ? 'RevokeDeadlineTokenAndLeases' : 'RevokeDeadlineToken';
      const args = left.length ? [deadlineMs / 1000, DEADLINE_TIMEOUTS, left.join(', ')] : [deadlineMs / 1000, DEADLINE_TIMEOUTS];
      warn(loc(key, ...args));
    }
  } finally {
    stopped = true;
    for (const cancel of timers) cancel();
    vault.close();
  }
}
