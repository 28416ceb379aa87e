// The task's work, shared by its two entries: the main step and the pre-job step (runAsPreJob).
// Whichever's turn runAsPreJob says it is builds the real dependencies, runs and maps errors to the
// result; the other logs one line and ends skipped, without a request.
import {
  agentTempDirectory,
  configSource,
  debug,
  fail,
  loadMessages,
  loc,
  log,
  retryPolicy,
  skip,
  succeed,
  taskInputNames,
  taskState,
  variableSink,
  warn,
} from './pipeline/adapter';
import { createAuthMethod } from './auth';
import { armRestTokenSource } from './pipeline/azureToken';
import { azdoOidcTokenSource } from './pipeline/oidcToken';
import { TaskError } from './core/errors';
import { secretFileStore } from './pipeline/files';
import { readInputFile } from './pipeline/inputFile';
import { escapeOutside } from './core/logText';
import { readConfig, readRunAsPreJob, refuseUnexpandedMacros } from './pipeline/inputs';
import { run } from './run';
import { inOneWrite, onFirstRequestSent } from './pipeline/scheduling';
import { createVaultClient } from './vault/client';

/** How long the process may stay after the step's result is set (abandoned requests). */
const EXIT_GRACE_MS = 2000;

/** The execution target the agent started: `prejobexecution` (before the job's first step) or `execution`. */
export type Stage = 'prejob' | 'main';

/** Runs the task's work if runAsPreJob gives it to `stage`. */
export async function taskStep(stage: Stage): Promise<void> {
  loadMessages(__dirname);
  try {
    // The pre-job step sees the inputs as they were at the start of the job, the main step as they
    // are when it starts: each decides by what it reads, and a bad value fails the first of them.
    const preJob = readRunAsPreJob(configSource);
    if (preJob !== (stage === 'prejob')) {
      const line = loc(preJob ? 'PreJobRanTheTask' : 'PreJobOff');
      log(line);
      skip(line);
      return;
    }
    // Before the job's first step, a variable that a step sets does not exist yet.
    if (stage === 'prejob') refuseUnexpandedMacros(configSource, taskInputNames(__dirname));
    const { value: config, warnings } = readConfig(configSource);
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
