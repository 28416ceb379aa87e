// runAsPreJob against real OpenBao, the job in the agent's order (test/emulators/agentJob.ts): the
// pre-job step logs in and reads, a script step placed before the task reads with what it
// published (the secret, and the exported token with the real `bao` CLI), the task's own step
// only logs a line, and the post-job step really revokes the token.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { JobRun, runAgentJob } from '../emulators/agentJob';
import { SECRETS } from '../emulators/seed';
import { savedToken, ServerWorld, startServerWorld } from './fixture';

describe('server: runAsPreJob against OpenBao', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  let job: JobRun | undefined;
  before(async () => (s = await startServerWorld()));
  after(async () => {
    if (job) rmSync(job.tempDir, { recursive: true, force: true });
    await s?.stop();
  });

  it('gives a step before the task the secret and a token the bao CLI reads with; the task step only logs a line; the post-job step revokes', async () => {
    const early = {
      name: 'early',
      // VAULT_ADDR is a plain variable, in every later step's environment; the secrets are mapped.
      env: { PASSWORD: '$(DB_PASSWORD)', VAULT_TOKEN: '$(VAULT_TOKEN)', VAULT_CACERT: s.world.ca.certPath },
      script:
        'printf "mapped=%s\\n" "$PASSWORD" | sha256sum && HOME="$AGENT_TEMPDIRECTORY" "$BAO" kv get -field=password secret/ci/production/db | sha256sum',
    };
    const bao = {
      name: 'vault',
      task: {
        connection: s.world.ids.wif,
        inputs: { ...s.base, runAsPreJob: 'true', exportToken: 'true', secrets: 'secret/ci/production/db password | DB_PASSWORD' },
      },
    };
    let token: string | undefined;
    job = await runAgentJob(s.world, [{ ...early, env: { ...early.env, BAO: s.bao.bin } }, bao], {
      afterStep: (step) => {
        if (step.title === 'Pre-job: vault') token = savedToken(step.run!);
      },
    });
    assert.deepEqual(
      job.steps.map((x) => `${x.title}: ${x.result}`),
      ['Pre-job: vault: Succeeded', 'early: Succeeded', 'vault: Skipped', 'Post-job: vault: Succeeded'],
    );
    assert.ok(token, 'the pre-job step kept the token for the post-job step');
    const extraSecrets = [{ what: 'the Vault token', value: token! }];
    const { vars } = s.check(job.step('Pre-job: vault').run!, true, { extraSecrets });
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.equal(vars.get('VAULT_TOKEN'), token);

    // The script prints digests, not the values: what it saw is compared by digest.
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const script = job.step('early').run!;
    assert.equal(script.stderr, '');
    assert.deepEqual(
      script.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0]),
      [sha(`mapped=${SECRETS.dbPassword}\n`), sha(SECRETS.dbPassword)],
      'the mapped secret, and the same secret read by bao with the exported token',
    );

    const main = job.step('vault').run!;
    s.check(main, 'Skipped', { extraSecrets });
    assert.match(main.stdout, /^runAsPreJob is true: this task read its secrets in its pre-job step/m);

    s.check(job.step('Post-job: vault').run!, true, { extraSecrets });
    const after = await s.bao.api('GET', 'auth/token/lookup-self', undefined, token);
    assert.equal(after.status, 403, 'revoked when the job ends');
  });
});
