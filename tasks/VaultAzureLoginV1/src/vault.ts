// Vault client: azure login, mount lookup, reads and revocation, behind a small interface
// (wraps node-vault; TLS, proxy, redirects and namespaces are always explicit).
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import axios, { AxiosError, AxiosInstance } from 'axios';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import nodeVault from 'node-vault';
import type { ProxyConfig, TlsConfig } from './inputs';
import type { RetryPolicy } from './retry';
import { withRetry } from './retry';

export interface VaultClientOptions {
  address: string;
  /** Namespace for reads and lease revocation. */
  namespace?: string;
  /** Namespace for login and token calls; defaults to `namespace`. */
  authNamespace?: string;
  tls: TlsConfig;
  proxy?: ProxyConfig;
  timeoutMs: number;
  retry?: RetryPolicy;
  /** A token from an earlier login (post-job step). */
  token?: string;
}

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

export type VaultBody = Record<string, any>;

export interface VaultApi {
  login(mount: string, role: string, jwt: string): Promise<VaultLogin>;
  mount(path: string): Promise<MountInfo>;
  read(apiPath: string): Promise<VaultBody>;
  revokeSelf(): Promise<void>;
  revokeLease(leaseId: string): Promise<void>;
}

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

interface RequestOptions {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeout?: number;
}

interface RawResponse {
  statusCode: number;
  body: any;
  request: { path: string };
}

/**
 * node-vault's transport, replaced so that TLS, redirects, proxies and keep-alive are explicit:
 * no redirect is followed (the token would travel with it), proxy settings come from the agent
 * only, and connections are reused across the many reads of one run.
 */
function transport(client: AxiosInstance) {
  const send = (options: RequestOptions): Promise<RawResponse> =>
    client
      .request({ method: options.method, url: options.uri, headers: options.headers, data: options.json, timeout: options.timeout })
      .then((r) => ({ statusCode: r.status, body: r.data, request: { path: new URL(options.uri).pathname } }));
  return { defaults: () => send };
}

function proxyUrl(proxy: ProxyConfig): string {
  const url = new URL(proxy.url);
  if (proxy.username) {
    url.username = encodeURIComponent(proxy.username);
    url.password = encodeURIComponent(proxy.password ?? '');
  }
  return url.toString();
}

function agents(opts: VaultClientOptions): { httpAgent: http.Agent; httpsAgent: https.Agent } {
  const custom = opts.tls.ca.length > 0 || Boolean(opts.tls.cert);
  const tlsOptions: https.AgentOptions = {
    keepAlive: true,
    rejectUnauthorized: opts.tls.verify,
    // Built once: a context made from every public root costs tens of milliseconds, and the agent
    // would make one per connection. Extra CAs are trusted in addition to the public roots, as the
    // vault CLI's VAULT_CACERT is.
    secureContext: custom
      ? tls.createSecureContext({
          ca: opts.tls.ca.length ? [...tls.rootCertificates, ...opts.tls.ca] : undefined,
          cert: opts.tls.cert,
          key: opts.tls.key,
          passphrase: opts.tls.passphrase,
        })
      : undefined,
  };
  if (opts.proxy) {
    const url = proxyUrl(opts.proxy);
    return { httpAgent: new HttpProxyAgent(url, { keepAlive: true }), httpsAgent: new HttpsProxyAgent(url, tlsOptions) };
  }
  return { httpAgent: new http.Agent({ keepAlive: true }), httpsAgent: new https.Agent(tlsOptions) };
}

function toError(err: unknown, path: string): Error {
  const e = err as { response?: { statusCode: number; body: any } } & Partial<AxiosError>;
  if (e && e.response && typeof e.response.statusCode === 'number') {
    const body = typeof e.response.body === 'object' && e.response.body !== null ? e.response.body : undefined;
    const errors: string[] = Array.isArray(body?.errors) ? body.errors.map(String) : [];
    return new VaultHttpError(e.response.statusCode, path, errors, body);
  }
  if (e && typeof e.code === 'string') {
    return new VaultNetworkError(e.code, path, e.message ?? e.code);
  }
  return err instanceof Error ? err : new Error(String(err));
}

export function createVaultClient(opts: VaultClientOptions): VaultApi {
  const instance = axios.create({
    validateStatus: () => true,
    maxRedirects: 0,
    proxy: false,
    timeout: opts.timeoutMs,
    ...agents(opts),
  });
  const client = nodeVault({
    endpoint: opts.address,
    'request-promise': transport(instance),
    debug: () => undefined,
    requestOptions: { timeout: opts.timeoutMs, strictSSL: opts.tls.verify },
  });
  // node-vault falls back to VAULT_TOKEN / VAULT_NAMESPACE / VAULT_PREFIX from the environment;
  // the task decides these itself, and sends the namespace per request.
  const settable = client as unknown as { token: string; namespace: string; pathPrefix: string };
  settable.token = opts.token ?? '';
  settable.namespace = '';
  settable.pathPrefix = '';

  const nsHeaders = (ns: string | undefined) => ({ headers: ns ? { 'X-Vault-Namespace': ns } : {} });
  const readNs = nsHeaders(opts.namespace);
  const authNs = nsHeaders(opts.authNamespace ?? opts.namespace);

  async function call<T>(what: string, path: string, fn: () => Promise<T>): Promise<T> {
    const once = async () => {
      try {
        return await fn();
      } catch (err) {
        throw toError(err, path);
      }
    };
    return opts.retry ? withRetry(what, once, opts.retry) : once();
  }

  return {
    async login(mount, role, jwt) {
      const path = `auth/${mount}/login`;
      const body = await call(`POST ${path}`, path, () => client.write(path, { role, jwt }, { ...authNs }));
      const auth = body?.auth;
      if (!auth || typeof auth.client_token !== 'string') {
        throw new VaultHttpError(200, path, ['the login response has no auth.client_token'], undefined);
      }
      settable.token = auth.client_token;
      return {
        token: auth.client_token,
        accessor: auth.accessor ?? '',
        policies: Array.isArray(auth.policies) ? auth.policies : [],
        ttlSeconds: Number(auth.lease_duration ?? 0),
        tokenType: auth.token_type ?? (String(auth.client_token).startsWith('hvb.') ? 'batch' : 'service'),
        renewable: Boolean(auth.renewable),
      };
    },
    async mount(path) {
      const lookup = `sys/internal/ui/mounts/${path}`;
      const body = await call(`GET ${lookup}`, lookup, () => client.read(lookup, { ...readNs }));
      const data = body?.data ?? {};
      const type = String(data.type ?? '');
      const version = data.options?.version;
      return {
        path: String(data.path ?? ''),
        type,
        kvVersion: type === 'kv' || type === 'generic' ? (String(version) === '2' ? 2 : 1) : undefined,
      };
    },
    async read(apiPath) {
      const path = apiPath.split('?')[0];
      return call(`GET ${path}`, path, () => client.read(apiPath, { ...readNs }));
    },
    async revokeSelf() {
      const path = 'auth/token/revoke-self';
      await call(`POST ${path}`, path, () => client.write(path, {}, { ...authNs }));
    },
    async revokeLease(leaseId) {
      const path = 'sys/leases/revoke';
      await call(`PUT ${path}`, path, () => client.request({ path: `/${path}`, method: 'PUT', json: { lease_id: leaseId }, ...readNs }));
    },
  };
}
