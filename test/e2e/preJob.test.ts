// runAsPreJob with the bundled targets in the agent's order (test/emulators/agentJob.ts): the
// pre-job step reads before the job's first step, so a checkout and a script step before the task's
// own step see the variables; the task's own step does nothing; the post-job step revokes what the
// pre-job step got. Off (the default), the pre-job step does nothing and the job is as before. A
// pre-job failure stops the job before its first step; the pre-job step sees the inputs as they were
// at the start of the job.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobRun, JobStep, runAgentJob } from '../emulators/agentJob';
import { AUTH_MOUNT, ROLE, SECRETS } from '../emulators/seed';
import { startWorld, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';
import { vsoCommands } from '../helpers/output';
import { renderPipelineLog } from '../helpers/pipelineLog';

const PRE_JOB_RAN = "runAsPreJob is true: this task read its secrets in its pre-job step, before the job's first step. Nothing to do here.";
const PRE_JOB_OFF = 'runAsPreJob is false: this task reads its secrets in its own step, not before the job.';

describe('e2e: runAsPreJob, the job in the agent order', function () {
  this.timeout(120_000);
  let world: World;
  let dir: string;
  const jobs: JobRun[] = [];

  before(async () => {
    world = await startWorld({ database: true });
    dir = mkdtempSync(join(tmpdir(), 'val-prejob-'));
  });
  after(async () => {
    for (const j of jobs) rmSync(j.tempDir, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
    await world?.stop();
  });

  const secrets = 'database/creds/ci * | PG_\nsecret/ci/production/db password | DB_PASSWORD\nsecret/ci/production/tls key | file:TLS_KEY';
  const vaultStep = (inputs: Record<string, string>): JobStep => ({
    name: 'vault',
    task: {
      connection: world.ids.wif,
      inputs: { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, retries: '0', secrets, ...inputs },
    },
  });
  /** A script step that saves what it sees: the mapped secret, the file a public variable names, and the sources folder. */
  const seeing = (name: string, out: string, password = '$(DB_PASSWORD)'): JobStep => ({
    name,
    env: { PASSWORD: password, OUT: out },
    script:
      'mkdir -p "$OUT" && printf %s "$PASSWORD" > "$OUT/password" && ls -A . > "$OUT/sources" && if [ -n "$TLS_KEY" ]; then cp "$TLS_KEY" "$OUT/key"; fi',
  });
  const saw = (out: string, what: string) => (existsSync(join(out, what)) ? readFileSync(join(out, what), 'utf8') : undefined);

  /** Runs the job, noting how many requests Vault had seen and which tokens it had issued after each step. */
  async function job(steps: JobStep[], workingDirectory?: string, variables?: Record<string, string>) {
    const requestsAfter = new Map<string, number>();
    const issuedBefore = new Set(world.vault.issuedTokens());
    const run = await runAgentJob(world, steps, {
      workingDirectory,
      variables,
      afterStep: (s) => requestsAfter.set(s.title, world.vault.requests.length),
    });
    jobs.push(run);
    const tokens = world.vault.issuedTokens().filter((t) => !issuedBefore.has(t));
    return { run, requestsAfter, tokens };
  }
  const titles = (run: JobRun) => run.steps.map((s) => `${s.title}: ${s.result}`);
  const logins = (from: number, to: number) => world.vault.requests.slice(from, to).filter((r) => r.path.endsWith('/login')).length;

  it('reads in the pre-job step: a checkout and a step before the task see the variables; the task step does nothing; the post-job step revokes', async () => {
    // The sources folder exists and is empty before checkout, as on an agent's first run of a pipeline.
    const sources = join(dir, 'fresh-sources');
    mkdirSync(sources);
    const before = world.vault.requests.length;
    const { run, requestsAfter, tokens } = await job(
      [seeing('checkout', join(dir, 'a-checkout')), seeing('early', join(dir, 'a-early')), vaultStep({ runAsPreJob: 'true' })],
      sources,
    );

    assert.deepEqual(titles(run), [
      'Pre-job: vault: Succeeded',
      'checkout: Succeeded',
      'early: Succeeded',
      'vault: Skipped',
      'Post-job: vault: Succeeded',
    ]);
    for (const step of ['a-checkout', 'a-early']) {
      assert.equal(saw(join(dir, step), 'password'), SECRETS.dbPassword, `${step} read the secret its env: maps`);
      assert.equal(saw(join(dir, step), 'key'), SECRETS.pem, `${step} read the file TLS_KEY names`);
    }
    assert.equal(saw(join(dir, 'a-checkout'), 'sources'), '', 'the pre-job step wrote nothing in the sources folder');

    const pre = run.step('Pre-job: vault').run!;
    const { vars } = checkRun(world, pre, true);
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.ok(vars.get('PG_PASSWORD'));
    const keyFile = vsoCommands(pre.stdout).find((c) => c.command === 'task.setvariable' && c.properties.variable === 'TLS_KEY')!.message;
    assert.ok(keyFile.startsWith(run.tempDir), 'the file is in Agent.TempDirectory');
    assert.equal(logins(before, requestsAfter.get('Pre-job: vault')!), 1, 'the pre-job step logged in');

    const main = run.step('vault').run!;
    checkRun(world, main, 'Skipped');
    assert.equal(requestsAfter.get('vault'), requestsAfter.get('early'), 'the task step sent no request');
    assert.deepEqual(renderPipelineLog(main.stdout).lines, [PRE_JOB_RAN], 'one line');
    assert.deepEqual(
      vsoCommands(main.stdout).filter((c) => c.command !== 'task.debug' && c.command !== 'task.complete'),
      [],
      'no variable, task variable or issue',
    );

    const post = run.step('Post-job: vault').run!;
    checkRun(world, post, true);
    assert.equal(tokens.length, 1);
    assert.equal((await world.vault.tokenInfo(tokens[0]))?.revoked, true, 'the token of the pre-job step was revoked');
    const leases = world.vault.leases(tokens[0]);
    assert.equal(leases.length, 1);
    assert.equal(await world.vault.leaseRevoked(leases[0]), true, 'its lease too');
    assert.equal(existsSync(keyFile), false, 'and the secret file removed');
    assert.match(post.stdout, /Revoked the Vault token\./);
  });

  it('off (the default): the pre-job step sends nothing and ends skipped; a step before the task does not see the secrets; the task step reads as before', async () => {
    const before = world.vault.requests.length;
    const { run, requestsAfter, tokens } = await job([
      seeing('early', join(dir, 'b-early')),
      vaultStep({}),
      seeing('late', join(dir, 'b-late')),
    ]);
    assert.deepEqual(titles(run), [
      'Pre-job: vault: Skipped',
      'early: Succeeded',
      'vault: Succeeded',
      'late: Succeeded',
      'Post-job: vault: Succeeded',
    ]);

    const pre = run.step('Pre-job: vault').run!;
    checkRun(world, pre, 'Skipped');
    assert.equal(requestsAfter.get('Pre-job: vault'), before, 'the pre-job step sent no request');
    assert.deepEqual(renderPipelineLog(pre.stdout).lines, [PRE_JOB_OFF]);
    assert.deepEqual(
      vsoCommands(pre.stdout).filter((c) => c.command !== 'task.debug' && c.command !== 'task.complete'),
      [],
    );

    assert.equal(
      saw(join(dir, 'b-early'), 'password'),
      '$(DB_PASSWORD)',
      'before the task, the variable does not exist: the agent leaves the macro as written',
    );
    assert.equal(saw(join(dir, 'b-early'), 'key'), undefined);
    assert.equal(saw(join(dir, 'b-late'), 'password'), SECRETS.dbPassword);
    assert.equal(saw(join(dir, 'b-late'), 'key'), SECRETS.pem);
    checkRun(world, run.step('vault').run!, true);
    checkRun(world, run.step('Post-job: vault').run!, true);
    assert.equal(tokens.length, 1);
    assert.equal((await world.vault.tokenInfo(tokens[0]))?.revoked, true);
  });

  it('publishes output variables from the pre-job step under the step name, for every step of the job', async () => {
    const { run } = await job([
      seeing('early', join(dir, 'c-early'), '$(vault.DB_PASSWORD)'),
      vaultStep({ runAsPreJob: 'true', isOutput: 'true' }),
    ]);
    assert.deepEqual(titles(run), ['Pre-job: vault: Succeeded', 'early: Succeeded', 'vault: Skipped', 'Post-job: vault: Succeeded']);
    const set = vsoCommands(run.step('Pre-job: vault').run!.stdout).filter((c) => c.command === 'task.setvariable');
    assert.deepEqual(set.map((c) => c.properties.variable).sort(), ['DB_PASSWORD', 'PG_PASSWORD', 'PG_USERNAME', 'TLS_KEY']);
    assert.ok(
      set.every((c) => c.properties.isOutput === 'true'),
      'each an output variable',
    );
    assert.equal(saw(join(dir, 'c-early'), 'password'), SECRETS.dbPassword);
  });

  it('a failure in the pre-job step fails the job before its first step; the post-job step still revokes the token it got', async () => {
    const { run, tokens } = await job([
      seeing('checkout', join(dir, 'd-checkout')),
      vaultStep({ runAsPreJob: 'true', secrets: 'secret/ci/production/db password | DB_PASSWORD\nsecret/ci/missing k | M' }),
    ]);
    assert.deepEqual(titles(run), ['Pre-job: vault: Failed', 'checkout: NotRun', 'vault: NotRun', 'Post-job: vault: Succeeded']);
    const { errors, vars } = checkRun(world, run.step('Pre-job: vault').run!, false);
    assert.match(errors, /secret\/ci\/missing/);
    assert.equal(vars.size, 0, 'nothing published');
    assert.equal(run.variables.size, 0);
    assert.equal(saw(join(dir, 'd-checkout'), 'password'), undefined, 'checkout did not run');
    checkRun(world, run.step('Post-job: vault').run!, true);
    assert.equal(tokens.length, 1);
    assert.equal((await world.vault.tokenInfo(tokens[0]))?.revoked, true);
  });

  it('sees the inputs as they were at the start of the job: a variable an earlier step sets is not there yet', async () => {
    const setPath: JobStep = { name: 'choose', script: 'echo "##vso[task.setvariable variable=DB_PATH]secret/ci/production/db"' };
    const inputs = { secrets: '$(DB_PATH) password | DB_PASSWORD' };
    const late = await job([setPath, vaultStep(inputs)]);
    assert.deepEqual(titles(late.run), ['Pre-job: vault: Skipped', 'choose: Succeeded', 'vault: Succeeded', 'Post-job: vault: Succeeded']);
    assert.equal(
      checkRun(world, late.run.step('vault').run!, true).vars.get('DB_PASSWORD'),
      SECRETS.dbPassword,
      'in its own step, the task sees the variable',
    );

    const early = await job([setPath, vaultStep({ ...inputs, runAsPreJob: 'true' })]);
    assert.deepEqual(titles(early.run), ['Pre-job: vault: Failed', 'choose: NotRun', 'vault: NotRun', 'Post-job: vault: Succeeded']);
    const { errors } = checkRun(world, early.run.step('Pre-job: vault').run!, false);
    assert.equal(
      errors,
      "Input 'secrets' holds $(DB_PATH), a variable that did not exist when the job started: the pre-job step (runAsPreJob: true) runs before every step, so a variable that a step sets is not there yet. Define it in the pipeline, a variable group or at queue time, or set runAsPreJob to false.",
    );
    assert.equal(early.tokens.length, 0, 'refused before any request');

    // A variable of the pipeline exists from the start; a macro in a comment line is not looked at.
    const defined = await job(
      [
        setPath,
        vaultStep({ runAsPreJob: 'true', secrets: '# was $(DB_PATH) password\nsecret/ci/$(ENVIRONMENT)/db password | DB_PASSWORD' }),
      ],
      undefined,
      { ENVIRONMENT: 'production' },
    );
    assert.equal(checkRun(world, defined.run.step('Pre-job: vault').run!, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
  });

  it('fails the first step that reads a runAsPreJob that is not true or false, naming the input, before any request', async () => {
    const before = world.vault.requests.length;
    const { run } = await job([vaultStep({ runAsPreJob: 'yes' })]);
    assert.deepEqual(titles(run), ['Pre-job: vault: Failed', 'vault: NotRun', 'Post-job: vault: Succeeded']);
    const { errors } = checkRun(world, run.step('Pre-job: vault').run!, false);
    assert.equal(errors, "Input 'runAsPreJob' is 'yes': use true or false.");
    assert.match(run.step('Post-job: vault').run!.stdout, /Nothing to clean up/);
    assert.equal(world.vault.requests.length, before);
  });

  it('reads a file input from the sources only in its own step: before checkout the file is not there', async () => {
    // A CA certificate kept in the repository, as caCertificate: certs/vault-ca.pem names it.
    const sources = join(dir, 'sources-with-ca');
    mkdirSync(sources);
    const checkout: JobStep = { name: 'checkout', env: { CA: world.ca.certPath }, script: 'mkdir -p certs && cp "$CA" certs/vault-ca.pem' };
    const inputs = { caCertificate: 'certs/vault-ca.pem', secrets: 'secret/ci/production/db password | DB_PASSWORD' };
    const own = await job([checkout, vaultStep(inputs)], sources);
    assert.equal(checkRun(world, own.run.step('vault').run!, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);

    rmSync(join(sources, 'certs'), { recursive: true });
    const pre = await job([checkout, vaultStep({ ...inputs, runAsPreJob: 'true' })], sources);
    const { errors } = checkRun(world, pre.run.step('Pre-job: vault').run!, false);
    assert.match(errors, /caCertificate.*certs\/vault-ca\.pem/);
  });
});
