// The e2e tests' Vault: a front at https://vault.example.com:8200 (TLS from the world's CA, h2 and
// HTTP/1.1 as Vault's listener) in front of the run's one real OpenBao (sharedOpenBao). Each front
// works in a namespace of its own in OpenBao: it puts every request into that namespace (the
// client's X-Vault-Namespace under it), so a test sees OpenBao as a whole server of its own. What
// the front adds is what no real server does on request: it records every request, injects faults
// (an answer of its own, hostile ones included, a delay, a reset stream, a dropped connection, or an
// answer OpenBao gave and the front then loses), and answers the logins of the azure, aws and gcp
// auth mounts registered with it — plugins OpenBao does not ship — by the plugins' own checks
// (test/emulators/vaultAzure.ts, vaultAws.ts, vaultGcp.ts), granting a real OpenBao token
// (auth/token/create with the role's policies, ttl, type and metadata) on success. Tokens, leases,
// KV, policies, namespaces and every error are OpenBao's.
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, Server as TlsServer } from 'node:tls';
import { VAULT_HOST, VAULT_IP } from '../emulators/hosts';
import type { Ca } from '../emulators/pki';
import { PluginReply } from '../emulators/pluginMounts';
import { delay, drainedOrClosed, readBody } from '../emulators/serve';
import { login as awsLogin } from '../emulators/vaultAws';
import * as azure from '../emulators/vaultAzure';
import type { AzureAuthConfig, AzureRole } from '../emulators/vaultAzure';
import { login as gcpLogin } from '../emulators/vaultGcp';
import type { Answer, OpenBao } from './openbao';
import { sharedPostgres } from './postgres';

/** How a front loses an answer OpenBao gave: the connection reset, a gateway's 502, or the answer held back `lateMs`. */
export type LossMode = 'reset' | 'bad-gateway' | 'late';

export interface Fault {
  method?: string;
  /** Matched against the path after /v1/, without the query string. */
  path: string | RegExp;
  status?: number;
  /** A string is sent as-is; anything else as JSON. Defaults to `{"errors":[]}`. */
  body?: unknown;
  headers?: Record<string, string>;
  /** How many requests the fault applies to; default 1. */
  times?: number;
  delayMs?: number;
  /** Reset instead of answering: the stream over HTTP/2 (RST_STREAM), the connection over HTTP/1.1. */
  reset?: boolean;
  /** Drop the connection instead of answering, whatever the protocol (every request on it fails). */
  drop?: boolean;
  /** Send the body without Content-Length (chunked over HTTP/1.1, DATA frames up to END_STREAM over HTTP/2). */
  unsized?: boolean;
  /** Send the request to OpenBao, which performs it, then lose its answer this way. */
  lose?: LossMode;
  /** For `lose: 'late'`: how long the answer is held back (default 10 s). */
  lateMs?: number;
}

export interface TokenInfo {
  revoked: boolean;
  type: TokenType;
  policies: string[];
  /** The namespace the token lives in, as the front's client sees it ('' = its root). */
  ns: string;
}

/** The OpenBao a front sends requests to: the run's, or one another process started (linkedOpenBao). */
export type Upstream = Pick<OpenBao, 'port' | 'api' | 'unseal'> & { ca: { certPem: string } };

export interface FrontOptions {
  tls?: { cert: string; key: string; ca?: string; requestClientCert?: boolean };
  latencyMs?: number;
  /** Serve HTTP/1.1 only over TLS (as behind a load balancer that does); Vault's own TLS listener offers h2 too. */
  http1Only?: boolean;
  /** Offer h2 in ALPN but speak HTTP/1.1 on every connection (a misconfigured front end). */
  h2Advertised?: boolean;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (Vault's Go server: 250). */
  maxConcurrentStreams?: number;
}

/** The HTML page a gateway such as nginx answers with when its upstream fails. */
const BAD_GATEWAY =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n';

/** Paths OpenBao serves in its root namespace only: sent there, whatever the front's namespace. */
const ROOT_ONLY = new Set(['sys/health', 'sys/seal-status', 'sys/leader', 'sys/seal', 'sys/unseal']);
/** Headers a proxy does not pass on (hop-by-hop, or set again for the upstream). */
const DROPPED_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length', 'x-vault-namespace']);

let frontCount = 0;

export class VaultFront {
  /** Every request, in arrival order. */
  readonly requests: RequestRecord[] = [];
  /** Highest number of requests in flight at once. */
  maxInFlight = 0;
  /** TCP connections accepted so far. */
  connections = 0;
  /** When each connection was accepted (process.hrtime.bigint()). */
  readonly connectedAt: bigint[] = [];
  /** Requests with a large answer that the client stopped before the front had written it all. */
  readonly cutOff: RequestRecord[] = [];
  /** Highest number of requests in flight at once per client token ('' = no token): one task run each. */
  readonly maxInFlightByToken = new Map<string, number>();
  /** The answers lost so far: "<method> <path> <mode> <OpenBao's status>". */
  readonly lost: string[] = [];
  /** Delay added before answering each request; can be changed at run time. */
  latencyMs: number;
  /** This front's namespace in OpenBao (no trailing slash; '' for the root, as startFaultProxy's). */
  readonly namespace: string;

  private inFlight = 0;
  private created: boolean;
  private sealed = false;
  private readonly inFlightByToken = new Map<string, number>();
  private faults: Array<{ fault: Fault; remaining: number }> = [];
  private server?: http.Server | https.Server | http2.Http2SecureServer | TlsServer;
  private readonly sockets = new Set<Socket>();
  /** Tokens seen issued, with what their answer said of them (a revoked token can no longer be looked up). */
  private readonly tokens = new Map<string, { type: TokenType; policies: string[] }>();
  /** Lease ids seen in answers, with the token of the request that got each. */
  private readonly leaseIds = new Map<string, string>();
  private readonly agent: https.Agent;
  private readonly held = new Set<NodeJS.Timeout>();

  constructor(
    readonly bao: Upstream,
    private readonly opts: FrontOptions = {},
    namespace?: string,
  ) {
    this.latencyMs = opts.latencyMs ?? 0;
    // A namespace given is one that exists already (another process's front made it).
    this.created = namespace !== undefined;
    this.namespace = namespace ?? `e2e-${process.pid}-${++frontCount}`;
    this.agent = new https.Agent({ keepAlive: true, ca: bao.ca.certPem, servername: VAULT_HOST });
  }

  /** Creates the front's namespace in OpenBao, unless it is there already. */
  async create(): Promise<void> {
    if (this.created) return;
    const a = await this.bao.api('POST', `sys/namespaces/${this.namespace}`, {});
    if (a.status >= 300 && !JSON.stringify(a.body).includes('already exists'))
      throw new Error(`namespace: ${a.status} ${JSON.stringify(a.body)}`);
    this.created = true;
  }

  /** Creates the front's namespace in OpenBao (unless it is there) and starts listening. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    await this.create();
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.serve(req, res).catch((err: unknown) => {
        if (!res.headersSent) writeReply(res, { status: 500, body: { errors: [String(err)] } }, false);
        else res.destroy();
      });
    };
    const tls = this.opts.tls;
    const mutual = tls?.requestClientCert ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {};
    let server: http.Server | https.Server | http2.Http2SecureServer | TlsServer;
    if (!tls) server = http.createServer(handler);
    else if (this.opts.h2Advertised) {
      const inner = http.createServer(handler);
      server = createTlsServer({ cert: tls.cert, key: tls.key, ALPNProtocols: ['h2', 'http/1.1'], ...mutual }, (s) =>
        inner.emit('connection', s),
      );
    } else if (this.opts.http1Only) server = https.createServer({ cert: tls.cert, key: tls.key, ...mutual }, handler);
    else {
      const settings = this.opts.maxConcurrentStreams ? { maxConcurrentStreams: this.opts.maxConcurrentStreams } : {};
      server = http2.createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true, settings, ...mutual }, handler as never);
    }
    server.on('connection', (socket: Socket) => {
      this.connections += 1;
      this.connectedAt.push(process.hrtime.bigint());
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const { port: actual } = server.address() as AddressInfo;
        const shownHost = host.includes(':') ? `[${host}]` : host;
        resolve(`${tls ? 'https' : 'http'}://${shownHost}:${actual}`);
      });
    });
  }

  async stop(): Promise<void> {
    for (const t of this.held) clearTimeout(t);
    const server = this.server;
    this.server = undefined;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of this.sockets) socket.destroy();
      await closed;
    }
    this.agent.destroy();
  }

  // --- faults -----------------------------------------------------------------------------------

  inject(fault: Fault): void {
    this.faults.push({ fault, remaining: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  // --- the plugins' mounts (what OpenBao does not ship) --------------------------------------------

  enableAzureAuth(mount: string, config: AzureAuthConfig, ns = ''): void {
    azure.enableAzureAuth(this, mount, config, canonicalNamespace(ns));
  }

  writeAzureConfig(mount: string, config: AzureAuthConfig, ns = ''): void {
    azure.writeAzureConfig(this, mount, config, canonicalNamespace(ns));
  }

  writeRole(mount: string, name: string, role: AzureRole, ns = ''): void {
    azure.writeAzureRole(this, mount, name, role, canonicalNamespace(ns));
  }

  /** Every azure login that named a jwt and an existing role: its mount path, its body as sent, and the refusal's text. */
  get azureLogins(): azure.AzureLogin[] {
    return azure.azureLogins(this);
  }

  // --- OpenBao, as its administrator -----------------------------------------------------------------

  /** An HTTP API call to OpenBao with its root token, in namespace `ns` of this front's. */
  api(method: string, path: string, body?: unknown, ns = ''): Promise<Answer> {
    return this.bao.api(method, `${canonicalNamespace(this.namespace)}${canonicalNamespace(ns)}${path}`, body);
  }

  private async ok(what: string, answer: Promise<Answer>): Promise<Answer> {
    const a = await answer;
    if (a.status >= 300) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
    return a;
  }

  async createNamespace(ns: string): Promise<void> {
    const parts = canonicalNamespace(ns).split('/').filter(Boolean);
    for (let i = 0; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const a = await this.api('POST', `sys/namespaces/${parts[i]}`, {}, parent);
      if (a.status >= 300 && !JSON.stringify(a.body).includes('already exists')) throw new Error(`namespace ${ns}: ${a.status}`);
    }
  }

  async writePolicy(name: string, rules: PolicyRule[], ns = ''): Promise<void> {
    const policy = rules.map((r) => `path "${r.path}" { capabilities = ${JSON.stringify(r.capabilities)} }`).join('\n');
    await this.ok(`policy ${name}`, this.api('POST', `sys/policies/acl/${name}`, { policy }, ns));
  }

  /** Mounts a KV engine at `path` (nothing when one is there already, as seeding twice leaves it). */
  async mountKv(path: string, version: 1 | 2, ns = '', options?: Record<string, string>): Promise<void> {
    await this.mount(path, 'kv', ns, options ?? { version: String(version) });
  }

  async mount(path: string, type: string, ns = '', options?: Record<string, string>): Promise<void> {
    const a = await this.api('POST', `sys/mounts/${path}`, { type, ...(options ? { options } : {}) }, ns);
    if (a.status >= 300 && !JSON.stringify(a.body).includes('path is already in use'))
      throw new Error(`mount ${path}: ${a.status} ${JSON.stringify(a.body)}`);
  }

  /**
   * A database secrets engine at `path` over the run's PostgreSQL (sharedPostgres), with a role per
   * name that creates a login role for each lease and drops it when the lease is revoked.
   */
  async mountDatabase(path: string, roles: string[], ns = ''): Promise<void> {
    const pg = await sharedPostgres();
    await this.mount(path, 'database', ns);
    await this.ok(
      'database connection',
      this.api(
        'POST',
        `${path}/config/postgres`,
        {
          plugin_name: 'postgresql-database-plugin',
          connection_url: `postgresql://{{username}}:{{password}}@${pg.host}:${pg.port}/postgres?sslmode=disable`,
          username: pg.adminUser,
          password: pg.adminPassword,
          allowed_roles: ['*'],
        },
        ns,
      ),
    );
    for (const role of roles)
      await this.ok(
        `database role ${role}`,
        this.api(
          'POST',
          `${path}/roles/${role}`,
          {
            db_name: 'postgres',
            creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`],
            revocation_statements: ['DROP ROLE IF EXISTS "{{name}}";'],
            default_ttl: '1h',
            max_ttl: '2h',
          },
          ns,
        ),
      );
  }

  /** Writes a KV secret (v1 or v2, as the mount is) and answers its version (0 for v1). */
  async putSecret(path: string, data: Record<string, unknown>, ns = ''): Promise<number> {
    const [mount, ...rest] = path.replace(/^\/+/, '').split('/');
    const info = await this.ok(`mount of ${path}`, this.api('GET', `sys/mounts/${mount}`, undefined, ns));
    if (info.body.data?.options?.version !== '2') {
      await this.ok(`write ${path}`, this.api('POST', path, data, ns));
      return 0;
    }
    // A new KV v2 mount upgrades its storage first and refuses writes until then.
    for (let i = 0; ; i++) {
      const a = await this.api('POST', `${mount}/data/${rest.join('/')}`, { data }, ns);
      if (a.status < 300) return a.body.data.version as number;
      if (i > 50) throw new Error(`write ${path}: ${a.status} ${JSON.stringify(a.body)}`);
      await delay(100);
    }
  }

  async deleteVersion(path: string, version: number, ns = ''): Promise<void> {
    const [mount, ...rest] = path.split('/');
    await this.ok(`delete ${path}`, this.api('POST', `${mount}/delete/${rest.join('/')}`, { versions: [version] }, ns));
  }

  async destroyVersion(path: string, version: number, ns = ''): Promise<void> {
    const [mount, ...rest] = path.split('/');
    await this.ok(`destroy ${path}`, this.api('PUT', `${mount}/destroy/${rest.join('/')}`, { versions: [version] }, ns));
  }

  /** A token made with the root token (auth/token/create) in namespace `ns`. */
  async issueToken(policies: string[], opts: { type?: TokenType; ttl?: number; ns?: string } = {}): Promise<string> {
    const a = await this.ok(
      'token',
      this.api(
        'POST',
        'auth/token/create',
        { policies, type: opts.type ?? 'service', no_parent: true, ...(opts.ttl ? { ttl: `${opts.ttl}s` } : {}) },
        opts.ns,
      ),
    );
    this.notice({ status: 200, body: a.body });
    return a.body.auth.client_token;
  }

  /** Every token the front saw OpenBao issue or issued itself (for leak checks). */
  issuedTokens(): string[] {
    return [...this.tokens.keys()];
  }

  /** Every lease id the front saw in an answer (to a request with `token`, when given). */
  leases(token?: string): string[] {
    return [...this.leaseIds].filter(([, t]) => token === undefined || t === token).map(([id]) => id);
  }

  /** The token as OpenBao's token store knows it; `revoked` once it no longer does. */
  async tokenInfo(token: string): Promise<TokenInfo | undefined> {
    const seen = this.tokens.get(token);
    if (!seen) return undefined;
    // A token names its namespace: OpenBao finds it from the root namespace.
    const a = await this.bao.api('POST', 'auth/token/lookup', { token });
    if (a.status !== 200) return { revoked: true, type: seen.type, policies: seen.policies, ns: '' };
    const d = a.body.data;
    const ns = String(d.namespace_path ?? '')
      .replace(new RegExp(`^${this.namespace}/?`), '')
      .replace(/\/$/, '');
    return { revoked: false, type: d.type, policies: d.policies, ns };
  }

  /** Whether OpenBao no longer knows the token (revoked, or expired). */
  async tokenRevoked(token: string): Promise<boolean> {
    return (await this.bao.api('POST', 'auth/token/lookup', { token })).status !== 200;
  }

  /** Whether OpenBao no longer holds the lease. */
  async leaseRevoked(leaseId: string): Promise<boolean> {
    const a = await this.bao.api('PUT', 'sys/leases/lookup', { lease_id: leaseId });
    return a.status !== 200;
  }

  /** Seals the run's OpenBao (every front's); a sealed server answers every request, logins included, 503. */
  async seal(): Promise<void> {
    await this.ok('seal', this.bao.api('PUT', 'sys/seal', {}));
    this.sealed = true;
  }

  async unseal(): Promise<void> {
    if (this.sealed) await this.bao.unseal();
    this.sealed = false;
  }

  // --- HTTP ----------------------------------------------------------------------------------------

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://vault.invalid');
    const apiPath = url.pathname.startsWith('/v1/') ? safeDecode(url.pathname.slice('/v1/'.length)) : undefined;
    const token = tokenFrom(req.headers);
    const client = token ?? '';
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const mine = (this.inFlightByToken.get(client) ?? 0) + 1;
    this.inFlightByToken.set(client, mine);
    this.maxInFlightByToken.set(client, Math.max(this.maxInFlightByToken.get(client) ?? 0, mine));
    // A request stops counting the moment its answer is written; 'close' covers those that end without one.
    let done = false;
    const settle = () => {
      if (done) return;
      done = true;
      this.inFlight -= 1;
      this.inFlightByToken.set(client, (this.inFlightByToken.get(client) ?? 1) - 1);
    };
    res.on('close', settle);
    const nsHeader = req.headers['x-vault-namespace'];
    const record: RequestRecord = {
      method,
      path: apiPath ?? url.pathname,
      query: url.search.replace(/^\?/, ''),
      namespace: typeof nsHeader === 'string' ? nsHeader.replace(/^\/+|\/+$/g, '') : '',
      ...(token ? { token } : {}),
      at: Date.now(),
      httpVersion: req.httpVersion,
    };
    this.requests.push(record);
    const bodyText = await readBody(req);
    const fault = this.takeFault(method, apiPath ?? url.pathname);
    const wait = this.latencyMs + (fault?.delayMs ?? 0);
    if (wait > 0) await delay(wait);
    if (fault?.drop) {
      settle();
      req.socket.destroy();
      return;
    }
    if (fault?.reset) return this.reset(req, settle);
    if (apiPath === 'sys/monitor' && !fault) {
      settle();
      return this.stream(method, `/v1/${apiPath}${url.search}`, req.headers, res);
    }
    let reply: Reply;
    if (fault?.status !== undefined) reply = faultReply(fault);
    else if (apiPath === undefined) reply = { status: 404, body: { errors: [] } };
    else reply = await this.dispatch(method, apiPath, url.search, req.headers, bodyText);
    this.notice(reply, token);
    if (fault?.lose) {
      this.lost.push(`${method} ${apiPath} ${fault.lose} ${reply.status}`);
      if (fault.lose === 'reset') return this.reset(req, settle, true);
      if (fault.lose === 'bad-gateway') reply = { status: 502, raw: BAD_GATEWAY, headers: { 'Content-Type': 'text/html' } };
      else {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => (this.held.delete(timer), resolve()), fault.lateMs ?? 10_000);
          this.held.add(timer);
        });
        if (res.destroyed) return;
      }
    }
    settle();
    if (reply.raw && reply.raw.length > LARGE_BODY && method !== 'HEAD') {
      if (!(await writeLargeReply(res, reply))) this.cutOff.push(record);
      return;
    }
    writeReply(res, reply, method === 'HEAD');
  }

  /** Over HTTP/2 the stream is reset (RST_STREAM); over HTTP/1.1 the connection is dropped, or with `rst` reset (RST). */
  private reset(req: http.IncomingMessage, settle: () => void, rst = false): void {
    settle();
    const stream = (req as unknown as { stream?: http2.ServerHttp2Stream }).stream;
    if (stream) return void stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    if (!rst) return void req.socket.destroy();
    // A TLS socket cannot send a reset itself: the TCP connection under it, found by the client's port.
    const tcp = [...this.sockets].find((s) => s.remotePort === req.socket.remotePort);
    if (tcp) tcp.resetAndDestroy();
    else req.socket.destroy();
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const index = this.faults.findIndex(
      ({ fault }) =>
        (!fault.method || fault.method.toUpperCase() === method) &&
        (typeof fault.path === 'string' ? fault.path === path : fault.path.test(path)),
    );
    if (index < 0) return undefined;
    const slot = this.faults[index];
    slot.remaining -= 1;
    if (slot.remaining <= 0) this.faults.splice(index, 1);
    return slot.fault;
  }

  /** Keeps the tokens and lease ids of an answer, for the leak scan and the tests' checks. */
  private notice(reply: Reply, token = ''): void {
    let body = reply.body as Record<string, unknown> | undefined;
    if (body === undefined && reply.raw) {
      try {
        body = JSON.parse(reply.raw);
      } catch {
        return;
      }
    }
    if (!body || typeof body !== 'object') return;
    const auth = body.auth as { client_token?: string; token_type?: TokenType; policies?: string[] } | null | undefined;
    if (auth?.client_token) this.tokens.set(auth.client_token, { type: auth.token_type ?? 'service', policies: auth.policies ?? [] });
    const wrap = body.wrap_info as { token?: string } | null | undefined;
    if (wrap?.token) this.tokens.set(wrap.token, { type: 'service', policies: ['response-wrapping'] });
    if (typeof body.lease_id === 'string' && body.lease_id) this.leaseIds.set(body.lease_id, token);
  }

  private async dispatch(
    method: string,
    path: string,
    search: string,
    headers: http.IncomingHttpHeaders,
    bodyText: string,
  ): Promise<Reply> {
    const header = headers['x-vault-namespace'];
    const clientNs = canonicalNamespace(typeof header === 'string' ? header : '');
    if ((method === 'POST' || method === 'PUT') && !this.sealed) {
      const plugin = await this.pluginLogin(`${clientNs}${path}`, bodyText);
      if (plugin) return { status: plugin.status, body: plugin.body };
    }
    const rootOnly = ROOT_ONLY.has(path);
    const forwarded: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || name.startsWith(':') || DROPPED_HEADERS.has(name)) continue;
      forwarded[name] = value;
    }
    const upstreamNs = `${canonicalNamespace(this.namespace)}${clientNs}`;
    if (!rootOnly && upstreamNs) forwarded['x-vault-namespace'] = upstreamNs;
    const body = Buffer.from(bodyText);
    if (body.length) forwarded['content-length'] = String(body.length);
    return new Promise<Reply>((resolve) => {
      const upstream = https.request(
        {
          host: VAULT_IP,
          servername: VAULT_HOST,
          port: this.bao.port,
          method,
          path: `/v1/${encodeURI(path)}${search}`,
          headers: forwarded,
          agent: this.agent,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            const type = answer.headers['content-type'];
            const status = answer.statusCode ?? 502;
            if (status === 204) return resolve({ status });
            // The front's namespace is the client's root: a token's namespace_path is told relative to it.
            const text = Buffer.concat(chunks).toString('utf8');
            const raw = this.namespace ? text.replaceAll(`"namespace_path":"${this.namespace}/`, '"namespace_path":"') : text;
            resolve({ status, raw, headers: type ? { 'Content-Type': type } : {} });
          });
        },
      );
      upstream.on('error', () => resolve({ status: 502, raw: BAD_GATEWAY, headers: { 'Content-Type': 'text/html' } }));
      upstream.end(body);
    });
  }

  /** sys/monitor, the server's log as it is written: passed on as it comes (from the root namespace, where it is served). */
  private stream(method: string, path: string, headers: http.IncomingHttpHeaders, res: http.ServerResponse): void {
    const forwarded: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined && !name.startsWith(':') && !DROPPED_HEADERS.has(name)) forwarded[name] = value;
    }
    const upstream = https.request(
      { host: VAULT_IP, servername: VAULT_HOST, port: this.bao.port, method, path, headers: forwarded, agent: this.agent },
      (answer) => {
        const type = answer.headers['content-type'];
        res.writeHead(answer.statusCode ?? 502, type ? { 'Content-Type': type } : {});
        answer.pipe(res);
      },
    );
    res.on('close', () => upstream.destroy());
    upstream.on('error', () => res.destroy());
    upstream.end();
  }

  /** The login of a plugin mount registered with the front, by the plugin's checks; undefined for any other request. */
  private async pluginLogin(full: string, bodyText: string): Promise<PluginReply | undefined> {
    if (!full.endsWith('/login')) return undefined;
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(bodyText || '{}');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      return undefined;
    }
    // Every split of the path into a namespace and `auth/<mount>/login` that a registered mount may own.
    for (let at = full.indexOf('auth/'); at >= 0; at = full.indexOf('auth/', at + 1)) {
      if (at > 0 && full[at - 1] !== '/') continue;
      const nsPath = full.slice(0, at);
      const req = { op: 'update', rel: full.slice(at), ns: { path: nsPath }, body };
      const issue = (mountPath: string, role: AzureRole, roleName: string, principal: string, meta?: Record<string, string>) =>
        this.grant(nsPath, mountPath, role, roleName, principal, meta);
      const reply = (await azure.login(this, req, issue)) ?? (await awsLogin(this, req, issue)) ?? (await gcpLogin(this, req, issue));
      if (reply) return reply;
    }
    return undefined;
  }

  /** A successful plugin login: a real OpenBao token with the role's settings, answered in the plugin's shape. */
  private async grant(
    nsPath: string,
    mountPath: string,
    role: AzureRole,
    roleName: string,
    principal: string,
    loginMeta?: Record<string, string>,
  ): Promise<PluginReply> {
    const type: TokenType = role.token_type === 'batch' ? 'batch' : 'service';
    const policies = sanitizePolicies(role.token_policies ?? []);
    if (policies.includes('root')) return { status: 400, body: { errors: ['auth methods cannot create root tokens'] } };
    const meta = loginMeta ?? { resource_group_name: '', role: roleName, subscription_id: '' };
    const ttl = role.token_ttl ?? 3600;
    const created = await this.api(
      'POST',
      'auth/token/create',
      {
        policies,
        meta,
        type,
        ttl: `${ttl}s`,
        no_parent: true,
        display_name: `${mountPath.replace(/\/$/, '').replace(/\//g, '-')}-${principal}`,
      },
      nsPath,
    );
    if (created.status !== 200) return { status: created.status, body: created.body };
    return {
      status: 200,
      body: {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: null,
        wrap_info: null,
        warnings: null,
        auth: { ...created.body.auth, metadata: meta },
        mount_type: '',
      },
    };
  }
}

/** Starts a front on vault.example.com:`port` in a fresh namespace of `bao`. */
export async function startVaultFront(bao: Upstream, port: number, opts: FrontOptions = {}, host = VAULT_IP): Promise<VaultFront> {
  const front = new VaultFront(bao, opts);
  await front.start(port, host);
  return front;
}

// ---------------------------------------------------------------------------------------------
// Vault's wire format: what the front writes itself
// ---------------------------------------------------------------------------------------------

/** `path` supports Vault globs: a trailing `*` (prefix) and `+` (one segment). */
export interface PolicyRule {
  path: string;
  capabilities: string[];
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  namespace: string;
  token?: string;
  at: number;
  /** '2.0' or '1.1'. */
  httpVersion: string;
}

export type TokenType = 'service' | 'batch';

interface Reply {
  status: number;
  /** JSON-encoded with a trailing newline, as Go's json.Encoder writes it. */
  body?: unknown;
  /** Sent verbatim (raw responses such as logical.RespondWithStatusCode). */
  raw?: string;
  headers?: Record<string, string>;
  /** Without Content-Length. */
  unsized?: boolean;
}

/** A namespace path as Vault canonicalises it: no leading slash, one trailing slash ('' = root). */
function canonicalNamespace(ns: string | undefined): string {
  const trimmed = (ns ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed ? `${trimmed}/` : '';
}

/** Token policies as Vault stores them: sorted, unique, plus `default` unless root. */
function sanitizePolicies(policies: string[]): string[] {
  const set = new Set(policies.map((p) => p.trim().toLowerCase()).filter(Boolean));
  if (set.has('root')) return ['root'];
  set.add('default');
  return [...set].sort();
}

function tokenFrom(headers: http.IncomingHttpHeaders): string | undefined {
  const vaultToken = headers['x-vault-token'];
  if (typeof vaultToken === 'string' && vaultToken) return vaultToken;
  const authz = headers.authorization;
  if (typeof authz === 'string' && authz.startsWith('Bearer ')) return authz.slice('Bearer '.length).trim() || undefined;
  return undefined;
}

function writeReply(res: http.ServerResponse, reply: Reply, head: boolean): void {
  if (reply.status === 204) {
    res.writeHead(204, { 'Cache-Control': 'no-store' });
    res.end();
    return;
  }
  const text = reply.raw ?? `${JSON.stringify(reply.body ?? { errors: [] })}\n`;
  const headers: Record<string, string> = {
    'Cache-Control': 'no-store',
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    ...reply.headers,
  };
  if (reply.unsized) delete headers['Content-Length'];
  res.writeHead(reply.status, headers);
  res.end(head ? undefined : text);
}

/** Bodies above this are written a piece at a time. */
const LARGE_BODY = 1024 * 1024;

/**
 * Writes a large raw body 1 MiB at a time, each piece once the client has taken the one before
 * (flow control over HTTP/2, the socket's buffer over HTTP/1.1), as Go's server writes through a
 * bounded buffer; false when the client stopped the answer before its end was written.
 */
async function writeLargeReply(res: http.ServerResponse, reply: Reply): Promise<boolean> {
  const body = Buffer.from(reply.raw as string);
  const headers: Record<string, string> = {
    'Cache-Control': 'no-store',
    'Content-Type': 'application/json',
    'Content-Length': String(body.length),
    ...reply.headers,
  };
  if (reply.unsized) delete headers['Content-Length'];
  res.writeHead(reply.status, headers);
  let closed = false;
  res.once('close', () => (closed = true));
  for (let at = 0; at < body.length && !closed; at += LARGE_BODY) {
    if (res.write(body.subarray(at, at + LARGE_BODY))) continue;
    await drainedOrClosed(res);
  }
  if (closed) return false;
  res.end();
  return true;
}

function faultReply(fault: Fault): Reply {
  const status = fault.status as number;
  if (typeof fault.body === 'string') {
    return { status, raw: fault.body, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...fault.headers }, unsized: fault.unsized };
  }
  return { status, body: fault.body ?? { errors: [] }, headers: fault.headers, unsized: fault.unsized };
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export interface FaultProxy {
  /** https://vault.example.com:<port> */
  address: string;
  /** Loses the answer to the next request the rule matches (once), after OpenBao performed it. */
  lose(rule: { method: string; path: string; mode: LossMode; lateMs?: number }): void;
  /** The answers lost so far: "<method> <path> <mode> <OpenBao's status>". */
  lost: string[];
  stop(): Promise<void>;
}

/**
 * A fault proxy between the task and an OpenBao of its own (its root namespace), as a flaky load
 * balancer: TLS as vault.example.com from `ca`, HTTP/1.1, every request passed on, and the answers
 * a rule names lost after OpenBao gave them (a reset, a gateway's 502, or held back `lateMs`).
 */
export async function startFaultProxy(ca: Ca, port: number, bao: Upstream): Promise<FaultProxy> {
  const { certPem, keyPem } = await ca.issue([VAULT_HOST]);
  const front = new VaultFront(bao, { tls: { cert: certPem, key: keyPem }, http1Only: true }, '');
  await front.start(port, VAULT_IP);
  return {
    address: `https://${VAULT_HOST}:${port}`,
    lose: ({ method, path, mode, lateMs }) => front.inject({ method, path, lose: mode, lateMs }),
    lost: front.lost,
    stop: () => front.stop(),
  };
}
