// The job lifecycle with the bundled task: main step, then the post-job step the agent runs
// always (with the task variables the main step set), plus files, exported token, output
// variables and skipped missing secrets.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkRun } from '../helpers/checkRun';
import { taskVariablesFrom, vsoCommands } from '../helpers/output';
import { AUTH_MOUNT, ROLE, SECRETS, seedVault, TENANT_ID } from '../emulators/seed';
import { VAULT_IP } from '../emulators/hosts';
import { RunOptions, startWorld, TaskRun, VAULT_ADDRESS, VAULT_PORT, World } from '../emulators/world';

describe('e2e: job lifecycle', function () {
  this.timeout(120_000);
  let world: World;

  before(async () => {
    world = await startWorld({ database: true });
    await seedVault(world.vault, { ns: 'admin', jwks: () => world.entra.jwks() as never, boundOids: [world.ids.wif.objectId] });
    world.vault.writeRole(AUTH_MOUNT, 'ci-batch', {
      bound_service_principal_ids: [world.ids.wif.objectId],
      token_policies: ['ci-read'],
      token_type: 'batch',
      token_ttl: 300,
    });
  });
  after(async () => world?.stop());

  const base = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, retries: '0' };

  /** Main step, then the post-job step in the same Agent.TempDirectory with the task variables it set. */
  async function job(opts: RunOptions): Promise<{ main: TaskRun; post: TaskRun; token?: string }> {
    const issued = new Set(world.vault.issuedTokens());
    const main = await world.runTask(opts);
    const post = await world.runTask({
      ...opts,
      entry: 'post.js',
      tempDir: main.tempDir,
      variables: { ...opts.variables, ...taskVariablesFrom(main.stdout) },
    });
    const token = world.vault.issuedTokens().find((t) => !issued.has(t));
    return { main, post, token };
  }

  it('revokes the lease and the token, and removes secret files, when the job ends', async () => {
    const opts: RunOptions = {
      connection: world.ids.wif,
      inputs: {
        ...base,
        secrets: 'database/creds/ci * | PG_\nsecret/ci/production/tls key | file:TLS_KEY\nsecret/ci/production/api . | file:API_JSON',
      },
    };
    const issued = new Set(world.vault.issuedTokens());
    const main = await world.runTask(opts);
    const token = world.vault.issuedTokens().find((t) => !issued.has(t))!;
    const { vars } = checkRun(world, main, true);
    const setvars = vsoCommands(main.stdout).filter((c) => c.command === 'task.setvariable');
    const keyPath = setvars.find((c) => c.properties.variable === 'TLS_KEY')!;
    assert.equal(keyPath.properties.issecret, 'false', 'a file path is not secret');
    assert.match(main.stdout, /^secret\/ci\/production\/tls key → TLS_KEY \(file path, not secret\)$/m);
    assert.ok(keyPath.message.startsWith(main.tempDir + path.sep), 'the file is under Agent.TempDirectory');
    assert.equal(fs.readFileSync(keyPath.message, 'utf8'), SECRETS.pem);
    assert.equal(fs.statSync(keyPath.message).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(keyPath.message)).mode & 0o777, 0o700);
    const apiJson = setvars.find((c) => c.properties.variable === 'API_JSON')!.message;
    assert.deepEqual(JSON.parse(fs.readFileSync(apiJson, 'utf8')), { token: SECRETS.apiToken, url: SECRETS.apiUrl, port: 8443 });
    assert.ok(vars.get('PG_PASSWORD'));
    const leases = world.vault.leases(token);
    assert.equal(leases.length, 1);
    assert.equal(await world.vault.leaseRevoked(leases[0]), false);

    const post = await world.runTask({ ...opts, entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) });
    assert.equal(await world.vault.leaseRevoked(leases[0]), true, 'the lease was revoked');
    assert.equal((await world.vault.tokenInfo(token))?.revoked, true, 'the token was revoked');
    assert.equal(fs.existsSync(keyPath.message), false, 'the file was removed');
    assert.equal(fs.existsSync(path.dirname(keyPath.message)), false, 'and its folder');

    const p = checkRun(world, post, true);
    assert.deepEqual(p.warnings, []);
    assert.match(post.stdout, /Revoked lease database\/creds\/ci\//);
    assert.match(post.stdout, /Revoked the Vault token\./);
    assert.match(post.stdout, /Removed secret file .*TLS_KEY/);
    assert.equal(
      vsoCommands(post.stdout).some((c) => c.command === 'task.debug' && c.message.includes(token!)),
      false,
      'the post step never prints the token, not even in debug',
    );
  });

  it('cleans up after a failed main step that had logged in', async () => {
    const { main, post, token } = await job({
      connection: world.ids.wif,
      inputs: { ...base, secrets: 'database/creds/ci * | PG_\nsecret/ci/missing k | M' },
    });
    checkRun(world, main, false);
    checkRun(world, post, true);
    assert.equal((await world.vault.tokenInfo(token!))?.revoked, true);
    const leases = world.vault.leases(token);
    assert.equal(leases.length, 1);
    assert.equal(await world.vault.leaseRevoked(leases[0]), true, 'the lease read before the failure is revoked');
  });

  it('has nothing to do when the main step failed before logging in', async () => {
    const { main, post } = await job({
      connection: world.ids.wif,
      inputs: { ...base, role: 'no-such-role', secrets: 'secret/ci/production/db password' },
    });
    checkRun(world, main, false);
    checkRun(world, post, true);
    assert.match(post.stdout, /Nothing to clean up/);
  });

  it('leaves a batch token to expire, and keeps a token when revokeToken is false', async () => {
    const batch = await job({
      connection: world.ids.wif,
      inputs: { ...base, role: 'ci-batch', secrets: 'secret/ci/production/db password' },
    });
    checkRun(world, batch.post, true);
    assert.match(batch.post.stdout, /batch token, which cannot be revoked/);
    assert.equal(
      world.vault.requests.some((r) => r.path === 'auth/token/revoke-self' && r.token === batch.token),
      false,
    );

    const kept = await job({
      connection: world.ids.wif,
      inputs: { ...base, revokeToken: 'false', secrets: 'secret/ci/production/db password' },
    });
    checkRun(world, kept.post, true);
    assert.equal((await world.vault.tokenInfo(kept.token!))?.revoked, false);
    assert.match(kept.post.stdout, /not revoked \(revokeToken: false\)/);
  });

  it('never fails the job when Vault is gone by the end: warns instead', async () => {
    const main = await world.runTask({ connection: world.ids.wif, inputs: { ...base, secrets: 'secret/ci/production/db password' } });
    checkRun(world, main, true);
    // The post-job step calls the Vault the main step used (see postJob.test.ts): that one is gone.
    await world.vault.stop();
    let post: TaskRun;
    try {
      post = await world.runTask({
        connection: world.ids.wif,
        entry: 'post.js',
        tempDir: main.tempDir,
        inputs: { ...base, secrets: 'secret/ci/production/db password' },
        variables: taskVariablesFrom(main.stdout),
      });
    } finally {
      await world.vault.start(VAULT_PORT, VAULT_IP);
    }
    const { warnings } = checkRun(world, post, true);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /Could not revoke the Vault token: Cannot reach Vault at https:\/\/vault.example.com:8200 \(ECONNREFUSED\).*expires at the end of its TTL/,
    );
  });

  it('exports VAULT_TOKEN, VAULT_ADDR and VAULT_NAMESPACE with exportToken, secrets input empty', async () => {
    const issued = new Set(world.vault.issuedTokens());
    const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, exportToken: 'true', secrets: '' } });
    const { vars } = checkRun(world, run, true);
    const token = world.vault.issuedTokens().find((t) => !issued.has(t));
    assert.equal(vars.get('VAULT_TOKEN'), token);
    const plain = vsoCommands(run.stdout).filter((c) => c.command === 'task.setvariable' && c.properties.issecret === 'false');
    assert.deepEqual(
      plain.map((c) => [c.properties.variable, c.message]),
      [['VAULT_ADDR', VAULT_ADDRESS]],
    );
    assert.match(run.stdout, /^exportToken → VAULT_ADDR \(not secret\)$/m, 'the address is a setting, not a file path');
    assert.equal(world.vault.requests.filter((r) => r.token === token).length, 0, 'login only, no reads');

    const inNamespace = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, vaultNamespace: 'admin', exportToken: 'true', secrets: 'secret/ci/production/db password' },
    });
    const ns = checkRun(world, inNamespace, true);
    assert.equal(ns.vars.get('PASSWORD'), SECRETS.dbPassword);
    const nsPlain = vsoCommands(inNamespace.stdout).filter((c) => c.command === 'task.setvariable' && c.properties.issecret === 'false');
    assert.deepEqual(
      nsPlain.map((c) => [c.properties.variable, c.message]),
      [
        ['VAULT_ADDR', VAULT_ADDRESS],
        ['VAULT_NAMESPACE', 'admin'],
      ],
    );
    assert.match(inNamespace.stdout, /^exportToken → VAULT_NAMESPACE \(not secret\)$/m);
    assert.doesNotMatch(inNamespace.stdout, /VAULT_(ADDR|NAMESPACE) \(file path/);
  });

  it('publishes output variables with isOutput', async () => {
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, isOutput: 'true', secrets: 'secret/ci/production/db password | DB_PASSWORD' },
    });
    checkRun(world, run, true);
    const set = vsoCommands(run.stdout).filter((c) => c.command === 'task.setvariable');
    assert.deepEqual(
      set.map((c) => [c.properties.variable, c.properties.isOutput, c.properties.issecret]),
      [['DB_PASSWORD', 'true', 'true']],
    );
  });

  it('skips missing paths and keys with a warning under ignoreNotFound, but still fails on a denied path', async () => {
    const lenient = { ...base, ignoreNotFound: 'true' };
    const ok = await world.runTask({
      connection: world.ids.wif,
      inputs: {
        ...lenient,
        secrets: 'secret/ci/production/db password | DB_PASSWORD\nsecret/ci/gone k | GONE\nsecret/ci/production/db pin | PIN',
      },
    });
    const checked = checkRun(world, ok, true);
    assert.equal(checked.vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.equal(checked.vars.size, 1);
    assert.equal(checked.warnings.length, 2);
    assert.match(checked.warnings.join('\n'), /Skipped \(ignoreNotFound\) secret\/ci\/gone k: no secret at secret\/ci\/gone/);
    assert.match(checked.warnings.join('\n'), /key 'pin' not found/);

    const denied = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...lenient, secrets: 'secret/ci/production/db password\nsecret/other/team password | OTHER' },
    });
    const d = checkRun(world, denied, false);
    assert.match(d.errors, /permission denied/);
    assert.equal(d.vars.size, 0);
  });

  it('logs in in authNamespace and reads in vaultNamespace (a parent token reading a child namespace)', async () => {
    const v = world.vault;
    await v.createNamespace('corp');
    await v.createNamespace('corp/team');
    v.enableAzureAuth(
      'ado',
      { tenantId: TENANT_ID, resource: 'https://management.azure.com/', jwks: () => world.entra.jwks() as never },
      'corp',
    );
    await v.writePolicy('team-read', [{ path: 'team/secret/data/ci/*', capabilities: ['read'] }], 'corp');
    v.writeRole('ado', 'ci', { bound_service_principal_ids: [world.ids.wif.objectId], token_policies: ['team-read'] }, 'corp');
    await v.mountKv('secret', 2, 'corp/team');
    await v.putSecret('secret/ci/x', { k: 'team-value' }, 'corp/team');
    const since = v.requests.length;
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, role: 'ci', authNamespace: 'corp', vaultNamespace: 'corp/team', secrets: 'secret/ci/x k | K' },
    });
    assert.equal(checkRun(world, run, true).vars.get('K'), 'team-value');
    assert.deepEqual(
      v.requests.slice(since).map((r) => `${r.path} @${r.namespace}`),
      ['auth/ado/login @corp', 'sys/internal/ui/mounts/secret/ci/x @corp/team', 'secret/data/ci/x @corp/team'],
    );
  });

  it('names the namespace when the auth mount is not found there', async () => {
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, vaultNamespace: 'nowhere', secrets: 'secret/ci/production/db password' },
    });
    const { errors } = checkRun(world, run, false);
    assert.match(errors, /No azure auth method answers at auth\/ado in namespace 'nowhere' \(HTTP 404: namespace not found\)/);
    assert.match(errors, /also check 'vaultNamespace'/);
  });
});
