// When work happens, without the pipeline library: many log lines handed to the stream in one
// write, and work started once the step's first request is on its way.
import * as diagnostics from 'node:diagnostics_channel';
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
 * Runs `fn` once the first HTTP request made from now on has started (with workload identity
 * federation, the request that opens the connection to Entra ID, made as the proof begins; else
 * arm-rest's first request to Azure DevOps, Entra or IMDS), in the next turn of the event loop:
 * work that can wait (opening Vault's connection) then fills the handshakes and answers the step
 * waits for. Not at all when no request starts, or after `cancel`.
 */
export function onFirstRequestSent(fn: () => void): { cancel(): void } {
  const name = 'http.client.request.start';
  let cancelled = false;
  const onStart = () => {
    diagnostics.unsubscribe(name, onStart);
    setImmediate(() => {
      if (!cancelled) fn();
    });
  };
  diagnostics.subscribe(name, onStart);
  return {
    cancel() {
      cancelled = true;
      diagnostics.unsubscribe(name, onStart);
    },
  };
}

/**
 * The event loop polls for I/O once, so that what came in meanwhile goes on (a TLS handshake's next
 * step, a request written once its connection is ready, an answer) before the next work holds the
 * main thread: after loading a bundle (tens of milliseconds), or before work that can wait. Two
 * turns: in an I/O callback (the entries load the task from one), the first turn's check phase
 * comes before the loop polls again.
 */
export const pollOnce = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
