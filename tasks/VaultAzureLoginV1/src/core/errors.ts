// Turns failures (Vault statuses, network errors) into messages that name the cause and the fix, in
// the words of the `loc` the caller passes (task.json messages); each login method adds its own
// (src/auth). No message contains a secret, a token or a JWT.
import { ANSWER_TOO_LARGE, answerLost, MAX_ANSWER_BYTES, VaultHttpError, VaultNetworkError } from './failures';
import type { Text } from './text';
import { CLIENT_CERTIFICATE_REFUSED, CLIENT_CERTIFICATE_REQUIRED, HOST_NAME_MISMATCH, UNTRUSTED_CERTIFICATE } from './tlsFailures';

/** A failure the user can fix; its message is complete and is shown without a stack trace. */
export class TaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskError';
  }
}

/** The reason in an OpenSSL error text ("...:SSL routines:<function>:<reason>:<file>:..."), else the text. */
function opensslReason(message: string): string {
  return /SSL routines:[^:]*:([^:]+)/.exec(message)?.[1] ?? message.trim();
}

export function explainNetwork(err: VaultNetworkError, address: string, timeoutSeconds: number, loc: Text): string {
  if (err.code === ANSWER_TOO_LARGE) return loc('VaultAnswerTooLarge', address, err.path, MAX_ANSWER_BYTES / 1024 / 1024);
  if (UNTRUSTED_CERTIFICATE.has(err.code)) return loc('VaultTlsUntrusted', address, err.code);
  if (err.code === HOST_NAME_MISMATCH) return loc('VaultTlsHostname', address, err.message);
  if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT') return loc('VaultTimeout', address, timeoutSeconds, err.path);
  if (err.code === CLIENT_CERTIFICATE_REQUIRED) return loc('VaultTlsClientCertRequired', address);
  if (CLIENT_CERTIFICATE_REFUSED.test(err.code)) return loc('VaultTlsClientCertRefused', address, opensslReason(err.message));
  if (/alert handshake failure/.test(err.message)) return loc('VaultTlsHandshakeFailure', address);
  if (err.code === 'EPROTO' || /wrong version number|SSL routines/i.test(err.message))
    return loc('VaultTlsProtocol', address, opensslReason(err.message));
  return loc('VaultUnreachable', address, err.code);
}

/** What came instead of the answer to a request that may have been performed (see answerLost). */
export function lostCause(err: unknown, timeoutSeconds: number): string {
  if (err instanceof VaultHttpError) return `HTTP ${err.status}${err.errors.length ? ` ${err.errors.join('; ')}` : ''}`;
  if (err instanceof VaultNetworkError && (err.code === 'ETIMEDOUT' || err.code === 'ECONNABORTED'))
    return `no answer within ${timeoutSeconds} s`;
  return err instanceof VaultNetworkError ? err.code : String(err);
}

/** Status-level answers that mean the same thing on every route. */
function explainCommon(err: VaultHttpError, address: string, loc: Text): string | undefined {
  if (err.status === 503 && err.errors.some((e) => /sealed/i.test(e))) return loc('VaultSealed', address);
  if (err.status >= 300 && err.status < 400) {
    return loc('VaultRedirect', address, err.status);
  }
  // A proxy answers 407 to a CONNECT or a forwarded request before Vault sees it.
  if (err.status === 407) return loc('ProxyAuthRequired', address);
  return undefined;
}

export interface LoginContext {
  address: string;
  mount: string;
  role: string;
  namespace?: string;
  /** The login method, as `vault auth enable` names it. */
  method: string;
  /** The method's words on what a login that may have been performed left behind ('' for none). */
  lostNote?: string;
}

/**
 * A failed login: what fails the same way for every method (network, TLS, a sealed Vault, a
 * redirect, no such mount), else the method's own explanation of the refusal, else Vault's words.
 */
export function explainLogin(
  err: unknown,
  ctx: LoginContext,
  timeoutSeconds: number,
  loc: Text,
  refusal?: (err: VaultHttpError) => string | undefined,
): string {
  // The login was sent once (see isRetryableOnce): when its answer is lost, Vault may have issued a token.
  if (answerLost(err)) {
    const issued = loc('LoginMayHaveIssued', ctx.mount, ctx.lostNote ?? '');
    if (err instanceof VaultNetworkError && err.code === 'ECONNRESET')
      return `${loc('VaultLoginReset', ctx.address, err.message)} ${issued}`;
    return loc('LoginAnswerLost', ctx.address, ctx.mount, lostCause(err, timeoutSeconds), issued);
  }
  // The login is the first request: a Vault that requires mutual TLS drops a connection whose
  // client certificate it does not trust, often before its alert can be read.
  if (err instanceof VaultNetworkError && err.code === 'ECONNRESET') return loc('VaultLoginReset', ctx.address, err.message);
  if (err instanceof VaultNetworkError) return explainNetwork(err, ctx.address, timeoutSeconds, loc);
  if (!(err instanceof VaultHttpError)) return loc('LoginFailed', ctx.mount, 0, String((err as Error)?.message ?? err));
  const common = explainCommon(err, ctx.address, loc);
  if (common) return common;
  const own = refusal?.(err);
  if (own) return own;
  const text = err.errors.join('; ');
  const nsNote = ctx.namespace ? loc('InNamespace', ctx.namespace) : '';
  if (err.status === 404 || (err.status === 403 && /permission denied/.test(text)) || /no handler for route/.test(text)) {
    return loc('LoginMountMissing', ctx.method, ctx.mount, nsNote, err.status, text || `HTTP ${err.status}`, ctx.mount, ctx.method);
  }
  return loc('LoginFailed', ctx.mount, err.status, text || `HTTP ${err.status}`);
}

export interface ReadContext {
  address: string;
  /** The path as the user wrote it. */
  path: string;
  /** The API path the policy must allow, e.g. secret/data/ci/db. */
  aclPath: string;
  /** That path as the token's policy names it (from the login's namespace); default aclPath. */
  policyPath?: string;
  version?: number;
  /** A path with data/ on a KV version 1 mount: the suggestion without it. */
  withoutData?: string;
  /** The read creates what it returns (a dynamic secret and its lease), so it was sent once. */
  creates?: boolean;
}

export function explainRead(err: unknown, ctx: ReadContext, timeoutSeconds: number, loc: Text): string {
  if (ctx.creates && answerLost(err)) return loc('ReadAnswerLost', ctx.address, ctx.aclPath, lostCause(err, timeoutSeconds), ctx.aclPath);
  if (err instanceof VaultNetworkError) return explainNetwork(err, ctx.address, timeoutSeconds, loc);
  if (!(err instanceof VaultHttpError)) return String((err as Error)?.message ?? err);
  const common = explainCommon(err, ctx.address, loc);
  if (common) return common;
  if (err.status === 403) {
    if (err.errors.some((e) => /invalid token/.test(e))) return loc('ReadTokenInvalid');
    return loc('ReadDenied', ctx.aclPath, ctx.policyPath ?? ctx.aclPath);
  }
  if (err.status === 404) {
    const metadata = err.body?.data?.metadata;
    if (metadata?.destroyed) return loc('ReadDestroyed', metadata.version ?? ctx.version, ctx.path);
    if (metadata?.deletion_time) {
      const version = metadata.version ?? ctx.version;
      return loc('ReadDeleted', version, ctx.path, metadata.deletion_time, version, ctx.path);
    }
    const versionNote = ctx.version ? loc('AtVersion', ctx.version) : '';
    const found = loc('ReadNotFound', ctx.path, versionNote, ctx.aclPath);
    return ctx.withoutData ? `${found} ${loc('DataOnKv1', ctx.withoutData)}` : found;
  }
  return loc('ReadHttp', err.status, err.errors.join('; ') || 'no error text');
}

export function explainMount(err: unknown, path: string, address: string, timeoutSeconds: number, loc: Text): string {
  if (err instanceof VaultNetworkError) return explainNetwork(err, address, timeoutSeconds, loc);
  if (!(err instanceof VaultHttpError)) return String((err as Error)?.message ?? err);
  const common = explainCommon(err, address, loc);
  if (common) return common;
  if (err.status === 403) return loc('MountDenied', path);
  return loc('MountLookupFailed', path, err.status, err.errors.join('; ') || 'no error text');
}

export interface IssueContext {
  address: string;
  /** The engine: pki or ssh. */
  kind: 'pki' | 'ssh';
  mount: string;
  role: string;
  /** `<mount>/issue/<role>` or `<mount>/sign/<role>`. */
  path: string;
  /** That path as the token's policy names it (from the login's namespace). */
  policyPath: string;
}

/**
 * A request for a certificate that failed. It was sent once: after a lost answer Vault may have
 * issued a certificate nobody received, which is said, and no second one is asked for.
 */
export function explainIssue(err: unknown, ctx: IssueContext, timeoutSeconds: number, loc: Text): string {
  if (answerLost(err)) return loc('CredentialAnswerLost', ctx.path, ctx.address, lostCause(err, timeoutSeconds));
  if (err instanceof VaultNetworkError) return explainNetwork(err, ctx.address, timeoutSeconds, loc);
  if (!(err instanceof VaultHttpError)) return String((err as Error)?.message ?? err);
  const common = explainCommon(err, ctx.address, loc);
  if (common) return common;
  const text = err.errors.join('; ');
  if (err.status === 403) {
    if (/invalid token/.test(text)) return loc('ReadTokenInvalid');
    return loc('CredentialDenied', ctx.path, ctx.policyPath);
  }
  // Vault's pki says "unknown role: <name>" (400), its ssh engine "Unknown role: <name>" or
  // "unknown role: <name>"; a mount of another engine, or none, has no route for the path.
  if (/unknown role/i.test(text)) {
    const create =
      ctx.kind === 'pki'
        ? `vault write ${ctx.mount}/roles/${ctx.role} allowed_domains=example.com allow_subdomains=true max_ttl=72h`
        : `vault write ${ctx.mount}/roles/${ctx.role} key_type=ca allow_user_certificates=true allowed_users=deploy default_user=deploy ttl=30m`;
    return loc('CredentialUnknownRole', ctx.role, ctx.mount, create);
  }
  if (err.status === 404 || /no handler for route|unsupported path/.test(text))
    return loc('CredentialNoEngine', ctx.path, text || `HTTP ${err.status}`, ctx.kind, ctx.mount, ctx.mount, ctx.kind);
  if (err.status === 400) return loc('CredentialRefused', ctx.path, text || 'no error text', ctx.mount, ctx.role);
  return loc('CredentialHttp', ctx.path, err.status, text || 'no error text');
}
