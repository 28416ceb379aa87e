// The bundled task against a Vault and an Entra that answer as an attacker would: every text they
// can send (key names, error texts, policy names, lease ids, token claims, Entra's error
// description) carries each form of agent-command injection. Read as the agent reads the output,
// no command appears that the task did not write as one, no variable is set that was not asked
// for, and the log shows what was sent, escaped.
import * as assert from 'node:assert/strict';
import { escapeOutside } from '../../tasks/VaultAzureLoginV1/src/core/logText';
import { AUTH_MOUNT, DEFAULT_RESOURCE, ROLE, TENANT_ID } from '../emulators/seed';
import { startWorld, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';
import { forgedCommands, taskVariablesFrom, vsoCommands } from '../helpers/output';

/** Each way to smuggle a command into a line, with the escaped text the log must show instead. */
const INJECTIONS: Array<{ form: string; text: string; shown: string }> = [
  {
    form: 'line feed',
    text: 'a\n##vso[task.setvariable variable=EVIL]pwned\n',
    shown: 'a\\n##vso\\[task.setvariable variable=EVIL]pwned\\n',
  },
  { form: 'carriage return', text: 'b\r##vso[task.prependpath]/opt/evil-bin', shown: 'b\\r##vso\\[task.prependpath]/opt/evil-bin' },
  { form: 'forged error line', text: 'c\r##[error]the deployment failed', shown: 'c\\r##\\[error]the deployment failed' },
  { form: 'ANSI escape', text: 'd\u001b[2K\u001b[1Gclean', shown: 'd\\u001b[2K\\u001b[1Gclean' },
];

/** Commands a run of this task may hold, and no others. */
const TASK_COMMANDS = new Set(['task.debug', 'task.setsecret', 'task.setvariable', 'task.settaskvariable', 'task.issue', 'task.complete']);

describe('e2e: hostile answers cannot command the agent', function () {
  this.timeout(120_000);
  let world: World;
  before(async () => {
    world = await startWorld();
    // The engine the hostile lease answers below come from (they never reach it: no connection needed).
    await world.vault.mount('database', 'database');
  });
  afterEach(() => {
    world.vault.clearFaults();
    world.entra.clearFaults();
  });
  after(async () => world?.stop());

  const base = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, retries: '0' };

  /** The checks of every run, plus: only the task's own commands, and no variable but `allowed`. */
  function checkHostile(run: TaskRun, ok: boolean, allowed: string[] = []): ReturnType<typeof checkRun> {
    const checked = checkRun(world, run, ok);
    assert.deepEqual(forgedCommands(run.stdout), []);
    const commands = vsoCommands(run.stdout);
    assert.deepEqual(
      commands.filter((c) => !TASK_COMMANDS.has(c.command)).map((c) => c.command),
      [],
    );
    const set = commands.filter((c) => c.command === 'task.setvariable').map((c) => c.properties.variable);
    assert.deepEqual(
      set.filter((v) => !allowed.includes(v)),
      [],
      'no variable but those asked for',
    );
    return checked;
  }

  for (const { form, text, shown } of INJECTIONS) {
    describe(form, () => {
      it('a key name read with * is refused, named escaped, and nothing is published', async () => {
        await world.vault.putSecret('secret/ci/hostile/keys', { [text]: 'value-of-the-odd-key', good: 'value-of-the-good-key' });
        const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, secrets: 'secret/ci/hostile/keys * | APP_' } });
        const { errors, vars } = checkHostile(run, false);
        assert.equal(vars.size, 0);
        assert.ok(errors.includes(`key ${shown} at secret/ci/hostile/keys holds control characters`), errors);
      });

      it("Vault's error text, in the retry line and in the failure", async () => {
        world.vault.inject({ path: 'secret/data/ci/production/db', status: 503, body: { errors: [text] }, times: 1 });
        world.vault.inject({ path: 'secret/data/ci/production/api', status: 400, body: { errors: [text] }, times: 1 });
        const run = await world.runTask({
          connection: world.ids.wif,
          inputs: {
            ...base,
            retries: '1',
            secrets: 'secret/ci/production/db password | DB_PASSWORD\nsecret/ci/production/api token | API_TOKEN',
          },
        });
        const { errors } = checkHostile(run, false);
        // The retry line folds white space (line breaks too) to single spaces, then escapes the rest.
        const folded = escapeOutside(text.replace(/\s+/g, ' ').trim());
        const retryLine = run.stdout.split('\n').find((l) => l.includes('GET secret/data/ci/production/db') && l.includes(folded));
        assert.ok(retryLine, `the retry line shows Vault's text escaped:\n${run.stdout}`);
        assert.ok(errors.includes(shown), errors);
      });

      it('policy names in the login line', async () => {
        world.vault.inject({
          method: 'POST',
          path: `auth/${AUTH_MOUNT}/login`,
          status: 200,
          body: {
            auth: {
              client_token: 'hvs.forged-by-a-hostile-vault',
              accessor: '',
              policies: ['default', text],
              token_policies: [text],
              lease_duration: 60,
              renewable: false,
              token_type: 'service',
            },
          },
        });
        const run = await world.runTask({
          connection: world.ids.wif,
          inputs: { ...base, secrets: 'secret/ci/production/db password | DB_PASSWORD' },
        });
        checkHostile(run, false);
        assert.ok(run.stdout.includes(`policies [default, ${shown}]`), run.stdout);
      });

      it('lease ids, in the state and the post-job lines', async () => {
        const leaseId = `database/creds/ci/${text}`;
        world.vault.inject({
          path: 'database/creds/ci',
          status: 200,
          body: {
            request_id: 'r',
            lease_id: leaseId,
            lease_duration: 60,
            renewable: true,
            data: { username: 'v-hostile-user', password: 'v-hostile-password' },
          },
        });
        const inputs = { ...base, secrets: 'database/creds/ci * | PG_' };
        const main = await world.runTask({ connection: world.ids.wif, inputs });
        checkHostile(main, true, ['PG_USERNAME', 'PG_PASSWORD']);
        const post = await world.runTask({
          connection: world.ids.wif,
          inputs,
          entry: 'post.js',
          tempDir: main.tempDir,
          variables: taskVariablesFrom(main.stdout),
        });
        checkHostile(post, true);
        assert.ok(post.stdout.includes(`database/creds/ci/${shown}`), post.stdout);
      });

      it('the claims of a token Entra hands out, in the claims line', async () => {
        const forged = world.entra.mintAccessToken({
          tenantId: TENANT_ID,
          objectId: `oid-${text}`,
          appId: world.ids.spKey.clientId,
          audience: DEFAULT_RESOURCE,
          extraClaims: { tid: `tid-${text}` },
        });
        world.entra.failNext(200, 1, {
          match: /oauth2\/(v2\.0\/)?token/,
          body: {
            token_type: 'Bearer',
            expires_in: '3599',
            ext_expires_in: '3599',
            expires_on: String(Math.floor(Date.now() / 1000) + 3599),
            resource: DEFAULT_RESOURCE,
            access_token: forged.token,
          },
        });
        const claims = await world.runTask({
          connection: world.ids.spKey,
          inputs: { ...base, secrets: 'secret/ci/production/db password | DB_PASSWORD' },
        });
        checkHostile(claims, false);
        assert.ok(claims.stdout.includes(`oid=oid-${shown}`), claims.stdout);
      });
    });
  }

  // The Azure library asks Entra again for about 14 s after a refusal: every form in one run.
  it("Entra's error description, every form at once", async () => {
    world.entra.failNext(400, 20, {
      match: /oauth2\/(v2\.0\/)?token/,
      body: {
        error: 'invalid_client',
        error_description: `AADSTS7000215: Invalid client secret provided. ${INJECTIONS.map((i) => i.text).join(' ')}`,
        error_codes: [7000215],
      },
    });
    const refused = await world.runTask({
      connection: world.ids.spKey,
      inputs: { ...base, secrets: 'secret/ci/production/db password | DB_PASSWORD' },
    });
    const { errors } = checkHostile(refused, false);
    for (const { shown } of INJECTIONS) assert.ok(errors.includes(shown), errors);
  });
});
