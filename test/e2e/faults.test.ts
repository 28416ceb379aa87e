// Faults the task must survive, or report clearly: transient Vault answers and dropped
// connections are retried with Vault's backoff, slow answers time out, permanent login errors are
// never retried, and a transient Entra failure is retried by arm-rest.
import * as assert from 'node:assert/strict';
import { checkRun } from '../helpers/checkRun';
import { AUTH_MOUNT, ROLE, SECRETS } from '../emulators/seed';
import { startWorld, VAULT_ADDRESS, World } from '../emulators/world';

describe('e2e: fault injection', function () {
  this.timeout(120_000);
  let world: World;

  before(async () => {
    world = await startWorld();
  });
  after(async () => world?.stop());
  afterEach(() => world.vault.clearFaults());

  const inputs = (extra: Record<string, string> = {}) => ({
    vaultAddress: VAULT_ADDRESS,
    authMount: AUTH_MOUNT,
    role: ROLE,
    secrets: 'secret/ci/production/db password | DB_PASSWORD',
    ...extra,
  });
  const count = (path: string, since: number) => world.vault.requests.slice(since).filter((r) => r.path === path).length;
  const retryLines = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('Request '));

  const transient: Array<[string, Parameters<World['vault']['inject']>[0], string, RegExp]> = [
    [
      '503 twice, then 200',
      { path: 'secret/data/ci/production/db', status: 503, body: { errors: ['Vault is sealed'] }, times: 2 },
      'secret/data/ci/production/db',
      /GET secret\/data\/ci\/production\/db failed on attempt 1 of 3 \(HTTP 503: Vault is sealed\); retrying in 1\.\d s/,
    ],
    [
      '429 on login',
      { path: 'auth/ado/login', status: 429, body: { errors: ['rate limit quota exceeded'] } },
      'auth/ado/login',
      /POST auth\/ado\/login failed on attempt 1 of 3 \(HTTP 429: rate limit quota exceeded\)/,
    ],
    [
      '412 on the mount lookup',
      { path: 'sys/internal/ui/mounts/secret/ci/production/db', status: 412, body: { errors: ['required index state not present'] } },
      'sys/internal/ui/mounts/secret/ci/production/db',
      /failed on attempt 1 of 3 \(HTTP 412/,
    ],
    [
      'a reset stream',
      { path: 'secret/data/ci/production/db', reset: true },
      'secret/data/ci/production/db',
      /failed on attempt 1 of 3 \(ERR_HTTP2_STREAM_ERROR\)/,
    ],
    [
      'a dropped connection',
      { path: 'secret/data/ci/production/db', drop: true },
      'secret/data/ci/production/db',
      /failed on attempt 1 of 3 \(\w+\)/,
    ],
  ];
  for (const [title, fault, path, logged] of transient) {
    it(`retries ${title} and succeeds`, async () => {
      world.vault.inject(fault);
      const since = world.vault.requests.length;
      const run = await world.runTask({ connection: world.ids.wif, inputs: inputs({ retries: '2' }) });
      const { vars } = checkRun(world, run, true);
      assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
      assert.equal(count(path, since), (fault.times ?? 1) + 1, 'one request per failure plus the one that worked');
      assert.match(retryLines(run.stdout).join('\n'), logged);
    });
  }

  it('gives up after the configured retries with the last cause', async () => {
    world.vault.inject({ path: 'secret/data/ci/production/db', status: 502, body: { errors: ['bad gateway'] }, times: 5 });
    const since = world.vault.requests.length;
    const run = await world.runTask({ connection: world.ids.wif, inputs: inputs({ retries: '1' }) });
    const { errors, vars } = checkRun(world, run, false);
    assert.equal(count('secret/data/ci/production/db', since), 2);
    assert.match(errors, /secret\/ci\/production\/db password: Vault answered HTTP 502: bad gateway/);
    assert.equal(vars.size, 0);
  });

  it('times out a slow answer, and retries it', async () => {
    world.vault.inject({ path: 'secret/data/ci/production/db', delayMs: 2500, times: 1 });
    const failed = await world.runTask({ connection: world.ids.wif, inputs: inputs({ retries: '0', timeoutSeconds: '1' }) });
    assert.match(
      checkRun(world, failed, false).errors,
      /Vault at https:\/\/vault.example.com:8200 did not answer within 1 seconds \(on secret\/data\/ci\/production\/db\)/,
    );

    world.vault.inject({ path: 'secret/data/ci/production/db', delayMs: 2500, times: 1 });
    const retried = await world.runTask({ connection: world.ids.wif, inputs: inputs({ retries: '1', timeoutSeconds: '1' }) });
    assert.equal(checkRun(world, retried, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.match(retryLines(retried.stdout).join('\n'), /ETIMEDOUT/);
  });

  it('never retries the permanent azure login errors', async () => {
    const since = world.vault.requests.length;
    const run = await world.runTask({ connection: world.ids.unbound, inputs: inputs({ retries: '2' }) });
    assert.match(checkRun(world, run, false).errors, /is not allowed by role/);
    assert.equal(count('auth/ado/login', since), 1);
    assert.deepEqual(retryLines(run.stdout), []);
  });

  it('reports a sealed Vault after its retries', async () => {
    await world.vault.seal();
    try {
      const run = await world.runTask({ connection: world.ids.wif, inputs: inputs({ retries: '1' }) });
      assert.match(checkRun(world, run, false).errors, /is sealed/);
      assert.equal(retryLines(run.stdout).length, 1);
    } finally {
      await world.vault.unseal();
    }
  });

  it('gets through a transient Entra failure with a fresh token request', async function () {
    // MSAL replays a 5xx to arm-rest's own retries (about 14 s); the task's next attempt builds a new client.
    this.timeout(90_000);
    world.entra.failNext(503, 1, { match: /oauth2\/v2\.0\/token/ });
    const since = world.entra.requests.length;
    const run = await world.runTask({ connection: world.ids.wif, inputs: inputs({ retries: '1' }) });
    assert.equal(checkRun(world, run, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    const statuses = world.entra.requests
      .slice(since)
      .filter((r) => /oauth2\/v2\.0\/token/.test(r.path))
      .map((r) => r.status);
    assert.deepEqual(statuses, [503, 200]);
    assert.match(retryLines(run.stdout).join('\n'), /Request for an Entra token failed on attempt 1 of 2 \(.*AADSTS90033/);
  });
});
