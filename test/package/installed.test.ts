// The task as an organization gets it: unpacked from the VSIX, copied to a folder with no
// node_modules on its path, and run as the agent runs it against the loopback emulators (inside
// the private network namespace: node scripts/netns.mjs ...). Both variants.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AUTH_MOUNT, ROLE, SECRETS, seedVault } from '../emulators/seed';
import { startWorld, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import { findLeaks, publishedSecrets, vsoCommands } from '../helpers/output';
import { packaged, Unpacked } from './vsix';

/** Every folder from `dir` up to the root: where Node would look for node_modules. */
function ancestors(dir: string): string[] {
  const out = [dir];
  while (dirname(out[out.length - 1]) !== out[out.length - 1]) out.push(dirname(out[out.length - 1]));
  return out;
}

function succeeded(world: World, run: TaskRun): Map<string, string> {
  const complete = vsoCommands(run.stdout).filter((c) => c.command === 'task.complete');
  assert.equal(complete.length, 1, 'exactly one task.complete');
  assert.equal(complete[0].properties.result, 'Succeeded', run.stdout + run.stderr);
  assert.equal(run.stderr, '', 'nothing on stderr');
  const vars = publishedSecrets(run.stdout);
  assert.deepEqual(findLeaks(run.stdout, world.secrets()), [], 'no secret or token outside setsecret/setvariable');
  return vars;
}

for (const variant of ['public', 'dev'] as const) {
  describe(`package: the ${variant} task run from its VSIX`, function () {
    this.timeout(180_000);
    let unpacked: Unpacked;
    let world: World;

    before(async () => {
      unpacked = await packaged(variant);
      const [task] = unpacked.vsoManifest.contributions.filter((c) => c.type === 'ms.vss-distributed-task.task');
      world = await startWorld({ taskSource: join(unpacked.dir, task.properties.name) });
    });
    after(async () => world?.stop());

    it('sits in a folder with no node_modules in it or above it', () => {
      for (const dir of ancestors(world.taskDir))
        assert.ok(!existsSync(join(dir, 'node_modules')), `${join(dir, 'node_modules')} does not exist`);
      for (const file of ['main.js', 'step.js']) {
        assert.equal(
          readFileSync(join(world.taskDir, file), 'utf8'),
          readFileSync(join(unpacked.dir, 'tasks', 'VaultAzureLoginV1', file), 'utf8'),
          file,
        );
      }
    });

    it('logs in with workload identity federation and publishes secrets (vaultAddress)', async () => {
      const run = await world.runTask({
        connection: world.ids.wif,
        inputs: {
          vaultAddress: VAULT_ADDRESS,
          authMount: AUTH_MOUNT,
          role: ROLE,
          retries: '0',
          secrets: 'secret/ci/production/db password | DB_PASSWORD',
        },
      });
      const vars = succeeded(world, run);
      assert.deepEqual([...vars.keys()], ['DB_PASSWORD']);
      assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    });

    it('reads server URL, namespace and CA certificate from a HashiCorp Vault service connection', async () => {
      // The connection's fields as the agent passes them: ENDPOINT_URL_<id> and, for each field of
      // the endpoint type in the VSIX, ENDPOINT_DATA_<id>_<FIELD>. (An upper-case id: test
      // variables reach the environment upper-cased.)
      const id = 'VAULTCONNECTION';
      const [type] = unpacked.vsoManifest.contributions.filter((c) => c.type === 'ms.vss-endpoint.service-endpoint-type');
      const fields = (type.properties.inputDescriptors as Array<{ id: string }>).map((d) => d.id);
      const data: Record<string, string> = { namespace: 'admin', caCertificate: readFileSync(world.ca.certPath, 'utf8') };
      assert.deepEqual(fields.sort(), Object.keys(data).sort(), 'the endpoint type has the fields this test fills');
      const variables: Record<string, string> = {
        [`ENDPOINT_URL_${id}`]: VAULT_ADDRESS,
        [`ENDPOINT_AUTH_SCHEME_${id}`]: 'None',
        [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ parameters: {}, scheme: 'None' }),
        ...Object.fromEntries(fields.map((f) => [`ENDPOINT_DATA_${id}_${f.toUpperCase()}`, data[f]])),
      };
      await seedVault(world.vault, { jwks: () => world.entra.jwks() as never, boundOids: [world.ids.msi.objectId], ns: 'admin' });
      const first = world.vault.requests.length;
      // A managed identity gets its token from IMDS over plain http, and the agent trusts no test
      // CA: only the connection's CA certificate lets the task trust Vault.
      const run = await world.runTask({
        connection: world.ids.msi,
        withoutCa: true,
        variables,
        inputs: {
          vaultConnection: id,
          authMount: AUTH_MOUNT,
          role: ROLE,
          retries: '0',
          secrets: 'secret/ci/production/db password | DB_PASSWORD',
        },
      });
      const vars = succeeded(world, run);
      assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
      const requests = world.vault.requests.slice(first);
      assert.ok(
        requests.some((r) => r.path === `auth/${AUTH_MOUNT}/login`),
        'the task logged in',
      );
      assert.deepEqual([...new Set(requests.map((r) => r.namespace))], ['admin'], 'every request in the connection’s namespace');
    });
  });
}
