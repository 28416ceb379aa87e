// What went wrong talking to Vault, as plain data: an HTTP answer that was not a success, or no
// answer at all. The Vault layer throws these; the explanations and the retry policy read them.
import { isPermanentTlsFailure } from './tlsFailures';

// biome-ignore lint/suspicious/noExplicitAny: Vault's JSON answers, read by path
export type VaultBody = Record<string, any>;

/**
 * The most one answer may hold. A secret is far smaller: Vault's listener refuses requests above
 * 32 MiB unless its max_request_size is raised, so no secret was written bigger. Past it the
 * request is stopped, so that a wrong path or a broken front end cannot make the step hold
 * hundreds of megabytes.
 */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** The `code` of a TransportError for an answer larger than MAX_ANSWER_BYTES. */
export const ANSWER_TOO_LARGE = 'ERR_ANSWER_TOO_LARGE';

/**
 * Vault's words when the plugin process serving a request crashed on it (its gRPC link broke) or is
 * down after such a crash: the same request crashes it again, so it is not retried.
 */
export const PLUGIN_CRASHED = /^rpc error: code = Unavailable desc = |^plugin is shut down$/;

/** Vault answered with a non-success status. */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    readonly errors: string[],
    readonly body: VaultBody | undefined,
  ) {
    super(errors.length ? errors.join('; ') : `HTTP ${status}`);
    this.name = 'VaultHttpError';
  }
}

/** No HTTP answer: connection refused, DNS, TLS, timeout. */
export class VaultNetworkError extends Error {
  constructor(
    readonly code: string,
    readonly path: string,
    detail: string,
    /**
     * False only when no byte of the request can have reached Vault (the connection, DNS or TLS
     * handshake failed first); true when it may have been, as the transport cannot tell otherwise.
     */
    readonly sent = true,
  ) {
    super(detail);
    this.name = 'VaultNetworkError';
  }
}

/** Failures only a connection can have before any request is written on it (refused, no such host, no route). */
const BEFORE_ANY_REQUEST = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** Vault's own answers for a request it turned away before performing it. */
const NOT_PERFORMED = [/Vault is sealed/, /Vault is in standby mode/, /local node not active but active cluster node not found/];

/**
 * The request provably did not change anything on the server: it never reached Vault (nothing of
 * it was written before the connection failed), or Vault answered that it did not perform it —
 * 429 (a rate limit quota refuses before the request is routed), 412 (Vault cannot serve it yet,
 * "should be retried" in Vault's API docs), 503 sealed or standby, and a standby's 500 when no
 * active node is found (answered before forwarding). Anything else may have been performed.
 */
export function notPerformed(err: unknown): boolean {
  if (err instanceof VaultNetworkError) return !err.sent || BEFORE_ANY_REQUEST.has(err.code);
  if (!(err instanceof VaultHttpError)) return false;
  if (err.status === 429 || err.status === 412) return true;
  return (err.status === 503 || err.status === 500) && err.errors.some((e) => NOT_PERFORMED.some((p) => p.test(e)));
}

/**
 * No usable answer to a request that may have reached Vault, which may then have performed it: the
 * connection failed or the time ran out after the request was written, or something between the
 * agent and Vault answered for it (a gateway's 502 or 504, or a 5xx without Vault's error body).
 * Not: an answer too large to read, or a TLS failure (Vault refuses the connection, not the request).
 */
export function answerLost(err: unknown): boolean {
  if (err instanceof VaultNetworkError) return !notPerformed(err) && err.code !== ANSWER_TOO_LARGE && !isPermanentTlsFailure(err.code);
  if (!(err instanceof VaultHttpError) || notPerformed(err)) return false;
  return err.status === 502 || err.status === 504 || (err.status >= 500 && err.errors.length === 0);
}
