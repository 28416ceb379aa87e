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

  const inputs = {
    vaultAddress: VAULT_ADDRESS,
    authMount: AUTH_MOUNT,
    role: ROLE,
    secrets: 'secret/ci/production/db password | DB_PASSWORD',
    timeoutSeconds: '2',
    retries: '1',
  };

  const entraToken = (_w: World, who: Identity) => [
    new RegExp(`The token request for service connection '${who.connectionId}' got no answer within 2 seconds, 2 time\\(s\\)`),
    /Request for an Entra token failed on attempt 1 of 2 \(no answer within 2 s\); retrying/,
  ];
  const silent: Array<[string, (w: World) => Identity, (w: World) => void, (w: World) => number, (w: World, who: Identity) => RegExp[]]> = [
    ['Entra (service principal)', (w) => w.ids.spKey, (w) => (w.entra.latencyMs = NEVER_MS), (w) => w.entra.requests.length, entraToken],
    [
      'Azure DevOps, the OIDC token (workload identity federation)',
      (w) => w.ids.wif,
      (w) => (w.azdo.latencyMs = NEVER_MS),
      (w) => w.azdo.requests.length,
      entraToken,
    ],
    [
      'IMDS (managed identity)',
      (w) => w.ids.msi,
      (w) => (w.imds.latencyMs = NEVER_MS),
      (w) => w.imds.requests.length,
      () => [
        /The Azure Instance Metadata Service at 169\.254\.169\.254 gave no answer within 2 s \(2 attempt\(s\)\)/,
        /Request for the managed identity token and instance metadata from IMDS failed on attempt 1 of 2 \(no answer within 2 s\); retrying/,
      ],
    ],
  ];
  for (const [what, who, silence, asked, expected] of silent) {
    it(`${what}: fails after timeoutSeconds per attempt, retried once, naming the cause; the process ends`, async () => {
      silence(world);
      const before = { asked: asked(world), vault: world.vault.requests.length };
      const run = await world.runTask({ connection: who(world), inputs });
      assert.notEqual(run.code, null, 'the process ended by itself');
      const { errors, vars } = checkRun(world, run, false);
      assert.equal(vars.size, 0);
      const [error, retry] = expected(world, who(world));
      assert.match(errors, error);
      assert.match(run.stdout, retry);
      assert.ok(asked(world) > before.asked, 'the request was made');
      assert.equal(world.vault.requests.length, before.vault, 'Vault was never asked');
    });
  }
});
