// Entry of the main step: wiring only. Builds the real dependencies, runs, maps errors to the result.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tl from 'azure-pipelines-task-lib/task';
import { armRestTokenSource } from './azureToken';
import { TaskError } from './errors';
import { readConfig } from './inputs';
import { run } from './run';
import { createVaultClient } from './vault';

export async function main(): Promise<void> {
  // Beside the bundle in a package; one folder up when run from source.
  const taskJson = [path.join(__dirname, 'task.json'), path.join(__dirname, '..', 'task.json')].find((p) => fs.existsSync(p));
  if (taskJson) tl.setResourcePath(taskJson);
  try {
    const config = readConfig();
    await run(config, {
      getToken: armRestTokenSource,
      createVault: createVaultClient,
      sink: {
        setSecret: (value) => tl.setSecret(value),
        setVariable: (name, value, secret) => tl.setVariable(name, value, secret),
      },
      log: (line) => console.log(line),
      loc: (key, ...args) => tl.loc(key, ...args),
    });
    tl.setResult(tl.TaskResult.Succeeded, '');
  } catch (err) {
    // Messages are complete on their own; a stack trace would only bury the fix.
    if (!(err instanceof TaskError) && err instanceof Error && err.stack) tl.debug(err.stack);
    tl.setResult(tl.TaskResult.Failed, err instanceof Error ? err.message : String(err));
  }
}

if (require.main === module) void main();
