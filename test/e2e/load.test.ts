// Load: one run reading 1000 paths, and 50 task runs at once against one Vault; every run
// succeeds and no run has more requests in flight than its concurrency bound.
import * as assert from 'node:assert/strict';
import { checkRun } from '../helpers/checkRun';
import { AUTH_MOUNT, ROLE } from '../emulators/seed';
import { startWorld, VAULT_ADDRESS, World } from '../emulators/world';

describe('e2e: load', function () {
  this.timeout(300_000);
  let world: World;

  before(async () => {
    world = await startWorld();
    for (let i = 0; i < 1000; i += 50)
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => world.vault.putSecret(`secret/ci/load/p${i + j}`, { value: `load-value-${i + j}` })),
      );
    // A little latency per request, so requests overlap as they do against a real server.
    world.vault.latencyMs = 5;
  });
  after(async () => world?.stop());

  const newTokens = (before: Set<string>) => world.vault.issuedTokens().filter((t) => !before.has(t));

  it('reads 1000 paths in one run, within the concurrency bound, one mount lookup', async () => {
    const before = new Set(world.vault.issuedTokens());
    const since = world.vault.requests.length;
    const secrets = Array.from({ length: 1000 }, (_, i) => `secret/ci/load/p${i} value | V${i}`).join('\n');
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, concurrency: '8', secrets },
    });
    const { vars } = checkRun(world, run, true);
    assert.equal(vars.size, 1000);
    assert.equal(vars.get('V999'), 'load-value-999');
    const [token] = newTokens(before);
    assert.equal(world.vault.maxInFlightByToken.get(token), 8, 'the bound is reached and never passed');
    assert.equal(world.vault.requests.slice(since).filter((r) => r.path.startsWith('sys/internal/ui/mounts/')).length, 1);
  });

  it('reads a path written as secret/data/… beside its mount lookup, one written as kv get takes it after the lookup', async () => {
    const inFlight: Record<string, number> = {};
    for (const path of ['secret/data/ci/load/p0', 'secret/ci/load/p0']) {
      const before = new Set(world.vault.issuedTokens());
      // The lookup's answer held back, so a read sent beside it is in flight with it.
      world.vault.inject({ path: /^sys\/internal\/ui\/mounts\//, delayMs: 300 });
      const run = await world.runTask({
        connection: world.ids.wif,
        inputs: { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, secrets: `${path} value | V0` },
      });
      const { vars } = checkRun(world, run, true);
      assert.equal(vars.get('V0'), 'load-value-0');
      const [token] = newTokens(before);
      inFlight[path] = world.vault.maxInFlightByToken.get(token)!;
    }
    assert.deepEqual(inFlight, { 'secret/data/ci/load/p0': 2, 'secret/ci/load/p0': 1 });
  });

  it('reads 200 paths written as secret/data/… with their lookup within one bound, and looks the mount up once', async () => {
    const before = new Set(world.vault.issuedTokens());
    const since = world.vault.requests.length;
    const secrets = Array.from({ length: 200 }, (_, i) => `secret/data/ci/load/p${i} value | V${i}`).join('\n');
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, concurrency: '8', secrets },
    });
    const { vars } = checkRun(world, run, true);
    assert.equal(vars.size, 200);
    assert.equal(vars.get('V199'), 'load-value-199');
    const [token] = newTokens(before);
    assert.equal(world.vault.maxInFlightByToken.get(token), 8, 'the bound is reached and never passed, the lookup counted');
    const sent = world.vault.requests.slice(since).filter((r) => r.token === token);
    assert.equal(sent.filter((r) => r.path.startsWith('sys/internal/ui/mounts/')).length, 1);
    assert.equal(sent.filter((r) => r.path.startsWith('secret/data/ci/load/')).length, 200, 'each path read once');
  });

  it('serves 50 task runs at once, each within its own bound', async () => {
    const before = new Set(world.vault.issuedTokens());
    const runs = await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        world.runTask({
          connection: world.ids.wif,
          inputs: {
            vaultAddress: VAULT_ADDRESS,
            authMount: AUTH_MOUNT,
            role: ROLE,
            concurrency: '3',
            secrets: Array.from({ length: 10 }, (_, i) => `secret/ci/load/p${n * 10 + i} value | V${i}`).join('\n'),
          },
        }),
      ),
    );
    runs.forEach((run, n) => {
      const { vars } = checkRun(world, run, true);
      assert.equal(vars.size, 10, `run ${n}`);
      assert.equal(vars.get('V0'), `load-value-${n * 10}`);
    });
    const tokens = newTokens(before);
    assert.equal(tokens.length, 50);
    for (const t of tokens) assert.ok((world.vault.maxInFlightByToken.get(t) ?? 0) <= 3, 'per-run bound');
  });
});
