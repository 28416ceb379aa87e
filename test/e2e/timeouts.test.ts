// Every wait of the bundled task is bounded by timeoutSeconds, also where the Azure library sets
// no limit of its own: Azure DevOps, Entra or IMDS that never answer end the step with the cause,
// after the attempts the retry policy allows, and the process does not stay behind.
import * as assert from 'node:assert/strict';
import { AUTH_MOUNT, ROLE } from '../emulators/seed';
import { Identity, startWorld, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';

/** Far longer than any bound under test: an answer that never comes within the test. */
const NEVER_MS = 600_000;

describe('e2e: a token request that never gets an answer', function () {
  this.timeout(120_000);
  let world: World;
  before(async () => {
    world = await startWorld();
  });
  afterEach(() => {
    world.setLatency(0);
    world.imds.latencyMs = 0;
  });
  after(async () => world?.stop());

  const inputs = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, secrets: 'secret/ci/production/db password | DB_PASSWORD', timeoutSeconds: '2', retries: '1' };

  const silent: Array<[string, (w: World) => Identity, (w: World) => void, (w: World) => number]> = [
    ['Entra (service principal)', (w) => w.ids.spKey, (w) => (w.entra.latencyMs = NEVER_MS), (w) => w.entra.requests.length],
    ['Azure DevOps, the OIDC token (workload identity federation)', (w) => w.ids.wif, (w) => (w.azdo.latencyMs = NEVER_MS), (w) => w.azdo.requests.length],
    ['IMDS (managed identity)', (w) => w.ids.msi, (w) => (w.imds.latencyMs = NEVER_MS), (w) => w.imds.requests.length],
  ];
  for (const [what, who, silence, asked] of silent) {
    it(`${what}: fails after timeoutSeconds per attempt, retried once, naming the cause; the process ends`, async () => {
      silence(world);
      const before = { asked: asked(world), vault: world.vault.requests.length };
      const run = await world.runTask({ connection: who(world), inputs });
      assert.notEqual(run.code, null, 'the process ended by itself');
      const { errors, vars } = checkRun(world, run, false);
      assert.equal(vars.size, 0);
      assert.match(errors, new RegExp(`The token request for service connection '${who(world).connectionId}' got no answer within 2 seconds, 2 time\\(s\\)`));
      assert.match(run.stdout, /Request for an Entra token failed on attempt 1 of 2 \(no answer within 2 s\); retrying/);
      assert.ok(asked(world) > before.asked, 'the request was made');
      assert.equal(world.vault.requests.length, before.vault, 'Vault was never asked');
    });
  }
});
