// The post-job work: revoke the leases of dynamic secrets, revoke the token, delete secret files.
// Never throws: every failure is a warning, because a post-job step must not fail the job.
import { explainNetwork } from './errors';
import { VaultSettings } from './inputs';
import { describeFailure, RetryPolicy } from './retry';
import { JobState } from './state';
import { VaultApi, VaultClientOptions, VaultHttpError, VaultNetworkError } from './vault';

export interface CleanupDeps {
  createVault: (opts: VaultClientOptions) => VaultApi;
  removeFile: (path: string) => boolean;
  retry: RetryPolicy;
  log: (line: string) => void;
  warn: (line: string) => void;
  loc: (key: string, ...args: unknown[]) => string;
}

function cause(err: unknown, settings: VaultSettings, loc: CleanupDeps['loc']): string {
  if (err instanceof VaultNetworkError) return explainNetwork(err, settings.address, settings.timeoutSeconds, loc);
  return describeFailure(err);
}

const isBatch = (state: JobState) => state.tokenType === 'batch' || /^(hvb|b)\./.test(state.token ?? '');

export async function cleanup(state: JobState, settings: VaultSettings | { problem: string }, deps: CleanupDeps): Promise<void> {
  const { log, warn, loc } = deps;
  if (!state.token && !state.leaseIds.length && !state.files.length) {
    log(loc('NothingToClean'));
    return;
  }

  if (state.token && (state.leaseIds.length || (state.revokeToken && !isBatch(state)))) {
    if ('problem' in settings) {
      warn(loc('CleanupSettingsInvalid', settings.problem));
    } else {
      const vault = deps.createVault({
        address: settings.address,
        namespace: settings.namespace,
        authNamespace: settings.authNamespace,
        tls: settings.tls,
        proxy: settings.proxy,
        timeoutMs: settings.timeoutSeconds * 1000,
        retry: deps.retry,
        token: state.token,
      });
      try {
        await revoke(vault, state, settings, deps);
      } finally {
        vault.close();
      }
    }
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

/** Leases first, then the token (unless kept or batch); each failure only warns. */
async function revoke(vault: VaultApi, state: JobState, settings: VaultSettings, deps: CleanupDeps): Promise<void> {
  const { log, warn, loc } = deps;
  for (const lease of state.leaseIds) {
    try {
      await vault.revokeLease(lease);
      log(loc('LeaseRevoked', lease));
    } catch (err) {
      warn(loc('LeaseRevokeFailed', lease, cause(err, settings, loc)));
    }
  }
  if (state.revokeToken && !isBatch(state)) {
    try {
      await vault.revokeSelf();
      log(loc('TokenRevoked'));
    } catch (err) {
      const gone = err instanceof VaultHttpError && err.status === 403 && err.errors.some((e) => /invalid token/.test(e));
      if (gone) log(loc('TokenAlreadyGone'));
      else warn(loc('TokenRevokeFailed', cause(err, settings, loc)));
    }
  }
}
