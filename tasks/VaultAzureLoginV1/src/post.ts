// Entry of the post-job step: wiring only. Cleans up what the main step left, with nothing but the
// state it saved (no input or variable is read again); never fails the job.
import { loadMessages, loc, log, mask, retryPolicy, succeed, taskState, warn } from './pipeline/adapter';
import { cleanup } from './cleanup';
import { removeSecretFile } from './pipeline/files';
import { loadState } from './pipeline/state';
import { createVaultClient } from './vault/client';

export async function post(): Promise<void> {
  loadMessages(__dirname);
  try {
    const state = loadState(taskState);
    if (state.token) mask(state.token);
    await cleanup(state, {
      createVault: createVaultClient,
      removeFile: removeSecretFile,
      retry: retryPolicy(state.vault?.retries ?? 0),
      setTimer: (fn, ms) => {
        const timer = setTimeout(fn, ms);
        return () => clearTimeout(timer);
      },
      log,
      warn,
      loc,
    });
  } catch (err) {
    warn(loc('CleanupFailed', err instanceof Error ? err.message : String(err)));
  }
  succeed();
}

if (require.main === module) void post();
