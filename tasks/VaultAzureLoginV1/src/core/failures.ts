// What went wrong talking to Vault, as plain data: an HTTP answer that was not a success, or no
// answer at all. The Vault layer throws these; the explanations and the retry policy read them.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Vault's JSON answers, read by path
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
  ) {
    super(detail);
    this.name = 'VaultNetworkError';
  }
}
