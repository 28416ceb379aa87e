/**
 * A loopback HashiCorp Vault (Enterprise) server for tests: the azure auth method, token
 * self-service, KV v1/v2, a leasing database engine, namespaces, ACL policies, sealing and
 * injectable faults. Status codes and error bodies follow Vault and its plugins:
 * hashicorp/vault (vault/request_handling.go, vault/acl.go, vault/logical_system.go,
 * sdk/logical/response_util.go), hashicorp/vault-plugin-auth-azure (path_login.go, azure.go),
 * coreos/go-oidc v3 (oidc/verify.go, oidc/jwks.go) and hashicorp/vault-plugin-secrets-kv.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { createPublicKey, JsonWebKey, randomBytes, randomUUID, verify as verifySignature } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, Server as TlsServer } from 'node:tls';
import type { Arm, ArmComputeView } from './arm';
import { delay, drainedOrClosed, readBody } from './serve';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export interface JsonWebKeySet {
  keys: Array<Record<string, unknown>>;
}

export interface AzureAuthConfig {
  /** '' answers as a mount never configured: `tenant_id is required`. */
  tenantId: string;
  /** '' answers `resource is required`. */
  resource: string;
  jwks: () => Promise<JsonWebKeySet> | JsonWebKeySet;
  /**
   * The discovery fetch (`GET <authority><tenant>/.well-known/openid-configuration`): resolves the
   * issuer the document names, or rejects with the plugin's error text (a Go *url.Error when Entra
   * cannot be reached, `<status>: <body>` when it refuses). Default: Entra's v1 issuer of the tenant.
   * Fetched at the first login after the config is written and kept; a failure is tried again at every login.
   */
  discover?: (tenantId: string) => Promise<string>;
  /** ARM, for roles with subscription, resource group, location or scale set bindings (arm.ts). */
  arm?: Arm;
  /** The mount's own ARM credential (client_id, client_secret). */
  clientId?: string;
  clientSecret?: string;
  /** How far the Vault server's clock is off (negative: behind), for the token time checks. */
  clockOffsetMs?: number;
}

export interface AzureRole {
  bound_service_principal_ids: string[];
  bound_group_ids?: string[];
  bound_subscription_ids?: string[];
  bound_resource_groups?: string[];
  bound_locations?: string[];
  bound_scale_sets?: string[];
  token_policies?: string[];
  token_type?: 'service' | 'batch' | 'default';
  /** seconds, default 3600 */
  token_ttl?: number;
}

/** `path` supports Vault globs: a trailing `*` (prefix) and `+` (one segment). */
export interface PolicyRule {
  path: string;
  capabilities: string[];
}

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

export interface TokenInfo {
  revoked: boolean;
  type: TokenType;
  policies: string[];
  ns: string;
}

export interface LeaseRecord {
  revoked: boolean;
  path: string;
  ns: string;
  /** Token the lease was issued to (revoking that service token revokes the lease). */
  token: string;
  ttl: number;
}

export interface KvMountOptions {
  /** Mount options reported by sys/internal/ui/mounts; default `{"version": "<version>"}`. */
  options?: Record<string, string> | null;
}

// ---------------------------------------------------------------------------------------------
// Constants taken from Vault
// ---------------------------------------------------------------------------------------------

const VAULT_VERSION = '1.19.0+ent';
/** System default lease TTL (768h): what a KV v1 read reports as lease_duration. */
const SYSTEM_DEFAULT_LEASE_TTL = 2764800;
const DEFAULT_ROLE_TOKEN_TTL = 3600;
const DEFAULT_DATABASE_LEASE_TTL = 3600;
/** KV v2 keeps this many versions unless configured otherwise. */
const KV_DEFAULT_MAX_VERSIONS = 10;
/** go-oidc accepts an nbf up to this far in the future. */
const OIDC_NBF_LEEWAY_MS = 5 * 60 * 1000;
const KV_INVALID_PATH_WARNING = (sub: string): string =>
  'Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API ' +
  `endpoints to use. If using the Vault CLI, use 'vault kv ${sub}' for this operation.`;

/** Vault's built-in `default` policy (vault/policy_store.go), without the templated identity paths. */
const DEFAULT_POLICY: PolicyRule[] = [
  { path: 'auth/token/lookup-self', capabilities: ['read'] },
  { path: 'auth/token/renew-self', capabilities: ['update'] },
  { path: 'auth/token/revoke-self', capabilities: ['update'] },
  { path: 'sys/capabilities-self', capabilities: ['update'] },
  { path: 'sys/internal/ui/resultant-acl', capabilities: ['read'] },
  { path: 'sys/renew', capabilities: ['update'] },
  { path: 'sys/leases/renew', capabilities: ['update'] },
  { path: 'sys/leases/lookup', capabilities: ['update'] },
  { path: 'cubbyhole/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] },
  { path: 'sys/wrapping/wrap', capabilities: ['update'] },
  { path: 'sys/wrapping/lookup', capabilities: ['update'] },
  { path: 'sys/wrapping/unwrap', capabilities: ['update'] },
  { path: 'sys/tools/hash', capabilities: ['update'] },
  { path: 'sys/tools/hash/*', capabilities: ['update'] },
  { path: 'sys/control-group/request', capabilities: ['update'] },
  { path: 'identity/oidc/provider/+/authorize', capabilities: ['read', 'update'] },
];

// ---------------------------------------------------------------------------------------------
// Small helpers: replies, errors, randomness, time
// ---------------------------------------------------------------------------------------------

export interface Reply {
  status: number;
  /** JSON-encoded with a trailing newline, as Go's json.Encoder writes it. */
  body?: unknown;
  /** Sent verbatim (raw responses such as logical.RespondWithStatusCode). */
  raw?: string;
  headers?: Record<string, string>;
  /** Without Content-Length. */
  unsized?: boolean;
}

/** go-multierror's default format, which Vault puts in many error bodies. */
export function multiErrorText(...errors: string[]): string {
  if (errors.length === 1) return `1 error occurred:\n\t* ${errors[0]}\n\n`;
  return `${errors.length} errors occurred:\n\t${errors.map((e) => `* ${e}`).join('\n\t')}\n\n`;
}

const errorReply = (status: number, ...errors: string[]): Reply => ({ status, body: { errors } });
const noContent = (): Reply => ({ status: 204 });
const PERMISSION_DENIED = (): Reply => errorReply(403, 'permission denied');
const INVALID_TOKEN = (): Reply => errorReply(403, multiErrorText('permission denied', 'invalid token'));
const POLICY_DENIED = (): Reply => errorReply(403, multiErrorText('permission denied'));
const UNSUPPORTED_PATH = (): Reply => errorReply(404, multiErrorText('unsupported path'));
const UNSUPPORTED_OPERATION = (): Reply => errorReply(405, multiErrorText('unsupported operation'));

interface LogicalResponseInit {
  data?: unknown;
  leaseId?: string;
  renewable?: boolean;
  leaseDuration?: number;
  warnings?: string[] | null;
  auth?: unknown;
  mountType?: string;
}

/** logical.HTTPResponse, field order as Vault serialises it. */
function logicalResponse(init: LogicalResponseInit): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: init.leaseId ?? '',
    renewable: init.renewable ?? false,
    lease_duration: init.leaseDuration ?? 0,
    data: init.data === undefined ? null : sortedKeys(init.data),
    wrap_info: null,
    warnings: init.warnings ?? null,
    auth: init.auth ?? null,
    mount_type: init.mountType ?? '',
  };
}

const ok = (init: LogicalResponseInit): Reply => ({ status: 200, body: logicalResponse(init) });

/** logical.RespondWithStatusCode: the whole response as a raw body with another status. */
const withStatus = (status: number, init: LogicalResponseInit): Reply => ({
  status,
  raw: JSON.stringify(logicalResponse({ ...init, mountType: '' })),
});

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

const sleep = delay;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Go's `%v` of a time.Time in UTC, e.g. `2024-05-01 12:00:00 +0000 UTC`; null is the zero time. */
function goTime(ms: number | null): string {
  if (ms === null) return '0001-01-01 00:00:00 +0000 UTC';
  const d = new Date(ms);
  const frac = d.getUTCMilliseconds() ? `.${pad(d.getUTCMilliseconds(), 3).replace(/0+$/, '')}` : '';
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac} +0000 UTC`
  );
}

/** Nanoseconds since the epoch: the wall clock's milliseconds, with the finer digits of the monotonic clock below them. */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

/**
 * Go's time.RFC3339Nano of a UTC time, as encoding/json writes a time.Time and KV v2 its timestamps:
 * up to nine fraction digits, trailing zeros (and a bare '.') dropped.
 */
function rfc3339Nano(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const whole = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const fraction = String(ns % 1_000_000_000n)
    .padStart(9, '0')
    .replace(/0+$/, '');
  return `${whole}${fraction ? `.${fraction}` : ''}Z`;
}

/**
 * A Go map as encoding/json writes it: keys sorted, at every depth. Response `data` is a
 * map[string]interface{} (a KV secret's keys included), so Vault never keeps the order written.
 */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortedKeys((value as Record<string, unknown>)[key]);
  return out;
}

/** Go's `%q` of a []string: `["a" "b"]`. */
const goQuotedList = (items: string[]): string => `[${items.map((s) => JSON.stringify(s)).join(' ')}]`;

/** A namespace path as Vault canonicalises it: no leading slash, one trailing slash ('' = root). */
export function canonicalNamespace(ns: string | undefined): string {
  const trimmed = (ns ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed ? `${trimmed}/` : '';
}

const mountKey = (path: string): string => `${path.replace(/^\/+|\/+$/g, '')}/`;

export function asString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

// ---------------------------------------------------------------------------------------------
// ACL: Vault's matching rules (vault/acl.go AllowOperation, CheckAllowedFromNonExactPaths)
// ---------------------------------------------------------------------------------------------

type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';
type Operation = 'read' | 'list' | 'update' | 'create' | 'delete' | 'patch';

interface WildcardCandidate {
  firstWildcard: number;
  wildcards: number;
  isPrefix: boolean;
  path: string;
  caps: Set<Capability>;
}

/** Vault's priority order for non-exact matches; true when `a` ranks below `b`. */
function lowerPriority(a: WildcardCandidate, b: WildcardCandidate): boolean {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard < b.firstWildcard;
  if (a.isPrefix !== b.isPrefix) return a.isPrefix;
  if (a.wildcards !== b.wildcards) return a.wildcards > b.wildcards;
  if (a.path.length !== b.path.length) return a.path.length < b.path.length;
  return a.path < b.path;
}

const grantsSomething = (caps: Set<Capability>): boolean => caps.size > 0 && !caps.has('deny');

class Acl {
  private readonly exact = new Map<string, Set<Capability>>();
  private readonly prefix = new Map<string, Set<Capability>>();
  private readonly segment = new Map<string, Set<Capability>>();

  /** `rules` carry absolute paths (namespace path + policy path). */
  constructor(
    readonly root: boolean,
    rules: PolicyRule[],
  ) {
    for (const rule of rules) this.add(rule);
  }

  allows(path: string, op: Operation): boolean {
    if (this.root) return true;
    const caps = this.match(path, op);
    return caps !== undefined && !caps.has('deny') && caps.has(op);
  }

  /** sys/internal/ui/mounts: any non-deny capability on the mount or on a rule under it. */
  hasMountAccess(mountPath: string): boolean {
    if (this.root) return true;
    const direct = this.match(mountPath, 'read');
    if (direct && grantsSomething(direct)) return true;
    for (const table of [this.exact, this.prefix]) {
      for (const [key, caps] of table) if (key.startsWith(mountPath) && grantsSomething(caps)) return true;
    }
    return this.segmentGrantsUnderMount(mountPath);
  }

  private add(rule: PolicyRule): void {
    const path = rule.path.replace(/^\/+/, '');
    const caps = new Set(rule.capabilities.map((c) => c.toLowerCase() as Capability));
    let table = this.exact;
    let key = path;
    if (path.includes('+')) table = this.segment;
    else if (path.endsWith('*')) {
      table = this.prefix;
      key = path.slice(0, -1);
    }
    const existing = table.get(key);
    if (!existing) table.set(key, caps);
    else if (existing.has('deny')) return;
    else if (caps.has('deny')) table.set(key, new Set<Capability>(['deny']));
    else for (const c of caps) existing.add(c);
  }

  private match(path: string, op: Operation): Set<Capability> | undefined {
    const exact = this.exact.get(path) ?? (op === 'list' ? this.exact.get(path.replace(/\/$/, '')) : undefined);
    return exact ?? this.matchNonExact(path);
  }

  private matchNonExact(path: string): Set<Capability> | undefined {
    const candidates: WildcardCandidate[] = [];
    let longest: string | undefined;
    for (const key of this.prefix.keys()) {
      if (path.startsWith(key) && (longest === undefined || key.length > longest.length)) longest = key;
    }
    if (longest !== undefined) {
      const caps = this.prefix.get(longest) as Set<Capability>;
      if (this.segment.size === 0) return caps;
      candidates.push({ firstWildcard: longest.length, wildcards: 0, isPrefix: true, path: longest, caps });
    }
    const parts = path.split('/');
    for (const [full, caps] of this.segment) {
      const candidate = matchSegmentRule(full, parts, caps);
      if (candidate) candidates.push(candidate);
    }
    if (candidates.length === 0) return undefined;
    candidates.sort((a, b) => (lowerPriority(a, b) ? -1 : lowerPriority(b, a) ? 1 : 0));
    return candidates[candidates.length - 1].caps;
  }

  private segmentGrantsUnderMount(mountPath: string): boolean {
    const parts = mountPath.split('/');
    for (const [full, caps] of this.segment) {
      if (!grantsSomething(caps)) continue;
      const isPrefix = full.endsWith('*');
      const ruleParts = (isPrefix ? full.slice(0, -1) : full).split('/');
      const segments: string[] = [];
      for (let i = 0; i < ruleParts.length && i <= parts.length - 2; i++) {
        const part = ruleParts[i];
        if (part === '+' || part === parts[i]) segments.push(parts[i]);
        else if (isPrefix && i === ruleParts.length - 1 && parts[i].startsWith(part)) segments.push(...parts.slice(i));
        if (i === parts.length - 2 && `${segments.join('/')}/`.startsWith(mountPath)) return true;
      }
    }
    return false;
  }
}

function matchSegmentRule(full: string, parts: string[], caps: Set<Capability>): WildcardCandidate | undefined {
  const isPrefix = full.endsWith('*');
  const rulePath = isPrefix ? full.slice(0, -1) : full;
  const ruleParts = rulePath.split('/');
  if (parts.length < ruleParts.length) return undefined;
  if (!isPrefix && ruleParts.length !== parts.length) return undefined;
  let wildcards = 0;
  for (let i = 0; i < ruleParts.length; i++) {
    const part = ruleParts[i];
    if (part === '+') wildcards++;
    else if (part === parts[i]) continue;
    else if (isPrefix && i === ruleParts.length - 1 && parts[i].startsWith(part)) continue;
    else return undefined;
  }
  return { firstWildcard: full.indexOf('+'), wildcards, isPrefix, path: rulePath, caps };
}

// ---------------------------------------------------------------------------------------------
// Tokens and leases
// ---------------------------------------------------------------------------------------------

interface TokenEntry {
  id: string;
  accessor: string;
  type: TokenType;
  policies: string[];
  ns: string;
  /** Creation time in nanoseconds since the epoch; whole seconds for a batch token, which stores Unix seconds. */
  createdNs: bigint;
  /** The same in milliseconds. */
  createdAt: number;
  /** seconds; 0 = never expires (root) */
  ttl: number;
  revoked: boolean;
  displayName: string;
  meta: Record<string, string> | null;
  entityId: string;
  path: string;
}

interface NewToken {
  type: TokenType;
  policies: string[];
  ns: NamespaceState;
  ttl: number;
  displayName: string;
  meta: Record<string, string> | null;
  entityId: string;
  path: string;
}

/** Token policies as Vault stores them: sorted, unique, plus `default` unless root. */
export function sanitizePolicies(policies: string[]): string[] {
  const set = new Set(policies.map((p) => p.trim().toLowerCase()).filter(Boolean));
  if (set.has('root')) return ['root'];
  set.add('default');
  return [...set].sort();
}

class TokenStore {
  private readonly byId = new Map<string, TokenEntry>();

  create(init: NewToken): TokenEntry {
    const nsSuffix = init.ns.path ? `.${init.ns.id}` : '';
    const batch = init.type === 'batch';
    const now = nowNs();
    const createdNs = batch ? (now / 1_000_000_000n) * 1_000_000_000n : now;
    const entry: TokenEntry = {
      id: batch ? `hvb.AAAAAQ${randomBytes(96).toString('base64url')}` : `hvs.${randomBase62(24)}${nsSuffix}`,
      accessor: batch ? '' : `${randomBase62(24)}${nsSuffix}`,
      type: init.type,
      policies: init.policies,
      ns: init.ns.path,
      createdNs,
      createdAt: Number(createdNs / 1_000_000n),
      ttl: init.ttl,
      revoked: false,
      displayName: init.displayName,
      meta: init.meta,
      entityId: init.entityId,
      path: init.path,
    };
    this.byId.set(entry.id, entry);
    return entry;
  }

  get(id: string): TokenEntry | undefined {
    return this.byId.get(id);
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** A token that can be used now: known, not revoked, not expired. */
  usable(id: string): TokenEntry | undefined {
    const entry = this.byId.get(id);
    if (!entry || entry.revoked) return undefined;
    if (entry.ttl > 0 && Date.now() >= entry.createdAt + entry.ttl * 1000) return undefined;
    return entry;
  }
}

/** Whole seconds left, truncated as Go's int64(duration.Seconds()). */
const remainingTtl = (t: TokenEntry): number =>
  t.ttl === 0 ? 0 : Math.max(0, Math.floor((t.createdAt + t.ttl * 1000 - Date.now()) / 1000));

// ---------------------------------------------------------------------------------------------
// Mounts and secrets engines
// ---------------------------------------------------------------------------------------------

interface EngineRequest {
  op: Operation;
  /** Path inside the mount, e.g. `data/ci/db`. */
  sub: string;
  query: URLSearchParams;
  token: TokenEntry;
  ns: NamespaceState;
  /** The mount path relative to the namespace, e.g. `secret/`. */
  mountPath: string;
  issueLease: (path: string, ttl: number) => string;
}

interface SecretEngine {
  readonly type: string;
  readonly options: Record<string, string> | null;
  handle(req: EngineRequest): Reply;
}

class KvV1Engine implements SecretEngine {
  readonly type = 'kv';
  private readonly entries = new Map<string, Record<string, unknown>>();

  constructor(readonly options: Record<string, string> | null) {}

  put(key: string, data: Record<string, unknown>): number {
    this.entries.set(key, { ...data });
    return 1;
  }

  handle(req: EngineRequest): Reply {
    if (req.op !== 'read') return UNSUPPORTED_OPERATION();
    const data = this.entries.get(req.sub);
    if (!data) return errorReply(404);
    return ok({ data, leaseDuration: leaseTtlOf(data), mountType: 'kv' });
  }
}

/** A KV v1 entry's `ttl` (or legacy `lease`) key overrides the lease duration it reports. */
function leaseTtlOf(data: Record<string, unknown>): number {
  const raw = data.ttl ?? data.lease;
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string') {
    const m = /^(\d+)([smhd]?)$/.exec(raw.trim());
    if (m) return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]];
  }
  return SYSTEM_DEFAULT_LEASE_TTL;
}

interface KvVersion {
  data: Record<string, unknown>;
  createdTime: string;
  deletionTime: string;
  destroyed: boolean;
}

interface KvSecret {
  currentVersion: number;
  oldestVersion: number;
  createdTime: string;
  updatedTime: string;
  versions: Map<number, KvVersion>;
}

class KvV2Engine implements SecretEngine {
  readonly type = 'kv';
  private readonly secrets = new Map<string, KvSecret>();

  constructor(readonly options: Record<string, string> | null) {}

  put(key: string, data: Record<string, unknown>): number {
    const now = rfc3339Nano(nowNs());
    const secret = this.secrets.get(key) ?? {
      currentVersion: 0,
      oldestVersion: 0,
      createdTime: now,
      updatedTime: now,
      versions: new Map<number, KvVersion>(),
    };
    secret.currentVersion += 1;
    secret.updatedTime = now;
    secret.versions.set(secret.currentVersion, { data: { ...data }, createdTime: now, deletionTime: '', destroyed: false });
    while (secret.versions.size > KV_DEFAULT_MAX_VERSIONS) {
      secret.versions.delete(Math.min(...secret.versions.keys()));
    }
    // KeyMetadata.AddVersion: 0 until the first write that drops a version, then the oldest kept.
    if (secret.currentVersion >= KV_DEFAULT_MAX_VERSIONS) secret.oldestVersion = secret.currentVersion - KV_DEFAULT_MAX_VERSIONS + 1;
    this.secrets.set(key, secret);
    return secret.currentVersion;
  }

  version(key: string, version: number): KvVersion {
    const v = this.secrets.get(key)?.versions.get(version);
    if (!v) throw new Error(`no version ${version} of "${key}" in this KV v2 mount`);
    return v;
  }

  handle(req: EngineRequest): Reply {
    const [head, ...rest] = req.sub.split('/');
    const key = rest.join('/');
    if (['data', 'metadata', 'delete', 'undelete', 'destroy'].includes(req.sub)) {
      return withStatus(404, { warnings: ['Non-listing operations on the root of a K/V v2 mount are not supported.'] });
    }
    if (head === 'data' && key && !key.endsWith('/')) {
      return req.op === 'read' ? this.readData(key, req.query) : UNSUPPORTED_OPERATION();
    }
    if (head === 'metadata' && key && !key.endsWith('/')) {
      return req.op === 'read' ? this.readMetadata(key) : UNSUPPORTED_OPERATION();
    }
    // Real endpoints this emulator does not serve (metadata listing, delete, undelete, destroy, ...).
    if (['metadata', 'delete', 'undelete', 'destroy', 'subkeys', 'config'].includes(head)) {
      return UNSUPPORTED_OPERATION();
    }
    return withStatus(404, { warnings: [KV_INVALID_PATH_WARNING(kvSubCommand(req.op))] });
  }

  private readData(key: string, query: URLSearchParams): Reply {
    const secret = this.secrets.get(key);
    if (!secret) return errorReply(404);
    const requested = Number.parseInt(query.get('version') ?? '0', 10);
    const number = requested > 0 ? requested : secret.currentVersion;
    const v = secret.versions.get(number);
    if (!v) return errorReply(404);
    const metadata = {
      created_time: v.createdTime,
      custom_metadata: null,
      deletion_time: v.deletionTime,
      destroyed: v.destroyed,
      version: number,
    };
    if (v.deletionTime || v.destroyed) return withStatus(404, { data: { data: null, metadata } });
    return ok({ data: { data: { ...v.data }, metadata }, mountType: 'kv' });
  }

  private readMetadata(key: string): Reply {
    const secret = this.secrets.get(key);
    if (!secret) return errorReply(404);
    const versions: Record<string, unknown> = {};
    for (const [n, v] of secret.versions) {
      versions[String(n)] = { created_time: v.createdTime, deletion_time: v.deletionTime, destroyed: v.destroyed };
    }
    return ok({
      data: {
        cas_required: false,
        created_time: secret.createdTime,
        current_version: secret.currentVersion,
        custom_metadata: null,
        delete_version_after: '0s',
        max_versions: 0,
        oldest_version: secret.oldestVersion,
        updated_time: secret.updatedTime,
        versions,
      },
      mountType: 'kv',
    });
  }
}

function kvSubCommand(op: Operation): string {
  const map: Record<Operation, string> = {
    create: 'put',
    update: 'put',
    patch: 'patch',
    read: 'get',
    list: 'list',
    delete: 'delete',
  };
  return map[op];
}

class DatabaseEngine implements SecretEngine {
  readonly type = 'database';
  readonly options = null;

  constructor(private readonly roles: Set<string>) {}

  handle(req: EngineRequest): Reply {
    const m = /^creds\/([^/]+)$/.exec(req.sub);
    if (!m) return UNSUPPORTED_PATH();
    if (req.op !== 'read') return UNSUPPORTED_OPERATION();
    const role = m[1];
    if (!this.roles.has(role)) return errorReply(400, `unknown role: ${role}`);
    // Leases issued to a batch token cannot outlive it.
    const ttl =
      req.token.type === 'batch' && req.token.ttl > 0
        ? Math.min(DEFAULT_DATABASE_LEASE_TTL, remainingTtl(req.token))
        : DEFAULT_DATABASE_LEASE_TTL;
    const leaseId = req.issueLease(`${req.mountPath}creds/${role}`, ttl);
    const unix = Math.floor(Date.now() / 1000);
    const username = `v-${req.token.displayName.slice(0, 8)}-${role.slice(0, 8)}-${randomBase62(20)}-${unix}`;
    const password = `${randomBase62(4)}-${randomBase62(15)}`;
    return ok({ leaseId, renewable: true, leaseDuration: ttl, data: { username, password }, mountType: 'database' });
  }
}

interface AzureAuthMount {
  config: AzureAuthConfig;
  /** The issuer of the discovery document, once fetched (the plugin's cached provider). */
  issuer?: string;
  roles: Map<string, AzureRole>;
  accessor: string;
  uuid: string;
}

interface SecretMount {
  engine: SecretEngine;
  accessor: string;
  uuid: string;
}

/** A mount as sys/internal/ui/mounts describes it. */
interface MountView {
  path: string;
  type: string;
  options: Record<string, string> | null;
  accessor: string;
  uuid: string;
}

/**
 * Mount types that are plugins of Vault's builtin registry: mountInfo reports their
 * deprecation_status (the core mounts system, cubbyhole, identity and token are not plugins).
 */
const BUILTIN_PLUGINS = new Set(['kv', 'database', 'azure']);

const BUILTIN_MOUNTS: Array<{ path: string; type: string }> = [
  { path: 'sys/', type: 'system' },
  { path: 'cubbyhole/', type: 'cubbyhole' },
  { path: 'identity/', type: 'identity' },
  { path: 'auth/token/', type: 'token' },
];

class NamespaceState {
  readonly authMounts = new Map<string, AzureAuthMount>();
  readonly secretMounts = new Map<string, SecretMount>();
  readonly policies = new Map<string, PolicyRule[]>([['default', DEFAULT_POLICY]]);
  private readonly builtins: MountView[];

  /** `path` is '' for root, else e.g. `admin/`. */
  constructor(
    readonly path: string,
    readonly id: string,
  ) {
    this.builtins = BUILTIN_MOUNTS.map((m) => ({ ...m, options: null, accessor: accessorFor(m.type), uuid: randomUUID() }));
  }

  /** Longest secret mount containing `rel`. */
  secretMountFor(rel: string): { mountPath: string; mount: SecretMount } | undefined {
    const mountPath = longestPrefix([...this.secretMounts.keys()], rel);
    return mountPath === undefined ? undefined : { mountPath, mount: this.secretMounts.get(mountPath) as SecretMount };
  }

  /** Longest azure auth mount containing `rel` (which starts with `auth/`). */
  authMountFor(rel: string): { mountPath: string; mount: AzureAuthMount } | undefined {
    if (!rel.startsWith('auth/')) return undefined;
    const inner = rel.slice('auth/'.length);
    const mountPath = longestPrefix([...this.authMounts.keys()], inner);
    return mountPath === undefined ? undefined : { mountPath, mount: this.authMounts.get(mountPath) as AzureAuthMount };
  }

  /** Any mount (secret, auth or built-in) containing `rel`: the router's MatchingMountEntry. */
  mountView(rel: string): MountView | undefined {
    const views: MountView[] = [...this.builtins];
    for (const [path, m] of this.secretMounts) {
      views.push({ path, type: m.engine.type, options: m.engine.options, accessor: m.accessor, uuid: m.uuid });
    }
    for (const [path, m] of this.authMounts) {
      views.push({ path: `auth/${path}`, type: 'azure', options: null, accessor: m.accessor, uuid: m.uuid });
    }
    const best = longestPrefix(
      views.map((v) => v.path),
      rel,
    );
    return views.find((v) => v.path === best);
  }
}

function accessorFor(type: string): string {
  return `${type}_${randomBytes(4).toString('hex')}`;
}

/** Longest of `prefixes` (each ending in '/') that contains `path`; `foo` also matches `foo/`. */
function longestPrefix(prefixes: string[], path: string): string | undefined {
  let best: string | undefined;
  for (const p of prefixes) {
    if ((path.startsWith(p) || `${path}/` === p) && (best === undefined || p.length > best.length)) best = p;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Azure login: go-oidc v3 IDTokenVerifier + the plugin's own claim checks
// ---------------------------------------------------------------------------------------------

export class LoginRejected extends Error {}

/** The claims the plugin reads after go-oidc's checks (path_login.go additionalClaims). */
export interface AzureClaims {
  oid: string;
  appid: string;
  groups: string[];
  nbf: number | null;
  xmsAzRid: string;
  xmsMirid: string;
}

function decodeSegment(segment: string): Buffer {
  const bad = /[^A-Za-z0-9_-]/.exec(segment);
  if (bad) throw new LoginRejected(`illegal base64 data at input byte ${bad.index}`);
  if (segment.length % 4 === 1) throw new LoginRejected(`illegal base64 data at input byte ${segment.length - 1}`);
  return Buffer.from(segment, 'base64url');
}

function parseJsonObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SyntaxError(`json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value} into Go value of type oidc.idToken`);
  }
  return value as Record<string, unknown>;
}

/** Seconds since the epoch as go-oidc's jsonTime reads them (fractions truncated); null if absent. */
function claimTime(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? Math.trunc(value) * 1000 : null;
}

const audienceOf = (aud: unknown): string[] =>
  typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];

export class AzureJwtVerifier {
  constructor(
    private readonly config: AzureAuthConfig,
    private readonly issuer: string,
  ) {}

  /** go-oidc's Verify: resolves the claims or throws LoginRejected with the message Vault would return. */
  async verify(jwt: string): Promise<AzureClaims> {
    const claims = this.parseClaims(jwt);
    this.checkClaims(claims);
    await this.checkSignature(jwt);
    const groups = Array.isArray(claims.groups) ? claims.groups.map(asString) : [];
    return {
      oid: asString(claims.oid),
      appid: asString(claims.appid),
      groups,
      nbf: claimTime(claims.nbf),
      xmsAzRid: asString(claims.xms_az_rid),
      xmsMirid: asString(claims.xms_mirid),
    };
  }

  private parseClaims(jwt: string): Record<string, unknown> {
    const parts = jwt.split('.');
    if (parts.length < 2) {
      throw new LoginRejected(`oidc: malformed jwt: oidc: malformed jwt, expected 3 parts got ${parts.length}`);
    }
    let payload: Buffer;
    try {
      payload = decodeSegment(parts[1]);
    } catch (e) {
      throw new LoginRejected(`oidc: malformed jwt: oidc: malformed jwt payload: ${(e as Error).message}`);
    }
    try {
      return parseJsonObject(payload.toString('utf8'));
    } catch (e) {
      throw new LoginRejected(`oidc: failed to unmarshal claims: ${(e as Error).message}`);
    }
  }

  private checkClaims(claims: Record<string, unknown>): void {
    const expectedIssuer = this.issuer;
    const issuer = asString(claims.iss);
    if (issuer !== expectedIssuer) {
      throw new LoginRejected(
        `oidc: id token issued by a different provider, expected ${JSON.stringify(expectedIssuer)} got ${JSON.stringify(issuer)}`,
      );
    }
    const audience = audienceOf(claims.aud);
    if (!audience.includes(this.config.resource)) {
      throw new LoginRejected(`oidc: expected audience ${JSON.stringify(this.config.resource)} got ${goQuotedList(audience)}`);
    }
    const now = Date.now() + (this.config.clockOffsetMs ?? 0);
    const expiry = claimTime(claims.exp);
    if (expiry === null || expiry < now) {
      throw new LoginRejected(`oidc: token is expired (Token Expiry: ${goTime(expiry)})`);
    }
    const nbf = claimTime(claims.nbf);
    if (nbf !== null && now + OIDC_NBF_LEEWAY_MS < nbf) {
      const monotonic = `m=+${process.uptime().toFixed(9)}`;
      throw new LoginRejected(`oidc: current time ${goTime(now)} ${monotonic} before the nbf (not before) time: ${goTime(nbf)}`);
    }
  }

  private async checkSignature(jwt: string): Promise<void> {
    const parts = jwt.split('.');
    if (parts.length !== 3) {
      throw new LoginRejected('oidc: malformed jwt: go-jose/go-jose: compact JWS format must have three parts');
    }
    let header: Record<string, unknown>;
    try {
      header = parseJsonObject(decodeSegment(parts[0]).toString('utf8'));
    } catch (e) {
      throw new LoginRejected(`oidc: malformed jwt: ${(e as Error).message}`);
    }
    const alg = asString(header.alg);
    if (alg !== 'RS256') {
      throw new LoginRejected(
        `oidc: malformed jwt: go-jose/go-jose: unexpected signature algorithm ${JSON.stringify(alg)}; expected ["RS256"]`,
      );
    }
    let keys: JsonWebKeySet;
    try {
      keys = await this.config.jwks();
    } catch (e) {
      throw new LoginRejected(`failed to verify signature: fetching keys oidc: get keys failed: ${(e as Error).message}`);
    }
    const kid = asString(header.kid);
    const input = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2], 'base64url');
    const verified = keys.keys.some((jwk) => {
      if ((kid && jwk.kid !== kid) || jwk.kty !== 'RSA') return false;
      try {
        const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
        return verifySignature('sha256', input, key, signature);
      } catch {
        return false;
      }
    });
    if (!verified) throw new LoginRejected('failed to verify signature: failed to verify id token signature');
  }
}

/** Go's strings.EqualFold over a role's list (the plugin's strListContains). */
const listHas = (list: string[], value: string): boolean => list.some((v) => v.toLowerCase() === value.toLowerCase());
const isWildcard = (list: string[] | undefined): boolean => list?.length === 1 && list[0] === '*';

/** path_login.go verifyRole: the plugin's own, stricter nbf check (no leeway), then the role's principal and group bindings. */
export function verifyAzureRole(claims: AzureClaims, role: AzureRole, now: number): void {
  if (claims.nbf !== null && claims.nbf > now) {
    throw new LoginRejected(`token is not yet valid (Token Not Before: ${goTime(claims.nbf)})`);
  }
  const sps = role.bound_service_principal_ids;
  const groups = role.bound_group_ids ?? [];
  if (isWildcard(sps) && isWildcard(groups)) {
    throw new LoginRejected("expected specific bound_group_ids or bound_service_principal_ids; both cannot be '*'");
  }
  if (!isWildcard(sps) && sps.length > 0 && !listHas(sps, claims.oid))
    throw new LoginRejected(`service principal not authorized: ${claims.oid}`);
  if (!isWildcard(groups) && groups.length > 0 && !claims.groups.some((g) => listHas(groups, g))) {
    throw new LoginRejected(`groups not authorized: [${claims.groups.join(' ')}]`);
  }
}

/** The login's instance fields (subscription_id, resource_group_name, vm_name, vmss_name, resource_id). */
export interface InstanceFields {
  subscriptionId: string;
  resourceGroup: string;
  vmName: string;
  vmssName: string;
  resourceId: string;
}

/** path_login.go verifyXMSClaims: `pattern` with the login's value must be in xms_az_rid or xms_mirid. */
function verifyXmsClaims(claims: AzureClaims, pattern: (v: string) => string, key: string, value: string): string | undefined {
  if (!claims.xmsAzRid && !claims.xmsMirid) return 'xms_az_rid and xms_mirid claims are missing from token';
  const errs: string[] = [];
  if (claims.xmsAzRid) {
    if (claims.xmsAzRid.includes(pattern(value))) return undefined;
    errs.push(`xms_az_rid token claim does not match ${key} ${value}`);
  }
  if (claims.xmsMirid.includes(pattern(value))) return undefined;
  errs.push(`xms_mirid token claim does not match ${key} ${value}`);
  return errs.join('\n');
}

/**
 * path_login.go verifyResource (openbao-plugins auth/azure, with the token-claim checks of
 * hashicorp/vault-plugin-auth-azure#186 and #203): the instance named in the login, looked up in
 * ARM with the mount's own credential, must carry the token's identity and satisfy the role.
 */
export async function verifyAzureResource(f: InstanceFields, claims: AzureClaims, role: AzureRole, config: AzureAuthConfig): Promise<void> {
  const subs = role.bound_subscription_ids ?? [];
  const rgs = role.bound_resource_groups ?? [];
  const locations = role.bound_locations ?? [];
  const scaleSets = role.bound_scale_sets ?? [];
  if (!subs.length && !rgs.length && !locations.length && !scaleSets.length) return;
  if (!f.subscriptionId || !f.resourceGroup) throw new LoginRejected('subscription_id and resource_group_name are required');
  const client = config.arm?.client(config.tenantId, config.clientId ?? '', config.clientSecret ?? '');
  const noArm = () => new Error('the emulated mount has no ARM (AzureAuthConfig.arm)');
  let view: ArmComputeView | undefined;
  const principals = new Set<string>();
  const collect = (v: ArmComputeView) => {
    if (v.identity?.principalId) principals.add(v.identity.principalId);
    for (const u of Object.values(v.identity?.userAssignedIdentities ?? {})) principals.add(u.principalId);
  };
  if (f.vmssName) {
    const flexible = verifyXmsClaims(claims, (v) => `/virtualMachines/${v}_`, 'vmss_name', f.vmssName);
    if (flexible) {
      const uniform = verifyXmsClaims(claims, (v) => `/virtualMachineScaleSets/${v}`, 'vmss_name', f.vmssName);
      if (uniform)
        throw new LoginRejected(`failed to verify flexible vmss claim: ${flexible}\nfailed to verify uniform vmss claim: ${uniform}`);
    }
    if (!client) throw noArm();
    try {
      view = await client.getScaleSet(f.subscriptionId, f.resourceGroup, f.vmssName);
    } catch (e) {
      throw new LoginRejected(`unable to retrieve virtual machine scale set metadata: ${(e as Error).message}`);
    }
    if (scaleSets.length && !listHas(scaleSets, f.vmssName)) throw new LoginRejected('scale set not authorized');
    if (!view.identity) throw new LoginRejected('vmss client did not return identity information');
    collect(view);
  } else if (f.vmName) {
    const mismatch = verifyXmsClaims(claims, (v) => `/virtualMachines/${v}`, 'vm_name', f.vmName);
    if (mismatch) throw new LoginRejected(mismatch);
    if (!client) throw noArm();
    try {
      view = await client.getVm(f.subscriptionId, f.resourceGroup, f.vmName);
    } catch (e) {
      throw new LoginRejected(`unable to retrieve virtual machine metadata: ${(e as Error).message}`);
    }
    if (!view.identity) throw new LoginRejected('vm client did not return identity information');
    if (scaleSets.length) throw new LoginRejected("bound scale set defined but this vm isn't in a scale set");
    collect(view);
  } else if (f.resourceId) {
    if (scaleSets.length) throw new LoginRejected('scale set requires the vmss_name field to be set');
    throw new Error('the emulated plugin does not look up a resource_id');
  } else if (!claims.appid) {
    throw new LoginRejected('one of vm_name, vmss_name, resource_id, or an appid JWT claim must be provided');
  }
  if (f.vmssName || f.vmName) {
    const rg = verifyXmsClaims(claims, (v) => `/resourcegroups/${v}`, 'resource_group_name', f.resourceGroup);
    if (rg) throw new LoginRejected(rg);
  } else if (!f.resourceId.includes(`/resourcegroups/${f.resourceGroup}`) && !f.resourceId.includes(`/resourceGroups/${f.resourceGroup}`)) {
    throw new LoginRejected('provided resource_id does not match resource_group_name');
  }
  let wifMatch = false;
  if (!principals.has(claims.oid)) {
    if (!claims.appid) throw new LoginRejected('token object id does not match expected identities, and no app id was found');
    if (!client) throw noArm();
    const clientIds = new Set<string>();
    for (const rg of [f.resourceGroup, ...rgs])
      for (const id of await client.listIdentityClientIds(f.subscriptionId, rg)) clientIds.add(id);
    if (!clientIds.has(claims.appid)) throw new LoginRejected('neither token object id nor token app id match expected identities');
    wifMatch = true;
  }
  if (subs.length && !listHas(subs, f.subscriptionId)) throw new LoginRejected('subscription not authorized');
  if (!wifMatch && rgs.length && !listHas(rgs, f.resourceGroup)) throw new LoginRejected('resource group not authorized');
  if (locations.length) {
    if (!view?.location) throw new LoginRejected('location is empty');
    if (!listHas(locations, view.location)) throw new LoginRejected('location not authorized');
  }
}

/** azure.go getAzureSettings, the parts a login reads: the tenant and the resource, each required. */
export function azureSettingsError(config: AzureAuthConfig): string | undefined {
  if (!config.tenantId) return 'tenant_id is required';
  if (!config.resource) return 'resource is required';
  return undefined;
}

export const GUID = /^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$/;
export const AZURE_NAME = /^[a-zA-Z]$|^[a-zA-Z][a-zA-Z0-9.\-_]*[a-zA-Z0-9_]$/;
export const RESOURCE_GROUP = /^[-_.()\p{L}\p{N}]*[-_()\p{L}\p{N}]$/u;

// ---------------------------------------------------------------------------------------------
// Request context
// ---------------------------------------------------------------------------------------------

interface RequestContext {
  method: string;
  op: Operation;
  /** Path relative to the resolved namespace. */
  rel: string;
  ns: NamespaceState;
  query: URLSearchParams;
  body: Record<string, unknown>;
  token?: string;
}

function operationFor(method: string, query: URLSearchParams): Operation | undefined {
  switch (method) {
    case 'GET':
      return query.get('list') === 'true' ? 'list' : 'read';
    case 'LIST':
      return 'list';
    case 'POST':
    case 'PUT':
      return 'update';
    case 'DELETE':
      return 'delete';
    case 'PATCH':
      return 'patch';
    default:
      return undefined;
  }
}

export function tokenFrom(headers: http.IncomingHttpHeaders): string | undefined {
  const vaultToken = headers['x-vault-token'];
  if (typeof vaultToken === 'string' && vaultToken) return vaultToken;
  const authz = headers.authorization;
  if (typeof authz === 'string' && authz.startsWith('Bearer ')) return authz.slice('Bearer '.length).trim() || undefined;
  return undefined;
}

export function writeReply(res: http.ServerResponse, reply: Reply, head: boolean): void {
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
export const LARGE_BODY = 1024 * 1024;

/**
 * Writes a large raw body 1 MiB at a time, each piece once the client has taken the one before
 * (flow control over HTTP/2, the socket's buffer over HTTP/1.1), as Go's server writes through a
 * bounded buffer; false when the client stopped the answer before its end was written.
 */
export async function writeLargeReply(res: http.ServerResponse, reply: Reply): Promise<boolean> {
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

export function faultReply(fault: Fault): Reply {
  const status = fault.status as number;
  if (typeof fault.body === 'string') {
    return { status, raw: fault.body, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...fault.headers }, unsized: fault.unsized };
  }
  return { status, body: fault.body ?? { errors: [] }, headers: fault.headers, unsized: fault.unsized };
}

// ---------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------

export class VaultEmulator {
  /** Every request, in arrival order. */
  readonly requests: RequestRecord[] = [];
  /** Every azure login that named a jwt and an existing role: its mount path, its body as sent, and the refusal's text. */
  readonly azureLogins: Array<{ mount: string; body: Record<string, unknown>; refusal?: string }> = [];
  /** Highest number of requests in flight at once. */
  maxInFlight = 0;
  /** TCP connections accepted so far. */
  connections = 0;
  /** When each connection was accepted (process.hrtime.bigint(), as the other emulators' request records). */
  readonly connectedAt: bigint[] = [];
  /**
   * Requests with a large answer (a fault's body above 1 MiB) that the client stopped, resetting
   * the stream or closing the connection, before the server had written it all.
   */
  readonly cutOff: RequestRecord[] = [];
  /** Delay added before answering each request; can be changed at run time. */
  latencyMs: number;
  readonly leases = new Map<string, LeaseRecord>();

  private inFlight = 0;
  private readonly inFlightByToken = new Map<string, number>();
  /** Highest number of requests in flight at once per client token ('' = no token): one task run each. */
  readonly maxInFlightByToken = new Map<string, number>();
  private sealed = false;
  private faults: Array<{ fault: Fault; remaining: number }> = [];
  private server?: http.Server | https.Server | http2.Http2SecureServer | TlsServer;
  private readonly sockets = new Set<Socket>();
  private readonly namespaces = new Map<string, NamespaceState>([['', new NamespaceState('', 'root')]]);
  private readonly tokens = new TokenStore();
  private readonly entities = new Map<string, string>();
  private readonly clusterId = randomUUID();
  private readonly clusterName = `vault-cluster-${randomBytes(4).toString('hex')}`;

  /**
   * `tls.ca` with `requestClientCert` makes the server require a client certificate issued by
   * that CA (mutual TLS); the handshake fails without one.
   */
  constructor(
    private readonly opts: {
      tls?: { cert: string; key: string; ca?: string; requestClientCert?: boolean };
      latencyMs?: number;
      /** Serve HTTP/1.1 only over TLS (as behind a load balancer that does); Vault's own TLS listener offers h2 too. */
      http1Only?: boolean;
      /** Offer h2 in ALPN but speak HTTP/1.1 on every connection (a misconfigured front end). */
      h2Advertised?: boolean;
      /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (Vault's Go server: 250). */
      maxConcurrentStreams?: number;
    } = {},
  ) {
    this.latencyMs = opts.latencyMs ?? 0;
  }

  // --- lifecycle ------------------------------------------------------------------------------

  start(port = 0, host = '127.0.0.1'): Promise<string> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.serve(req, res).catch((err: unknown) => {
        if (!res.headersSent) writeReply(res, errorReply(500, String(err)), false);
        else res.destroy();
      });
    };
    const tls = this.opts.tls;
    const mutual = tls?.requestClientCert ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {};
    // Vault's TLS listener offers ALPN h2 and http/1.1 (internalshared/listenerutil TLSConfig).
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
        resolve(`${this.opts.tls ? 'https' : 'http'}://${shownHost}:${actual}`);
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    return closed;
  }

  // --- seeding --------------------------------------------------------------------------------

  createNamespace(ns: string): void {
    const path = canonicalNamespace(ns);
    const segments = path.split('/').filter(Boolean);
    for (let i = 1; i <= segments.length; i++) {
      const p = `${segments.slice(0, i).join('/')}/`;
      if (!this.namespaces.has(p)) this.namespaces.set(p, new NamespaceState(p, randomBase62(5)));
    }
  }

  enableAzureAuth(mount: string, config: AzureAuthConfig, ns = ''): void {
    this.ns(ns).authMounts.set(mountKey(mount), {
      config,
      roles: new Map(),
      accessor: accessorFor('auth_azure'),
      uuid: randomUUID(),
    });
  }

  /** `vault write auth/<mount>/config`: the new config, and the discovery document fetched again at the next login. */
  writeAzureConfig(mount: string, config: AzureAuthConfig, ns = ''): void {
    const auth = this.ns(ns).authMounts.get(mountKey(mount));
    if (!auth) throw new Error(`no azure auth mount at "auth/${mountKey(mount)}" in namespace "${ns}"; call enableAzureAuth first`);
    auth.config = config;
    auth.issuer = undefined;
  }

  writeRole(mount: string, name: string, role: AzureRole, ns = ''): void {
    const auth = this.ns(ns).authMounts.get(mountKey(mount));
    if (!auth) throw new Error(`no azure auth mount at "auth/${mountKey(mount)}" in namespace "${ns}"; call enableAzureAuth first`);
    auth.roles.set(name.toLowerCase(), { ...role });
  }

  writePolicy(name: string, rules: PolicyRule[], ns = ''): void {
    this.ns(ns).policies.set(
      name.toLowerCase(),
      rules.map((r) => ({ ...r })),
    );
  }

  mountKv(path: string, version: 1 | 2, ns = '', opts: KvMountOptions = {}): void {
    const options = opts.options === undefined ? { version: String(version) } : opts.options;
    const engine = version === 2 ? new KvV2Engine(options) : new KvV1Engine(options);
    this.mountEngine(path, engine, ns);
  }

  putSecret(path: string, data: Record<string, unknown>, ns = ''): number {
    const { engine, key } = this.kvTarget(path, ns);
    return engine.put(key, data);
  }

  deleteVersion(path: string, version: number, ns = ''): void {
    this.kvV2Version(path, version, ns).deletionTime = rfc3339Nano(nowNs());
  }

  destroyVersion(path: string, version: number, ns = ''): void {
    const v = this.kvV2Version(path, version, ns);
    v.destroyed = true;
    v.data = {};
  }

  mountDatabase(path: string, roles: string[], ns = ''): void {
    this.mountEngine(path, new DatabaseEngine(new Set(roles)), ns);
  }

  seal(): void {
    this.sealed = true;
  }

  unseal(): void {
    this.sealed = false;
  }

  inject(fault: Fault): void {
    this.faults.push({ fault, remaining: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  issueToken(policies: string[], opts: { type?: TokenType; ttl?: number; ns?: string } = {}): string {
    const sanitized = sanitizePolicies(policies);
    const entry = this.tokens.create({
      type: opts.type ?? 'service',
      policies: sanitized,
      ns: this.ns(opts.ns ?? ''),
      ttl: opts.ttl ?? (sanitized.includes('root') ? 0 : SYSTEM_DEFAULT_LEASE_TTL),
      displayName: 'token',
      meta: null,
      entityId: '',
      path: 'auth/token/create',
    });
    return entry.id;
  }

  /** Every token issued so far (for leak checks). */
  issuedTokens(): string[] {
    return this.tokens.ids();
  }

  tokenInfo(token: string): TokenInfo | undefined {
    const t = this.tokens.get(token);
    return t && { revoked: t.revoked, type: t.type, policies: [...t.policies], ns: t.ns.replace(/\/$/, '') };
  }

  // --- HTTP pipeline --------------------------------------------------------------------------

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
    // A request stops counting the moment its answer is written (before the client can have it and
    // send another); 'close' covers requests that end without an answer.
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
    const delay = this.latencyMs + (fault?.delayMs ?? 0);
    if (delay > 0) await sleep(delay);
    if (fault?.drop) {
      settle();
      req.socket.destroy();
      return;
    }
    if (fault?.reset) {
      settle();
      // Over HTTP/2 the stream is reset (RST_STREAM); over HTTP/1.1 the connection is dropped.
      const stream = (req as unknown as { stream?: http2.ServerHttp2Stream }).stream;
      if (stream) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      else req.socket.destroy();
      return;
    }
    const reply =
      fault?.status !== undefined
        ? faultReply(fault)
        : apiPath === undefined
          ? errorReply(404)
          : await this.dispatch(method, apiPath, url.searchParams, req.headers, bodyText, token);
    settle();
    if (reply.raw && reply.raw.length > LARGE_BODY && method !== 'HEAD') {
      if (!(await writeLargeReply(res, reply))) this.cutOff.push(record);
      return;
    }
    writeReply(res, reply, method === 'HEAD');
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

  private async dispatch(
    method: string,
    path: string,
    query: URLSearchParams,
    headers: http.IncomingHttpHeaders,
    bodyText: string,
    token: string | undefined,
  ): Promise<Reply> {
    if (path === 'sys/health') return this.health(query);
    if (path === 'sys/seal-status') return { status: 200, body: this.sealStatus() };
    const op = operationFor(method, query);
    if (!op) return errorReply(405);
    if (this.sealed) return errorReply(503, 'Vault is sealed');

    let body: Record<string, unknown> = {};
    if ((op === 'update' || op === 'patch') && bodyText.trim()) {
      try {
        const parsed: unknown = JSON.parse(bodyText);
        body = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
      } catch (e) {
        return errorReply(400, `failed to parse JSON input: ${(e as Error).message}`);
      }
    }
    const { ns, rel } = this.resolveNamespace(headers['x-vault-namespace'], path);
    const ctx: RequestContext = { method, op, rel, ns, query, body, token };

    // The aws and gcp auth methods live in files of their own: each answers the logins of its mounts.
    for (const plugin of [await import('./vaultAws'), await import('./vaultGcp')]) {
      const reply = await plugin.login(this, ctx, (mountPath, role, roleName, id) =>
        this.issueLoginToken(ctx, mountPath, role, roleName, id),
      );
      if (reply) return reply;
    }
    const login = ns.authMountFor(rel);
    if (login && rel === `auth/${login.mountPath}login`) return this.login(ctx, login.mountPath, login.mount);
    if (rel.startsWith('sys/internal/ui/mounts/')) return this.uiMount(ctx);
    return this.authenticated(ctx);
  }

  /** Header namespace + path; the longest existing namespace prefix wins (Vault Enterprise). */
  private resolveNamespace(header: string | string[] | undefined, path: string): { ns: NamespaceState; rel: string } {
    const full = `${canonicalNamespace(typeof header === 'string' ? header : '')}${path}`;
    let best = this.namespaces.get('') as NamespaceState;
    for (const [p, state] of this.namespaces) {
      if (p && full.startsWith(p) && p.length > best.path.length) best = state;
    }
    return { ns: best, rel: full.slice(best.path.length) };
  }

  // --- unauthenticated endpoints ----------------------------------------------------------------

  private health(query: URLSearchParams): Reply {
    const code = (name: string, fallback: number): number => Number.parseInt(query.get(name) ?? '', 10) || fallback;
    const status = this.sealed ? code('sealedcode', 503) : code('activecode', 200);
    return {
      status,
      body: {
        initialized: true,
        sealed: this.sealed,
        standby: this.sealed,
        performance_standby: false,
        replication_performance_mode: this.sealed ? 'unknown' : 'disabled',
        replication_dr_mode: this.sealed ? 'unknown' : 'disabled',
        server_time_utc: Math.floor(Date.now() / 1000),
        version: VAULT_VERSION,
        enterprise: true,
        ...(this.sealed ? {} : { cluster_name: this.clusterName, cluster_id: this.clusterId }),
        echo_duration_ms: 0,
        clock_skew_ms: 0,
        replication_primary_canary_age_ms: 0,
      },
    };
  }

  private sealStatus(): Record<string, unknown> {
    return {
      type: 'shamir',
      initialized: true,
      sealed: this.sealed,
      t: 1,
      n: 1,
      progress: 0,
      nonce: '',
      version: VAULT_VERSION,
      build_date: '2025-01-01T00:00:00Z',
      migration: false,
      recovery_seal: false,
      storage_type: 'inmem',
      ...(this.sealed ? {} : { cluster_name: this.clusterName, cluster_id: this.clusterId }),
    };
  }

  /** POST auth/<mount>/login (vault-plugin-auth-azure pathLogin). */
  private async login(ctx: RequestContext, mountPath: string, mount: AzureAuthMount): Promise<Reply> {
    if (ctx.op !== 'update') return errorReply(405, 'unsupported operation');
    const jwt = asString(ctx.body.jwt);
    if (!jwt) return errorReply(400, 'jwt is required');
    const roleName = asString(ctx.body.role);
    if (!roleName) return errorReply(400, 'role is required');
    const role = mount.roles.get(roleName.toLowerCase());
    if (!role) return errorReply(400, `invalid role name ${JSON.stringify(roleName)}`);

    const record: { mount: string; body: Record<string, unknown>; refusal?: string } = { mount: mountPath, body: { ...ctx.body } };
    this.azureLogins.push(record);
    const refuse = (status: number, text: string): Reply => {
      record.refusal = text;
      return errorReply(status, text);
    };
    const fields: InstanceFields = {
      subscriptionId: asString(ctx.body.subscription_id),
      resourceGroup: asString(ctx.body.resource_group_name),
      vmName: asString(ctx.body.vm_name),
      vmssName: asString(ctx.body.vmss_name),
      resourceId: asString(ctx.body.resource_id),
    };
    if (fields.subscriptionId && !GUID.test(fields.subscriptionId))
      return refuse(400, `invalid subscription id ${JSON.stringify(fields.subscriptionId)}`);
    if (fields.resourceGroup && !RESOURCE_GROUP.test(fields.resourceGroup))
      return refuse(400, `invalid resource group name ${JSON.stringify(fields.resourceGroup)}`);
    if (fields.vmssName && !AZURE_NAME.test(fields.vmssName)) return refuse(400, `invalid vmss_name ${JSON.stringify(fields.vmssName)}`);
    if (fields.vmName && !AZURE_NAME.test(fields.vmName)) return refuse(400, `invalid vm name ${JSON.stringify(fields.vmName)}`);

    const { config } = mount;
    const settings = azureSettingsError(config);
    if (settings) return refuse(500, settings);
    if (mount.issuer === undefined) {
      try {
        mount.issuer = config.discover ? await config.discover(config.tenantId) : `https://sts.windows.net/${config.tenantId}/`;
      } catch (e) {
        return refuse(500, (e as Error).message);
      }
    }
    let claims: AzureClaims;
    try {
      claims = await new AzureJwtVerifier(config, mount.issuer).verify(jwt);
      verifyAzureRole(claims, role, Date.now() + (config.clockOffsetMs ?? 0));
      await verifyAzureResource(fields, claims, role, config);
    } catch (e) {
      if (e instanceof LoginRejected) return refuse(500, e.message);
      throw e;
    }
    const meta: Record<string, string> = {
      resource_group_name: fields.resourceGroup,
      role: roleName,
      subscription_id: fields.subscriptionId,
    };
    if (fields.vmName) meta.vm_name = fields.vmName;
    if (fields.vmssName) meta.vmss_name = fields.vmssName;
    if (fields.resourceId) meta.resource_id = fields.resourceId;
    if (claims.appid) meta.app_id = claims.appid;
    return this.issueLoginToken(ctx, mountPath, role, roleName, claims.oid, meta);
  }

  private issueLoginToken(
    ctx: RequestContext,
    mountPath: string,
    role: AzureRole,
    roleName: string,
    oid: string,
    loginMeta?: Record<string, string>,
  ): Reply {
    const type: TokenType = role.token_type === 'batch' ? 'batch' : 'service';
    const policies = sanitizePolicies(role.token_policies ?? []);
    if (policies.includes('root')) return errorReply(400, 'auth methods cannot create root tokens');
    const entityKey = `${ctx.ns.path}|${mountPath}|${oid}`;
    const entityId = this.entities.get(entityKey) ?? randomUUID();
    this.entities.set(entityKey, entityId);
    const meta = loginMeta ?? { resource_group_name: '', role: roleName, subscription_id: '' };
    const ttl = role.token_ttl ?? DEFAULT_ROLE_TOKEN_TTL;
    const token = this.tokens.create({
      type,
      policies,
      ns: ctx.ns,
      ttl,
      displayName: `${mountPath.replace(/\/$/, '').replace(/\//g, '-')}-${oid}`,
      meta,
      entityId,
      path: `auth/${mountPath}login`,
    });
    return ok({
      auth: {
        client_token: token.id,
        accessor: token.accessor,
        policies,
        token_policies: policies,
        metadata: meta,
        lease_duration: ttl,
        renewable: type === 'service',
        entity_id: entityId,
        token_type: type,
        orphan: true,
        mfa_requirement: null,
        num_uses: 0,
      },
    });
  }

  /** GET sys/internal/ui/mounts/<path> (SystemBackend.pathInternalUIMountRead). */
  private uiMount(ctx: RequestContext): Reply {
    let path = ctx.rel.slice('sys/internal/ui/mounts/'.length);
    if (!path) return errorReply(400, 'path not set');
    if (!path.endsWith('/')) path += '/';
    path = path.replace(/^\//, '');
    const denied = errorReply(
      403,
      `preflight capability check returned 403, please ensure client's policies grant access to path ${JSON.stringify(path)}`,
    );
    const mount = ctx.ns.mountView(path);
    if (!mount) return denied;
    if (!ctx.token) return PERMISSION_DENIED();
    const token = this.tokens.usable(ctx.token);
    if (!token) return INVALID_TOKEN();
    if (!this.aclFor(token).hasMountAccess(`${ctx.ns.path}${mount.path}`)) return denied;
    return ok({
      data: {
        accessor: mount.accessor,
        config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
        ...(BUILTIN_PLUGINS.has(mount.type) ? { deprecation_status: 'supported' } : {}),
        description: '',
        external_entropy_access: false,
        local: false,
        options: mount.options,
        path: mount.path,
        plugin_version: '',
        running_plugin_version: '',
        running_sha256: '',
        seal_wrap: false,
        type: mount.type,
        uuid: mount.uuid,
      },
      mountType: 'system',
    });
  }

  // --- authenticated endpoints ------------------------------------------------------------------

  private authenticated(ctx: RequestContext): Reply {
    if (!ctx.token) return PERMISSION_DENIED();
    const token = this.tokens.usable(ctx.token);
    if (!token) return INVALID_TOKEN();
    if (!this.aclFor(token).allows(`${ctx.ns.path}${ctx.rel}`, ctx.op)) return POLICY_DENIED();
    return this.route(ctx, token);
  }

  private route(ctx: RequestContext, token: TokenEntry): Reply {
    const { rel, op } = ctx;
    if (rel === 'auth/token/lookup-self') return op === 'read' || op === 'update' ? this.lookupSelf(token) : UNSUPPORTED_OPERATION();
    if (rel === 'auth/token/revoke-self') return op === 'update' ? this.revokeSelf(token) : UNSUPPORTED_OPERATION();
    if (rel === 'sys/leases/revoke' || rel.startsWith('sys/leases/revoke/')) {
      return op === 'update' ? this.revokeLease(ctx) : UNSUPPORTED_OPERATION();
    }
    const secret = ctx.ns.secretMountFor(rel);
    if (secret) {
      return secret.mount.engine.handle({
        op,
        sub: rel.slice(secret.mountPath.length),
        query: ctx.query,
        token,
        ns: ctx.ns,
        mountPath: secret.mountPath,
        issueLease: (path, ttl) => this.issueLease(ctx.ns, token, path, ttl),
      });
    }
    if (ctx.ns.mountView(rel)) return UNSUPPORTED_PATH();
    return errorReply(404, `no handler for route ${JSON.stringify(rel)}. route entry not found.`);
  }

  private lookupSelf(token: TokenEntry): Reply {
    return ok({
      data: {
        accessor: token.accessor,
        creation_time: Math.floor(token.createdAt / 1000),
        creation_ttl: token.ttl,
        display_name: token.displayName,
        entity_id: token.entityId,
        expire_time: token.ttl ? rfc3339Nano(token.createdNs + BigInt(token.ttl) * 1_000_000_000n) : null,
        explicit_max_ttl: 0,
        id: token.id,
        issue_time: rfc3339Nano(token.createdNs),
        meta: token.meta,
        ...(token.ns ? { namespace_path: token.ns } : {}),
        num_uses: 0,
        orphan: true,
        path: token.path,
        policies: token.policies,
        renewable: token.type === 'service' && token.ttl > 0,
        ttl: remainingTtl(token),
        type: token.type,
      },
      mountType: 'token',
    });
  }

  /** auth/token/revoke-self: batch tokens cannot be revoked; a service token takes its leases with it. */
  private revokeSelf(token: TokenEntry): Reply {
    if (token.type === 'batch') return errorReply(400, 'batch tokens cannot be revoked');
    token.revoked = true;
    for (const lease of this.leases.values()) if (lease.token === token.id) lease.revoked = true;
    return noContent();
  }

  private revokeLease(ctx: RequestContext): Reply {
    const fromPath = ctx.rel.slice('sys/leases/revoke'.length).replace(/^\//, '');
    const leaseId = fromPath || asString(ctx.body.lease_id);
    if (!leaseId) return errorReply(400, 'lease_id must be specified');
    const lease = this.leases.get(leaseId);
    if (lease && lease.ns === ctx.ns.path) lease.revoked = true;
    return noContent();
  }

  private issueLease(ns: NamespaceState, token: TokenEntry, path: string, ttl: number): string {
    const id = `${path}/${randomBase62(24)}${ns.path ? `.${ns.id}` : ''}`;
    this.leases.set(id, { revoked: false, path, ns: ns.path, token: token.id, ttl });
    return id;
  }

  /** ACL over absolute paths: the token's policies, looked up in the token's namespace. */
  private aclFor(token: TokenEntry): Acl {
    if (token.policies.includes('root')) return new Acl(true, []);
    const ns = this.namespaces.get(token.ns) as NamespaceState;
    const rules: PolicyRule[] = [];
    for (const name of token.policies) {
      for (const rule of ns.policies.get(name) ?? []) {
        rules.push({ path: `${ns.path}${rule.path.replace(/^\/+/, '')}`, capabilities: rule.capabilities });
      }
    }
    return new Acl(false, rules);
  }

  // --- seeding helpers --------------------------------------------------------------------------

  private ns(ns: string): NamespaceState {
    const path = canonicalNamespace(ns);
    if (!this.namespaces.has(path)) this.createNamespace(ns);
    return this.namespaces.get(path) as NamespaceState;
  }

  private mountEngine(path: string, engine: SecretEngine, ns: string): void {
    this.ns(ns).secretMounts.set(mountKey(path), { engine, accessor: accessorFor(engine.type), uuid: randomUUID() });
  }

  private kvTarget(path: string, ns: string): { engine: KvV1Engine | KvV2Engine; key: string } {
    const rel = path.replace(/^\/+/, '');
    const found = this.ns(ns).secretMountFor(rel);
    const engine = found?.mount.engine;
    if (!found || !(engine instanceof KvV1Engine || engine instanceof KvV2Engine)) {
      throw new Error(`no KV mount contains "${rel}" in namespace "${ns}"; call mountKv first`);
    }
    return { engine, key: rel.slice(found.mountPath.length) };
  }

  private kvV2Version(path: string, version: number, ns: string): KvVersion {
    const { engine, key } = this.kvTarget(path, ns);
    if (!(engine instanceof KvV2Engine)) throw new Error(`"${path}" is in a KV v1 mount; versions exist only in KV v2`);
    return engine.version(key, version);
  }
}

export function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
