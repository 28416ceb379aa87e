// The bundled task as the agent runs it: a child process with the agent's environment, through the
// whole chain (Azure DevOps OIDC → Entra → Vault over TLS), checked by the ##vso commands it prints.
import * as assert from 'node:assert/strict';
import { createCa } from '../emulators/pki';
import { AUTH_MOUNT, ROLE, SECRETS, seedVault, TENANT_ID } from '../emulators/seed';
import { startWorld, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import { VaultFront } from '../server/vaultFront';
import { checkRun } from '../helpers/checkRun';
import { masks, vsoCommands } from '../helpers/output';

describe('e2e: the bundled task through the whole chain', function () {
  this.timeout(120_000);
  let world: World;

  before(async () => {
    world = await startWorld({ database: true });
    // A second mount whose resource is a custom application id URI.
    world.vault.enableAzureAuth('ado-custom', {
      tenantId: TENANT_ID,
      resource: 'api://vault-prod',
      jwks: () => world.entra.jwks() as never,
    });
    world.vault.writeRole('ado-custom', ROLE, {
      bound_service_principal_ids: [world.ids.wif.objectId, world.ids.msi.objectId],
      token_policies: ['ci-read'],
      token_type: 'batch',
      token_ttl: 600,
    });
  });
  after(async () => world?.stop());

  // No retries unless a test is about them: each retry waits a second or more.
  const base = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, retries: '0' };

  const check = (run: TaskRun, ok: boolean) => checkRun(world, run, ok);

  it('workload identity federation: KV v2, @version, KV v1, *, ., custom names, multi-line and a database lease', async () => {
    const first = world.vault.requests.length;
    const run = await world.runTask({
      connection: world.ids.wif,
      // node-vault would pick these up from the environment; the task must not.
      variables: { VAULT_TOKEN: 'hvs.from-the-environment', VAULT_NAMESPACE: 'elsewhere', VAULT_PREFIX: '/nope' },
      inputs: {
        ...base,
        secrets: [
          '# production database',
          'secret/ci/production/db password | DB_PASSWORD',
          'secret/ci/production/db@1 password | DB_PASSWORD_PREVIOUS',
          'secret/ci/production/db db-user',
          'secret/ci/production/api *       | API_',
          'secret/ci/production/api .       | API_JSON',
          'secret/data/ci/production/tls key | TLS_KEY; kv1/app/legacy token | LEGACY_TOKEN',
          'database/creds/ci * | PG_',
        ].join('\n'),
      },
    });
    const { vars } = check(run, true);
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.equal(vars.get('DB_PASSWORD_PREVIOUS'), SECRETS.oldPassword);
    assert.equal(vars.get('DB_USER'), SECRETS.dbUser);
    assert.equal(vars.get('API_TOKEN'), SECRETS.apiToken);
    assert.equal(vars.get('API_URL'), SECRETS.apiUrl);
    assert.equal(vars.get('API_PORT'), '8443');
    assert.deepEqual(JSON.parse(vars.get('API_JSON')!), { token: SECRETS.apiToken, url: SECRETS.apiUrl, port: 8443 });
    assert.equal(vars.get('TLS_KEY'), SECRETS.pem);
    assert.equal(vars.get('LEGACY_TOKEN'), SECRETS.legacyToken);
    assert.match(vars.get('PG_USERNAME')!, /^v-/);
    assert.ok(vars.get('PG_PASSWORD')!.length >= 16);
    assert.equal(vars.size, 11);

    const m = masks(run.stdout);
    for (const line of SECRETS.pem.split('\n')) assert.ok(m.has(line), 'each PEM line is masked');
    assert.ok(
      world.entra.issuedTokens.some((t) => m.has(t)),
      'the Entra token is masked',
    );
    assert.ok(
      world.vault.issuedTokens().some((t) => m.has(t)),
      'the Vault token is masked',
    );
    const setvars = vsoCommands(run.stdout).filter((c) => c.command === 'task.setvariable');
    assert.ok(
      setvars.every((c) => c.properties.issecret === 'true'),
      'every variable is secret',
    );
    assert.ok(
      !setvars.some((c) => /SYSTEM_UNSAFEALLOWMULTILINESECRET/i.test(c.properties.variable)),
      'the multi-line flag never becomes a variable',
    );

    assert.match(
      run.stdout,
      new RegExp(
        `Entra access token: aud=https://management.azure.com/ iss=https://sts.windows.net/${TENANT_ID}/ tid=${TENANT_ID} oid=${world.ids.wif.objectId} appid=${world.ids.wif.clientId}`,
      ),
    );
    assert.match(run.stdout, /Logged in to Vault: policies \[ci-read, default\], token type service, TTL 900s, over HTTP\/2\./);
    assert.match(run.stdout, /secret\/ci\/production\/db password → DB_PASSWORD/);
    assert.match(run.stdout, /database\/creds\/ci username → PG_USERNAME/);
    const mine = world.vault.requests.slice(first);
    assert.equal(mine[0].path, 'auth/ado/login');
    assert.equal(mine[0].token, undefined, 'the login carries no token');
    assert.ok(
      mine.every((r) => r.namespace === '' && r.token !== 'hvs.from-the-environment'),
      'VAULT_* from the environment are ignored',
    );
    const lookups = mine.filter((r) => r.path.startsWith('sys/internal/ui/mounts/'));
    assert.equal(new Set(lookups.map((r) => r.path.split('/')[4])).size, lookups.length, 'one mount lookup per mount');
  });

  const schemes: Array<[string, keyof World['ids'], Record<string, string>?]> = [
    ['workload identity federation with an Entra-issued assertion', 'wifEntra'],
    ['service principal with a secret', 'spKey'],
    ['service principal with a certificate', 'spCert'],
    ['managed identity', 'msi'],
  ];
  for (const [title, who] of schemes) {
    it(`${title}: logs in and publishes`, async () => {
      const run = await world.runTask({
        connection: world.ids[who],
        inputs: { ...base, secrets: 'secret/ci/production/db password | DB_PASSWORD' },
      });
      const { vars } = check(run, true);
      assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
      assert.match(run.stdout, new RegExp(`oid=${world.ids[who].objectId}`));
    });
  }

  it('a custom resource reaches Entra exactly, for workload identity and managed identity alike', async () => {
    for (const who of [world.ids.wif, world.ids.msi]) {
      const run = await world.runTask({
        connection: who,
        inputs: { ...base, authMount: 'ado-custom', resource: 'api://vault-prod', secrets: 'secret/ci/production/api token' },
      });
      const { vars } = check(run, true);
      assert.equal(vars.get('TOKEN'), SECRETS.apiToken);
      assert.match(run.stdout, /aud=api:\/\/vault-prod /);
      assert.match(run.stdout, /token type batch/);
    }
  });

  it('asks Azure DevOps for the OIDC token at System.OidcRequestUri alone, and opens the connection to Entra meanwhile', async () => {
    const before = { azdo: world.azdo.requests.length, entra: world.entra.requests.length };
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, secrets: 'secret/ci/production/db password | DB_PASSWORD' },
    });
    check(run, true);
    // No location lookup (OPTIONS _apis/distributedtask) before it: the agent's variable names the URL.
    assert.deepEqual(
      world.azdo.requests
        .slice(before.azdo)
        .map((r) => `${r.method} ${r.path.replace(/^.*\/_apis\//, '_apis/').replace(/plans\/[^/]+\/jobs\/[^/]+/, 'plans/…/jobs/…')}`),
      ['POST _apis/distributedtask/hubs/build/plans/…/jobs/…/oidctoken'],
    );
    // The start-up entry opened the connection (test/e2e/startup.test.ts): arm-rest's exchange is
    // its first request, with no discovery request to open it.
    assert.deepEqual(
      world.entra.requests.slice(before.entra).map((r) => `${r.method} ${r.path}`),
      [`POST /${TENANT_ID}/oauth2/v2.0/token`],
    );
  });

  it('gets the OIDC token when Azure DevOps fails it once: the step asks again, as for any request safe to repeat, and still ends', async () => {
    const before = world.azdo.requests.length;
    world.azdo.failNext(503, 1, { match: /oidctoken$/ });
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, retries: '1', secrets: 'secret/ci/production/db password | DB_PASSWORD' },
    });
    const { vars } = check(run, true);
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    const calls = world.azdo.requests.slice(before);
    assert.deepEqual(
      calls.map((r) => `${r.method} ${r.status}`),
      ['POST 503', 'POST 200'],
    );
    assert.match(run.stdout, /failed on attempt 1 of 2 \(HTTP 503: .*\); retrying/);
  });

  it('names Azure DevOps and its answer when it refuses the OIDC token, without a retry', async () => {
    const before = world.azdo.requests.length;
    world.azdo.failNext(403, 1, { match: /oidctoken$/ });
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, retries: '2', secrets: 'secret/ci/production/db password | DB_PASSWORD' },
    });
    const { errors, vars } = check(run, false);
    assert.equal(vars.size, 0);
    assert.match(errors, new RegExp(`OIDC token of service connection '${world.ids.wif.connectionId}' .*403`));
    assert.equal(world.azdo.requests.slice(before).length, 1, 'asked once');
  });

  it('reads from a Vault Enterprise namespace with vaultNamespace', async () => {
    const oid = world.ids.wif.objectId;
    await seedVault(world.vault, { ns: 'admin/team', jwks: () => world.entra.jwks() as never, boundOids: [oid] });
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, vaultNamespace: '/admin/team/', secrets: 'secret/ci/production/api token | API_TOKEN' },
    });
    const { vars } = check(run, true);
    assert.equal(vars.get('API_TOKEN'), SECRETS.apiToken);
    assert.match(run.stdout, /with role 'azure-devops-production' in namespace 'admin\/team'/);
    const fromRun = world.vault.requests.slice(-3);
    assert.ok(
      fromRun.every((r) => r.namespace === 'admin/team'),
      'every request carries X-Vault-Namespace',
    );
  });

  it('refuses a Vault whose certificate comes from a CA the agent does not trust', async () => {
    const otherCa = await createCa('Some Other CA');
    const tls = await otherCa.issue(['vault.example.com']);
    const rogue = new VaultFront(world.vault.bao, { tls: { cert: tls.certPem, key: tls.keyPem } });
    await rogue.start(8202, '127.0.0.3');
    try {
      const run = await world.runTask({
        connection: world.ids.wif,
        // node-vault turns verification off for any non-empty VAULT_SKIP_VERIFY; the task does not.
        variables: { VAULT_SKIP_VERIFY: 'true' },
        inputs: { ...base, vaultAddress: 'https://vault.example.com:8202', secrets: 'secret/ci/production/db password' },
      });
      const { errors } = check(run, false);
      assert.match(
        errors,
        /The TLS certificate of https:\/\/vault.example.com:8202 is not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/,
      );
      assert.equal(rogue.requests.length, 0, 'the token never reached the untrusted server');
    } finally {
      await rogue.stop();
      await otherCa.dispose();
    }
  });

  it('leaves no certificate or key file behind in Agent.TempDirectory', async () => {
    const run = await world.runTask({ connection: world.ids.spCert, inputs: { ...base, secrets: 'secret/ci/production/db password' } });
    check(run, true);
    assert.ok(!run.tempFiles.includes('spnCert.pem'), `temp files: ${run.tempFiles.join(', ')}`);
  });

  type Options = Parameters<World['runTask']>[0];
  const failures: Array<[string, () => Options | Promise<Options>, RegExp[]]> = [
    [
      'audience differs from the mount resource',
      () => ({ connection: world.ids.wif, inputs: { ...base, authMount: 'ado-custom', secrets: 'secret/ci/production/db password' } }),
      [
        /token has aud "https:\/\/management.azure.com\/" but auth\/ado-custom expects "api:\/\/vault-prod"/,
        /set the task input 'resource' to "api:\/\/vault-prod"/,
      ],
    ],
    [
      'service principal not bound to the role',
      () => ({ connection: world.ids.unbound, inputs: { ...base, secrets: 'secret/ci/production/db password' } }),
      [
        new RegExp(`object id ${'[0-9a-f-]{36}'} is not allowed by role '${ROLE}'`),
        /vault write auth\/ado\/role\/azure-devops-production bound_service_principal_ids=/,
      ],
    ],
    [
      'unknown role',
      () => ({ connection: world.ids.wif, inputs: { ...base, role: 'ci-typo', secrets: 'secret/ci/production/db password' } }),
      [/no role 'ci-typo' on the azure auth mount 'auth\/ado'/],
    ],
    [
      'auth mount that does not exist',
      () => ({ connection: world.ids.wif, inputs: { ...base, authMount: 'azure', secrets: 'secret/ci/production/db password' } }),
      [/No azure auth method answers at auth\/azure/],
    ],
    [
      'policy without the path, a missing path, a missing key, @version on KV v1 — all listed together',
      () => ({
        connection: world.ids.wif,
        inputs: {
          ...base,
          secrets:
            'secret/ci/production/db password\nsecret/other/team password | OTHER\nsecret/ci/nothing k | N\nsecret/ci/production/db pin | PIN\nkv1/app/legacy@2 token | L',
        },
      }),
      [
        /4 secret request\(s\) failed; no variables were published/,
        /path "secret\/data\/other\/team" \{ capabilities = \["read"\] \}/,
        /no secret at secret\/ci\/nothing/,
        /key 'pin' not found at secret\/ci\/production\/db; its keys are: db-user, password/,
        /'@2' needs a KV version 2 mount/,
      ],
    ],
    [
      'Vault not listening',
      () => ({
        connection: world.ids.wif,
        inputs: { ...base, vaultAddress: 'https://vault.example.com:8201', secrets: 'secret/ci/production/db password' },
      }),
      [/Cannot reach Vault at https:\/\/vault.example.com:8201 \(ECONNREFUSED\)/],
    ],
    [
      'Vault certificate issued for another host name',
      () => ({
        connection: world.ids.wif,
        inputs: { ...base, vaultAddress: `https://127.0.0.3:8200`, secrets: 'secret/ci/production/db password' },
      }),
      [/The TLS certificate of https:\/\/127.0.0.3:8200 does not cover this host name/],
    ],
    [
      'sealed Vault',
      async () => {
        await world.vault.seal();
        return { connection: world.ids.wif, inputs: { ...base, secrets: 'secret/ci/production/db password' } };
      },
      [/Vault at https:\/\/vault.example.com:8200 is sealed/],
    ],
    [
      'bad input never reaches the network',
      () => ({ connection: world.ids.wif, inputs: { ...base, secrets: 'secret/ci/production/db password | endpoint_url' } }),
      [/secrets line 1: .*starts with "endpoint"/],
    ],
  ];
  for (const [title, options, patterns] of failures) {
    it(`fails with the cause and the fix, publishing nothing: ${title}`, async () => {
      const before = world.vault.requests.length;
      let run: TaskRun;
      try {
        run = await world.runTask(await options());
      } finally {
        await world.vault.unseal();
      }
      const { vars, errors } = check(run, false);
      for (const p of patterns) assert.match(errors, p);
      assert.equal(vars.size, 0, 'no variable published');
      if (/bad input/.test(title)) assert.equal(world.vault.requests.length, before, 'no request reached Vault');
    });
  }

  it('Entra refuses a federated credential whose subject does not match (AADSTS70021)', async function () {
    // arm-rest retries the token request for about 14 seconds before giving up.
    this.timeout(90_000);
    world.entra.addApp({
      tenantId: TENANT_ID,
      clientId: world.ids.unbound.clientId,
      objectId: world.ids.unbound.objectId,
      federated: [{ issuer: world.azdo.oidcIssuer(world.ids.unbound.connectionId), subject: 'sc://contoso/Platform/an-old-name' }],
    });
    try {
      const run = await world.runTask({ connection: world.ids.unbound, inputs: { ...base, secrets: 'secret/ci/production/db password' } });
      const { errors } = check(run, false);
      assert.match(errors, /Could not get an Entra access token from service connection/);
      assert.match(errors, /AADSTS70021 means Entra found no federated credential/);
    } finally {
      world.entra.addApp({
        tenantId: TENANT_ID,
        clientId: world.ids.unbound.clientId,
        objectId: world.ids.unbound.objectId,
        federated: [world.azdo.federatedCredential(world.ids.unbound.connectionId)],
      });
    }
  });
});
