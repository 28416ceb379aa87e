// Entry of the post-job step: wiring only. Cleans up what the main step left; never fails the job.
import * as tl from 'azure-pipelines-task-lib/task';
import { loadMessages, loc, log, retryPolicy, taskState, warn } from './adapter';
import { cleanup } from './cleanup';
import { removeSecretFile } from './files';
import { readPostSettings } from './inputs';
import { loadState } from './state';
import { createVaultClient } from './vault';

export async function post(): Promise<void> {
  loadMessages(__dirname);
  try {
    const state = loadState(taskState);
    if (state.token) tl.setSecret(state.token);
    const settings = readPostSettings();
    if ('warnings' in settings) for (const w of settings.warnings) tl.debug(w);
    await cleanup(state, 'value' in settings ? settings.value : settings, {
      createVault: createVaultClient,
      removeFile: removeSecretFile,
      retry: retryPolicy('value' in settings ? settings.value.retries : 2),
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
