// The post-job step with the bundled task: it talks only to the Vault the main step saved, as the
// main step reached it. A later step that points VAULT_ADDR or an input at another server, deletes
// or changes the TLS files, or runs without the agent's proxy neither receives the token nor stops
// its revocation; without the saved Vault the step revokes nothing rather than guess; against a
// Vault that never answers it ends at its deadline with one warning.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VAULT_HOST } from '../emulators/hosts';
import { Ca, ClientCert, createCa, selfSignedClientCert } from '../emulators/pki';
import { ForwardProxy } from '../emulators/proxy';
import { AUTH_MOUNT, ROLE } from '../emulators/seed';
import { RunOptions, startWorld, startOtherVault, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import type { VaultFront } from '../server/vaultFront';
import { checkRun } from '../helpers/checkRun';
import { taskVariablesFrom, vsoCommands } from '../helpers/output';

/** A second Vault the agent trusts as much as the real one: where a later step may point the variables. */
const OTHER_VAULT = `https://${VAULT_HOST}:8221`;
/** A Vault with a private CA that requires a client certificate. */
const PRIVATE_VAULT = `https://${VAULT_HOST}:8222`;
const PROXY_IP = '127.0.0.6';

describe('e2e: post-job step', function () {
  this.timeout(120_000);
  let world: World;
  let otherVault: VaultFront;
  let privateVault: VaultFront;
  let privateCa: Ca;
  let clientCert: ClientCert;
  let proxy: ForwardProxy;
  let proxyUrl: string;
  let dir: string;
  const file = (name: string) => join(dir, name);

  before(async () => {
    world = await startWorld({ database: true });
    dir = mkdtempSync(join(tmpdir(), 'val-postjob-'));
    privateCa = await createCa('Private Vault CA');
    clientCert = await selfSignedClientCert('pipeline-agent');
    const otherTls = await world.ca.issue([VAULT_HOST]);
    otherVault = await startOtherVault(
      world,
      Number(new URL(OTHER_VAULT).port),
      { tls: { cert: otherTls.certPem, key: otherTls.keyPem } },
      { database: true },
    );
    const privateTls = await privateCa.issue([VAULT_HOST]);
    privateVault = await startOtherVault(
      world,
      Number(new URL(PRIVATE_VAULT).port),
      {
        tls: { cert: privateTls.certPem, key: privateTls.keyPem, ca: clientCert.certPem, requestClientCert: true },
      },
      { database: true },
    );
    writeFileSync(file('private-ca.crt'), privateCa.certPem);
    writeFileSync(file('client.crt'), clientCert.certPem);
    writeFileSync(file('client.key'), clientCert.keyPem);
    proxy = new ForwardProxy();
    proxyUrl = await proxy.start(0, PROXY_IP);
  });
  after(async () => {
    await Promise.all([otherVault?.stop(), privateVault?.stop(), proxy?.stop()]);
    await privateCa?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await world?.stop();
  });

  // One lease and one KV read, so the step revokes a lease and the token.
  const base = {
    authMount: AUTH_MOUNT,
    role: ROLE,
    retries: '0',
    secrets: 'database/creds/ci * | PG_\nsecret/ci/production/db password | DB_PASSWORD',
  };
  const privateTls = () => ({
    vaultAddress: PRIVATE_VAULT,
    caCertificate: file('private-ca.crt'),
    clientCertificate: file('client.crt'),
    clientKey: file('client.key'),
  });
  const noLeak = () => ({ extraSecrets: [{ what: 'the client key', value: clientCert.keyPem }] });

  interface Case {
    name: string;
    /** The Vault the main step logs in to. */
    vault: () => VaultFront;
    main: () => Pick<RunOptions, 'inputs' | 'variables'>;
    /** What a later step changed: the inputs and variables the post-job step is started with. */
    post: () => Pick<RunOptions, 'inputs' | 'variables'>;
    also?: (main: TaskRun, post: TaskRun, proxyLogBefore: number) => void;
  }

  const cases: Case[] = [
    {
      name: 'VAULT_ADDR (vaultAddress empty) was pointed at another Vault',
      vault: () => world.vault,
      main: () => ({ inputs: { ...base, vaultAddress: '' }, variables: { VAULT_ADDR: VAULT_ADDRESS } }),
      post: () => ({ inputs: { ...base, vaultAddress: '' }, variables: { VAULT_ADDR: OTHER_VAULT } }),
    },
    {
      name: 'the vaultAddress input was pointed at another Vault',
      vault: () => world.vault,
      main: () => ({ inputs: { ...base, vaultAddress: VAULT_ADDRESS } }),
      post: () => ({ inputs: { ...base, vaultAddress: OTHER_VAULT } }),
    },
    {
      name: 'the caCertificate, clientCertificate and clientKey files were deleted',
      vault: () => privateVault,
      main: () => ({ inputs: { ...base, ...privateTls() } }),
      post: () => ({
        inputs: {
          ...base,
          ...privateTls(),
          caCertificate: file('gone-ca.crt'),
          clientCertificate: file('gone.crt'),
          clientKey: file('gone.key'),
        },
      }),
      also: (main) => {
        const saved = vsoCommands(main.stdout).filter(
          (c) => c.command === 'task.settaskvariable' && c.properties.variable === 'VaultAzureLogin.VaultSecrets',
        );
        assert.deepEqual(
          saved.map((c) => c.properties.issecret),
          ['true'],
          'the client key is saved as a secret task variable',
        );
      },
    },
    {
      name: 'caCertificate names another CA and the client certificate inputs are empty',
      vault: () => privateVault,
      main: () => ({ inputs: { ...base, ...privateTls() } }),
      post: () => ({
        inputs: { ...base, vaultAddress: PRIVATE_VAULT, caCertificate: world.ca.certPem, clientCertificate: '', clientKey: '' },
      }),
    },
    {
      name: "the agent's proxy setting is gone",
      vault: () => world.vault,
      main: () => ({ inputs: { ...base, vaultAddress: VAULT_ADDRESS }, variables: { 'Agent.ProxyUrl': proxyUrl } }),
      post: () => ({ inputs: { ...base, vaultAddress: VAULT_ADDRESS } }),
      also: (_main, _post, proxyLogBefore) => {
        const tunnels = proxy.log
          .slice(proxyLogBefore)
          .filter((r) => r.method === 'CONNECT')
          .map((r) => r.target);
        assert.ok(
          tunnels.includes(`${VAULT_HOST}:8200`),
          `the post-job step went through the proxy the main step used: ${tunnels.join(', ')}`,
        );
      },
    },
  ];

  for (const c of cases) {
    it(`revokes at the Vault the token came from, as the main step reached it, when ${c.name}`, async () => {
      const vault = c.vault();
      const issued = new Set(vault.issuedTokens());
      const main = await world.runTask({ connection: world.ids.wif, ...c.main() });
      checkRun(world, main, true, noLeak());
      const token = vault.issuedTokens().find((t) => !issued.has(t))!;
      const leases = vault.leases(token);
      assert.equal(leases.length, 1);
      const otherBefore = otherVault.requests.length;
      const proxyLogBefore = proxy.log.length;

      const changed = c.post();
      const post = await world.runTask({
        connection: world.ids.wif,
        entry: 'post.js',
        tempDir: main.tempDir,
        inputs: changed.inputs,
        variables: { ...changed.variables, ...taskVariablesFrom(main.stdout) },
      });
      const { warnings } = checkRun(world, post, true, noLeak());
      assert.equal(otherVault.requests.length, otherBefore, 'the other Vault received no request');
      assert.equal((await vault.tokenInfo(token))?.revoked, true, 'the token was revoked');
      assert.equal(await vault.leaseRevoked(leases[0]), true, 'the lease was revoked');
      assert.deepEqual(warnings, []);
      assert.match(post.stdout, /Revoked the Vault token\./);
      c.also?.(main, post, proxyLogBefore);
    });
  }

  it('revokes nothing, and says why, when the main step saved no Vault (an older version), though VAULT_ADDR names one', async () => {
    const issued = new Set(world.vault.issuedTokens());
    const main = await world.runTask({ connection: world.ids.wif, inputs: { ...base, vaultAddress: VAULT_ADDRESS } });
    checkRun(world, main, true);
    const token = world.vault.issuedTokens().find((t) => !issued.has(t))!;
    const { VSTS_TASKVARIABLE_VAULTAZURELOGIN_VAULT: saved, ...olderState } = taskVariablesFrom(main.stdout);
    assert.ok(saved, 'the main step saved the Vault');
    const vaultBefore = world.vault.requests.length;
    const otherBefore = otherVault.requests.length;

    const post = await world.runTask({
      connection: world.ids.wif,
      entry: 'post.js',
      tempDir: main.tempDir,
      inputs: { ...base, vaultAddress: '' },
      variables: { VAULT_ADDR: OTHER_VAULT, ...olderState },
    });
    const { warnings } = checkRun(world, post, true);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /^Could not revoke the Vault token or leases: the main step left no usable record of the Vault it logged in to/,
    );
    assert.equal(otherVault.requests.length, otherBefore, 'no fallback to VAULT_ADDR');
    assert.equal(world.vault.requests.length, vaultBefore, 'and no guess');
    assert.equal((await world.vault.tokenInfo(token))?.revoked, false);
  });

  it('revokes the lease of a job cancelled while its other reads were still on their way', async () => {
    // The lease comes at once; the other secret's answer would take a minute.
    world.vault.inject({ path: 'secret/data/ci/production/db', delayMs: 60_000 });
    const issued = new Set(world.vault.issuedTokens());
    const inputs = {
      vaultAddress: VAULT_ADDRESS,
      authMount: AUTH_MOUNT,
      role: ROLE,
      retries: '0',
      secrets: 'database/creds/ci * | PG_\nsecret/ci/production/db password | DB_PASSWORD',
    };
    const main = await world.runTask({
      connection: world.ids.wif,
      inputs,
      cancelWhen: (out) => out.includes('variable=VaultAzureLogin.Leases;'),
    });
    assert.equal(
      vsoCommands(main.stdout).filter((c) => c.command === 'task.complete').length,
      0,
      'the job was cancelled before the step ended',
    );
    const token = world.vault.issuedTokens().find((t) => !issued.has(t))!;
    const leases = world.vault.leases(token);
    assert.equal(leases.length, 1);
    const post = await world.runTask({
      connection: world.ids.wif,
      inputs,
      entry: 'post.js',
      tempDir: main.tempDir,
      variables: taskVariablesFrom(main.stdout),
    });
    checkRun(world, post, true);
    assert.equal(await world.vault.leaseRevoked(leases[0]), true, 'the lease saved before the cancellation was revoked');
    assert.equal((await world.vault.tokenInfo(token))?.revoked, true);
    world.vault.clearFaults();
  });

  it('ends at its deadline when Vault never answers, naming the three leases and the token in one warning', async function () {
    // Far less than the Vault's delay below, and than revoking one item after another with retries.
    this.timeout(20_000);
    const v = world.vault;
    await v.mountDatabase('database', ['ci', 'ci2', 'ci3']);
    await v.writePolicy('db-three', [{ path: 'database/creds/+', capabilities: ['read'] }]);
    v.writeRole(AUTH_MOUNT, 'ci-three-leases', {
      bound_service_principal_ids: [world.ids.wif.objectId],
      token_policies: ['ci-read', 'db-three'],
      token_ttl: 900,
    });
    const opts: RunOptions = {
      connection: world.ids.wif,
      // Default retries (2): the retry policy still applies within the deadline.
      inputs: {
        authMount: AUTH_MOUNT,
        role: 'ci-three-leases',
        vaultAddress: VAULT_ADDRESS,
        timeoutSeconds: '2',
        secrets: 'database/creds/ci * | A_\ndatabase/creds/ci2 * | B_\ndatabase/creds/ci3 * | C_',
      },
    };
    const issued = new Set(v.issuedTokens());
    const main = await world.runTask(opts);
    checkRun(world, main, true);
    const token = v.issuedTokens().find((t) => !issued.has(t))!;
    const leaseIds = v.leases(token);
    assert.equal(leaseIds.length, 3);

    const since = v.requests.length;
    v.inject({ path: 'sys/leases/revoke', delayMs: 30_000, times: 100 });
    v.inject({ path: 'auth/token/revoke-self', delayMs: 30_000, times: 100 });
    let post: TaskRun;
    try {
      post = await world.runTask({ ...opts, entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) });
    } finally {
      v.clearFaults();
    }
    assert.equal(post.code, 0);
    const { warnings } = checkRun(world, post, true);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0],
      /^Stopped waiting for Vault after 4 s \(2 × timeoutSeconds\); the Vault token and these leases were not revoked: .*\. Each expires at the end of its TTL\.$/,
    );
    for (const id of leaseIds) assert.ok(warnings[0].includes(id), `the warning names ${id}`);
    const sent = v.requests.slice(since);
    const leaseRevokes = sent.filter((r) => r.path === 'sys/leases/revoke').length;
    const tokenRevokes = sent.filter((r) => r.path === 'auth/token/revoke-self').length;
    assert.ok(leaseRevokes >= 3 && leaseRevokes <= 9, `every lease tried, none more than 3 times (retries: 2): ${leaseRevokes}`);
    assert.ok(tokenRevokes >= 1 && tokenRevokes <= 3, `the token tried, no more than 3 times: ${tokenRevokes}`);
    assert.equal((await v.tokenInfo(token))?.revoked, false);
  });
});
