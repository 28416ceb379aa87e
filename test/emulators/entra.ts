// Entra ID emulator: the v2 (MSAL) and v1 token endpoints for client credentials with a secret, a
// certificate assertion or a federated (workload identity) assertion, the discovery documents
// MSAL and JWT verifiers read, and v1 app-only access tokens signed with its own RS256 key.
// Errors use Entra's JSON shape and AADSTS codes. Served over HTTPS, by default on
// 127.0.0.1:443, which the private network namespace names login.microsoftonline.com.
import { randomUUID, X509Certificate } from 'node:crypto';
import { createServer, Server } from 'node:https';
import { IncomingMessage, ServerResponse } from 'node:http';
import { ENTRA_HOST, ENTRA_IP } from './hosts';
import { decodeJwt, JwtClaims, JwtError, Jwks, newSigningKey, signJwt, SigningKey, verifyJwt } from './jwt';
import { certThumbprint } from './pki';
import { closeServer, delay, guarded, listen, readBody } from './serve';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

export interface FederatedCredential {
  issuer: string;
  subject: string;
  /** Defaults to ['api://AzureADTokenExchange']. */
  audiences?: string[];
  name?: string;
}

export interface AppRegistration {
  tenantId: string;
  /** Application (client) id; becomes the token's `appid`. */
  clientId: string;
  /** Object id of the app's service principal in the tenant; becomes `oid` and `sub`. */
  objectId: string;
  displayName?: string;
  secret?: string;
  /** Public certificate (PEM) registered on the app for certificate credentials. */
  certificatePem?: string;
  federated?: FederatedCredential[];
}

export interface ManagedIdentity {
  tenantId: string;
  clientId: string;
  objectId: string;
  /** ARM resource id of a user-assigned identity (`xms_mirid`). */
  resourceId?: string;
  /** The VM's system-assigned identity: what IMDS uses when no identity is named. */
  systemAssigned?: boolean;
}

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
}

export interface EntraOptions {
  tls: TlsMaterial;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Listen port; default 443, 0 picks a free one. */
  port?: number;
  /** Host name used in `url`; default login.microsoftonline.com on port 443, else `host`. */
  publicHost?: string;
  /** Access token lifetime in seconds; default 3599; zero or negative mints already-expired tokens. */
  tokenLifetimeSec?: number;
  /** Delay added before answering each request, as a network round trip; default 0. */
  latencyMs?: number;
}

export interface EntraRequest {
  at: bigint;
  method: string;
  /** Host header (login.microsoftonline.com, login.windows.net, ...). */
  host: string;
  path: string;
  query: Record<string, string>;
  /** Form fields of a token request; client_secret and client_assertion are replaced by '***'. */
  form?: Record<string, string>;
  /** Decoded (unverified) client assertion, when one was sent. */
  assertion?: { header: Record<string, unknown>; payload: JwtClaims };
  status: number;
  /** `AADSTS<code>` of an error response. */
  error?: string;
}

export interface MintOptions {
  tenantId: string;
  objectId: string;
  appId: string;
  audience: string;
  lifetimeSec?: number;
  /** '1' secret, '2' certificate or federated assertion, '0' managed identity. */
  appidacr?: '0' | '1' | '2';
  extraClaims?: Record<string, unknown>;
}

export interface MintedToken {
  token: string;
  claims: JwtClaims;
  expiresIn: number;
}

export interface FailOptions {
  /** Only requests whose path matches; default all. */
  match?: RegExp;
  /** Response body; default an Entra transient-error body. */
  body?: unknown;
}

export interface Entra {
  /** Base URL with trailing slash, e.g. https://login.microsoftonline.com/. */
  readonly url: string;
  readonly port: number;
  readonly requests: EntraRequest[];
  /** Every access token minted (token endpoints and IMDS), for leak scans. */
  readonly issuedTokens: string[];
  tokenLifetimeSec: number;
  /** Delay added before answering each request; can be changed at run time. */
  latencyMs: number;
  addTenant(tenantId: string): void;
  addApp(app: AppRegistration): void;
  addManagedIdentity(identity: ManagedIdentity): void;
  managedIdentities(): ManagedIdentity[];
  /** Trusts assertions from `issuer`, verified with the keys `jwks` returns (fetched per request). */
  trustIssuer(issuer: string, jwks: () => Jwks | Promise<Jwks>): void;
  /** Public keys of the access tokens this emulator signs. */
  jwks(): Jwks;
  /**
   * Serves more keys in the discovery key sets (not in jwks()): those of assertions Entra issues
   * for Azure DevOps service connections, which the Azure DevOps emulator signs.
   */
  publishKeys(jwks: () => Jwks): void;
  /** v1 access token issuer: https://sts.windows.net/<tenant>/ */
  issuer(tenantId: string): string;
  mintAccessToken(opts: MintOptions): MintedToken;
  /** Answers the next `times` matching requests with `status`. */
  failNext(status: number, times?: number, options?: FailOptions): void;
  /** Forgets every fault not yet used. */
  clearFaults(): void;
  close(): Promise<void>;
}

class EntraError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly code: number,
    readonly description: string,
  ) {
    super(`AADSTS${code}: ${description}`);
  }
}

/** `2024-10-02T22:05:03.6755165Z`, the 7-digit fraction Entra prints. */
function entraIso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function entraTimestamp(date = new Date()): string {
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

export function entraErrorBody(error: string, code: number, description: string, correlationId: string = randomUUID()) {
  const timestamp = entraTimestamp();
  const traceId = randomUUID();
  return {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function startEntra(options: EntraOptions): Promise<Entra> {
  const listenHost = options.host ?? ENTRA_IP;
  const signingKey: SigningKey = newSigningKey();
  const tenants = new Set<string>();
  const apps = new Map<string, AppRegistration>();
  const identities: ManagedIdentity[] = [];
  const trusted = new Map<string, () => Jwks | Promise<Jwks>>();
  const published: Array<() => Jwks> = [];
  const requests: EntraRequest[] = [];
  const issuedTokens: string[] = [];
  const faults: Array<{ status: number; remaining: number; match?: RegExp; body?: unknown }> = [];
  const appKey = (tenantId: string, clientId: string) => `${tenantId.toLowerCase()}/${clientId.toLowerCase()}`;

  const issuer = (tenantId: string) => `https://sts.windows.net/${tenantId}/`;

  function mintAccessToken(opts: MintOptions): MintedToken {
    const now = Math.floor(Date.now() / 1000);
    const lifetime = opts.lifetimeSec ?? api.tokenLifetimeSec;
    const claims: JwtClaims = {
      aud: opts.audience,
      iss: issuer(opts.tenantId),
      iat: now,
      nbf: lifetime > 0 ? now : now + lifetime - 60,
      exp: now + lifetime,
      aio: Buffer.from(randomUUID()).toString('base64url').slice(0, 40),
      appid: opts.appId,
      appidacr: opts.appidacr ?? '1',
      idp: issuer(opts.tenantId),
      idtyp: 'app',
      oid: opts.objectId,
      rh: `0.${Buffer.from(randomUUID()).toString('base64url').slice(0, 32)}.`,
      sub: opts.objectId,
      tid: opts.tenantId,
      uti: Buffer.from(randomUUID()).toString('base64url').slice(0, 22),
      ver: '1.0',
      ...opts.extraClaims,
    };
    const token = signJwt(claims, signingKey);
    issuedTokens.push(token);
    return { token, claims, expiresIn: lifetime };
  }

  function tokenEndpointAudiences(tenantId: string): Set<string> {
    const out = new Set<string>();
    for (const host of ['login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net']) {
      for (const path of ['oauth2/token', 'oauth2/v2.0/token']) {
        out.add(`https://${host}/${tenantId}/${path}`);
        out.add(`https://${host}/${tenantId}/${path}/`);
      }
      out.add(`https://${host}/${tenantId}/`);
    }
    return out;
  }

  function checkTimeRange(claims: JwtClaims): void {
    const now = Math.floor(Date.now() / 1000);
    const exp = typeof claims.exp === 'number' ? claims.exp : 0;
    const nbf = typeof claims.nbf === 'number' ? claims.nbf : 0;
    if (now >= exp || now + 300 < nbf) {
      throw new EntraError(
        400,
        'invalid_client',
        700024,
        `Client assertion is not within its valid time range. Current time: ${entraIso(now)}, assertion valid from ${entraIso(nbf)}, expiry time of assertion ${entraIso(exp)}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .`,
      );
    }
  }

  async function authenticateAssertion(app: AppRegistration, assertion: string, tenantId: string): Promise<'2'> {
    let decoded: ReturnType<typeof decodeJwt>;
    try {
      decoded = decodeJwt(assertion);
    } catch {
      throw new EntraError(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
    }
    const { header, payload } = decoded;
    if (payload.iss === app.clientId) {
      // Certificate credential: self-issued by the client, signed by its certificate's key.
      const x5t = typeof header.x5t === 'string' ? header.x5t : '';
      const presented = Buffer.from(x5t.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('hex').toUpperCase();
      const registered = app.certificatePem ? certThumbprint(app.certificatePem).sha1Hex : undefined;
      if (!registered || registered !== presented) {
        throw new EntraError(
          401,
          'invalid_client',
          700027,
          `Client assertion failed signature validation. (Reason - The key was not found., Thumbprint of key used by client: '${presented}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.clientId}'.)`,
        );
      }
      try {
        verifyJwt(assertion, new X509Certificate(app.certificatePem!).publicKey, { checkTime: false });
      } catch (err) {
        throw new EntraError(401, 'invalid_client', 700027, `Client assertion failed signature validation. (${(err as Error).message})`);
      }
      checkTimeRange(payload);
      const auds = ([] as unknown[]).concat(payload.aud ?? []);
      const allowed = tokenEndpointAudiences(tenantId);
      if (!auds.some((a) => typeof a === 'string' && allowed.has(a))) {
        throw new EntraError(
          401,
          'invalid_client',
          50012,
          `Client assertion audience claim does not match Realm issuer. Audience: '${String(payload.aud)}'.`,
        );
      }
      if (payload.sub !== app.clientId) {
        throw new EntraError(401, 'invalid_client', 50012, `Client assertion subject must be the client id '${app.clientId}'.`);
      }
      return '2';
    }
    // Federated credential (workload identity federation).
    const iss = String(payload.iss);
    const sub = String(payload.sub);
    const auds = ([] as unknown[]).concat(payload.aud ?? []).map(String);
    const match = (app.federated ?? []).find(
      (f) => f.issuer === iss && f.subject === sub && auds.some((a) => (f.audiences ?? [TOKEN_EXCHANGE_AUDIENCE]).includes(a)),
    );
    if (!match) {
      throw new EntraError(
        400,
        'invalid_request',
        70021,
        `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${auds.join(',')}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation`,
      );
    }
    checkTimeRange(payload);
    const keysOf = trusted.get(iss);
    if (!keysOf) {
      throw new EntraError(
        400,
        'invalid_client',
        50166,
        `Request to External OIDC endpoint failed. Issuer '${iss}' has no reachable discovery document.`,
      );
    }
    try {
      verifyJwt(assertion, await keysOf(), { checkTime: false });
    } catch (err) {
      const reason = err instanceof JwtError && err.code === 'unknown_key' ? 'The key was not found.' : (err as Error).message;
      throw new EntraError(401, 'invalid_client', 50013, `Assertion failed signature validation. [Reason - ${reason}]`);
    }
    return '2';
  }

  async function tokenRequest(version: 'v1' | 'v2', tenant: string, form: Record<string, string>): Promise<Record<string, unknown>> {
    const tenantId = registeredTenant(tenant);
    if (form.grant_type !== 'client_credentials') {
      if (!form.grant_type)
        throw new EntraError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
      throw new EntraError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${form.grant_type}'.`);
    }
    if (!form.client_id)
      throw new EntraError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    const app = apps.get(appKey(tenantId, form.client_id));
    if (!app) {
      throw new EntraError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.client_id}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    let audience: string;
    if (version === 'v2') {
      const scopes = (form.scope ?? '').split(' ').filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
      if (scopes.length === 0)
        throw new EntraError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
      if (scopes.length !== 1 || !scopes[0].endsWith('/.default')) {
        throw new EntraError(
          400,
          'invalid_scope',
          1002012,
          `The provided value for scope ${scopes.join(' ')} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        );
      }
      audience = scopes[0].slice(0, -'/.default'.length);
    } else {
      if (!form.resource)
        throw new EntraError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'resource'.");
      audience = form.resource;
    }
    let appidacr: '1' | '2';
    if (form.client_secret !== undefined) {
      if (!app.secret || form.client_secret !== app.secret) {
        throw new EntraError(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
        );
      }
      appidacr = '1';
    } else if (form.client_assertion !== undefined) {
      if (form.client_assertion_type !== JWT_BEARER_ASSERTION_TYPE) {
        throw new EntraError(
          400,
          'invalid_request',
          90014,
          "The required field 'client_assertion_type' is missing from the credential or is not 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
        );
      }
      appidacr = await authenticateAssertion(app, form.client_assertion, tenantId);
    } else {
      throw new EntraError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    const minted = mintAccessToken({ tenantId, objectId: app.objectId, appId: app.clientId, audience, appidacr });
    if (version === 'v2') {
      return { token_type: 'Bearer', expires_in: minted.expiresIn, ext_expires_in: minted.expiresIn, access_token: minted.token };
    }
    return {
      token_type: 'Bearer',
      expires_in: String(minted.expiresIn),
      ext_expires_in: String(minted.expiresIn),
      expires_on: String(minted.claims.exp),
      not_before: String(minted.claims.nbf),
      resource: audience,
      access_token: minted.token,
    };
  }

  /** The registered tenant id (any case), or Entra's AADSTS90002. */
  function registeredTenant(tenant: string): string {
    const tenantId = [...tenants].find((t) => t.toLowerCase() === tenant.toLowerCase());
    if (!tenantId) {
      throw new EntraError(
        400,
        'invalid_tenant',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      );
    }
    return tenantId;
  }

  /** A registered tenant, or one of the multi-tenant aliases discovery documents accept. */
  function knownTenant(tenant: string): string {
    if (['common', 'organizations', 'consumers'].includes(tenant.toLowerCase())) return tenant;
    return registeredTenant(tenant);
  }

  function openidConfiguration(base: string, tenant: string, v2: boolean): Record<string, unknown> {
    const t = knownTenant(tenant);
    const v = v2 ? 'v2.0/' : '';
    return {
      token_endpoint: `${base}${t}/oauth2/${v}token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: v2 ? `${base}${t}/discovery/v2.0/keys` : `${base}common/discovery/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'token id_token', 'token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: v2 ? `https://login.microsoftonline.com/${t}/v2.0` : `https://sts.windows.net/${t}/`,
      authorization_endpoint: `${base}${t}/oauth2/${v}authorize`,
      device_authorization_endpoint: `${base}${t}/oauth2/${v}devicecode`,
      end_session_endpoint: `${base}${t}/oauth2/${v}logout`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
    };
  }

  function instanceDiscovery(query: Record<string, string>): Record<string, unknown> {
    let tenant = 'common';
    try {
      tenant = new URL(query.authorization_endpoint ?? '').pathname.split('/').filter(Boolean)[0] ?? 'common';
    } catch {
      // no authorization_endpoint: keep 'common'
    }
    return {
      tenant_discovery_endpoint: `https://login.microsoftonline.com/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [
        {
          preferred_network: 'login.microsoftonline.com',
          preferred_cache: 'login.windows.net',
          aliases: ['login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net'],
        },
      ],
    };
  }

  async function route(req: IncomingMessage, rec: EntraRequest, body: string): Promise<[number, unknown]> {
    const base = `https://${rec.host}/`;
    const segs = rec.path.split('/').filter(Boolean);
    const p = segs.join('/');
    if (req.method === 'POST') {
      let version: 'v1' | 'v2' | undefined;
      if (segs.length === 4 && segs[1] === 'oauth2' && segs[2] === 'v2.0' && segs[3] === 'token') version = 'v2';
      if (segs.length === 3 && segs[1] === 'oauth2' && segs[2] === 'token') version = 'v1';
      if (version) {
        const form = Object.fromEntries(new URLSearchParams(body));
        rec.form = { ...form };
        for (const secretField of ['client_secret', 'client_assertion']) if (secretField in rec.form) rec.form[secretField] = '***';
        if (form.client_assertion) {
          try {
            const d = decodeJwt(form.client_assertion);
            rec.assertion = { header: d.header, payload: d.payload };
          } catch {
            // recorded without a decoded assertion; the handler answers AADSTS50027
          }
        }
        return [200, await tokenRequest(version, segs[0], form)];
      }
    }
    if (req.method === 'GET') {
      if (p === 'common/discovery/instance' || p === 'organizations/discovery/instance') return [200, instanceDiscovery(rec.query)];
      if (segs.length === 4 && segs[1] === 'v2.0' && segs[2] === '.well-known' && segs[3] === 'openid-configuration') {
        return [200, openidConfiguration(base, segs[0], true)];
      }
      if (segs.length === 3 && segs[1] === '.well-known' && segs[2] === 'openid-configuration') {
        return [200, openidConfiguration(base, segs[0], false)];
      }
      if (/^([^/]+\/)?discovery(\/v2\.0)?\/keys$/.test(p)) {
        if (segs.length > 2 && segs[0] !== 'discovery') knownTenant(segs[0]);
        return [200, { keys: [...api.jwks().keys, ...published.flatMap((keys) => keys().keys)] }];
      }
    }
    return [
      404,
      entraErrorBody(
        'invalid_request',
        900561,
        `The endpoint only accepts POST, OPTIONS requests. Received a ${req.method} request. (${rec.path})`,
      ),
    ];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://placeholder');
    const rec: EntraRequest = {
      at: process.hrtime.bigint(),
      method: req.method ?? 'GET',
      host: String(req.headers.host ?? ENTRA_HOST).replace(/:443$/, ''),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
    };
    requests.push(rec);
    const body = await readBody(req);
    if (api.latencyMs > 0) await delay(api.latencyMs);
    const correlationId = String(req.headers['client-request-id'] ?? randomUUID());
    let status: number;
    let payload: unknown;
    const fault = faults.find((f) => f.remaining > 0 && (!f.match || f.match.test(rec.path)));
    if (fault) {
      fault.remaining--;
      status = fault.status;
      payload =
        fault.body ?? entraErrorBody('temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.', correlationId);
      rec.error = 'injected';
    } else {
      try {
        [status, payload] = await route(req, rec, body);
      } catch (err) {
        if (!(err instanceof EntraError)) throw err;
        status = err.status;
        payload = entraErrorBody(err.error, err.code, err.description, correlationId);
        rec.error = `AADSTS${err.code}`;
      }
    }
    rec.status = status;
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store, no-cache',
      Pragma: 'no-cache',
      'x-ms-request-id': randomUUID(),
      'client-request-id': correlationId,
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  const server: Server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, guarded('entra', handle));
  const port = await listen(server, options.port ?? 443, listenHost);
  const publicHost = options.publicHost ?? (port === 443 ? ENTRA_HOST : listenHost);

  const api: Entra = {
    url: port === 443 ? `https://${publicHost}/` : `https://${publicHost}:${port}/`,
    port,
    requests,
    issuedTokens,
    tokenLifetimeSec: options.tokenLifetimeSec ?? 3599,
    latencyMs: options.latencyMs ?? 0,
    addTenant(tenantId) {
      if (!GUID.test(tenantId)) throw new Error(`tenant id must be a GUID, got "${tenantId}"`);
      tenants.add(tenantId);
    },
    addApp(app) {
      api.addTenant(app.tenantId);
      apps.set(appKey(app.tenantId, app.clientId), { ...app, federated: [...(app.federated ?? [])] });
    },
    addManagedIdentity(identity) {
      api.addTenant(identity.tenantId);
      identities.push({ ...identity });
    },
    managedIdentities: () => identities.map((i) => ({ ...i })),
    trustIssuer(iss, jwks) {
      trusted.set(iss, jwks);
    },
    jwks: () => ({ keys: [signingKey.publicJwk] }),
    publishKeys(keys) {
      published.push(keys);
    },
    issuer,
    mintAccessToken,
    failNext(status, times = 1, failOptions = {}) {
      faults.push({ status, remaining: times, match: failOptions.match, body: failOptions.body });
    },
    clearFaults() {
      faults.length = 0;
    },
    close: () => closeServer(server),
  };
  return api;
}
