// L0: the task source under MockTestRunner, arm-rest replaced by a signed test token, against the
// run's real OpenBao behind a front on loopback (a namespace of its own per run, seeded as the
// scenario says), whose azure mount checks the token with this file's test key.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MockTestRunner } from 'azure-pipelines-task-lib/mock-test';
import { newSigningKey } from '../emulators/jwt';
import { SECRETS, seedVaultContents } from '../emulators/seed';
import { findLeaks, masks, publishedSecrets } from '../helpers/output';
import { sharedOpenBao } from '../server/openbao';
import { VaultFront } from '../server/vaultFront';
import type { Scenario, Setup } from './fixtures/scenario';

const runner = path.join(__dirname, 'fixtures', 'run-task.js');
const taskJson = path.join(__dirname, '../../tasks/VaultAzureLoginV1/task.json');

interface Result {
  tr: MockTestRunner;
  vars: Map<string, string>;
  evidence: {
    disposed: number;
    jwts: string[];
    vaultTokens: string[];
    requests: string[];
    post?: { tokenRevoked?: boolean; leaseRevoked?: boolean; fileLeft?: boolean };
  };
}

// No retries unless a test is about them: each retry waits a second or more.
const base = { vaultAddress: '$VAULT', authMount: 'ado', role: 'azure-devops-production', retries: '0' };

async function runTask(sc: Omit<Scenario, 'evidenceFile'>): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'l0-'));
  const evidenceFile = path.join(dir, 'evidence.json');
  const key = newSigningKey();
  const bao = await sharedOpenBao();
  // MockTestRunner blocks this process while the run lasts: the front listens in the run's own
  // process (./fixtures/scenario.ts); this one fills the namespace in OpenBao and reads it after.
  const vault = new VaultFront(bao);
  await vault.create();
  const setup: Setup = {
    bao: { port: bao.port, caPem: bao.ca.certPem, rootToken: bao.rootToken },
    namespace: vault.namespace,
    key: { kid: key.kid, pem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
  };
  try {
    await seedVaultContents(vault, '', true);
    if (sc.post) {
      setup.token = await vault.issueToken(['ci-read'], { type: sc.post.tokenType ?? 'service' });
      if (sc.post.lease)
        setup.leaseId = (await bao.api('GET', `${vault.namespace}/database/creds/ci`, undefined, setup.token)).body.lease_id;
    }
    if (sc.vault?.sealed) await vault.seal();
    process.env.L0_SCENARIO = JSON.stringify({ ...sc, evidenceFile });
    process.env.L0_SETUP = JSON.stringify(setup);
    const tr = new MockTestRunner(runner, taskJson);
    tr.nodePath = process.execPath; // never download a Node for the handler
    try {
      await tr.runAsync();
    } finally {
      await vault.unseal();
    }
    const evidence: Result['evidence'] = fs.existsSync(evidenceFile)
      ? JSON.parse(fs.readFileSync(evidenceFile, 'utf8'))
      : { disposed: 0, jwts: [], vaultTokens: [], requests: [] };
    if (sc.post)
      evidence.post = {
        tokenRevoked: await vault.tokenRevoked(setup.token as string),
        leaseRevoked: setup.leaseId ? await vault.leaseRevoked(setup.leaseId) : undefined,
        fileLeft: evidence.post?.fileLeft,
      };
    assert.equal(tr.stderr.includes('scenario setup failed'), false, tr.stderr);
    const leaks = findLeaks(tr.stdout, [
      ...Object.entries(SECRETS).map(([what, value]) => ({ what, value })),
      ...evidence.jwts.map((value: string) => ({ what: 'Entra token', value })),
      ...evidence.vaultTokens.map((value: string) => ({ what: 'Vault token', value })),
    ]);
    assert.deepEqual(leaks, [], 'no secret, token or JWT outside setsecret/setvariable');
    assert.doesNotMatch(tr.stdout, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');
    return { tr, vars: publishedSecrets(tr.stdout), evidence };
  } finally {
    delete process.env.L0_SCENARIO;
    delete process.env.L0_SETUP;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('L0: VaultAzureLogin task', function () {
  this.timeout(60000);

  it('publishes KV v2, KV v1, *, . and database creds as secret variables, masking every value', async () => {
    const { tr, vars, evidence } = await runTask({
      inputs: {
        ...base,
        secrets: [
          'secret/ci/production/db password | DB_PASSWORD',
          'secret/ci/production/db@1 password | DB_PASSWORD_OLD',
          'secret/ci/production/api * | API_',
          'secret/ci/production/api . | API_JSON',
          'secret/ci/production/tls key | TLS_KEY; secret/ci/production/tls "key with spaces"',
          'kv1/app/legacy token | LEGACY',
          'database/creds/ci *   | PG_',
        ].join('\n'),
      },
    });
    assert.ok(tr.succeeded, tr.stdout);
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.equal(vars.get('DB_PASSWORD_OLD'), SECRETS.oldPassword);
    assert.equal(vars.get('API_TOKEN'), SECRETS.apiToken);
    assert.equal(vars.get('API_PORT'), '8443');
    assert.deepEqual(JSON.parse(vars.get('API_JSON')!), { token: SECRETS.apiToken, url: SECRETS.apiUrl, port: 8443 });
    assert.equal(vars.get('TLS_KEY'), SECRETS.pem);
    assert.equal(vars.get('KEY_WITH_SPACES'), SECRETS.spaced);
    assert.equal(vars.get('LEGACY'), SECRETS.legacyToken);
    assert.match(vars.get('PG_USERNAME') ?? '', /^v-/);
    assert.ok(vars.get('PG_PASSWORD'));
    const m = masks(tr.stdout);
    for (const line of SECRETS.pem.split('\n')) assert.ok(m.has(line), `PEM line masked: ${line.slice(0, 12)}`);
    assert.ok(m.has(evidence.jwts[0]), 'the Entra token is masked');
    assert.ok(
      evidence.vaultTokens.every((t) => m.has(t)),
      'the Vault token is masked',
    );
    assert.match(tr.stdout, /secret\/ci\/production\/db password → DB_PASSWORD/);
    assert.match(tr.stdout, /Entra access token: aud=https:\/\/management.azure.com\/ iss=https:\/\/sts.windows.net\//);
    assert.match(tr.stdout, /Logged in to Vault: policies \[ci-read, default\], token type service, TTL 900s/);
    assert.equal(evidence.requests.filter((r) => r.includes('sys/internal/ui/mounts')).length, 3, 'one lookup per mount');
    assert.equal(evidence.disposed, 1, "arm-rest's certificate file is removed once the token is in hand");
  });

  it('takes the address from the VAULT_ADDR variable when the input is empty', async () => {
    const { tr, vars } = await runTask({
      inputs: { ...base, vaultAddress: '', secrets: 'secret/ci/production/db password' },
      variables: { VAULT_ADDR: '$VAULT' },
    });
    assert.ok(tr.succeeded, tr.stdout);
    assert.equal(vars.get('PASSWORD'), SECRETS.dbPassword);
  });

  const failures: Array<[string, Omit<Scenario, 'evidenceFile'>, RegExp[]]> = [
    [
      'no address anywhere',
      { inputs: { ...base, vaultAddress: '', secrets: 'secret/ci/production/db password' } },
      [/No Vault address: set 'vaultConnection' .* or 'vaultAddress'/],
    ],
    [
      'unknown service connection',
      { unknownConnection: true, inputs: { ...base, secrets: 'secret/ci/production/db password' } },
      [/service connection 'sc-vault-prod' is not available/],
    ],
    [
      'every input problem at once',
      {
        inputs: {
          vaultAddress: 'ftp://vault',
          authMount: 'auth/ado',
          role: '',
          resource: 'api://vault/.default',
          secrets: 'secret/x@v k\nsecret/y',
        },
      },
      [
        /'ftp:\/\/vault' \(from input 'vaultAddress'\) is not a valid/,
        /without 'auth\/'/,
        /Input 'role' is required/,
        /without '\/.default'/,
        /secrets line 1/,
        /secrets line 2/,
      ],
    ],
    [
      'unknown role',
      { inputs: { ...base, role: 'nope', secrets: 'secret/ci/production/db password' } },
      [/no role 'nope' on the azure auth mount 'auth\/ado'/],
    ],
    [
      'audience differs from the mount resource',
      { vault: { resource: 'https://management.azure.com' }, inputs: { ...base, secrets: 'secret/ci/production/db password' } },
      [
        /token has aud "https:\/\/management.azure.com\/" but auth\/ado expects "https:\/\/management.azure.com"/,
        /set the task input 'resource' to "https:\/\/management.azure.com"/,
      ],
    ],
    [
      'service principal not bound',
      { vault: { boundOids: ['00000000-0000-0000-0000-000000000000'] }, inputs: { ...base, secrets: 'secret/ci/production/db password' } },
      [
        /object id 4f8c1a7e-2b0d-4c53-9a61-0e9d7b3c5a12 is not allowed by role 'azure-devops-production'/,
        /bound_service_principal_ids=4f8c1a7e/,
      ],
    ],
    [
      'wrong auth mount',
      { inputs: { ...base, authMount: 'azure', secrets: 'secret/ci/production/db password' } },
      [/No azure auth method answers at auth\/azure/],
    ],
    ['sealed Vault', { vault: { sealed: true }, inputs: { ...base, secrets: 'secret/ci/production/db password' } }, [/is sealed/]],
    [
      'Vault not reachable',
      { vault: { down: true }, inputs: { ...base, secrets: 'secret/ci/production/db password' } },
      [/Cannot reach Vault at http:\/\/127.0.0.1:9 \(ECONNREFUSED\)/],
    ],
    [
      'Entra refuses the federated credential',
      {
        token: {
          error:
            'Could not fetch access token for Azure. Status code: invalid_client, status message: AADSTS70021: No matching federated identity record found for presented assertion.',
        },
        inputs: { ...base, secrets: 'secret/ci/production/db password' },
      },
      [/Could not get an Entra access token from service connection 'sc-vault-prod'/, /AADSTS70021 means/],
    ],
    [
      'one bad read fails the whole step and lists every failure',
      {
        inputs: {
          ...base,
          secrets:
            'secret/ci/production/db password\nsecret/ci/production/db nokey | X\nsecret/other/team password | OTHER\nsecret/ci/missing k | M\nkv1/app/legacy@2 token | L2',
        },
      },
      [
        /4 secret request\(s\) failed; no variables were published/,
        /key 'nokey' not found/,
        /path "secret\/data\/other\/team" \{ capabilities = \["read"\] \}/,
        /no secret at secret\/ci\/missing/,
        /'@2' needs a KV version 2 mount, but kv1\/ is KV version 1/,
      ],
    ],
  ];
  for (const [name, sc, patterns] of failures) {
    it(`fails clearly and publishes nothing: ${name}`, async () => {
      const { tr, vars } = await runTask(sc);
      assert.equal(tr.succeeded, false, 'the task failed');
      const text = tr.errorIssues.join('\n');
      for (const p of patterns) assert.match(text, p);
      assert.equal(vars.size, 0, 'no variable published');
      assert.doesNotMatch(text, /is not a function|undefined/, 'no internal error text');
    });
  }

  describe('post-job step', () => {
    it('revokes the lease, then the token, and removes the secret file', async () => {
      const { tr, evidence } = await runTask({ inputs: { ...base, secrets: '' }, post: { lease: true, file: true } });
      assert.ok(tr.succeeded, tr.stdout);
      assert.deepEqual(evidence.post, { tokenRevoked: true, leaseRevoked: true, fileLeft: false });
      assert.equal(tr.warningIssues.length, 0);
      assert.match(tr.stdout, /Revoked lease database\/creds\/ci\//);
      assert.ok(evidence.requests.indexOf('PUT sys/leases/revoke') < evidence.requests.indexOf('POST auth/token/revoke-self'));
    });

    it('leaves a batch token alone and says why', async () => {
      const { tr, evidence } = await runTask({ inputs: { ...base, secrets: '' }, post: { tokenType: 'batch' } });
      assert.ok(tr.succeeded);
      assert.equal(evidence.post?.tokenRevoked, false);
      assert.ok(!evidence.requests.includes('POST auth/token/revoke-self'));
      assert.match(tr.stdout, /batch token, which cannot be revoked/);
    });

    it('succeeds with a warning when Vault cannot be reached', async () => {
      const { tr, evidence } = await runTask({ inputs: { ...base, secrets: '' }, vault: { down: true }, post: {} });
      assert.ok(tr.succeeded, 'a post-job step never fails the job');
      assert.equal(evidence.post?.tokenRevoked, false);
      assert.match(
        tr.warningIssues.join('\n'),
        /Could not revoke the Vault token: Cannot reach Vault at http:\/\/127.0.0.1:9 \(ECONNREFUSED\)/,
      );
    });
  });
});
