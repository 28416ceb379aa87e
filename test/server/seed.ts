// OpenBao's contents for the real-server tests, set through its HTTP API: a jwt auth mount that
// trusts Entra ID by its discovery document (no Azure credential stored in the server), roles for
// service and batch tokens bound to one service principal's object id, the least-privilege policy
// of test/emulators/seed.ts, and KV v2 and v1 mounts with the same secrets, plus a secret with a
// deleted and a destroyed version.
import type { Ca } from '../emulators/pki';
import { DEFAULT_RESOURCE, SECRETS, TENANT_ID } from '../emulators/seed';
import type { Answer, OpenBao } from './openbao';

export const JWT_MOUNT = 'jwt-entra';
export const JWT_ROLE = 'azure-devops-production';
export const JWT_BATCH_ROLE = 'ci-batch';

export const CI_READ_POLICY = `
path "secret/data/ci/*" { capabilities = ["read"] }
path "kv1/app/*" { capabilities = ["read"] }
path "sys/leases/revoke" { capabilities = ["update"] }
`;

/** secret/ci/production/rotated: version 1 destroyed, version 2 deleted, version 3 current. */
export const ROTATED = { v1: 'rotated-v1-d3s7r0y', v2: 'rotated-v2-d3l3t3', v3: 'rotated-v3-cur4e9t' };

async function ok(what: string, answer: Promise<Answer>): Promise<Answer> {
  const a = await answer;
  if (a.status >= 300) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
  return a;
}

/** A KV v2 write, retried while a new mount still upgrades its storage. */
async function putV2(bao: OpenBao, path: string, data: Record<string, unknown>): Promise<void> {
  for (let i = 0; ; i++) {
    const a = await bao.api('POST', `secret/data/${path}`, { data });
    if (a.status < 300) return;
    if (i > 50) throw new Error(`write secret/${path}: ${a.status} ${JSON.stringify(a.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function seedOpenBao(bao: OpenBao, ca: Ca, boundOid: string): Promise<void> {
  await ok('enable jwt', bao.api('POST', `sys/auth/${JWT_MOUNT}`, { type: 'jwt' }));
  await ok(
    'jwt config',
    bao.api('POST', `auth/${JWT_MOUNT}/config`, {
      oidc_discovery_url: `https://sts.windows.net/${TENANT_ID}/`,
      oidc_discovery_ca_pem: ca.certPem,
    }),
  );
  await ok('policy', bao.api('POST', 'sys/policies/acl/ci-read', { policy: CI_READ_POLICY }));
  for (const [role, tokenType] of [
    [JWT_ROLE, 'service'],
    [JWT_BATCH_ROLE, 'batch'],
  ]) {
    await ok(
      `role ${role}`,
      bao.api('POST', `auth/${JWT_MOUNT}/role/${role}`, {
        role_type: 'jwt',
        bound_audiences: [DEFAULT_RESOURCE],
        bound_claims: { oid: boundOid },
        user_claim: 'oid',
        token_policies: ['ci-read'],
        token_type: tokenType,
        token_ttl: 900,
      }),
    );
  }
  await ok('mount secret', bao.api('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } }));
  await ok('mount kv1', bao.api('POST', 'sys/mounts/kv1', { type: 'kv', options: { version: '1' } }));
  await putV2(bao, 'ci/production/db', { password: SECRETS.oldPassword, 'db-user': SECRETS.dbUser });
  await putV2(bao, 'ci/production/db', { password: SECRETS.dbPassword, 'db-user': SECRETS.dbUser });
  await putV2(bao, 'ci/production/api', { token: SECRETS.apiToken, url: SECRETS.apiUrl, port: 8443 });
  await putV2(bao, 'ci/production/tls', { key: SECRETS.pem, 'key with spaces': SECRETS.spaced });
  await putV2(bao, 'other/team', { password: 'not-for-ci' });
  for (const value of [ROTATED.v1, ROTATED.v2, ROTATED.v3]) await putV2(bao, 'ci/production/rotated', { password: value });
  await ok('delete v2', bao.api('POST', 'secret/delete/ci/production/rotated', { versions: [2] }));
  await ok('destroy v1', bao.api('PUT', 'secret/destroy/ci/production/rotated', { versions: [1] }));
  await ok('kv1 write', bao.api('POST', 'kv1/app/legacy', { token: SECRETS.legacyToken }));
}
