// One outside HTTP request, and the bounds every outside request of the task has: Vault and Azure
// DevOps (through ../vault/transport, which keeps their connections and sends each HTTP/1.1
// request here and each HTTP/2 stream under the same bounds), the Azure and Google Cloud metadata
// servers, and the Entra connection opened ahead of the Azure library's token request.
//
// The bounds: no answer is read beyond its cap (MAX_ANSWER_BYTES, or the smaller cap a caller
// names); the whole request, connecting and the body included, ends within its time; no redirect
// is followed (a 3xx is returned as the answer, which each caller turns into an error naming its
// host); and nothing reads proxy settings from the environment: the agent's proxy, where a path
// uses it, arrives as the connection's agent.
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { parse as parseJson } from 'lossless-json';
import { ANSWER_TOO_LARGE, MAX_ANSWER_BYTES } from '../core/failures';

export { ANSWER_TOO_LARGE, MAX_ANSWER_BYTES };

/** The most a metadata server's answer may hold (the Azure and Google Cloud ones): one token or the VM's values, a few KiB. */
export const MAX_METADATA_BYTES = 64 * 1024;

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
}

export interface Bounds {
  /** The most the whole request may take, from its start to the answer's last byte. */
  timeoutMs: number;
  /** The most the answer may hold; MAX_ANSWER_BYTES unless smaller. */
  maxBytes?: number;
  /** The most connecting may take, within timeoutMs: a link-local server that does not connect at once is not there. */
  connectTimeoutMs?: number;
}

/** How the request reaches the server: the connection's agent (false for a connection of its own) and TLS settings. */
export interface Route {
  agent?: http.Agent | false;
  tls?: tls.ConnectionOptions;
}

export interface Answer {
  status: number;
  /** The body as UTF-8 text ('' when empty). */
  text: string;
}

/** No HTTP answer; `code` is Node's (ECONNREFUSED, CERT_HAS_EXPIRED, ETIMEDOUT, ...) or ANSWER_TOO_LARGE. */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /**
     * Whether any of the request may have reached the server: false only when the connection (TCP,
     * DNS, proxy tunnel, TLS handshake) failed before the request could be written on it.
     */
    readonly sent = true,
    /** The answer's status, when its headers came before the failure (an answer too large). */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export function asTransportError(err: unknown, sent = true): TransportError {
  if (err instanceof TransportError && err.sent === sent) return err;
  const e = err as NodeJS.ErrnoException;
  return new TransportError(
    typeof e?.code === 'string' ? e.code : 'EUNKNOWN',
    e?.message ?? String(err),
    sent,
    (err as TransportError)?.status,
  );
}

/** The request's own time (or its time to connect) ran out: not a timeout the system reported. */
export class RequestTimeout extends TransportError {}

export const timeoutError = (ms: number, sent = true) => new RequestTimeout('ETIMEDOUT', `no answer within ${ms / 1000} s`, sent);

/**
 * Vault's JSON with every number exactly as Vault sent it: a secret such as 12345678901234567890
 * or 0.10 must reach the pipeline as Vault holds it. Objects are plain, `__proto__` an own key like
 * any other. The text itself when it is not JSON, undefined when empty.
 *
 * JSON.parse first, which is what most answers need: when its result written back as JSON is the
 * text itself, every number in the text is written the way JavaScript writes that number, so none
 * lost anything. Vault writes its answers compactly, so this holds unless a number is written
 * otherwise (0.10, 1e3, 12345678901234567890), a character is escaped where JavaScript would not
 * escape it (Go writes < > & as \u003c \u003e \u0026), or a key repeats or comes out of order.
 * Those are parsed by lossless-json, whose numbers keep their text (LosslessNumber) and which
 * refuses a repeated key with two values. At 200 answers lossless-json alone took a tenth of the
 * step's CPU time, most of it on its first calls, before V8 optimises its code.
 */
export function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    const plain: unknown = JSON.parse(text);
    // JSON.parse accepts only JSON white space around the value, which trim() removes.
    if (JSON.stringify(plain) === text.trim()) return plain;
  } catch {
    // Not JSON: lossless-json says so below.
  }
  try {
    return parseJson(text);
  } catch {
    return text;
  }
}

/**
 * Whether a request on `socket` can have been written yet: once it is connected, and over TLS once
 * the handshake is done (before, Node holds the request back). A kept-alive connection is ready.
 */
export function onceWritable(socket: Duplex, ready: () => void): void {
  if (socket instanceof tls.TLSSocket) {
    // "Before a handshake has completed, this value is always null" (Node's documentation).
    if (socket.alpnProtocol !== null) ready();
    else socket.once('secureConnect', ready);
    return;
  }
  const plain = socket as Duplex & { connecting?: boolean };
  if (!plain.connecting) ready();
  else plain.once('connect', ready);
}

const sizeText = (bytes: number) => (bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`);

/**
 * An answer's body as it arrives, counted chunk by chunk whatever Content-Length says (it may be
 * missing or wrong): `add` returns an error once the body passes the cap, and the caller stops the
 * request then. A Content-Length above the cap (`declared`) fails at once, before any byte is read.
 */
export function answerBody(req: Pick<HttpRequest, 'method' | 'url'>, maxBytes = MAX_ANSWER_BYTES) {
  const chunks: Buffer[] = [];
  let size = 0;
  let status: number | undefined;
  const tooLarge = () =>
    new TransportError(
      ANSWER_TOO_LARGE,
      `the answer to ${req.method} ${req.url.pathname} is larger than ${sizeText(maxBytes)}`,
      true,
      status,
    );
  return {
    /** The answer's headers: its status, and a Content-Length above the cap fails at once. */
    declared(answerStatus: number, contentLength: string | string[] | undefined): TransportError | undefined {
      status = answerStatus;
      return Number(Array.isArray(contentLength) ? contentLength[0] : contentLength) > maxBytes ? tooLarge() : undefined;
    },
    add(chunk: Buffer): TransportError | undefined {
      size += chunk.length;
      if (size > maxBytes) return tooLarge();
      chunks.push(chunk);
      return undefined;
    },
    text: (): string => Buffer.concat(chunks).toString('utf8'),
  };
}

/**
 * One request over HTTP/1.1, on `route`'s agent (Node's global agent when none is named). Fails
 * with a TransportError when no whole answer came within the bounds; any status is an answer.
 */
export function send(req: HttpRequest, bounds: Bounds, route: Route = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = req.json === undefined ? undefined : JSON.stringify(req.json);
    const headers: Record<string, string | number> = { ...req.headers };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const client = req.url.protocol === 'https:' ? https : http;
    const request = client.request(req.url, { method: req.method, headers, agent: route.agent, ...route.tls });
    const timer = setTimeout(() => request.destroy(timeoutError(bounds.timeoutMs, sent)), bounds.timeoutMs);
    const connectMs = bounds.connectTimeoutMs;
    const connectTimer =
      connectMs === undefined
        ? undefined
        : setTimeout(
            () => request.destroy(new RequestTimeout('ETIMEDOUT', `no connection within ${connectMs / 1000} s`, false)),
            connectMs,
          );
    const stopTimers = () => {
      clearTimeout(timer);
      clearTimeout(connectTimer);
    };
    let settled = false;
    // Until its connection is ready nothing of the request has gone out: a failure then (refused,
    // DNS, the proxy's tunnel, the TLS handshake, the time running out) leaves the server untouched.
    let sent = false;
    request.on('socket', (socket) =>
      onceWritable(socket, () => {
        sent = true;
        clearTimeout(connectTimer);
      }),
    );
    const fail = (err: unknown) => {
      stopTimers();
      if (settled) return;
      settled = true;
      reject(asTransportError(err, sent));
    };
    request.on('error', fail);
    request.on('response', (res) => {
      const body = answerBody(req, bounds.maxBytes);
      // Stopped: the connection goes with the request, so the rest of the body is never read.
      const stop = (err: TransportError) => {
        fail(err);
        request.destroy();
      };
      res.on('error', fail);
      const declared = body.declared(res.statusCode ?? 0, res.headers['content-length']);
      if (declared) return stop(declared);
      res.on('data', (c: Buffer) => {
        const tooLarge = settled ? undefined : body.add(c);
        if (tooLarge) stop(tooLarge);
      });
      res.on('end', () => {
        stopTimers();
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, text: body.text() });
      });
    });
    request.end(payload);
  });
}
