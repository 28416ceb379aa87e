// The approle login method against real OpenBao: role_id and secret_id from inputs fed by secret
// variables or from a HashiCorp Vault service connection, a response-wrapped secret_id checked
// (sys/wrapping/lookup) and unwrapped once, from the role's secret-id or custom-secret-id path, a
// custom secret_id shaped like a token logged in with after one lookup (OpenBao's audit log counts
// them), a spent wrapping token explained without speaking of theft, a wrapping token from another path refused, and
// OpenBao's refusals (a secret_id used up or expired, a wrong role_id, CIDR bindings) explained
// with the cause and the fix, which the test then applies as printed. The post-job step revokes the token an AppRole login got. The
// approle setup of docs/approle.md (blocks marked <!-- test:approle-recipe -->) runs as the page writes
// it, the orchestrator's step with a token of the policy the page gives it.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceEndpoint } from '../emulators/agentEnv';
import { SECRETS } from '../emulators/seed';
import { RunOptions, TaskRun } from '../emulators/world';
import { Checked } from '../helpers/checkRun';
import { masks, taskVariablesFrom } from '../helpers/output';
import { savedToken, ServerWorld, startServerWorld } from './fixture';
import { OPENBAO_ADDRESS } from './openbao';
import { docsPage, policyBlock, recipeBlocks, runShell, taskInputs } from './pageRecipe';

const MOUNT = 'approle-ci';
const SECRETS_LINE = 'secret/ci/production/db password | DB_PASSWORD';
/** A HashiCorp Vault service connection's id (upper case: the agent's environment names are). */
const CONNECTION = 'VAULTAPPROLE';

describe('server: approle login against OpenBao', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  const roleIds: Record<string, string> = {};

  /** A role of the mount; every token it gives has the seed's ci-read policy. */
  async function role(name: string, settings: Record<string, unknown> = {}): Promise<void> {
    const a = await s.bao.api('POST', `auth/${MOUNT}/role/${name}`, { token_policies: ['ci-read'], token_ttl: '10m', ...settings });
    assert.ok(a.status < 300, JSON.stringify(a.body));
    roleIds[name] = (await s.bao.api('GET', `auth/${MOUNT}/role/${name}/role-id`)).body.data.role_id;
  }

  async function secretId(name: string, body: Record<string, unknown> = {}): Promise<string> {
    const a = await s.bao.api('POST', `auth/${MOUNT}/role/${name}/secret-id`, body);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    return a.body.data.secret_id;
  }

  /** A wrapping token, as `bao write -wrap-ttl=… ` gives it to an orchestrator. */
  async function wrapped(args: string[]): Promise<string> {
    const r = await s.bao.cli(['write', '-wrap-ttl=300s', '-field=wrapping_token', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  }

  before(async () => {
    s = await startServerWorld();
    assert.ok((await s.bao.api('POST', `sys/auth/${MOUNT}`, { type: 'approle' })).status < 300);
    await role('ci');
    await role('ci-once', { secret_id_num_uses: 1 });
    await role('ci-other');
    await role('ci-cidr', { secret_id_bound_cidrs: ['10.20.0.0/16'] });
    await role('ci-token-cidr', { token_bound_cidrs: ['10.20.0.0/16'] });
  });
  after(async () => s?.stop());

  interface Job extends Partial<RunOptions> {
    /** Values the agent masks (inputs from secret variables, the connection's fields): never outside debug lines. */
    masked?: string[];
  }

  /** The main step with approle inputs on top of the fixture's; checked with every mask the run set as a secret. */
  async function main(inputs: Record<string, string>, job: Job = {}): Promise<{ run: TaskRun; checked: (ok: boolean) => Checked }> {
    const { masked = [], ...more } = job;
    const run = await s.run({ authMethod: 'approle', authMount: MOUNT, role: 'ci', secrets: SECRETS_LINE, ...inputs }, more);
    const checked = (ok: boolean) =>
      s.check(run, ok, {
        agentMasked: masked,
        // What the step masked itself, the unwrapped secret_id among them, shows nowhere else.
        extraSecrets: [...masks(run.stdout)]
          .filter((m) => !masked.includes(m))
          .map((value) => ({ what: 'a value the step masked', value })),
      });
    return { run, checked };
  }

  /** The inputs of a job whose role_id and secret_id arrive in secret variables, as the agent expands $(…) into inputs. */
  const fromVariables = (roleId: string, secret: string): [Record<string, string>, Job] => [
    { approleRoleId: roleId, approleSecretId: secret },
    { secretVariables: { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secret }, masked: [roleId, secret] },
  ];

  /**
   * Runs the `vault …` command a message prints as its fix, as a user pastes it (bash, `vault` being
   * the bao CLI, as root), with the placeholders it explains filled in; its answer as JSON.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON answer
  async function runFix(message: string, command: RegExp, fill: Record<string, string> = {}): Promise<any> {
    let text = command.exec(message)?.[0];
    assert.ok(text, `the message prints the fix ${command}: ${message}`);
    for (const [placeholder, value] of Object.entries(fill)) text = text.split(placeholder).join(value);
    assert.deepEqual(text.match(/<[A-Za-z][\w -]*>/g) ?? [], [], `no placeholder left in: ${text}`);
    const r = await runShell(s.bao, s.world.ca.certPath, text, tmpdir(), { BAO_FORMAT: 'json' });
    assert.equal(r.code, 0, `the printed fix failed on OpenBao:\n$ ${text}\n${r.output}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  }
  /** The printed `vault write … secret-id` fix, run: the wrapping token it makes. */
  const printedWrap = async (message: string) => {
    const answer = await runFix(message, /vault write (-f )?-wrap-ttl=1h auth\/[\w.-]+\/role\/[\w.-]+\/secret-id( \S+=\S+)?$/);
    return answer.wrap_info.token as string;
  };

  const connection = (parameters: Record<string, string>): ServiceEndpoint => ({
    id: CONNECTION,
    url: OPENBAO_ADDRESS,
    scheme: 'UsernamePassword',
    parameters,
    data: { namespace: '', caCertificate: '' },
  });

  it('logs in with role_id and secret_id from secret variables, reads and publishes, and the post-job step revokes the token', async () => {
    const [inputs, job] = fromVariables(roleIds.ci, await secretId('ci'));
    const { run, checked } = await main(inputs, job);
    const { vars } = checked(true);
    assert.deepEqual(Object.fromEntries(vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.match(run.stdout, /^Logging in with an AppRole: role_id from input 'approleRoleId', secret_id from input 'approleSecretId'\.$/m);
    assert.match(
      run.stdout,
      new RegExp(`^Logging in to ${OPENBAO_ADDRESS.replace(/\./g, '\\.')} at auth/${MOUNT}/login with role 'ci'\\.$`, 'm'),
    );
    assert.match(run.stdout, /^Logged in to Vault: policies \[ci-read, default\], token type service, TTL 600s, over HTTP\/2\.$/m);

    const token = savedToken(run);
    assert.ok(token);
    assert.equal((await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status, 200);
    const post = await s.run(
      { authMethod: 'approle' },
      { entry: 'post.js', tempDir: run.tempDir, variables: taskVariablesFrom(run.stdout) },
    );
    s.check(post, true);
    assert.match(post.stdout, /Revoked the Vault token\./);
    const later = await s.bao.api('GET', 'auth/token/lookup-self', undefined, token);
    assert.equal(later.status, 403, 'the token is revoked');
  });

  it('logs in with the role_id and secret_id of a HashiCorp Vault service connection (AppRole authentication)', async () => {
    const secret = await secretId('ci');
    const { run, checked } = await main(
      { vaultAddress: '', vaultConnection: CONNECTION },
      { endpoints: [connection({ username: roleIds.ci, password: secret })], masked: [roleIds.ci, secret] },
    );
    assert.deepEqual(Object.fromEntries(checked(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.match(
      run.stdout,
      new RegExp(`role_id from Vault service connection '${CONNECTION}', secret_id from Vault service connection '${CONNECTION}'\\.`),
    );
  });

  it('unwraps a response-wrapped secret_id once, after checking it was made at the role’s secret-id path, and masks it', async () => {
    const token = await wrapped(['-f', `auth/${MOUNT}/role/ci/secret-id`]);
    assert.match(token, /^s\./, 'an OpenBao wrapping token');
    // The role_id stays in the connection; the wrapping token comes for this run in a secret variable.
    const { run, checked } = await main(
      { vaultAddress: '', vaultConnection: CONNECTION, approleSecretId: token },
      {
        endpoints: [connection({ username: roleIds.ci, password: 'not-used' })],
        secretVariables: { VAULT_SECRET_ID: token },
        masked: [roleIds.ci, token],
      },
    );
    assert.deepEqual(Object.fromEntries(checked(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.match(
      run.stdout,
      /secret_id from input 'approleSecretId' \(shaped like a response-wrapping token: the step asks Vault whether it is one, checks where it was made and unwraps it once\)\./,
    );
    assert.match(
      run.stdout,
      new RegExp(
        `^Unwrapped the secret_id \\(masked\\) from a wrapping token made at auth/${MOUNT}/role/ci/secret-id on \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z with a wrap TTL of 300s; the secret_id's TTL: no limit, its uses: no limit\\.$`,
        'm',
      ),
    );
    // The unwrapped secret_id was masked before the line about it.
    const secretMask = [...masks(run.stdout)].find((m) => /^[0-9a-f-]{36}$/.test(m));
    assert.ok(secretMask, 'the unwrapped secret_id is masked');
    assert.ok(run.stdout.indexOf(`##vso[task.setsecret]${secretMask}`) < run.stdout.indexOf('Unwrapped the secret_id'));
    const again = await s.bao.api('POST', 'sys/wrapping/lookup', { token }, '');
    assert.deepEqual(
      [again.status, again.body],
      [400, { errors: ['wrapping token is not valid or does not exist'] }],
      'unwrapped: the token is spent',
    );
  });

  it('refuses a wrapping token made at another path, naming it, and leaves it unwrapped', async () => {
    const kv = await s.bao.cli(['read', '-wrap-ttl=300s', '-field=wrapping_token', 'secret/data/ci/production/db']);
    assert.equal(kv.code, 0, kv.stderr);
    const otherRole = await wrapped(['-f', `auth/${MOUNT}/role/ci-other/secret-id`]);
    for (const [token, found] of [
      [kv.stdout.trim(), 'secret/data/ci/production/db'],
      [otherRole, `auth/${MOUNT}/role/ci-other/secret-id`],
    ]) {
      const [inputs, job] = fromVariables(roleIds.ci, token);
      const { checked } = await main(inputs, job);
      const { errors, vars } = checked(false);
      assert.equal(vars.size, 0);
      assert.equal(
        errors,
        `The secret_id from input 'approleSecretId' is a response-wrapping token made at '${found}', not at this role's secret_id path auth/${MOUNT}/role/ci/secret-id: the step does not unwrap it (a wrapping token can hold any answer of Vault). Wrap a secret_id of the role: vault write -f -wrap-ttl=1h auth/${MOUNT}/role/ci/secret-id (or correct 'authMount' and 'role' if they name another role).`,
      );
      const still = await s.bao.api('POST', 'sys/wrapping/lookup', { token }, '');
      assert.equal(still.status, 200, 'the wrapping token was not unwrapped');
      assert.equal(still.body.data.creation_path, found);
    }
    // The fix the message prints makes a token the step accepts.
    const fixed = await printedWrap(`vault write -f -wrap-ttl=1h auth/${MOUNT}/role/ci/secret-id`);
    const [inputs, job] = fromVariables(roleIds.ci, fixed);
    (await main(inputs, job)).checked(true);
  });

  /** How many requests to `path` OpenBao's audit log holds. */
  const audited = (path: string) => s.bao.auditedRequests().filter((r) => r.path === path).length;

  it("unwraps a wrapping token made at the role's custom-secret-id path", async () => {
    const custom = `custom-${Date.now()}`;
    const token = await wrapped([`auth/${MOUNT}/role/ci/custom-secret-id`, `secret_id=${custom}`]);
    const [inputs, job] = fromVariables(roleIds.ci, token);
    const { run, checked } = await main(inputs, job);
    assert.deepEqual(Object.fromEntries(checked(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.match(
      run.stdout,
      new RegExp(`^Unwrapped the secret_id \\(masked\\) from a wrapping token made at auth/${MOUNT}/role/ci/custom-secret-id on `, 'm'),
    );
    assert.ok(run.stdout.includes(`##vso[task.setsecret]${custom}`), 'the unwrapped custom secret_id is masked');
  });

  for (const [shape, custom] of [
    ["an OpenBao token's shape (s. and 24 characters)", 's.Cust0mSecretIdLikeAToken'],
    ["a Vault token's shape (hvs.)", 'hvs.CAESICustomSecretIdThatLooksLikeAVaultToken'],
  ]) {
    it(`logs in with a custom secret_id of ${shape}: one lookup says it is no wrapping token, then one login`, async () => {
      const made = await s.bao.api('POST', `auth/${MOUNT}/role/ci/custom-secret-id`, { secret_id: custom });
      assert.equal(made.status, 200, JSON.stringify(made.body));
      const before = {
        lookups: audited('sys/wrapping/lookup'),
        unwraps: audited('sys/wrapping/unwrap'),
        logins: audited(`auth/${MOUNT}/login`),
      };
      const [inputs, job] = fromVariables(roleIds.ci, custom);
      const { run, checked } = await main(inputs, job);
      assert.deepEqual(Object.fromEntries(checked(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
      assert.match(
        run.stdout,
        /^Vault knows no response-wrapping token of the value from input 'approleSecretId': the step logs in with it as the secret_id\.$/m,
      );
      assert.deepEqual(
        {
          lookups: audited('sys/wrapping/lookup') - before.lookups,
          unwraps: audited('sys/wrapping/unwrap') - before.unwraps,
          logins: audited(`auth/${MOUNT}/login`) - before.logins,
        },
        { lookups: 1, unwraps: 0, logins: 1 },
      );
    });
  }

  it('a spent wrapping token: one lookup, one login with the value, and both readings explained, never "stolen"', async () => {
    const token = await wrapped(['-f', `auth/${MOUNT}/role/ci/secret-id`]);
    assert.equal((await s.bao.api('POST', 'sys/wrapping/unwrap', {}, token)).status, 200, 'someone else unwrapped it first');
    const before = {
      lookups: audited('sys/wrapping/lookup'),
      unwraps: audited('sys/wrapping/unwrap'),
      logins: audited(`auth/${MOUNT}/login`),
    };
    const [inputs, job] = fromVariables(roleIds.ci, token);
    const { errors } = (await main(inputs, job)).checked(false);
    assert.deepEqual(
      {
        lookups: audited('sys/wrapping/lookup') - before.lookups,
        unwraps: audited('sys/wrapping/unwrap') - before.unwraps,
        logins: audited(`auth/${MOUNT}/login`) - before.logins,
      },
      { lookups: 1, unwraps: 0, logins: 1 },
    );
    assert.doesNotMatch(errors, /stolen|intercept/i);
    assert.equal(
      errors,
      `Vault refused the AppRole login at auth/${MOUNT} (400 invalid role or secret ID). The value from input 'approleSecretId' is shaped like a response-wrapping token, but Vault knows no wrapping token of it, so the step sent it as the secret_id, and Vault refused that too. As a wrapping token, it was unwrapped already (Vault's audit log shows the sys/wrapping/unwrap that spent it), its wrap TTL ran out, or it was made by another Vault or in another namespace. As a secret_id, it is used up, expired, destroyed or issued for another role, or the role_id from input 'approleRoleId' is not the role's (compare it with the output of: vault read -field=role_id auth/${MOUNT}/role/ci/role-id). Either way, give the step a new secret_id for every run, best response-wrapped: vault write -f -wrap-ttl=1h auth/${MOUNT}/role/ci/secret-id`,
    );
    const [fixed, fixedJob] = fromVariables(roleIds.ci, await printedWrap(errors));
    (await main(fixed, fixedJob)).checked(true);
  });

  it('explains a secret_id used up (secret_id_num_uses), with the commands to check the role_id and issue a new one', async () => {
    const [inputs, job] = fromVariables(roleIds['ci-once'], await secretId('ci-once'));
    const first = await main({ ...inputs, role: 'ci-once' }, job);
    first.checked(true);
    const second = await main({ ...inputs, role: 'ci-once' }, job);
    const { errors } = second.checked(false);
    assert.equal(
      errors,
      `Vault refused the AppRole login at auth/${MOUNT} (400 invalid role or secret ID). Vault gives this one answer for a secret_id that is used up (secret_id_num_uses), expired (secret_id_ttl), destroyed or issued for another role, and for a role_id that is not the role's. Compare the role_id from input 'approleRoleId' with the output of (vault read -field=role_id auth/${MOUNT}/role/ci-once/role-id), then give input 'approleSecretId' a new secret_id for every run, best response-wrapped: vault write -f -wrap-ttl=1h auth/${MOUNT}/role/ci-once/secret-id`,
    );
    const [fixed, fixedJob] = fromVariables(roleIds['ci-once'], await printedWrap(errors));
    (await main({ ...fixed, role: 'ci-once' }, fixedJob)).checked(true);
  });

  it('names the role_id when a freshly unwrapped secret_id is refused', async () => {
    const token = await wrapped(['-f', `auth/${MOUNT}/role/ci/secret-id`]);
    const [inputs, job] = fromVariables(roleIds['ci-other'], token);
    const { errors } = (await main(inputs, job)).checked(false);
    assert.equal(
      errors,
      `Vault refused the AppRole login at auth/${MOUNT} (400 invalid role or secret ID) with a secret_id the step had just unwrapped from a token made at the role's secret_id path, so unused and within its TTL: the role_id from input 'approleRoleId' is not the one of role 'ci' (or the role was deleted and created again, which gives it a new role_id). Set it to the output of: vault read -field=role_id auth/${MOUNT}/role/ci/role-id`,
    );
    const r = await runShell(s.bao, s.world.ca.certPath, /vault read -field=role_id \S+$/.exec(errors)![0], tmpdir());
    assert.equal(r.stdout.trim(), roleIds.ci, 'the printed command gives the role_id');
    const [fixed, fixedJob] = fromVariables(r.stdout.trim(), await wrapped(['-f', `auth/${MOUNT}/role/ci/secret-id`]));
    (await main(fixed, fixedJob)).checked(true);
  });

  it('says an unwrapped secret_id expired when its TTL ran out before the login', async () => {
    const token = await wrapped([`auth/${MOUNT}/role/ci/secret-id`, 'ttl=1s']);
    await new Promise((r) => setTimeout(r, 2_000));
    const [inputs, job] = fromVariables(roleIds.ci, token);
    const { run, checked } = await main(inputs, job);
    const { errors } = checked(false);
    assert.match(run.stdout, /the secret_id's TTL: 1s, its uses: no limit\./);
    assert.match(
      errors,
      new RegExp(
        `^Vault refused the AppRole login at auth/${MOUNT} \\(400 invalid role or secret ID\\): the unwrapped secret_id was made at \\S+ with a TTL of 1s, which ran out before the login`,
      ),
    );
    assert.match(errors, new RegExp(`vault write -wrap-ttl=1h auth/${MOUNT}/role/ci/secret-id ttl=2h$`));
    const [fixed, fixedJob] = fromVariables(roleIds.ci, await printedWrap(errors));
    const after = await main(fixed, fixedJob);
    after.checked(true);
    assert.match(after.run.stdout, /the secret_id's TTL: 7200s, its uses: no limit\./);
  });

  it('names the agent address that secret_id_bound_cidrs of the role refuses, with the fix', async () => {
    const [inputs, job] = fromVariables(roleIds['ci-cidr'], await secretId('ci-cidr'));
    const { errors } = (await main({ ...inputs, role: 'ci-cidr' }, job)).checked(false);
    assert.equal(
      errors,
      `Vault refused the AppRole login: the agent's address as Vault sees it, 127.0.0.1, is outside the CIDR blocks that role auth/${MOUNT}/role/ci-cidr accepts secret_ids from (secret_id_bound_cidrs). If that address is a proxy's or a load balancer's, bind that one instead, or have Vault's listener take the agent's address from X-Forwarded-For (x_forwarded_for_authorized_addrs). Add it, keeping the blocks already there (vault read auth/${MOUNT}/role/ci-cidr): vault write auth/${MOUNT}/role/ci-cidr secret_id_bound_cidrs=<blocks already there>,127.0.0.1/32`,
    );
    await runFix(errors, /vault write auth\/\S+ secret_id_bound_cidrs=.+$/, { '<blocks already there>': '10.20.0.0/16' });
    const bound = (await s.bao.api('GET', `auth/${MOUNT}/role/ci-cidr`)).body.data.secret_id_bound_cidrs;
    assert.deepEqual(bound, ['10.20.0.0/16', '127.0.0.1/32'], 'the blocks already there are kept');
    const [fixed, fixedJob] = fromVariables(roleIds['ci-cidr'], await secretId('ci-cidr'));
    (await main({ ...fixed, role: 'ci-cidr' }, fixedJob)).checked(true);
  });

  it('names the agent address that the cidr_list of the secret_id refuses, with the fix', async () => {
    const [inputs, job] = fromVariables(roleIds.ci, await secretId('ci', { cidr_list: ['10.20.0.0/16'] }));
    const { errors } = (await main(inputs, job)).checked(false);
    assert.match(
      errors,
      new RegExp(
        `^Vault refused the AppRole login: the agent's address as Vault sees it, 127\\.0\\.0\\.1, is outside the CIDR blocks the secret_id from input 'approleSecretId' is bound to \\(its cidr_list\\)\\. .* Issue the secret_id for the agents' network, or without cidr_list: vault write -wrap-ttl=1h auth/${MOUNT}/role/ci/secret-id cidr_list=127\\.0\\.0\\.1/32$`,
      ),
    );
    const [fixed, fixedJob] = fromVariables(roleIds.ci, await printedWrap(errors));
    (await main(fixed, fixedJob)).checked(true);
  });

  it('a token bound to other addresses (token_bound_cidrs) logs in, then every request is denied', async () => {
    const [inputs, job] = fromVariables(roleIds['ci-token-cidr'], await secretId('ci-token-cidr'));
    const { run, checked } = await main({ ...inputs, role: 'ci-token-cidr' }, job);
    const { errors } = checked(false);
    assert.match(run.stdout, /^Logged in to Vault: policies \[ci-read, default\]/m);
    // OpenBao answers a bare "permission denied", as for a policy that allows nothing there.
    assert.match(
      errors,
      /the token's policies allow nothing under the mount of secret\/ci\/production\/db \(403 on sys\/internal\/ui\/mounts\)/,
    );
  });
  describe('the approle setup of docs/approle.md, run as written', () => {
    const blocks = recipeBlocks(docsPage('approle.md'), 'approle-recipe');
    let cwd: string;
    before(() => (cwd = mkdtempSync(join(tmpdir(), 'val-approle-recipe-'))));
    after(() => rmSync(cwd, { recursive: true, force: true }));

    /** One block of the page, with the bao CLI as `vault`; its standard output. */
    async function sh(text: string, env: Record<string, string> = {}): Promise<string> {
      assert.deepEqual(text.match(/<[A-Za-z][\w -]*>/g) ?? [], [], 'no placeholder in a command the page gives as is');
      const r = await runShell(s.bao, s.world.ca.certPath, text, cwd, env);
      assert.equal(r.code, 0, `docs/approle.md's command failed on OpenBao:\n${text}\n${r.output}`);
      return r.stdout.trim();
    }

    it("the role, its role_id, the orchestrator's policy and wrapped secret_id, then the task with the page's YAML", async () => {
      const shell = blocks.filter((b) => b.lang === 'sh').map((b) => b.text);
      const yaml = blocks.filter((b) => b.lang === 'yaml');
      assert.equal(yaml.length, 1, 'one YAML block marked approle-recipe');
      const inputs = taskInputs(yaml[0].text);
      assert.equal(inputs.authMethod, 'approle');
      assert.equal(inputs.authMount, undefined, 'the mount is the default path, approle');
      const [enable, roleId, orchestrator, wrap, ...rest] = shell;
      assert.deepEqual(rest, [], 'four shell blocks');
      assert.match(enable, new RegExp(`^vault auth enable approle\\nvault write auth/approle/role/${inputs.role} `));

      await sh(policyBlock(docsPage('azure.md')));
      await sh(enable);
      const role_id = await sh(roleId);
      assert.match(role_id, /^[0-9a-f-]{36}$/);
      await sh(orchestrator);
      const policy = orchestrator.match(/^vault policy write (\S+) /)?.[1];
      const created = await s.bao.api('POST', 'auth/token/create', { policies: [policy], ttl: '10m' });
      const orchestratorToken: string = created.body.auth.client_token;
      const wrappingToken = await sh(wrap, { BAO_TOKEN: orchestratorToken });
      assert.match(wrappingToken, /^s\./);
      // The orchestrator's token makes secret_ids of this role and does nothing else.
      assert.equal((await s.bao.api('GET', `auth/approle/role/${inputs.role}/role-id`, undefined, orchestratorToken)).status, 403);
      assert.equal((await s.bao.api('GET', 'secret/data/ci/production/db', undefined, orchestratorToken)).status, 403);

      // The agent expands $(VAULT_ROLE_ID) and $(VAULT_SECRET_ID) into the inputs.
      const expanded = Object.fromEntries(
        Object.entries(inputs).map(([k, v]) => [k, v.replace('$(VAULT_ROLE_ID)', role_id).replace('$(VAULT_SECRET_ID)', wrappingToken)]),
      );
      assert.equal(expanded.approleSecretId, wrappingToken);
      const { run, checked } = await main(
        { ...expanded, authMount: '', vaultAddress: OPENBAO_ADDRESS },
        { secretVariables: { VAULT_ROLE_ID: role_id, VAULT_SECRET_ID: wrappingToken }, masked: [role_id, wrappingToken] },
      );
      assert.deepEqual(Object.fromEntries(checked(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
      assert.match(
        run.stdout,
        new RegExp(
          `^Unwrapped the secret_id \\(masked\\) from a wrapping token made at auth/approle/role/${inputs.role}/secret-id on \\S+ with a wrap TTL of 3600s; the secret_id's TTL: 7200s, its uses: 1\\.$`,
          'm',
        ),
      );
      assert.match(run.stdout, /^Logged in to Vault: policies \[ci-production, default\], token type service, TTL 600s, over HTTP\/2\.$/m);
    });
  });
});
