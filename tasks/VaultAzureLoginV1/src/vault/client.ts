// Vault client: login, mount lookup, reads and revocation, behind a small interface
// (wraps node-vault; the HTTP underneath is ./transport, where TLS, proxy, protocol and redirects
// are explicit).
import type NodeVault from 'node-vault';
import { VaultBody, VaultHttpError, VaultNetworkError } from '../core/failures';
import type { VaultTarget } from './settings';
import type { RetryPolicy } from './retry';
import { isRetryable, isRetryableLogin, isRetryableOnce, withRetry } from './retry';
import { createTransport, Transport, TransportError } from './transport';

/**
 * Address, namespaces (`namespace` for reads and lease revocation, `authNamespace` for login and
 * token calls, defaulting to `namespace`), TLS and proxy as the settings have them, and the limits
 * the client works with.
 */
export interface VaultClientOptions extends Pick<VaultTarget, 'address' | 'namespace' | 'authNamespace' | 'tls' | 'proxy'> {
  timeoutMs: number;
  retry?: RetryPolicy;
  /** A token from an earlier login (post-job step). */
  token?: string;
}

/**
 * The client options for the Vault `settings` describe, as the main step reaches it and as the
 * post-job step reaches it again from the saved settings (with the token it kept).
 */
export function clientOptionsFor(settings: VaultTarget, retry: RetryPolicy, token?: string): VaultClientOptions {
  return {
    address: settings.address,
    namespace: settings.namespace,
    authNamespace: settings.authNamespace,
    tls: settings.tls,
    proxy: settings.proxy,
    timeoutMs: settings.timeoutSeconds * 1000,
    retry,
    ...(token === undefined ? {} : { token }),
  };
}

export { VaultBody, VaultHttpError, VaultNetworkError };

export interface VaultLogin {
  token: string;
  accessor: string;
  policies: string[];
  ttlSeconds: number;
  tokenType: string;
  renewable: boolean;
}

export interface MountInfo {
  /** Mount path with trailing slash, e.g. "secret/". */
  path: string;
  type: string;
  /** KV version for kv mounts; undefined for other engines. */
  kvVersion?: 1 | 2;
}

export interface VaultApi {
  /**
   * `POST auth/<mount>/login` with the body a login method made; `spends` when the login may use
   * up the credential it sends (never sent again after it may have reached Vault).
   */
  login(mount: string, body: Record<string, unknown>, spends?: boolean): Promise<VaultLogin>;
  /**
   * `POST <path>` in the login namespace with a token of its own ('' for none), before the login;
   * `once` for a request that spends something (an unwrap): never sent again after it may have
   * reached Vault.
   */
  post(path: string, body: Record<string, unknown>, token: string, once?: boolean): Promise<VaultBody>;
  mount(path: string): Promise<MountInfo>;
  /**
   * `GET <apiPath>` with the login's token in the read namespace; `once` for a read that creates
   * something (a dynamic secret engine's credential and its lease): never sent again after it may
   * have reached Vault.
   */
  read(apiPath: string, once?: boolean): Promise<VaultBody>;
  /**
   * `POST <path>` with the login's token in the read namespace, for a request that creates
   * something (a certificate): never sent again after it may have reached Vault.
   */
  write(path: string, body: Record<string, unknown>): Promise<VaultBody>;
  revokeSelf(): Promise<void>;
  revokeLease(leaseId: string): Promise<void>;
  /** Starts connecting to Vault ahead of the first request; `connections`: as many as the reads use at once (HTTP/1.1). */
  warmUp(connections?: number): void;
  /** 'HTTP/2' or 'HTTP/1.1': how the latest answer came; undefined before the first. */
  protocol(): string | undefined;
  /** Lets go of the connections once the work is done. */
  close(): void;
}

interface RequestOptions {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
}

/**
 * node-vault's transport (its `request-promise` option), on ./transport: node-vault builds the
 * URL and headers and reads the answer; connections, TLS and protocol are ours.
 */
function requestPromise(transport: Transport) {
  const send = (options: RequestOptions) => {
    const url = new URL(options.uri);
    return transport
      .send({ method: options.method, url, headers: options.headers ?? {}, json: options.json })
      .then((r) => ({ statusCode: r.status, body: r.body, request: { path: url.pathname } }));
  };
  return { defaults: () => send };
}

function toError(err: unknown, path: string): Error {
  const e = err as { response?: { statusCode: number; body: VaultBody | null | string } };
  if (e?.response && typeof e.response.statusCode === 'number') {
    const body = typeof e.response.body === 'object' && e.response.body !== null ? e.response.body : undefined;
    const errors: string[] = Array.isArray(body?.errors) ? body.errors.map(String) : [];
    return new VaultHttpError(e.response.statusCode, path, errors, body);
  }
  if (err instanceof TransportError) return new VaultNetworkError(err.code, path, err.message, err.sent);
  return err instanceof Error ? err : new Error(String(err));
}

export function createVaultClient(opts: VaultClientOptions): VaultApi {
  const transport = createTransport(opts.address, { tls: opts.tls, proxy: opts.proxy, timeoutMs: opts.timeoutMs });
  let token = opts.token ?? '';
  let vault: NodeVault.client | undefined;
  // Loaded on first use, or by warmUp while the Entra token is on its way.
  const node = (): NodeVault.client => {
    if (vault) return vault;
    const nodeVault = require('node-vault') as typeof NodeVault;
    vault = nodeVault({ endpoint: opts.address, 'request-promise': requestPromise(transport), debug: () => undefined });
    // node-vault falls back to VAULT_TOKEN / VAULT_NAMESPACE / VAULT_PREFIX from the environment;
    // the task decides these itself, and sends the namespace per request.
    const settable = vault as unknown as { token: string; namespace: string; pathPrefix: string };
    settable.token = token;
    settable.namespace = '';
    settable.pathPrefix = '';
    return vault;
  };

  const nsHeaders = (ns: string | undefined) => ({ headers: ns ? { 'X-Vault-Namespace': ns } : {} });
  const readNs = nsHeaders(opts.namespace);
  const authNs = nsHeaders(opts.authNamespace ?? opts.namespace);

  /** `fn` with the retry policy; `retryable` says which failures are worth another attempt. */
  async function call<T>(what: string, path: string, fn: () => Promise<T>, retryable: (err: unknown) => boolean = isRetryable): Promise<T> {
    const attempt = async () => {
      try {
        return await fn();
      } catch (err) {
        throw toError(err, path);
      }
    };
    return opts.retry ? withRetry(what, attempt, opts.retry, retryable) : attempt();
  }

  return {
    async login(mount, loginBody, spends = false) {
      const path = `auth/${mount}/login`;
      // A login creates a token, never retried after its answer was lost; one that may use up its
      // credential is retried only when Vault provably did not perform it.
      const body = await call(
        `POST ${path}`,
        path,
        () => node().write(path, loginBody, { ...authNs }),
        spends ? isRetryableOnce : isRetryableLogin,
      );
      const auth = body?.auth;
      if (!auth || typeof auth.client_token !== 'string') {
        throw new VaultHttpError(200, path, ['the login response has no auth.client_token'], undefined);
      }
      token = auth.client_token;
      (node() as unknown as { token: string }).token = token;
      return {
        token: auth.client_token,
        accessor: auth.accessor ?? '',
        policies: Array.isArray(auth.policies) ? auth.policies : [],
        ttlSeconds: Number(auth.lease_duration ?? 0),
        tokenType: auth.token_type ?? (String(auth.client_token).startsWith('hvb.') ? 'batch' : 'service'),
        renewable: Boolean(auth.renewable),
      };
    },
    async post(path, body, withToken, once = false) {
      const headers = { ...authNs.headers, ...(withToken ? { 'X-Vault-Token': withToken } : {}) };
      return call(
        `POST ${path}`,
        path,
        () => node().request({ path: `/${path}`, method: 'POST', json: body, headers }),
        once ? isRetryableOnce : isRetryable,
      );
    },
    async mount(path) {
      const lookup = `sys/internal/ui/mounts/${path}`;
      const body = await call(`GET ${lookup}`, lookup, () => node().read(lookup, { ...readNs }));
      const data = body?.data ?? {};
      const type = String(data.type ?? '');
      const version = data.options?.version;
      return {
        path: String(data.path ?? ''),
        type,
        kvVersion: type === 'kv' || type === 'generic' ? (String(version) === '2' ? 2 : 1) : undefined,
      };
    },
    async read(apiPath, once = false) {
      const path = apiPath.split('?')[0];
      return call(`GET ${path}`, path, () => node().read(apiPath, { ...readNs }), once ? isRetryableOnce : isRetryable);
    },
    async write(path, body) {
      return call(`POST ${path}`, path, () => node().request({ path: `/${path}`, method: 'POST', json: body, ...readNs }), isRetryableOnce);
    },
    async revokeSelf() {
      const path = 'auth/token/revoke-self';
      await call(`POST ${path}`, path, () => node().write(path, {}, { ...authNs }));
    },
    async revokeLease(leaseId) {
      const path = 'sys/leases/revoke';
      await call(`PUT ${path}`, path, () => node().request({ path: `/${path}`, method: 'PUT', json: { lease_id: leaseId }, ...readNs }));
    },
    warmUp(connections) {
      transport.warmUp(connections);
      setImmediate(node);
    },
    protocol: () => {
      const p = transport.protocol();
      return p === undefined ? undefined : p === 'h2' ? 'HTTP/2' : 'HTTP/1.1';
    },
    close: () => transport.close(),
  };
}
