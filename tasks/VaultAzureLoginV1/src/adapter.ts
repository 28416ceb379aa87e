// The pipeline side shared by the main and post-job entries: task-lib resources, logging,
// task variables and the retry policy with real time.
import * as diagnostics from 'node:diagnostics_channel';
import * as fs from 'node:fs';
import type { ClientRequest } from 'node:http';
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

/**
 * Runs `fn` with the stream held and writes what `fn` wrote in one piece when it returns or
 * throws, in order: one system call for hundreds of lines (masking and publishing every value)
 * instead of one per line.
 */
export function inOneWrite<T>(fn: () => T, stream: Writable = process.stdout): T {
  stream.cork();
  try {
    return fn();
  } finally {
    stream.uncork();
  }
}

/**
 * Runs `fn` once the first HTTP request made from now on has been sent and its answer is awaited
 * (arm-rest's first request to Azure DevOps, Entra or IMDS), so that work which can wait fills
 * time the step would otherwise spend waiting. Not at all when that request fails before it is
 * sent, or after `cancel`.
 */
export function onFirstRequestSent(fn: () => void): { cancel(): void } {
  const name = 'http.client.request.start';
  let cancelled = false;
  const onStart = (message: unknown) => {
    diagnostics.unsubscribe(name, onStart);
    const { request } = message as { request: ClientRequest };
    request.once('finish', () =>
      setImmediate(() => {
        if (!cancelled) fn();
      }),
    );
  };
  diagnostics.subscribe(name, onStart);
  return {
    cancel() {
      cancelled = true;
      diagnostics.unsubscribe(name, onStart);
    },
  };
}

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
