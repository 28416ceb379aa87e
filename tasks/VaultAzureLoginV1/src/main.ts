// Entry of the main step: wiring only. Builds the real dependencies, runs, maps errors to the result.
import { agentTempDirectory, debug, fail, loadMessages, loc, log, retryPolicy, succeed, taskState, variableSink, warn } from './pipeline/adapter';
import { createAuthMethod } from './auth';
import { armRestTokenSource } from './pipeline/azureToken';
import { azdoOidcTokenSource } from './pipeline/oidcToken';
import { TaskError } from './core/errors';
import { secretFileStore } from './pipeline/files';
import { readInputFile } from './pipeline/inputFile';
import { escapeOutside } from './core/logText';
import { readConfig } from './pipeline/inputs';
import { run } from './run';
import { inOneWrite, onFirstRequestSent } from './pipeline/scheduling';
import { createVaultClient } from './vault/client';

/** How long the process may stay after the step's result is set (abandoned requests). */
const EXIT_GRACE_MS = 2000;

export async function main(): Promise<void> {
  loadMessages(__dirname);
  try {
    const { value: config, warnings } = readConfig();
    for (const w of warnings) warn(w);
    await run(config, {
      method: createAuthMethod(config.auth, { azureToken: armRestTokenSource, oidcToken: azdoOidcTokenSource, readFile: readInputFile }),
      createVault: createVaultClient,
      sink: variableSink,
      state: taskState,
      files: () => secretFileStore(agentTempDirectory()),
      retry: retryPolicy(config.retries),
      log,
      warn,
      loc,
      inOneWrite,
      onFirstRequestSent,
    });
    succeed();
  } catch (err) {
    // Messages are complete on their own; a stack trace would only bury the fix. Any other error's
    // text may carry what a server sent: it is outside text as a whole.
    if (err instanceof TaskError) fail(err.message);
    else {
      if (err instanceof Error && err.stack) debug(err.stack);
      fail(escapeOutside(err instanceof Error ? err.message : String(err)));
    }
  }
  // The step is over once its result is set. A request the Azure library still waits on (one that
  // outran its deadline) must not hold it open: the process ends soon after, whatever is pending.
  // Unref'd, this timer never delays a process that has nothing left to do.
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
}

if (require.main === module) void main();
