// Namespaces against real OpenBao (which has them, as Vault Enterprise does): the jwt mount that
// trusts Entra ID is enabled inside a namespace `ci`, and the bundled task logs in there
// (authNamespace) and reads in its child `ci/team` (vaultNamespace) or in `ci` itself, each
// namespace holding its own value at the same path. The post-job step revokes the token in the
// namespace it was issued in. Set up through the HTTP API with the namespace as a path prefix
// (`/v1/ci/sys/...`); the task and the `bao` CLI send the X-Vault-Namespace header.
import * as assert from 'node:assert/strict';
import { taskVariablesFrom } from '../helpers/output';
import { DEFAULT_RESOURCE, SECRETS, TENANT_ID } from '../emulators/seed';
import { savedToken, ServerWorld, startServerWorld } from './fixture';
import type { Answer } from './openbao';
import { JWT_MOUNT, JWT_ROLE } from './seed';

const PARENT = 'ci';
const CHILD = 'team';
const VALUES = { parent: 'ns-parent-Qm4xV8rT2w', child: 'ns-child-Lp7cZ3nK9y' };

/** The token's policy, in the parent namespace: its own KV, and the child's under the child's name. */
const NS_READ_POLICY = `
path "secret/data/ci/*" { capabilities = ["read"] }
path "${CHILD}/secret/data/ci/*" { capabilities = ["read"] }
`;

async function ok(what: string, answer: Promise<Answer>): Promise<Answer> {
  const a = await answer;
  if (a.status >= 300) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
  return a;
}

describe('server: namespaces in OpenBao, logging in in one and reading in another', function () {
  this.timeout(120_000);
  let s: ServerWorld;

  /** A KV v2 write at `<ns>/secret/data/<path>`, tried again while the new mount still upgrades its storage. */
  async function putV2(ns: string, path: string, data: Record<string, string>): Promise<void> {
    for (let i = 0; ; i++) {
      const a = await s.bao.api('POST', `${ns}/secret/data/${path}`, { data });
      if (a.status < 300) return;
      if (i > 50) throw new Error(`write ${ns}/secret/${path}: ${a.status} ${JSON.stringify(a.body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    s = await startServerWorld();
    const bao = s.bao;
    await ok('namespace', bao.api('POST', `sys/namespaces/${PARENT}`, {}));
    await ok('child namespace', bao.api('POST', `${PARENT}/sys/namespaces/${CHILD}`, {}));
    await ok('enable jwt', bao.api('POST', `${PARENT}/sys/auth/${JWT_MOUNT}`, { type: 'jwt' }));
    await ok(
      'jwt config',
      bao.api('POST', `${PARENT}/auth/${JWT_MOUNT}/config`, {
        oidc_discovery_url: `https://sts.windows.net/${TENANT_ID}/`,
        oidc_discovery_ca_pem: s.world.ca.certPem,
      }),
    );
    await ok('policy', bao.api('POST', `${PARENT}/sys/policies/acl/ns-read`, { policy: NS_READ_POLICY }));
    await ok(
      'role',
      bao.api('POST', `${PARENT}/auth/${JWT_MOUNT}/role/${JWT_ROLE}`, {
        role_type: 'jwt',
        bound_audiences: [DEFAULT_RESOURCE],
        bound_claims: { oid: s.world.ids.wif.objectId },
        user_claim: 'oid',
        token_policies: ['ns-read'],
        token_type: 'service',
        token_ttl: 900,
      }),
    );
    for (const ns of [PARENT, `${PARENT}/${CHILD}`])
      await ok(`mount secret in ${ns}`, bao.api('POST', `${ns}/sys/mounts/secret`, { type: 'kv', options: { version: '2' } }));
    await putV2(PARENT, 'ci/production/db', { password: VALUES.parent });
    await putV2(`${PARENT}/${CHILD}`, 'ci/production/db', { password: VALUES.child });
    await putV2(`${PARENT}/${CHILD}`, 'other/team', { password: 'not-for-ci' });
  });
  after(async () => s?.stop());

  const secrets = 'secret/ci/production/db password | DB_PASSWORD';
  const extraSecrets = Object.entries(VALUES).map(([ns, value]) => ({ what: `the ${ns} namespace's password`, value }));

  /** `bao token lookup` with the token, in a namespace (sent as X-Vault-Namespace). */
  const lookupSelf = (token: string, namespace: string) =>
    s.bao.cli(['token', 'lookup', '-format=json'], { BAO_TOKEN: token, BAO_NAMESPACE: namespace });

  const jobs: Array<[string, Record<string, string>, string]> = [
    [
      "logs in in the parent namespace and reads in the child (authNamespace 'ci', vaultNamespace 'ci/team')",
      { authNamespace: PARENT, vaultNamespace: `${PARENT}/${CHILD}` },
      VALUES.child,
    ],
    ["logs in and reads in the same namespace (vaultNamespace 'ci' alone)", { vaultNamespace: PARENT }, VALUES.parent],
  ];
  for (const [title, namespaces, expected] of jobs) {
    it(`${title}; the post-job step revokes the token there`, async () => {
      const inputs = { secrets, ...namespaces };
      const main = await s.run(inputs);
      const { vars, warnings } = s.check(main, true, { extraSecrets });
      assert.deepEqual(warnings, []);
      assert.deepEqual(Object.fromEntries(vars), { DB_PASSWORD: expected });
      assert.notEqual(expected, SECRETS.dbPassword, "not the root namespace's value at the same path");
      assert.match(
        main.stdout,
        /^Logging in to https:\/\/vault\.example\.com:8300 at auth\/jwt-entra\/login with role 'azure-devops-production' in namespace 'ci'\.$/m,
      );
      assert.match(main.stdout, /^Logged in to Vault: policies \[default, ns-read\], token type service, TTL 900s, over HTTP\/2\.$/m);

      const token = savedToken(main)!;
      assert.ok(token);
      const before = await lookupSelf(token, PARENT);
      assert.equal(before.code, 0, before.stderr);
      assert.equal(JSON.parse(before.stdout).data.namespace_path, `${PARENT}/`, 'a token of the parent namespace');

      const post = await s.run(inputs, { entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) });
      const p = s.check(post, true, { extraSecrets });
      assert.deepEqual(p.warnings, []);
      assert.match(post.stdout, /^Revoked the Vault token\.$/m);
      const after = await lookupSelf(token, PARENT);
      assert.equal(after.code, 2);
      assert.match(after.stderr, /Code: 403\. Errors:\n\n\* permission denied/);
      assert.equal((await s.bao.api('GET', `${PARENT}/auth/token/lookup-self`, undefined, token)).status, 403);
    });
  }

  it("fails on a child path the parent namespace's policy does not grant; the rule that grants it names the child namespace", async () => {
    const inputs = { secrets: 'secret/other/team password | X', authNamespace: PARENT, vaultNamespace: `${PARENT}/${CHILD}` };
    const setPolicy = (more: string) =>
      ok('policy', s.bao.api('POST', `${PARENT}/sys/policies/acl/ns-read`, { policy: NS_READ_POLICY + more }));
    const attempt = async (succeeds: boolean) => {
      const main = await s.run(inputs);
      const checked = s.check(main, succeeds, { extraSecrets });
      assert.equal((await s.bao.api('POST', `${PARENT}/auth/token/revoke`, { token: savedToken(main) })).status, 204);
      return checked;
    };
    try {
      const denied = await attempt(false);
      assert.equal(denied.vars.size, 0);
      assert.equal(denied.errorList.length, 1);
      assert.match(
        denied.errorList[0],
        /^1 secret request\(s\) failed; no variables were published:\n {2}secret\/other\/team password: permission denied: the Vault token's policies do not allow read on secret\/data\/other\/team\./,
      );
      // The token's policy lives in the parent namespace: the rule the message gives names the path
      // from there, and it is the one that works; the path as the child sees it grants the
      // parent's own secret/ instead.
      const hinted = /Add to the role's policy: (path "[^"]+" \{ capabilities = \["read"\] \})/.exec(denied.errorList[0])?.[1];
      assert.equal(hinted, `path "${CHILD}/secret/data/other/team" { capabilities = ["read"] }`);
      await setPolicy('path "secret/data/other/team" { capabilities = ["read"] }\n');
      assert.match((await attempt(false)).errors, /permission denied/);
      await setPolicy(`${hinted}\n`);
      assert.deepEqual(Object.fromEntries((await attempt(true)).vars), { X: 'not-for-ci' });
    } finally {
      await setPolicy('');
    }
  });

  it('fails to log in in the child namespace, where the jwt mount is not enabled', async () => {
    const main = await s.run({ secrets, vaultNamespace: `${PARENT}/${CHILD}` });
    const { vars, errors } = s.check(main, false, { extraSecrets });
    assert.equal(vars.size, 0);
    assert.equal(savedToken(main), undefined);
    assert.equal(
      errors,
      "No azure auth method answers at auth/jwt-entra in namespace 'ci/team' (HTTP 403: permission denied). Check the 'authMount' input: it is the path given to 'vault auth enable -path=jwt-entra azure' (see 'vault auth list'). On Vault Enterprise or HCP Vault also check 'vaultNamespace'.",
    );
  });
});
