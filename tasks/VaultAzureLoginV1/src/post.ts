// Entry of the post-job step: wiring only. Cleans up what the main step left, with nothing but the
// state it saved (no input or variable is read again); never fails the job.
import * as tl from 'azure-pipelines-task-lib/task';
import { loadMessages, loc, log, retryPolicy, taskState, warn } from './adapter';
import { cleanup } from './cleanup';
import { removeSecretFile } from './files';
import { loadState } from './state';
import { createVaultClient } from './vault';

export async function post(): Promise<void> {
  loadMessages(__dirname);
  try {
    const state = loadState(taskState);
    if (state.token) tl.setSecret(state.token);
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
  tl.setResult(tl.TaskResult.Succeeded, '');
}

if (require.main === module) void post();
