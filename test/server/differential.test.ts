// The Vault emulator kept honest: one table of requests, each sent raw over HTTPS to real OpenBao
// and to the emulator holding the same contents, comparing the status, the body's shape (every
// key and JSON type, recursively, and the order of keys), the error texts, and the values that do
// not depend on the server instance. Tokens, accessors, ids and times differ legitimately.
//
// Login differs by nature: the emulator implements Vault's azure auth method, OpenBao runs its jwt
// method on the same body {role, jwt}; the success shape is compared, the errors are stated per row.
// Where HashiCorp Vault (which the emulator follows, see facts.md) and OpenBao are known to differ,
// the row says so in one line and both sides are checked for exactly that difference.
import * as assert from 'node:assert/strict';
import { AUTH_MOUNT, DEFAULT_RESOURCE, TENANT_ID } from '../emulators/seed';
import { multiErrorText } from '../emulators/vault';
import { startWorld, VAULT_PORT, World } from '../emulators/world';
import { Answer, OPENBAO_PORT, OpenBao, startOpenBao, vaultRequest } from './openbao';
import { JWT_BATCH_ROLE, JWT_MOUNT, JWT_ROLE, ROTATED, seedOpenBao } from './seed';

// biome-ignore lint/suspicious/noExplicitAny: answers of many shapes
type Json = any;

/** Which token a row sends: a fresh login's, one revoked with revoke-self, a made-up one, none, root. */
type TokenKind = 'service' | 'batch' | 'revoked' | 'bad' | 'none' | 'root';

/** JWTs for login bodies, minted by the emulated Entra ID, which both servers trust. */
interface Jwts {
  good(): string;
  audience(aud: string): string;
  expired(): string;
  /** A service principal no role binds. */
  unbound(): string;
}

/** What one server answers where the two differ. */
interface Side {
  status?: number;
  errors?: Array<string | RegExp>;
  warnings?: string[];
  /** `path: type` lines of the shape found only on this side. */
  only?: string[];
}

interface Row {
  name: string;
  method: string;
  /** After /v1/; `{auth}` is the server's login mount. */
  path: string;
  body?: (jwt: Jwts) => unknown;
  token: TokenKind;
  /** Sent while both servers are sealed. */
  sealed?: boolean;
  status: number;
  /** The `errors` both send, exactly. */
  errors?: string[];
  /** Values (by dotted path) that must be equal on both, key order included. */
  same?: string[];
  /** Maps whose keys depend on the auth method (compared as a type only). */
  opaque?: string[];
  /** A known difference, in one line, and what each side sends. */
  differs?: { why: string; openbao: Side; emulator: Side };
}

const PERMISSION_DENIED = ['permission denied'];
const POLICY_DENIED = [multiErrorText('permission denied')];
const SEALED = ['Vault is sealed'];

/**
 * The known Vault/OpenBao differences, each with where it comes from (the same file in
 * hashicorp/vault and openbao/openbao unless named).
 */
const KNOWN = {
  mountType:
    'Vault: every logical response has a top-level mount_type; OpenBao dropped the field (sdk/logical/translate_response.go, HTTPResponse)',
  invalidToken:
    'Vault: an unknown or revoked token is "permission denied" and "invalid token" (facts.md); OpenBao: "permission denied" only (vault/request_handling.go, fetchACLTokenEntryAndEntity)',
  cliName: "Vault: the warning names 'vault kv get'; OpenBao names its own CLI, 'bao kv get'",
  metadataCas:
    'OpenBao: KV metadata adds current_metadata_version and metadata_cas_required (its check-and-set on metadata); Vault has neither (vault-plugin-secrets-kv path_metadata.go, pathMetadataRead)',
  health:
    "Vault: sys/health has performance_standby, enterprise, echo_duration_ms, clock_skew_ms, replication_primary_canary_age_ms; OpenBao's HealthResponse has none of them (http/sys_health.go)",
};

const invalidToken = (): Row['differs'] => ({
  why: KNOWN.invalidToken,
  openbao: { errors: PERMISSION_DENIED },
  emulator: { errors: [multiErrorText('permission denied', 'invalid token')] },
});

/** Auth method nature: the jwt method's error (OpenBao) against the azure method's (the emulator, per facts.md). */
const byMethod = (openbao: Side, emulator: Side): Row['differs'] => ({
  why: 'auth method: jwt (OpenBao) and azure (emulator) word their errors differently',
  openbao,
  emulator,
});

const login = (role: string | undefined, jwt: (j: Jwts) => string | undefined) => (j: Jwts) => {
  const token = jwt(j);
  return { ...(role === undefined ? {} : { role }), ...(token === undefined ? {} : { jwt: token }) };
};
const good = (j: Jwts) => j.good();

const LOGIN_SAME = [
  'auth.policies',
  'auth.token_policies',
  'auth.lease_duration',
  'auth.renewable',
  'auth.token_type',
  'auth.orphan',
  'auth.mfa_requirement',
  'auth.num_uses',
  'auth.metadata.role',
  'data',
  'warnings',
  'wrap_info',
  'lease_id',
  'lease_duration',
  'renewable',
];
const MOUNT_SAME = [
  'data.type',
  'data.path',
  'data.options',
  'data.config',
  'data.local',
  'data.seal_wrap',
  'data.external_entropy_access',
  'data.description',
  'data.deprecation_status',
];
const KV_SAME = [
  'data.data',
  'data.metadata.version',
  'data.metadata.destroyed',
  'data.metadata.custom_metadata',
  'lease_id',
  'lease_duration',
  'renewable',
  'warnings',
];
const LOOKUP_SAME = [
  'data.creation_ttl',
  'data.explicit_max_ttl',
  'data.num_uses',
  'data.orphan',
  'data.policies',
  'data.renewable',
  'data.type',
  'data.meta.role',
];
const MOUNT_LOOKUP = 'sys/internal/ui/mounts/secret/ci/production/db';
const UNKNOWN_LEASE = 'database/creds/ci/AbCdEfGhIjKlMnOpQrStUvWx';

const ROWS: Row[] = [
  // Login (PUT, as node-vault's write sends it).
  {
    name: 'login, service role',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login(JWT_ROLE, good),
    token: 'none',
    status: 200,
    same: LOGIN_SAME,
    opaque: ['auth.metadata'],
  },
  {
    name: 'login, batch role',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login(JWT_BATCH_ROLE, good),
    token: 'none',
    status: 200,
    same: [...LOGIN_SAME, 'auth.accessor'],
    opaque: ['auth.metadata'],
  },
  {
    name: 'login, missing role',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login(undefined, good),
    token: 'none',
    status: 400,
    differs: byMethod({ errors: ['missing role'] }, { errors: ['role is required'] }),
  },
  {
    name: 'login, missing jwt',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login(JWT_ROLE, () => undefined),
    token: 'none',
    status: 400,
    differs: byMethod({ errors: ['missing token'] }, { errors: ['jwt is required'] }),
  },
  {
    name: 'login, unknown role',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login('nope', good),
    token: 'none',
    status: 400,
    differs: byMethod({ errors: ['role "nope" could not be found'] }, { errors: ['invalid role name "nope"'] }),
  },
  {
    name: 'login, malformed jwt',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login(JWT_ROLE, () => 'not.a.jwt'),
    token: 'none',
    status: 400,
    differs: byMethod(
      { errors: ['error validating token: error verifying token signature: oidc: malformed jwt: illegal base64 data at input byte 0'] },
      { status: 500, errors: ['oidc: malformed jwt: oidc: malformed jwt payload: illegal base64 data at input byte 0'] },
    ),
  },
  {
    name: 'login, wrong audience',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login(JWT_ROLE, (j) => j.audience('https://management.core.windows.net/')),
    token: 'none',
    status: 400,
    differs: byMethod(
      { errors: ['error validating token: invalid audience (aud) claim: audience claim does not match any expected audience'] },
      { status: 500, errors: ['oidc: expected audience "https://management.azure.com/" got ["https://management.core.windows.net/"]'] },
    ),
  },
  {
    name: 'login, expired jwt',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login(JWT_ROLE, (j) => j.expired()),
    token: 'none',
    status: 400,
    differs: byMethod(
      { errors: ['error validating token: invalid expiration time (exp) claim: token is expired'] },
      { status: 500, errors: [/^oidc: token is expired \(Token Expiry: .+\)$/] },
    ),
  },
  {
    name: 'login, service principal the role does not bind',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login(JWT_ROLE, (j) => j.unbound()),
    token: 'none',
    status: 400,
    differs: byMethod(
      { errors: ['error validating claims: claim "oid" does not match any associated bound claim values'] },
      { status: 500, errors: [/^service principal not authorized: [0-9a-f-]{36}$/] },
    ),
  },
  {
    name: 'login at a mount that does not exist',
    method: 'PUT',
    path: 'auth/nope/login',
    body: login(JWT_ROLE, good),
    token: 'none',
    status: 403,
    errors: PERMISSION_DENIED,
  },

  // Mount and KV version lookups.
  { name: 'mount of a KV v2 path', method: 'GET', path: MOUNT_LOOKUP, token: 'service', status: 200, same: MOUNT_SAME },
  {
    name: 'mount of a KV v1 path',
    method: 'GET',
    path: 'sys/internal/ui/mounts/kv1/app/legacy',
    token: 'service',
    status: 200,
    same: MOUNT_SAME,
  },
  { name: 'mount of a KV v2 path, batch token', method: 'GET', path: MOUNT_LOOKUP, token: 'batch', status: 200, same: MOUNT_SAME },
  {
    name: 'mount of the mount path itself, root token',
    method: 'GET',
    path: 'sys/internal/ui/mounts/secret',
    token: 'root',
    status: 200,
    same: MOUNT_SAME,
  },
  { name: 'mount lookup without a token', method: 'GET', path: MOUNT_LOOKUP, token: 'none', status: 403, errors: PERMISSION_DENIED },
  { name: 'mount lookup, bad token', method: 'GET', path: MOUNT_LOOKUP, token: 'bad', status: 403, differs: invalidToken() },
  { name: 'mount lookup, revoked token', method: 'GET', path: MOUNT_LOOKUP, token: 'revoked', status: 403, differs: invalidToken() },
  {
    name: 'mount lookup, no such mount',
    method: 'GET',
    path: 'sys/internal/ui/mounts/nomount/x',
    token: 'service',
    status: 403,
    errors: ['preflight capability check returned 403, please ensure client\'s policies grant access to path "nomount/x/"'],
  },

  // KV v2.
  { name: 'KV v2, current version', method: 'GET', path: 'secret/data/ci/production/db', token: 'service', status: 200, same: KV_SAME },
  {
    name: 'KV v2, ?version=1',
    method: 'GET',
    path: 'secret/data/ci/production/db?version=1',
    token: 'service',
    status: 200,
    same: KV_SAME,
  },
  { name: 'KV v2, a number value', method: 'GET', path: 'secret/data/ci/production/api', token: 'service', status: 200, same: KV_SAME },
  {
    name: 'KV v2, a multi-line value and a key with spaces, batch token',
    method: 'GET',
    path: 'secret/data/ci/production/tls',
    token: 'batch',
    status: 200,
    same: KV_SAME,
  },
  {
    name: 'KV v2, current version after a deleted and a destroyed one',
    method: 'GET',
    path: 'secret/data/ci/production/rotated',
    token: 'service',
    status: 200,
    same: KV_SAME,
  },
  {
    name: 'KV v2, deleted version',
    method: 'GET',
    path: 'secret/data/ci/production/rotated?version=2',
    token: 'service',
    status: 404,
    same: KV_SAME,
  },
  {
    name: 'KV v2, destroyed version',
    method: 'GET',
    path: 'secret/data/ci/production/rotated?version=1',
    token: 'service',
    status: 404,
    same: [...KV_SAME, 'data.metadata.deletion_time'],
  },
  {
    name: 'KV v2, a version that never existed',
    method: 'GET',
    path: 'secret/data/ci/production/db?version=9',
    token: 'service',
    status: 404,
    errors: [],
  },
  { name: 'KV v2, missing path', method: 'GET', path: 'secret/data/ci/production/nope', token: 'service', status: 404, errors: [] },
  {
    name: 'KV v2, path the policy denies',
    method: 'GET',
    path: 'secret/data/other/team',
    token: 'service',
    status: 403,
    errors: POLICY_DENIED,
  },
  { name: 'KV v2, bad token', method: 'GET', path: 'secret/data/ci/production/db', token: 'bad', status: 403, differs: invalidToken() },
  {
    name: 'KV v2, revoked token',
    method: 'GET',
    path: 'secret/data/ci/production/db',
    token: 'revoked',
    status: 403,
    differs: invalidToken(),
  },
  { name: 'KV v2, no token', method: 'GET', path: 'secret/data/ci/production/db', token: 'none', status: 403, errors: PERMISSION_DENIED },
  {
    name: 'KV v2, path without data/ (root token)',
    method: 'GET',
    path: 'secret/ci/production/db',
    token: 'root',
    status: 404,
    same: ['data', 'lease_id'],
    differs: {
      why: KNOWN.cliName,
      openbao: {
        warnings: [
          "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv get' for this operation.",
        ],
      },
      emulator: {
        warnings: [
          "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation.",
        ],
      },
    },
  },
  {
    name: 'KV v2 metadata, denied',
    method: 'GET',
    path: 'secret/metadata/ci/production/db',
    token: 'service',
    status: 403,
    errors: POLICY_DENIED,
  },
  {
    name: 'KV v2 metadata (root token)',
    method: 'GET',
    path: 'secret/metadata/ci/production/rotated',
    token: 'root',
    status: 200,
    same: [
      'data.current_version',
      'data.oldest_version',
      'data.max_versions',
      'data.cas_required',
      'data.delete_version_after',
      'data.custom_metadata',
      'data.versions.1.destroyed',
      'data.versions.3.deletion_time',
    ],
    differs: {
      why: KNOWN.metadataCas,
      openbao: { only: ['data.current_metadata_version: number', 'data.metadata_cas_required: boolean'] },
      emulator: {},
    },
  },

  // KV v1.
  {
    name: 'KV v1 read',
    method: 'GET',
    path: 'kv1/app/legacy',
    token: 'service',
    status: 200,
    same: ['data', 'lease_id', 'lease_duration', 'renewable', 'warnings'],
  },
  { name: 'KV v1, missing path', method: 'GET', path: 'kv1/app/nope', token: 'service', status: 404, errors: [] },
  { name: 'KV v1, path the policy denies', method: 'GET', path: 'kv1/other', token: 'service', status: 403, errors: POLICY_DENIED },
  {
    name: 'a path no mount holds (root token)',
    method: 'GET',
    path: 'nomount/x',
    token: 'root',
    status: 404,
    errors: ['no handler for route "nomount/x". route entry not found.'],
  },

  // The token itself.
  {
    name: 'lookup-self, service token',
    method: 'GET',
    path: 'auth/token/lookup-self',
    token: 'service',
    status: 200,
    same: LOOKUP_SAME,
    opaque: ['data.meta'],
  },
  {
    name: 'lookup-self, batch token',
    method: 'GET',
    path: 'auth/token/lookup-self',
    token: 'batch',
    status: 200,
    same: [...LOOKUP_SAME, 'data.accessor'],
    opaque: ['data.meta'],
  },
  { name: 'lookup-self, no token', method: 'GET', path: 'auth/token/lookup-self', token: 'none', status: 403, errors: PERMISSION_DENIED },
  { name: 'lookup-self, bad token', method: 'GET', path: 'auth/token/lookup-self', token: 'bad', status: 403, differs: invalidToken() },
  {
    name: 'lookup-self, revoked token',
    method: 'GET',
    path: 'auth/token/lookup-self',
    token: 'revoked',
    status: 403,
    differs: invalidToken(),
  },
  { name: 'revoke-self, service token', method: 'PUT', path: 'auth/token/revoke-self', body: () => ({}), token: 'service', status: 204 },
  {
    name: 'revoke-self, batch token',
    method: 'PUT',
    path: 'auth/token/revoke-self',
    body: () => ({}),
    token: 'batch',
    status: 400,
    errors: ['batch tokens cannot be revoked'],
  },
  {
    name: 'revoke-self, revoked token',
    method: 'PUT',
    path: 'auth/token/revoke-self',
    body: () => ({}),
    token: 'revoked',
    status: 403,
    differs: invalidToken(),
  },
  {
    name: 'revoke-self, bad token',
    method: 'PUT',
    path: 'auth/token/revoke-self',
    body: () => ({}),
    token: 'bad',
    status: 403,
    differs: invalidToken(),
  },
  {
    name: 'revoke-self, no token',
    method: 'PUT',
    path: 'auth/token/revoke-self',
    body: () => ({}),
    token: 'none',
    status: 403,
    errors: PERMISSION_DENIED,
  },

  // Leases.
  {
    name: 'lease revoke, unknown lease id',
    method: 'PUT',
    path: 'sys/leases/revoke',
    body: () => ({ lease_id: UNKNOWN_LEASE }),
    token: 'service',
    status: 204,
  },
  {
    name: 'lease revoke, unknown lease id, batch token',
    method: 'PUT',
    path: 'sys/leases/revoke',
    body: () => ({ lease_id: UNKNOWN_LEASE }),
    token: 'batch',
    status: 204,
  },
  {
    name: 'lease revoke, no lease id',
    method: 'PUT',
    path: 'sys/leases/revoke',
    body: () => ({}),
    token: 'service',
    status: 400,
    errors: ['lease_id must be specified'],
  },
  {
    name: 'lease revoke, no token',
    method: 'PUT',
    path: 'sys/leases/revoke',
    body: () => ({ lease_id: UNKNOWN_LEASE }),
    token: 'none',
    status: 403,
    errors: PERMISSION_DENIED,
  },
  {
    name: 'lease revoke, revoked token',
    method: 'PUT',
    path: 'sys/leases/revoke',
    body: () => ({ lease_id: UNKNOWN_LEASE }),
    token: 'revoked',
    status: 403,
    differs: invalidToken(),
  },
  {
    name: 'lease revoke, root token',
    method: 'PUT',
    path: 'sys/leases/revoke',
    body: () => ({ lease_id: UNKNOWN_LEASE }),
    token: 'root',
    status: 204,
  },

  // Sealed.
  {
    name: 'sealed: login',
    method: 'PUT',
    path: 'auth/{auth}/login',
    body: login(JWT_ROLE, good),
    token: 'none',
    sealed: true,
    status: 503,
    errors: SEALED,
  },
  { name: 'sealed: mount lookup', method: 'GET', path: MOUNT_LOOKUP, token: 'service', sealed: true, status: 503, errors: SEALED },
  {
    name: 'sealed: KV v2 read',
    method: 'GET',
    path: 'secret/data/ci/production/db',
    token: 'service',
    sealed: true,
    status: 503,
    errors: SEALED,
  },
  { name: 'sealed: KV v1 read', method: 'GET', path: 'kv1/app/legacy', token: 'service', sealed: true, status: 503, errors: SEALED },
  {
    name: 'sealed: lookup-self',
    method: 'GET',
    path: 'auth/token/lookup-self',
    token: 'service',
    sealed: true,
    status: 503,
    errors: SEALED,
  },
  {
    name: 'sealed: revoke-self',
    method: 'PUT',
    path: 'auth/token/revoke-self',
    body: () => ({}),
    token: 'service',
    sealed: true,
    status: 503,
    errors: SEALED,
  },
  {
    name: 'sealed: lease revoke',
    method: 'PUT',
    path: 'sys/leases/revoke',
    body: () => ({ lease_id: UNKNOWN_LEASE }),
    token: 'service',
    sealed: true,
    status: 503,
    errors: SEALED,
  },
  {
    name: 'sealed: a request without a token',
    method: 'GET',
    path: 'secret/data/ci/production/db',
    token: 'none',
    sealed: true,
    status: 503,
    errors: SEALED,
  },
  {
    name: 'sealed: health',
    method: 'GET',
    path: 'sys/health',
    token: 'none',
    sealed: true,
    status: 503,
    same: ['initialized', 'sealed', 'standby', 'replication_performance_mode', 'replication_dr_mode'],
    differs: {
      why: KNOWN.health,
      openbao: {},
      emulator: {
        only: [
          'clock_skew_ms: number',
          'echo_duration_ms: number',
          'enterprise: boolean',
          'performance_standby: boolean',
          'replication_primary_canary_age_ms: number',
        ],
      },
    },
  },
];

/** A time as Go's encoding/json writes one in UTC (RFC3339Nano: no trailing zeros in the fraction). */
const GO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$/;

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'string' && GO_TIME.test(v) ? 'time' : typeof v;

const join = (at: string, key: string) => (at ? `${at}.${key}` : key);

/** The body's shape: one `path: type` line per value, recursively (array elements as `[]`); opaque maps as a type only. */
function shape(value: unknown, opaque: string[], at = '', out = new Set<string>()): string[] {
  out.add(`${at || '.'}: ${typeOf(value)}`);
  if (opaque.includes(at)) return [...out];
  if (Array.isArray(value)) for (const v of value) shape(v, opaque, `${at}[]`, out);
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) shape(v, opaque, join(at, k), out);
  return [...out].sort();
}

/** Objects on both sides whose shared keys come in another order (Go writes struct fields in order, map keys sorted). */
function orderDifferences(a: unknown, b: unknown, opaque: string[], at = ''): string[] {
  if (
    opaque.includes(at) ||
    a === null ||
    b === null ||
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    Array.isArray(a) !== Array.isArray(b)
  )
    return [];
  if (Array.isArray(a)) return a.flatMap((v, i) => orderDifferences(v, (b as unknown[])[i], opaque, `${at}[${i}]`));
  const ka = Object.keys(a).filter((k) => k in b);
  const kb = Object.keys(b).filter((k) => k in a);
  const here = ka.join() === kb.join() ? [] : [`${at || '.'}: ${ka.join(', ')} | ${kb.join(', ')}`];
  return [...here, ...ka.flatMap((k) => orderDifferences((a as Json)[k], (b as Json)[k], opaque, join(at, k)))];
}

const valueAt = (body: unknown, path: string): unknown =>
  path.split('.').reduce<Json>((v, k) => (v === null || typeof v !== 'object' ? undefined : v[k]), body);

function times(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string' && GO_TIME.test(value)) out.push(value);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) times(v, out);
  return out;
}

function checkErrors(who: string, got: unknown, expected: Array<string | RegExp>): void {
  assert.ok(Array.isArray(got), `${who}: no errors array in ${JSON.stringify(got)}`);
  assert.equal(got.length, expected.length, `${who}: ${JSON.stringify(got)}`);
  expected.forEach((e, i) => {
    if (typeof e === 'string') assert.equal(got[i], e, `${who}: ${JSON.stringify(got)}`);
    else assert.match(got[i], e, `${who}: ${JSON.stringify(got)}`);
  });
}

interface Target {
  name: 'openbao' | 'emulator';
  port: number;
  authMount: string;
  rootToken: string;
  seal(): Promise<void>;
  unseal(): Promise<void>;
}

describe('server: the Vault emulator answers as OpenBao does', function () {
  this.timeout(120_000);
  let world: World;
  let bao: OpenBao;
  let targets: Target[];
  const tokens = new Map<Row, Array<string | undefined>>();
  let jwts: Jwts;
  const seenTimes: Record<Target['name'], string[]> = { openbao: [], emulator: [] };

  const call = (t: Target, method: string, path: string, body: unknown, token?: string) =>
    vaultRequest(t.port, world.ca.certPem, method, path.replace('{auth}', t.authMount), body, token);

  async function tokenFor(t: Target, kind: TokenKind): Promise<string | undefined> {
    if (kind === 'none') return undefined;
    if (kind === 'bad') return 'hvs.CAESIOnceUponATimeNoServerIssuedThis';
    if (kind === 'root') return t.rootToken;
    const answer = await call(t, 'PUT', 'auth/{auth}/login', { role: kind === 'batch' ? JWT_BATCH_ROLE : JWT_ROLE, jwt: jwts.good() });
    assert.equal(answer.status, 200, `${t.name} login: ${JSON.stringify(answer.body)}`);
    const token: string = answer.body.auth.client_token;
    if (kind === 'revoked') assert.equal((await call(t, 'PUT', 'auth/token/revoke-self', {}, token)).status, 204);
    return token;
  }

  before(async () => {
    world = await startWorld();
    const { vault, entra, ids } = world;
    // What test/server/seed.ts gives OpenBao and the emulator's seed has not: the batch role and the rotated secret.
    vault.writeRole(AUTH_MOUNT, JWT_BATCH_ROLE, {
      bound_service_principal_ids: [ids.wif.objectId],
      token_policies: ['ci-read'],
      token_type: 'batch',
      token_ttl: 900,
    });
    for (const value of [ROTATED.v1, ROTATED.v2, ROTATED.v3]) vault.putSecret('secret/ci/production/rotated', { password: value });
    vault.deleteVersion('secret/ci/production/rotated', 2);
    vault.destroyVersion('secret/ci/production/rotated', 1);
    bao = await startOpenBao(world.ca);
    await seedOpenBao(bao, world.ca, ids.wif.objectId);
    const mint = (audience: string, who = ids.wif, lifetimeSec?: number) =>
      entra.mintAccessToken({ tenantId: TENANT_ID, objectId: who.objectId, appId: who.clientId, audience, lifetimeSec }).token;
    jwts = {
      good: () => mint(DEFAULT_RESOURCE),
      audience: (aud) => mint(aud),
      expired: () => mint(DEFAULT_RESOURCE, ids.wif, -120),
      unbound: () => mint(DEFAULT_RESOURCE, ids.unbound),
    };
    targets = [
      {
        name: 'openbao',
        port: OPENBAO_PORT,
        authMount: JWT_MOUNT,
        rootToken: bao.rootToken,
        seal: async () => assert.equal((await bao.api('PUT', 'sys/seal')).status, 204),
        unseal: () => bao.unseal(),
      },
      {
        name: 'emulator',
        port: VAULT_PORT,
        authMount: AUTH_MOUNT,
        rootToken: vault.issueToken(['root']),
        seal: async () => vault.seal(),
        unseal: async () => vault.unseal(),
      },
    ];
    // Every row's token first: nothing can log in once the servers are sealed.
    for (const row of ROWS) tokens.set(row, await Promise.all(targets.map((t) => tokenFor(t, row.token))));
  });
  after(async () => {
    await bao?.stop();
    await world?.stop();
  });

  function compare(row: Row, [b, e]: Answer[]): void {
    const expected = (side: Side | undefined) => ({
      status: side?.status ?? row.status,
      errors: side?.errors ?? row.errors,
      warnings: side?.warnings,
      only: side?.only ?? [],
    });
    const want = { openbao: expected(row.differs?.openbao), emulator: expected(row.differs?.emulator) };
    const got = { openbao: b, emulator: e };
    const shown = `\nOpenBao:  ${b.status} ${JSON.stringify(b.body)}\nemulator: ${e.status} ${JSON.stringify(e.body)}`;
    for (const side of ['openbao', 'emulator'] as const) {
      assert.equal(got[side].status, want[side].status, `${side} status${shown}`);
      if (want[side].errors) checkErrors(side, got[side].body?.errors, want[side].errors!);
      if (want[side].warnings) assert.deepEqual(got[side].body?.warnings, want[side].warnings, side);
    }
    if (!row.differs) assert.deepEqual(e.body?.errors, b.body?.errors, `the same errors${shown}`);

    // Vault's top-level mount_type, which OpenBao does not send (KNOWN.mountType).
    let emulatorBody = e.body;
    if (e.body && typeof e.body === 'object' && 'request_id' in e.body) {
      assert.equal(typeof e.body.mount_type, 'string', `emulator: mount_type, as Vault sends it${shown}`);
      assert.equal('mount_type' in (b.body ?? {}), false, KNOWN.mountType);
      const { mount_type: _, ...rest } = e.body;
      emulatorBody = rest;
    }
    const opaque = row.opaque ?? [];
    const sb = shape(b.body, opaque);
    const se = shape(emulatorBody, opaque);
    assert.deepEqual(
      { openbao: sb.filter((l) => !se.includes(l)), emulator: se.filter((l) => !sb.includes(l)) },
      { openbao: want.openbao.only, emulator: want.emulator.only },
      `shape lines found on one side only${shown}`,
    );
    assert.deepEqual(orderDifferences(b.body, emulatorBody, opaque), [], `keys in the same order${shown}`);
    for (const path of row.same ?? []) {
      assert.equal(JSON.stringify(valueAt(e.body, path)), JSON.stringify(valueAt(b.body, path)), `the same ${path}${shown}`);
    }
    seenTimes.openbao.push(...times(b.body));
    seenTimes.emulator.push(...times(e.body));
  }

  const rowTest = (row: Row) =>
    it(`${row.name}: ${row.method} ${row.path}${row.differs ? ` (differs: ${row.differs.why})` : ''}`, async () => {
      const body = row.body?.(jwts);
      const answers = await Promise.all(targets.map((t, i) => call(t, row.method, row.path, body, tokens.get(row)![i])));
      compare(row, answers);
    });

  describe('unsealed', () => {
    for (const row of ROWS.filter((r) => !r.sealed)) rowTest(row);

    it('writes times as Go does, with up to nine fraction digits', () => {
      for (const side of ['openbao', 'emulator'] as const) {
        assert.ok(seenTimes[side].length > 10, side);
        assert.ok(
          seenTimes[side].some((t) => /\.\d{4,9}Z$/.test(t)),
          `${side}: finer than milliseconds somewhere: ${seenTimes[side].join(' ')}`,
        );
      }
    });
  });

  describe('sealed', () => {
    before(async () => {
      for (const t of targets) await t.seal();
    });
    after(async () => {
      for (const t of targets) await t.unseal();
    });
    for (const row of ROWS.filter((r) => r.sealed)) rowTest(row);
  });

  it('sends at least 30 distinct requests', () =>
    assert.ok(new Set(ROWS.map((r) => `${r.method} ${r.path} ${r.token} ${r.sealed}`)).size >= 30));
});
