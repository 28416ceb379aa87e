// The pipeline side shared by the main and post-job entries: task-lib resources, logging,
// task variables and the retry policy with real time.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import * as tl from 'azure-pipelines-task-lib/task';
import { RetryPolicy } from './retry';
import { StateStore } from './state';

export function loadMessages(dir: string): void {
  // Beside the bundle in a package; one folder up when run from source.
  const taskJson = [path.join(dir, 'task.json'), path.join(dir, '..', 'task.json')].find((p) => fs.existsSync(p));
  if (taskJson) tl.setResourcePath(taskJson);
}

export const loc = (key: string, ...args: unknown[]): string => tl.loc(key, ...args);
export const log = (line: string): void => console.log(line);
export const warn = (line: string): void => tl.warning(line);

const discard = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});

export const taskState: StateStore = {
  set: (name, value, secret) => tl.setTaskVariable(name, value, secret),
  // task-lib prints every task variable it reads in a debug line, secret or not.
  get: (name) => {
    tl.setStdStream(discard);
    try {
      return tl.getTaskVariable(name);
    } finally {
      tl.setStdStream(process.stdout);
    }
  },
};

export function retryPolicy(retries: number): RetryPolicy {
  return {
    retries,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random: Math.random,
    onRetry: (what, attempt, attempts, cause, waitMs) => console.log(tl.loc('Retrying', what, attempt, attempts, cause, (waitMs / 1000).toFixed(1))),
  };
}
