// When work happens, without the pipeline library: many log lines handed to the stream in one
// write, and work started once the step's first request is on its way.
import * as diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { Writable } from 'node:stream';

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
