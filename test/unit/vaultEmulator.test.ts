/**
 * The Vault emulator answers like Vault: proven over real loopback HTTP(S) requests.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonWebKeySet, multiErrorText, PolicyRule, VaultEmulator } from '../emulators/vault';

// ---------------------------------------------------------------------------------------------
// Helpers: HTTP calls and RS256 JWTs
// ---------------------------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: the emulator's answers, of many shapes, read by path
type Json = Record<string, any>;

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: Json;
}

interface CallOptions {
  token?: string;
  ns?: string;
  body?: unknown;
  headers?: Record<string, string>;
  ca?: string;
}

function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<HttpResult> {
  const url = new URL(path, base);
  const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers['X-Vault-Token'] = opts.token;
  if (opts.ns !== undefined) headers['X-Vault-Namespace'] = opts.ns;
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers, agent: false, ca: opts.ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Json = {};
        try {
          json = text ? (JSON.parse(text) as Json) : {};
        } catch {
          json = {};
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const b64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function signJwt(claims: Json, key: KeyObject, header: Json = { alg: 'RS256', kid: 'k1', typ: 'JWT' }): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const RESOURCE = 'https://management.azure.com/';
const OID = '0f6b2a4e-1c3d-4e5f-8a9b-0c1d2e3f4a5b';
const ISSUER = `https://sts.windows.net/${TENANT}/`;
const nowSec = (): number => Math.floor(Date.now() / 1000);
/** Go's time.RFC3339Nano in UTC: up to nine fraction digits, no trailing zero. */
const GO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$/;

const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const JWKS = { keys: [{ ...signing.publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' }] };

const claims = (overrides: Json = {}): Json => ({
  aud: RESOURCE,
  iss: ISSUER,
  iat: nowSec() - 60,
  nbf: nowSec() - 60,
  exp: nowSec() + 3600,
  oid: OID,
  tid: TENANT,
  ...overrides,
});
const goodJwt = (overrides: Json = {}): string => signJwt(claims(overrides), signing.privateKey);

const CI_POLICY: PolicyRule[] = [
  { path: 'secret/data/ci/*', capabilities: ['read'] },
  { path: 'kv1/ci/*', capabilities: ['read'] },
  { path: 'database/creds/readonly', capabilities: ['read'] },
  { path: 'sys/leases/revoke', capabilities: ['update'] },
];

function seed(vault: VaultEmulator, ns = ''): void {
  vault.enableAzureAuth('azure', { tenantId: TENANT, resource: RESOURCE, jwks: () => JWKS }, ns);
  vault.writeRole('azure', 'ci', { bound_service_principal_ids: [OID.toUpperCase()], token_policies: ['ci-read'] }, ns);
  vault.writeRole(
    'azure',
    'ci-batch',
    { bound_service_principal_ids: [OID], token_policies: ['ci-read'], token_type: 'batch', token_ttl: 600 },
    ns,
  );
  vault.writePolicy('ci-read', CI_POLICY, ns);
  vault.mountKv('secret', 2, ns);
  vault.mountKv('kv1', 1, ns);
  vault.mountDatabase('database', ['readonly'], ns);
  vault.putSecret('secret/ci/db', { user: 'app', password: 'v1' }, ns);
  vault.putSecret('secret/ci/db', { user: 'app', password: 'v2' }, ns);
  vault.putSecret('kv1/ci/db', { user: 'legacy' }, ns);
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('VaultEmulator', () => {
  let vault: VaultEmulator;
  let base: string;

  beforeEach(async () => {
    vault = new VaultEmulator();
    seed(vault);
    base = await vault.start(0);
  });

  afterEach(async () => {
    await vault.stop();
  });

  const login = (role: string, jwt: string, ns?: string): Promise<HttpResult> =>
    call(base, 'POST', '/v1/auth/azure/login', { body: { role, jwt }, ns });

  async function loginToken(role = 'ci', ns?: string): Promise<string> {
    const res = await login(role, goodJwt(), ns);
    assert.equal(res.status, 200, res.text);
    return res.json.auth.client_token as string;
  }

  describe('azure login', () => {
    it('issues a service token with the fields Vault returns', async () => {
      const res = await login('ci', goodJwt());
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.json.lease_id, '');
      assert.equal(res.json.data, null);
      assert.equal(res.json.mount_type, '');
      const auth = res.json.auth;
      assert.match(auth.client_token, /^hvs\.[A-Za-z0-9]{24}$/);
      assert.match(auth.accessor, /^[A-Za-z0-9]{24}$/);
      assert.deepEqual(auth.policies, ['ci-read', 'default']);
      assert.deepEqual(auth.token_policies, ['ci-read', 'default']);
      assert.deepEqual(auth.metadata, { resource_group_name: '', role: 'ci', subscription_id: '' });
      assert.equal(auth.lease_duration, 3600);
      assert.equal(auth.renewable, true);
      assert.equal(auth.token_type, 'service');
      assert.equal(auth.orphan, true);
      assert.equal(auth.mfa_requirement, null);
      assert.equal(auth.num_uses, 0);
      assert.match(auth.entity_id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(vault.tokenInfo(auth.client_token), { revoked: false, type: 'service', policies: ['ci-read', 'default'], ns: '' });
    });

    it('issues a batch token: hvb. prefix, no accessor, not renewable, orphan', async () => {
      const res = await login('ci-batch', goodJwt());
      assert.equal(res.status, 200, res.text);
      const auth = res.json.auth;
      assert.match(auth.client_token, /^hvb\.[A-Za-z0-9_-]{100,}$/);
      assert.equal(auth.accessor, '');
      assert.equal(auth.renewable, false);
      assert.equal(auth.orphan, true);
      assert.equal(auth.token_type, 'batch');
      assert.equal(auth.lease_duration, 600);
    });

    it('finds roles case-insensitively and keeps the name as sent in metadata', async () => {
      const res = await login('CI', goodJwt());
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.auth.metadata.role, 'CI');
    });

    const expiredAt = Date.UTC(2020, 0, 1) / 1000;
    const loginErrors: Array<{ name: string; body: () => Json; status: number; error: string }> = [
      { name: 'no jwt and no role: jwt is checked first', body: () => ({}), status: 400, error: 'jwt is required' },
      { name: 'no role', body: () => ({ jwt: goodJwt() }), status: 400, error: 'role is required' },
      { name: 'unknown role', body: () => ({ role: 'nope', jwt: goodJwt() }), status: 400, error: 'invalid role name "nope"' },
      {
        name: 'v2 issuer instead of the v1 one',
        body: () => ({ role: 'ci', jwt: goodJwt({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0` }) }),
        status: 500,
        error: `oidc: id token issued by a different provider, expected "${ISSUER}" got "https://login.microsoftonline.com/${TENANT}/v2.0"`,
      },
      {
        name: 'audience for another resource',
        body: () => ({ role: 'ci', jwt: goodJwt({ aud: 'https://management.core.windows.net/' }) }),
        status: 500,
        error: 'oidc: expected audience "https://management.azure.com/" got ["https://management.core.windows.net/"]',
      },
      {
        name: 'audience without the trailing slash (exact compare)',
        body: () => ({ role: 'ci', jwt: goodJwt({ aud: 'https://management.azure.com' }) }),
        status: 500,
        error: 'oidc: expected audience "https://management.azure.com/" got ["https://management.azure.com"]',
      },
      {
        name: 'audience differing only in case',
        body: () => ({ role: 'ci', jwt: goodJwt({ aud: 'https://Management.azure.com/' }) }),
        status: 500,
        error: 'oidc: expected audience "https://management.azure.com/" got ["https://Management.azure.com/"]',
      },
      {
        name: 'expired token',
        body: () => ({ role: 'ci', jwt: goodJwt({ exp: expiredAt, nbf: expiredAt - 3600 }) }),
        status: 500,
        error: 'oidc: token is expired (Token Expiry: 2020-01-01 00:00:00 +0000 UTC)',
      },
      {
        name: 'audience is checked before expiry',
        body: () => ({ role: 'ci', jwt: goodJwt({ exp: expiredAt, aud: 'api://other' }) }),
        status: 500,
        error: 'oidc: expected audience "https://management.azure.com/" got ["api://other"]',
      },
      {
        name: 'signed by a key not in the JWKS',
        body: () => ({ role: 'ci', jwt: signJwt(claims(), stranger.privateKey) }),
        status: 500,
        error: 'failed to verify signature: failed to verify id token signature',
      },
      {
        name: 'unknown kid',
        body: () => ({ role: 'ci', jwt: signJwt(claims(), signing.privateKey, { alg: 'RS256', kid: 'other' }) }),
        status: 500,
        error: 'failed to verify signature: failed to verify id token signature',
      },
      {
        name: 'issuer is checked before the signature',
        body: () => ({ role: 'ci', jwt: signJwt(claims({ iss: 'https://evil/' }), stranger.privateKey) }),
        status: 500,
        error: `oidc: id token issued by a different provider, expected "${ISSUER}" got "https://evil/"`,
      },
      {
        name: 'HS256 instead of RS256',
        body: () => ({ role: 'ci', jwt: signJwt(claims(), signing.privateKey, { alg: 'HS256', kid: 'k1' }) }),
        status: 500,
        error: 'oidc: malformed jwt: go-jose/go-jose: unexpected signature algorithm "HS256"; expected ["RS256"]',
      },
      {
        name: 'not a JWT',
        body: () => ({ role: 'ci', jwt: 'abc' }),
        status: 500,
        error: 'oidc: malformed jwt: oidc: malformed jwt, expected 3 parts got 1',
      },
      {
        name: 'service principal not bound to the role',
        body: () => ({ role: 'ci', jwt: goodJwt({ oid: '11111111-2222-3333-4444-555555555555' }) }),
        status: 500,
        error: 'service principal not authorized: 11111111-2222-3333-4444-555555555555',
      },
    ];

    for (const tc of loginErrors) {
      it(`rejects ${tc.name} with ${tc.status}`, async () => {
        const res = await call(base, 'POST', '/v1/auth/azure/login', { body: tc.body() });
        assert.equal(res.status, tc.status, res.text);
        assert.deepEqual(res.json, { errors: [tc.error] });
      });
    }

    it('rejects a token whose nbf is in the future (plugin check, no leeway)', async () => {
      const nbf = nowSec() + 120;
      const res = await login('ci', goodJwt({ nbf }));
      assert.equal(res.status, 500);
      const expected = new Date(nbf * 1000).toISOString().replace('T', ' ').replace('.000Z', ' +0000 UTC');
      assert.deepEqual(res.json, { errors: [`token is not yet valid (Token Not Before: ${expected})`] });
    });

    it('answers a login to a path with no auth mount as an unauthenticated request: 403', async () => {
      const res = await call(base, 'POST', '/v1/auth/nope/login', { body: { role: 'ci', jwt: goodJwt() } });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json, { errors: ['permission denied'] });
    });

    it('does not allow GET on the login path', async () => {
      const res = await call(base, 'GET', '/v1/auth/azure/login');
      assert.equal(res.status, 405);
      assert.deepEqual(res.json, { errors: ['unsupported operation'] });
    });

    it('reads the JWKS at login time, so a rotated key is picked up', async () => {
      const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
      let jwks: JsonWebKeySet = JWKS;
      vault.enableAzureAuth('azure-rot', { tenantId: TENANT, resource: RESOURCE, jwks: async () => jwks });
      vault.writeRole('azure-rot', 'ci', { bound_service_principal_ids: [OID] });
      const jwt = signJwt(claims(), rotated.privateKey, { alg: 'RS256', kid: 'k2' });
      const before = await call(base, 'POST', '/v1/auth/azure-rot/login', { body: { role: 'ci', jwt } });
      assert.equal(before.status, 500);
      jwks = { keys: [{ ...rotated.publicKey.export({ format: 'jwk' }), kid: 'k2' }] };
      const after = await call(base, 'POST', '/v1/auth/azure-rot/login', { body: { role: 'ci', jwt } });
      assert.equal(after.status, 200, after.text);
      assert.equal(after.json.auth.metadata.role, 'ci');
    });
  });

  describe('tokens', () => {
    it('answers 403 "permission denied" without a token', async () => {
      const res = await call(base, 'GET', '/v1/secret/data/ci/db');
      assert.equal(res.status, 403);
      assert.deepEqual(res.json, { errors: ['permission denied'] });
    });

    it('answers 403 with "permission denied" and "invalid token" for an unknown token', async () => {
      const res = await call(base, 'GET', '/v1/secret/data/ci/db', { token: 'hvs.nosuchtokennosuchtoken1' });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json, { errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'] });
    });

    it('accepts Authorization: Bearer', async () => {
      const token = await loginToken();
      const res = await call(base, 'GET', '/v1/secret/data/ci/db', { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, res.text);
    });

    it('treats an expired token as invalid', async () => {
      const token = vault.issueToken(['ci-read'], { ttl: 1 });
      assert.equal((await call(base, 'GET', '/v1/secret/data/ci/db', { token })).status, 200);
      await new Promise((r) => setTimeout(r, 1100));
      const res = await call(base, 'GET', '/v1/secret/data/ci/db', { token });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json.errors, [multiErrorText('permission denied', 'invalid token')]);
    });

    it('looks up a service token and a batch token', async () => {
      for (const [role, type, maxTtl] of [
        ['ci', 'service', 3600],
        ['ci-batch', 'batch', 600],
      ] as const) {
        const issued = (await login(role, goodJwt())).json.auth;
        const res = await call(base, 'GET', '/v1/auth/token/lookup-self', { token: issued.client_token });
        assert.equal(res.status, 200, res.text);
        const data = res.json.data;
        assert.equal(data.id, issued.client_token);
        assert.equal(data.accessor, issued.accessor);
        assert.deepEqual(data.policies, ['ci-read', 'default']);
        assert.equal(data.type, type);
        assert.equal(data.renewable, type === 'service');
        assert.ok(data.ttl > maxTtl - 5 && data.ttl <= maxTtl, String(data.ttl));
        assert.equal(data.path, 'auth/azure/login');
        assert.equal(data.display_name, `azure-${OID}`);
        // A service token's times are its lease's (nanoseconds); a batch token keeps Unix seconds.
        for (const time of [data.issue_time, data.expire_time]) assert.match(time, type === 'batch' ? /^[\dT:-]{19}Z$/ : GO_TIME);
        assert.equal(Date.parse(data.expire_time) - Date.parse(data.issue_time), maxTtl * 1000);
      }
    });

    it('revokes a service token with revoke-self (204), after which it is invalid', async () => {
      const token = await loginToken('ci');
      const res = await call(base, 'POST', '/v1/auth/token/revoke-self', { token });
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
      assert.equal(vault.tokenInfo(token)?.revoked, true);
      const after = await call(base, 'GET', '/v1/auth/token/lookup-self', { token });
      assert.equal(after.status, 403);
      assert.deepEqual(after.json.errors, [multiErrorText('permission denied', 'invalid token')]);
    });

    it('refuses revoke-self for a batch token (400) and leaves it usable', async () => {
      const token = await loginToken('ci-batch');
      const res = await call(base, 'POST', '/v1/auth/token/revoke-self', { token });
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, { errors: ['batch tokens cannot be revoked'] });
      assert.equal(vault.tokenInfo(token)?.revoked, false);
      assert.equal((await call(base, 'GET', '/v1/auth/token/lookup-self', { token })).status, 200);
    });
  });

  describe('ACL policies', () => {
    const denied = { errors: ['1 error occurred:\n\t* permission denied\n\n'] };

    it('denies a path the policy does not grant with the multierror body', async () => {
      vault.putSecret('secret/prod/db', { x: 1 });
      const token = await loginToken();
      const res = await call(base, 'GET', '/v1/secret/data/prod/db', { token });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json, denied);
    });

    const cases: Array<{ name: string; policies: PolicyRule[][]; allowed: string[]; denied: string[] }> = [
      {
        name: 'exact path',
        policies: [[{ path: 'secret/data/a/b', capabilities: ['read'] }]],
        allowed: ['a/b'],
        denied: ['a/bc', 'a/b/c'],
      },
      {
        name: 'trailing * is a plain prefix',
        policies: [[{ path: 'secret/data/a*', capabilities: ['read'] }]],
        allowed: ['a/b', 'ab', 'a/b/c'],
        denied: ['b/a'],
      },
      {
        name: '+ matches exactly one segment',
        policies: [[{ path: 'secret/data/+/db', capabilities: ['read'] }]],
        allowed: ['a/db', 'b/db'],
        denied: ['a/b/db', 'a/dbx'],
      },
      {
        name: 'the more specific glob wins over a broader deny',
        policies: [
          [
            { path: 'secret/data/*', capabilities: ['deny'] },
            { path: 'secret/data/a/*', capabilities: ['read'] },
          ],
        ],
        allowed: ['a/b'],
        denied: ['b/a'],
      },
      {
        name: 'an exact deny beats a glob grant',
        policies: [
          [
            { path: 'secret/data/a/*', capabilities: ['read'] },
            { path: 'secret/data/a/b', capabilities: ['deny'] },
          ],
        ],
        allowed: ['a/c'],
        denied: ['a/b'],
      },
      {
        name: 'deny on the same path in another policy overrides',
        policies: [[{ path: 'secret/data/a/*', capabilities: ['read'] }], [{ path: 'secret/data/a/*', capabilities: ['deny'] }]],
        allowed: [],
        denied: ['a/b'],
      },
      {
        name: 'a later wildcard position outranks an earlier glob',
        policies: [
          [
            { path: 'secret/*', capabilities: ['deny'] },
            { path: 'secret/data/+/b', capabilities: ['read'] },
          ],
        ],
        allowed: ['a/b', 'c/b'],
        denied: ['a/c'],
      },
      {
        name: 'list alone does not allow read',
        policies: [[{ path: 'secret/data/*', capabilities: ['list'] }]],
        allowed: [],
        denied: ['a/b'],
      },
    ];

    for (const tc of cases) {
      it(`matches like Vault: ${tc.name}`, async () => {
        const names = tc.policies.map((rules, i) => {
          vault.writePolicy(`p${i}`, rules);
          return `p${i}`;
        });
        const token = vault.issueToken(names);
        for (const key of [...tc.allowed, ...tc.denied]) vault.putSecret(`secret/${key}`, { k: key });
        for (const key of tc.allowed) {
          const res = await call(base, 'GET', `/v1/secret/data/${key}`, { token });
          assert.equal(res.status, 200, `${key}: ${res.text}`);
        }
        for (const key of tc.denied) {
          const res = await call(base, 'GET', `/v1/secret/data/${key}`, { token });
          assert.equal(res.status, 403, `${key}: ${res.text}`);
          assert.deepEqual(res.json, denied);
        }
      });
    }

    it('gives the default policy lookup-self but not sys/leases/revoke', async () => {
      const token = vault.issueToken([]);
      assert.equal((await call(base, 'GET', '/v1/auth/token/lookup-self', { token })).status, 200);
      const res = await call(base, 'PUT', '/v1/sys/leases/revoke', { token, body: { lease_id: 'database/creds/readonly/x' } });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json, denied);
    });

    it('lets a root token reach a path with no mount: 404 no handler', async () => {
      const root = vault.issueToken(['root']);
      const res = await call(base, 'GET', '/v1/nomount/x', { token: root });
      assert.equal(res.status, 404);
      assert.deepEqual(res.json, { errors: ['no handler for route "nomount/x". route entry not found.'] });
      const limited = await call(base, 'GET', '/v1/nomount/x', { token: vault.issueToken(['ci-read']) });
      assert.equal(limited.status, 403);
    });
  });

  describe('sys/internal/ui/mounts', () => {
    it('describes the KV v2 mount holding a path', async () => {
      const token = await loginToken();
      const res = await call(base, 'GET', '/v1/sys/internal/ui/mounts/secret/ci/db', { token });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.data.path, 'secret/');
      assert.equal(res.json.data.type, 'kv');
      assert.deepEqual(res.json.data.options, { version: '2' });
      assert.equal(res.json.data.description, '');
    });

    it('describes KV v1 and database mounts', async () => {
      const token = await loginToken();
      const v1 = await call(base, 'GET', '/v1/sys/internal/ui/mounts/kv1/ci/db', { token });
      assert.equal(v1.status, 200, v1.text);
      assert.deepEqual([v1.json.data.path, v1.json.data.options], ['kv1/', { version: '1' }]);
      const db = await call(base, 'GET', '/v1/sys/internal/ui/mounts/database/creds/readonly', { token });
      assert.equal(db.status, 200, db.text);
      assert.deepEqual([db.json.data.path, db.json.data.type, db.json.data.options], ['database/', 'database', null]);
      // Builtin plugins report a deprecation status; the core mounts are not plugins.
      assert.deepEqual([v1.json.data.deprecation_status, db.json.data.deprecation_status], ['supported', 'supported']);
      const cubbyhole = await call(base, 'GET', '/v1/sys/internal/ui/mounts/cubbyhole/x', { token });
      assert.deepEqual([cubbyhole.json.data.type, 'deprecation_status' in cubbyhole.json.data], ['cubbyhole', false]);
    });

    it('reports KV v1 options as configured (null when mounted without a version)', async () => {
      vault.mountKv('legacy', 1, '', { options: null });
      const res = await call(base, 'GET', '/v1/sys/internal/ui/mounts/legacy/x', { token: vault.issueToken(['root']) });
      assert.equal(res.json.data.options, null);
    });

    it('picks the longest mount prefix', async () => {
      vault.mountKv('team', 1);
      vault.mountKv('team/kv', 2);
      const res = await call(base, 'GET', '/v1/sys/internal/ui/mounts/team/kv/x', { token: vault.issueToken(['root']) });
      assert.equal(res.json.data.path, 'team/kv/');
    });

    it('allows any non-deny rule under the mount, including a leading + wildcard', async () => {
      vault.writePolicy('plus', [{ path: '+/data/ci/*', capabilities: ['read'] }]);
      const res = await call(base, 'GET', '/v1/sys/internal/ui/mounts/secret/ci/db', { token: vault.issueToken(['plus']) });
      assert.equal(res.status, 200, res.text);
    });

    it('answers 403 with the preflight message when nothing under the mount is granted', async () => {
      vault.writePolicy('other', [{ path: 'kv1/*', capabilities: ['read'] }]);
      const res = await call(base, 'GET', '/v1/sys/internal/ui/mounts/secret/ci/db', { token: vault.issueToken(['other']) });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json, {
        errors: ['preflight capability check returned 403, please ensure client\'s policies grant access to path "secret/ci/db/"'],
      });
    });

    it('answers 403 with the preflight message, not 404, when no mount holds the path', async () => {
      const res = await call(base, 'GET', '/v1/sys/internal/ui/mounts/nomount/x', { token: vault.issueToken(['root']) });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json, {
        errors: ['preflight capability check returned 403, please ensure client\'s policies grant access to path "nomount/x/"'],
      });
    });

    it('answers 403 for a missing or unknown token', async () => {
      const missing = await call(base, 'GET', '/v1/sys/internal/ui/mounts/secret/ci/db');
      assert.equal(missing.status, 403);
      assert.deepEqual(missing.json, { errors: ['permission denied'] });
      const unknown = await call(base, 'GET', '/v1/sys/internal/ui/mounts/secret/ci/db', { token: 'hvs.unknown' });
      assert.equal(unknown.status, 403);
      assert.deepEqual(unknown.json.errors, [multiErrorText('permission denied', 'invalid token')]);
    });
  });

  describe('KV', () => {
    it('reads KV v1 with the system default lease duration', async () => {
      const token = await loginToken();
      const res = await call(base, 'GET', '/v1/kv1/ci/db', { token });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.data, { user: 'legacy' });
      assert.equal(res.json.lease_duration, 2764800);
      assert.equal(res.json.renewable, false);
      assert.equal(res.json.lease_id, '');
      assert.equal(res.json.mount_type, 'kv');
    });

    it('answers 404 {"errors":[]} for a missing KV v1 key', async () => {
      const res = await call(base, 'GET', '/v1/kv1/ci/missing', { token: await loginToken() });
      assert.equal(res.status, 404);
      assert.deepEqual(res.json, { errors: [] });
    });

    it('reads the latest KV v2 version, or the one asked for', async () => {
      const token = await loginToken();
      const latest = await call(base, 'GET', '/v1/secret/data/ci/db', { token });
      assert.equal(latest.status, 200, latest.text);
      assert.deepEqual(latest.json.data.data, { user: 'app', password: 'v2' });
      const meta = latest.json.data.metadata;
      assert.equal(meta.version, 2);
      assert.equal(meta.deletion_time, '');
      assert.equal(meta.destroyed, false);
      assert.equal(meta.custom_metadata, null);
      assert.ok(!Number.isNaN(Date.parse(meta.created_time)));
      assert.equal(latest.json.lease_duration, 0);
      const first = await call(base, 'GET', '/v1/secret/data/ci/db?version=1', { token });
      assert.deepEqual([first.json.data.data.password, first.json.data.metadata.version], ['v1', 1]);
    });

    it("writes a secret's keys sorted at every depth, as Go encodes a map", async () => {
      vault.putSecret('secret/ci/nested', { zeta: 1, alpha: { y: true, b: null }, list: [{ k2: 'x', k1: 'y' }] });
      const res = await call(base, 'GET', '/v1/secret/data/ci/nested', { token: await loginToken() });
      assert.equal(res.status, 200, res.text);
      assert.match(
        res.text,
        /"data":\{"data":\{"alpha":\{"b":null,"y":true\},"list":\[\{"k1":"y","k2":"x"\}\],"zeta":1\},"metadata":\{"created_time":/,
      );
    });

    it("writes KV v2 times as Go's RFC3339Nano, finer than milliseconds", async () => {
      for (let i = 0; i < 5; i++) vault.putSecret('secret/ci/times', { n: i });
      vault.deleteVersion('secret/ci/times', 5);
      const res = await call(base, 'GET', '/v1/secret/metadata/ci/times', { token: vault.issueToken(['root']) });
      assert.equal(res.status, 200, res.text);
      const times = [res.json.data.created_time, res.json.data.updated_time, res.json.data.versions['5'].deletion_time];
      for (const v of Object.values(res.json.data.versions) as Json[]) times.push(v.created_time);
      for (const t of times) assert.match(t, GO_TIME);
      assert.ok(
        times.some((t) => /\.\d{4,9}Z$/.test(t)),
        times.join(' '),
      );
    });

    it('answers 404 {"errors":[]} for a missing path or version', async () => {
      const token = await loginToken();
      for (const path of ['/v1/secret/data/ci/missing', '/v1/secret/data/ci/db?version=9']) {
        const res = await call(base, 'GET', path, { token });
        assert.equal(res.status, 404, path);
        assert.deepEqual(res.json, { errors: [] });
      }
    });

    it('answers 404 with null data and the metadata for a deleted version', async () => {
      vault.deleteVersion('secret/ci/db', 2);
      const res = await call(base, 'GET', '/v1/secret/data/ci/db', { token: await loginToken() });
      assert.equal(res.status, 404);
      assert.equal(res.json.errors, undefined);
      assert.equal(res.json.data.data, null);
      assert.equal(res.json.data.metadata.version, 2);
      assert.notEqual(res.json.data.metadata.deletion_time, '');
      assert.equal(res.json.data.metadata.destroyed, false);
    });

    it('answers 404 with destroyed true for a destroyed version', async () => {
      vault.destroyVersion('secret/ci/db', 1);
      const res = await call(base, 'GET', '/v1/secret/data/ci/db?version=1', { token: await loginToken() });
      assert.equal(res.status, 404);
      assert.equal(res.json.data.data, null);
      assert.equal(res.json.data.metadata.destroyed, true);
      assert.equal(res.json.data.metadata.deletion_time, '');
    });

    it('answers 404 with the versioned-K/V warning when data/ is missing', async () => {
      vault.writePolicy('raw', [{ path: 'secret/*', capabilities: ['read'] }]);
      for (const path of ['/v1/secret/ci/db', '/v1/secret/data/ci/']) {
        const res = await call(base, 'GET', path, { token: vault.issueToken(['raw']) });
        assert.equal(res.status, 404, path);
        assert.equal(res.json.errors, undefined);
        assert.equal(res.json.data, null);
        assert.deepEqual(res.json.warnings, [
          "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation.",
        ]);
      }
    });

    it('keeps only the last 10 versions', async () => {
      for (let i = 3; i <= 11; i++) vault.putSecret('secret/ci/db', { password: `v${i}` });
      const token = await loginToken();
      assert.equal((await call(base, 'GET', '/v1/secret/data/ci/db?version=1', { token })).status, 404);
      const res = await call(base, 'GET', '/v1/secret/data/ci/db?version=2', { token });
      assert.deepEqual(res.json.data.data, { user: 'app', password: 'v2' });
      // oldest_version stays 0 until a write drops a version (KeyMetadata.AddVersion).
      const root = vault.issueToken(['root']);
      const meta = await call(base, 'GET', '/v1/secret/metadata/ci/db', { token: root });
      assert.deepEqual(
        [meta.json.data.current_version, meta.json.data.oldest_version, Object.keys(meta.json.data.versions).length],
        [11, 2, 10],
      );
      vault.putSecret('secret/ci/few', { a: 1 });
      assert.equal((await call(base, 'GET', '/v1/secret/metadata/ci/few', { token: root })).json.data.oldest_version, 0);
    });
  });

  describe('database leases', () => {
    it('issues renewable leased credentials', async () => {
      const token = await loginToken();
      const res = await call(base, 'GET', '/v1/database/creds/readonly', { token });
      assert.equal(res.status, 200, res.text);
      assert.match(res.json.lease_id, /^database\/creds\/readonly\/[A-Za-z0-9]{24}$/);
      assert.equal(res.json.lease_duration, 3600);
      assert.equal(res.json.renewable, true);
      assert.match(res.json.data.username, /^v-azure-0f-readonly-[A-Za-z0-9]{20}-\d+$/);
      assert.ok(res.json.data.password.length >= 20);
      assert.deepEqual(vault.leases.get(res.json.lease_id), { revoked: false, path: 'database/creds/readonly', ns: '', token, ttl: 3600 });
    });

    it('answers 400 unknown role', async () => {
      const res = await call(base, 'GET', '/v1/database/creds/nope', { token: vault.issueToken(['root']) });
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, { errors: ['unknown role: nope'] });
    });

    it('revokes a lease through sys/leases/revoke (204)', async () => {
      const token = await loginToken();
      const creds = await call(base, 'GET', '/v1/database/creds/readonly', { token });
      const res = await call(base, 'PUT', '/v1/sys/leases/revoke', { token, body: { lease_id: creds.json.lease_id } });
      assert.equal(res.status, 204);
      assert.equal(vault.leases.get(creds.json.lease_id)?.revoked, true);
    });

    it('requires lease_id', async () => {
      const res = await call(base, 'PUT', '/v1/sys/leases/revoke', { token: await loginToken(), body: {} });
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, { errors: ['lease_id must be specified'] });
    });

    it('revokes the leases of a service token revoked with revoke-self', async () => {
      const token = await loginToken();
      const creds = await call(base, 'GET', '/v1/database/creds/readonly', { token });
      await call(base, 'POST', '/v1/auth/token/revoke-self', { token });
      assert.equal(vault.leases.get(creds.json.lease_id)?.revoked, true);
    });

    it('caps a lease issued to a batch token at the token lifetime', async () => {
      const token = await loginToken('ci-batch');
      const res = await call(base, 'GET', '/v1/database/creds/readonly', { token });
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json.lease_duration <= 600 && res.json.lease_duration > 590, String(res.json.lease_duration));
    });
  });

  describe('namespaces', () => {
    beforeEach(() => {
      vault.createNamespace('admin');
      seed(vault, 'admin');
    });

    it('logs in inside the namespace named by X-Vault-Namespace (slashes trimmed)', async () => {
      for (const ns of ['admin', '/admin/']) {
        const res = await login('ci', goodJwt(), ns);
        assert.equal(res.status, 200, res.text);
        assert.match(res.json.auth.client_token, /^hvs\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{5}$/);
        assert.equal(vault.tokenInfo(res.json.auth.client_token)?.ns, 'admin');
      }
      assert.equal(vault.requests.at(-1)?.namespace, 'admin');
    });

    it('keeps namespaces apart: mounts, tokens and unknown namespaces', async () => {
      vault.enableAzureAuth('only-admin', { tenantId: TENANT, resource: RESOURCE, jwks: () => JWKS }, 'admin');
      const rootLogin = await call(base, 'POST', '/v1/auth/only-admin/login', { body: { role: 'ci', jwt: goodJwt() } });
      assert.equal(rootLogin.status, 403);
      assert.deepEqual(rootLogin.json, { errors: ['permission denied'] });
      const unknownNs = await login('ci', goodJwt(), 'nope');
      assert.equal(unknownNs.status, 403);
      assert.deepEqual(unknownNs.json, { errors: ['permission denied'] });

      const adminToken = await loginToken('ci', 'admin');
      vault.putSecret('secret/ci/only-admin', { where: 'admin' }, 'admin');
      const inAdmin = await call(base, 'GET', '/v1/secret/data/ci/only-admin', { token: adminToken, ns: 'admin' });
      assert.equal(inAdmin.status, 200, inAdmin.text);
      assert.deepEqual(inAdmin.json.data.data, { where: 'admin' });
      const inPath = await call(base, 'GET', '/v1/admin/secret/data/ci/only-admin', { token: adminToken });
      assert.equal(inPath.status, 200, inPath.text);
      const inRoot = await call(base, 'GET', '/v1/secret/data/ci/db', { token: adminToken });
      assert.equal(inRoot.status, 403);
      assert.deepEqual(inRoot.json, { errors: [multiErrorText('permission denied')] });
    });

    it('looks up and revokes a namespaced token in its namespace', async () => {
      const token = await loginToken('ci', 'admin');
      const lookup = await call(base, 'GET', '/v1/auth/token/lookup-self', { token, ns: 'admin' });
      assert.equal(lookup.status, 200, lookup.text);
      assert.equal(lookup.json.data.namespace_path, 'admin/');
      assert.equal((await call(base, 'POST', '/v1/auth/token/revoke-self', { token, ns: 'admin' })).status, 204);
    });
  });

  describe('seal', () => {
    it('answers 503 "Vault is sealed" everywhere while sealed, and health reports it', async () => {
      const token = await loginToken();
      vault.seal();
      for (const [method, path, body] of [
        ['GET', '/v1/secret/data/ci/db', undefined],
        ['POST', '/v1/auth/azure/login', { role: 'ci', jwt: goodJwt() }],
        ['GET', '/v1/sys/internal/ui/mounts/secret', undefined],
      ] as const) {
        const res = await call(base, method, path, { token, body });
        assert.equal(res.status, 503, path);
        assert.deepEqual(res.json, { errors: ['Vault is sealed'] });
      }
      const health = await call(base, 'GET', '/v1/sys/health');
      assert.equal(health.status, 503);
      assert.equal(health.json.sealed, true);
      assert.equal(health.json.initialized, true);
      vault.unseal();
      const healthy = await call(base, 'GET', '/v1/sys/health');
      assert.equal(healthy.status, 200);
      assert.equal(healthy.json.sealed, false);
      assert.equal(healthy.json.standby, false);
      assert.equal(typeof healthy.json.version, 'string');
      assert.equal(typeof healthy.json.cluster_name, 'string');
      assert.equal((await call(base, 'GET', '/v1/secret/data/ci/db', { token })).status, 200);
    });
  });

  describe('faults, latency and request log', () => {
    it('answers an injected status and body, then goes back to normal', async () => {
      vault.inject({ path: 'sys/health', status: 502, body: '<html>bad gateway</html>' });
      const faulty = await call(base, 'GET', '/v1/sys/health');
      assert.equal(faulty.status, 502);
      assert.equal(faulty.text, '<html>bad gateway</html>');
      assert.equal((await call(base, 'GET', '/v1/sys/health')).status, 200);
    });

    it('applies a fault `times` times, only to the matching method and path pattern', async () => {
      vault.inject({ method: 'post', path: /^auth\/.*\/login$/, status: 429, body: { errors: ['rate limit quota exceeded'] }, times: 2 });
      assert.equal((await call(base, 'GET', '/v1/sys/health')).status, 200);
      for (let i = 0; i < 2; i++) {
        const res = await login('ci', goodJwt());
        assert.equal(res.status, 429);
        assert.deepEqual(res.json, { errors: ['rate limit quota exceeded'] });
      }
      assert.equal((await login('ci', goodJwt())).status, 200);
    });

    it('delays, then answers normally, for a delay-only fault', async () => {
      vault.inject({ path: 'sys/health', delayMs: 200 });
      const started = Date.now();
      const res = await call(base, 'GET', '/v1/sys/health');
      assert.ok(Date.now() - started >= 190);
      assert.equal(res.status, 200);
    });

    it('destroys the socket for a reset fault', async () => {
      vault.inject({ path: 'sys/health', reset: true });
      await assert.rejects(call(base, 'GET', '/v1/sys/health'), (err: NodeJS.ErrnoException) => {
        assert.ok(err.code === 'ECONNRESET' || /socket hang up/.test(err.message), err.message);
        return true;
      });
      assert.equal((await call(base, 'GET', '/v1/sys/health')).status, 200);
    });

    it('forgets faults on clearFaults', async () => {
      vault.inject({ path: 'sys/health', status: 500, times: 5 });
      vault.clearFaults();
      assert.equal((await call(base, 'GET', '/v1/sys/health')).status, 200);
    });

    it('adds latency to every request and records the highest concurrency', async () => {
      vault.latencyMs = 150;
      const started = Date.now();
      await Promise.all(Array.from({ length: 5 }, () => call(base, 'GET', '/v1/sys/health')));
      assert.ok(Date.now() - started >= 140);
      assert.equal(vault.maxInFlight, 5);
      vault.latencyMs = 0;
      await call(base, 'GET', '/v1/sys/health');
      assert.equal(vault.maxInFlight, 5);
    });

    it('records every request with method, path, query, namespace and token', async () => {
      const token = vault.issueToken(['root']);
      await call(base, 'GET', '/v1/secret/data/ci/db?version=1', { token, ns: '/team/' });
      await call(base, 'GET', '/v1/sys/health', { headers: { Authorization: `Bearer ${token}` } });
      const [first, second] = vault.requests;
      assert.deepEqual(
        { ...first, at: 0 },
        { method: 'GET', path: 'secret/data/ci/db', query: 'version=1', namespace: 'team', token, at: 0, httpVersion: '1.1' },
      );
      assert.equal(second.token, token);
      assert.equal(second.namespace, '');
      assert.ok(first.at <= second.at);
    });
  });

  describe('TLS', () => {
    let dir: string;
    let cert: string;
    let key: string;

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'vault-emulator-'));
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-days',
          '1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      key = readFileSync(join(dir, 'key.pem'), 'utf8');
    });

    after(() => rmSync(dir, { recursive: true, force: true }));

    it('serves HTTPS with the given certificate', async () => {
      const secure = new VaultEmulator({ tls: { cert, key } });
      seed(secure);
      const secureBase = await secure.start(0);
      try {
        assert.match(secureBase, /^https:\/\/127\.0\.0\.1:\d+$/);
        const res = await call(secureBase, 'POST', '/v1/auth/azure/login', { body: { role: 'ci', jwt: goodJwt() }, ca: cert });
        assert.equal(res.status, 200, res.text);
        await assert.rejects(call(secureBase, 'GET', '/v1/sys/health'), /self-signed certificate/);
      } finally {
        await secure.stop();
      }
    });
  });
});
