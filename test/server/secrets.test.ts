// The secrets syntax against real OpenBao: the bundled task logs in at a jwt auth mount that trusts
// Entra ID (OpenBao checks the Entra access token's signature, issuer, audience, expiry and oid
// itself) and reads KV v2 and v1 as the server answers them, values and failures.
import * as assert from 'node:assert/strict';
import { SECRETS, TENANT_ID } from '../emulators/seed';
import { ServerWorld, startServerWorld } from './fixture';
import { ROTATED } from './seed';

describe('server: the secrets syntax against OpenBao', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  before(async () => (s = await startServerWorld()));
  after(async () => s?.stop());

  const reads: Array<[string, string, Record<string, string>]> = [
    ['a KV v2 key', 'secret/ci/production/db password | DB_PASSWORD', { DB_PASSWORD: SECRETS.dbPassword }],
    [
      'every key with a prefix (*)',
      'secret/ci/production/api * | API_',
      { API_TOKEN: SECRETS.apiToken, API_URL: SECRETS.apiUrl, API_PORT: '8443' },
    ],
    [
      'the whole secret as compact JSON (.)',
      'secret/ci/production/api . | API_JSON',
      { API_JSON: JSON.stringify({ port: 8443, token: SECRETS.apiToken, url: SECRETS.apiUrl }) },
    ],
    ['an older version (@1)', 'secret/ci/production/db@1 password | OLD', { OLD: SECRETS.oldPassword }],
    ['an explicit data/ path', 'secret/data/ci/production/db password | P', { P: SECRETS.dbPassword }],
    [
      'a key with spaces and a multi-line value',
      'secret/ci/production/tls "key with spaces" | SPACED\nsecret/ci/production/tls key | PEM',
      { SPACED: SECRETS.spaced, PEM: SECRETS.pem },
    ],
    ['a KV v1 key', 'kv1/app/legacy token | LEGACY', { LEGACY: SECRETS.legacyToken }],
    ['the latest version when older ones are deleted and destroyed', 'secret/ci/production/rotated password | R', { R: ROTATED.v3 }],
  ];
  for (const [what, secrets, expected] of reads) {
    it(`reads ${what}`, async () => {
      const run = await s.run({ secrets });
      const { vars, warnings } = s.check(run, true);
      assert.deepEqual(warnings, []);
      if ('API_JSON' in expected) assert.deepEqual(JSON.parse(vars.get('API_JSON')!), JSON.parse(expected.API_JSON));
      else assert.deepEqual(Object.fromEntries(vars), expected);
      assert.match(run.stdout, /^Logged in to Vault: policies \[ci-read, default\], token type service, TTL 900s, over HTTP\/2\.$/m);
    });
  }

  const failures: Array<[string, string, RegExp]> = [
    [
      'a deleted version',
      'secret/ci/production/rotated@2 password',
      /version 2 of secret\/ci\/production\/rotated was deleted at \d{4}-\d\d-\d\dT[\d:.]+Z; undelete it \(vault kv undelete -versions=2 secret\/ci\/production\/rotated\)/,
    ],
    [
      'a destroyed version',
      'secret/ci/production/rotated@1 password',
      /version 1 of secret\/ci\/production\/rotated is destroyed and cannot be read/,
    ],
    [
      'a missing path',
      'secret/ci/production/nope password',
      /no secret at secret\/ci\/production\/nope \(API path secret\/data\/ci\/production\/nope\)/,
    ],
    [
      'a missing key',
      'secret/ci/production/db nokey',
      /key 'nokey' not found at secret\/ci\/production\/db; its keys are: db-user, password/,
    ],
    [
      'a path the policy denies, naming the exact ACL path',
      'secret/other/team password',
      /permission denied: the Vault token's policies do not allow read on secret\/data\/other\/team\. Add to the role's policy: path "secret\/data\/other\/team" \{ capabilities = \["read"\] \}/,
    ],
    ['a KV v1 path the policy denies', 'kv1/other password', /do not allow read on kv1\/other\./],
    [
      'a mount the token cannot see',
      'nomount/x key',
      /nomount\/x key: the token's policies allow nothing under the mount of nomount\/x \(403 on sys\/internal\/ui\/mounts\)/,
    ],
  ];
  for (const [what, secrets, message] of failures) {
    it(`fails on ${what}, publishing nothing`, async () => {
      const run = await s.run({ secrets: `secret/ci/production/db password | DB_PASSWORD\n${secrets} | X` });
      const { vars, errorList } = s.check(run, false);
      assert.equal(vars.size, 0, 'nothing published');
      assert.equal(errorList.length, 1);
      assert.match(errorList[0], /^1 secret request\(s\) failed; no variables were published:/);
      assert.match(errorList[0], message);
    });
  }

  it('skips a missing path with ignoreNotFound, with a warning', async () => {
    const run = await s.run({
      secrets: 'secret/ci/production/db password | DB_PASSWORD\nsecret/ci/production/nope password | NOPE',
      ignoreNotFound: 'true',
    });
    const { vars, warnings } = s.check(run, true);
    assert.deepEqual(Object.fromEntries(vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.deepEqual(warnings, [
      "Skipped (ignoreNotFound) secret/ci/production/nope password: no secret at secret/ci/production/nope (API path secret/data/ci/production/nope). Check the path with 'vault kv get'.",
    ]);
  });

  it("finds Entra's signing keys itself, through the v1 discovery document over TLS", () => {
    // The config write fetched the discovery document; the logins above fetched the keys.
    const got = s.world.entra.requests.filter((r) => r.method === 'GET' && r.status === 200).map((r) => `${r.host}${r.path}`);
    assert.ok(got.includes(`sts.windows.net/${TENANT_ID}/.well-known/openid-configuration`), got.join('\n'));
    assert.ok(
      got.some((r) => r.endsWith('/common/discovery/keys')),
      got.join('\n'),
    );
  });
});
