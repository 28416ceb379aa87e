// Turns failures (Vault statuses, network errors, Entra codes) into messages that name the cause
// and the fix. No message contains a secret, a token or a JWT.
import * as tl from 'azure-pipelines-task-lib/task';
import { TokenClaims } from './tokenClaims';
import { VaultHttpError, VaultNetworkError } from './vault';

/** A failure the user can fix; its message is complete and is shown without a stack trace. */
export class TaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskError';
  }
}

const tlsCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
]);

/** TLS alerts a server sends when it rejects the client certificate it asked for (mutual TLS). */
const clientCertAlert = /^ERR_SSL_\w+_ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED)$/;

/** The reason in an OpenSSL error text ("...:SSL routines:<function>:<reason>:<file>:..."), else the text. */
function opensslReason(message: string): string {
  return /SSL routines:[^:]*:([^:]+)/.exec(message)?.[1] ?? message.trim();
}

export function explainNetwork(err: VaultNetworkError, address: string, timeoutSeconds: number): string {
  if (tlsCodes.has(err.code)) return tl.loc('VaultTlsUntrusted', address, err.code);
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return tl.loc('VaultTlsHostname', address, err.message);
  if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT') return tl.loc('VaultTimeout', address, timeoutSeconds, err.path);
  if (err.code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') return tl.loc('VaultTlsClientCertRequired', address);
  if (clientCertAlert.test(err.code)) return tl.loc('VaultTlsClientCertRefused', address, opensslReason(err.message));
  if (/alert handshake failure/.test(err.message)) return tl.loc('VaultTlsHandshakeFailure', address);
  if (err.code === 'EPROTO' || /wrong version number|ssl/i.test(err.message)) return tl.loc('VaultTlsProtocol', address, opensslReason(err.message));
  return tl.loc('VaultUnreachable', address, err.code);
}

/** Status-level answers that mean the same thing on every route. */
function explainCommon(err: VaultHttpError, address: string): string | undefined {
  if (err.status === 503 && err.errors.some((e) => /sealed/i.test(e))) return tl.loc('VaultSealed', address);
  if (err.status >= 300 && err.status < 400) {
    return tl.loc('VaultRedirect', address, err.status);
  }
  // A proxy answers 407 to a CONNECT or a forwarded request before Vault sees it.
  if (err.status === 407) return tl.loc('ProxyAuthRequired', address);
  return undefined;
}

export interface LoginContext {
  address: string;
  mount: string;
  role: string;
  resource: string;
  namespace?: string;
  claims?: TokenClaims;
}

const quoted = /"([^"]*)"/g;

export function explainLogin(err: unknown, ctx: LoginContext, timeoutSeconds: number): string {
  // The login is the first request: a Vault that requires mutual TLS drops a connection whose
  // client certificate it does not trust, often before its alert can be read.
  if (err instanceof VaultNetworkError && err.code === 'ECONNRESET') return tl.loc('VaultLoginReset', ctx.address, err.message);
  if (err instanceof VaultNetworkError) return explainNetwork(err, ctx.address, timeoutSeconds);
  if (!(err instanceof VaultHttpError)) return tl.loc('LoginFailed', ctx.mount, 0, String((err as Error)?.message ?? err));
  const common = explainCommon(err, ctx.address);
  if (common) return common;
  const text = err.errors.join('; ');
  const oid = ctx.claims?.oid ?? '<object id>';
  const nsNote = ctx.namespace ? tl.loc('InNamespace', ctx.namespace) : '';
  if (/^invalid role name/.test(text)) {
    return tl.loc('LoginRoleMissing', ctx.role, ctx.mount, nsNote, ctx.mount, ctx.role, oid);
  }
  if (/expected audience/.test(text)) {
    const [expected] = [...text.matchAll(quoted)].map((m) => m[1]);
    const got = ctx.claims?.aud ?? ctx.resource;
    return tl.loc('LoginAudience', got, ctx.mount, expected ?? '?', expected ?? '?', ctx.mount, got);
  }
  if (/service principal not authorized/.test(text)) {
    return tl.loc('LoginNotBound', oid, ctx.role, ctx.mount, ctx.role, oid, ctx.claims?.appid ?? '?');
  }
  if (/issued by a different provider/.test(text)) {
    const [expected, got] = [...text.matchAll(quoted)].map((m) => m[1]);
    return tl.loc('LoginIssuer', expected ?? '?', got ?? ctx.claims?.iss ?? '?', ctx.mount, ctx.claims?.tid ?? '<tenant id>');
  }
  if (/token is expired/.test(text)) return tl.loc('LoginExpired', text);
  if (/failed to verify signature/.test(text)) return tl.loc('LoginSignature', ctx.mount, ctx.claims?.tid ?? '?');
  if (err.status === 404 || (err.status === 403 && /permission denied/.test(text)) || /no handler for route/.test(text)) {
    return tl.loc('LoginMountMissing', ctx.mount, nsNote, err.status, text || `HTTP ${err.status}`, ctx.mount);
  }
  return tl.loc('LoginFailed', ctx.mount, err.status, text || `HTTP ${err.status}`);
}

export interface ReadContext {
  address: string;
  /** The path as the user wrote it. */
  path: string;
  /** The API path the policy must allow, e.g. secret/data/ci/db. */
  aclPath: string;
  version?: number;
  /** A path with data/ on a KV version 1 mount: the suggestion without it. */
  withoutData?: string;
}

export function explainRead(err: unknown, ctx: ReadContext, timeoutSeconds: number): string {
  if (err instanceof VaultNetworkError) return explainNetwork(err, ctx.address, timeoutSeconds);
  if (!(err instanceof VaultHttpError)) return String((err as Error)?.message ?? err);
  const common = explainCommon(err, ctx.address);
  if (common) return common;
  if (err.status === 403) {
    if (err.errors.some((e) => /invalid token/.test(e))) return tl.loc('ReadTokenInvalid');
    return tl.loc('ReadDenied', ctx.aclPath, ctx.aclPath);
  }
  if (err.status === 404) {
    const metadata = err.body?.data?.metadata;
    if (metadata && metadata.destroyed) return tl.loc('ReadDestroyed', metadata.version ?? ctx.version, ctx.path);
    if (metadata && metadata.deletion_time) {
      const version = metadata.version ?? ctx.version;
      return tl.loc('ReadDeleted', version, ctx.path, metadata.deletion_time, version, ctx.path);
    }
    const versionNote = ctx.version ? tl.loc('AtVersion', ctx.version) : '';
    const found = tl.loc('ReadNotFound', ctx.path, versionNote, ctx.aclPath);
    return ctx.withoutData ? `${found} ${tl.loc('DataOnKv1', ctx.withoutData)}` : found;
  }
  return tl.loc('ReadHttp', err.status, err.errors.join('; ') || 'no error text');
}

export function explainMount(err: unknown, path: string, address: string, timeoutSeconds: number): string {
  if (err instanceof VaultNetworkError) return explainNetwork(err, address, timeoutSeconds);
  if (!(err instanceof VaultHttpError)) return String((err as Error)?.message ?? err);
  const common = explainCommon(err, address);
  if (common) return common;
  if (err.status === 403) return tl.loc('MountDenied', path);
  return tl.loc('MountLookupFailed', path, err.status, err.errors.join('; ') || 'no error text');
}

const entraCodes: Array<[RegExp, string]> = [
  [/AADSTS70021\b/, 'Aadsts70021'],
  [/AADSTS700024\b/, 'Aadsts700024'],
  [/AADSTS7000215\b/, 'Aadsts7000215'],
  [/AADSTS700016\b/, 'Aadsts700016'],
  [/AADSTS90002\b/, 'Aadsts90002'],
];

export function explainAzureToken(connection: string, detail: string): string {
  const hint = entraCodes.find(([re]) => re.test(detail));
  const base = tl.loc('TokenFailed', connection, detail);
  return hint ? `${base}\n${tl.loc(hint[1])}` : base;
}
