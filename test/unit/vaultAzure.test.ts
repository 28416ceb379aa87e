// The azure auth method's login check, which the front of real OpenBao answers for azure mounts:
// statuses and texts as vault-plugin-auth-azure and go-oidc give them, and on success the grant the
// front turns into a real OpenBao token (the role, the principal and the login's metadata).
import * as assert from 'node:assert/strict';
import { KeyObject, sign } from 'node:crypto';
import { rsaKeyPair } from '../emulators/jwt';
import type { PluginReply } from '../emulators/pluginMounts';
import { AzureRole, enableAzureAuth, JsonWebKeySet, login, writeAzureRole } from '../emulators/vaultAzure';

// biome-ignore lint/suspicious/noExplicitAny: claims and answers of many shapes, read by path
type Json = Record<string, any>;

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

const signing = rsaKeyPair();
const stranger = rsaKeyPair();
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

interface Grant {
  mountPath: string;
  role: AzureRole;
  roleName: string;
  principal: string;
  meta: Record<string, string>;
}

describe('azure login check (the front of OpenBao answers it for azure mounts)', () => {
  let vault: object;
  let grants: Grant[];

  beforeEach(() => {
    vault = {};
    grants = [];
    enableAzureAuth(vault, 'azure', { tenantId: TENANT, resource: RESOURCE, jwks: () => JWKS });
    writeAzureRole(vault, 'azure', 'ci', { bound_service_principal_ids: [OID.toUpperCase()], token_policies: ['ci-read'] });
  });

  const issue = (mountPath: string, role: AzureRole, roleName: string, principal: string, meta: Record<string, string>): PluginReply => {
    grants.push({ mountPath, role, roleName, principal, meta });
    return { status: 200, body: { auth: { client_token: 'granted' } } };
  };
  const call = (body: Json, mount = 'azure'): Promise<PluginReply | undefined> =>
    login(vault, { op: 'update', rel: `auth/${mount}/login`, ns: { path: '' }, body }, issue);

  it('grants the role to the service principal, with the metadata the plugin sets', async () => {
    const reply = await call({ role: 'ci', jwt: goodJwt({ appid: 'a1' }) });
    assert.equal(reply?.status, 200);
    assert.equal(grants.length, 1);
    assert.equal(grants[0].mountPath, 'azure/');
    assert.equal(grants[0].principal, OID);
    assert.deepEqual(grants[0].role.token_policies, ['ci-read']);
    assert.deepEqual(grants[0].meta, { resource_group_name: '', role: 'ci', subscription_id: '', app_id: 'a1' });
  });

  it('finds roles case-insensitively and keeps the name as sent in metadata', async () => {
    assert.equal((await call({ role: 'CI', jwt: goodJwt() }))?.status, 200);
    assert.equal(grants[0].meta.role, 'CI');
  });

  it('leaves other paths and other mounts to OpenBao', async () => {
    assert.equal(await call({ role: 'ci', jwt: goodJwt() }, 'jwt'), undefined);
    assert.equal(await login(vault, { op: 'update', rel: 'auth/azure/role/ci', ns: { path: '' }, body: {} }, issue), undefined);
    assert.equal(await login(vault, { op: 'update', rel: 'auth/azure/login', ns: { path: 'team/' }, body: {} }, issue), undefined);
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
      const reply = await call(tc.body());
      assert.equal(reply?.status, tc.status);
      assert.deepEqual(reply?.body, { errors: [tc.error] });
      assert.equal(grants.length, 0);
    });
  }

  it('rejects a token whose nbf is in the future (plugin check, no leeway)', async () => {
    const nbf = nowSec() + 120;
    const reply = await call({ role: 'ci', jwt: goodJwt({ nbf }) });
    assert.equal(reply?.status, 500);
    const expected = new Date(nbf * 1000).toISOString().replace('T', ' ').replace('.000Z', ' +0000 UTC');
    assert.deepEqual(reply?.body, { errors: [`token is not yet valid (Token Not Before: ${expected})`] });
  });

  it('reads the JWKS at login time, so a rotated key is picked up', async () => {
    const rotated = rsaKeyPair();
    let jwks: JsonWebKeySet = JWKS;
    enableAzureAuth(vault, 'azure-rot', { tenantId: TENANT, resource: RESOURCE, jwks: async () => jwks });
    writeAzureRole(vault, 'azure-rot', 'ci', { bound_service_principal_ids: [OID] });
    const jwt = signJwt(claims(), rotated.privateKey, { alg: 'RS256', kid: 'k2' });
    assert.equal((await call({ role: 'ci', jwt }, 'azure-rot'))?.status, 500);
    jwks = { keys: [{ ...rotated.publicKey.export({ format: 'jwk' }), kid: 'k2' }] };
    assert.equal((await call({ role: 'ci', jwt }, 'azure-rot'))?.status, 200);
    assert.equal(grants[0].roleName, 'ci');
  });
});
