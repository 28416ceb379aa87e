// The end-to-end core under every Node an agent runs the task with (scripts/runtimes.mjs): each
// connection scheme, the post-job step, the pre-job step (runAsPreJob) and a failure, with nothing
// on stderr. A task that works only on the Node that built it fails here, not on the user's agent.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCOUNT_ID, Aws, startAws } from '../emulators/aws';
import { createGce, Gce } from '../emulators/gcp';
import { AWS_STS_HOSTS, VAULT_HOST } from '../emulators/hosts';
import { AUTH_MOUNT, ROLE, SECRETS } from '../emulators/seed';
import { enableAwsAuth, writeAwsRole } from '../emulators/vaultAws';
import { enableGcpAuth, writeGcpRole } from '../emulators/vaultGcp';
import { runAgentJob } from '../emulators/agentJob';
import { Identity, REPO, startWorld, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';
import { taskVariablesFrom, vsoCommands } from '../helpers/output';

const runtimesScript = join(REPO, 'scripts', 'runtimes.mjs');
/** The versions to run under: VAL_RUNTIMES (comma-separated), else every one the script lists. */
const versions = process.env.VAL_RUNTIMES
  ? process.env.VAL_RUNTIMES.split(',').filter(Boolean)
  : (JSON.parse(execFileSync(process.execPath, [runtimesScript, 'list'], { encoding: 'utf8' })) as Array<{ version: string }>).map(
      (r) => r.version,
    );

describe('e2e: every Node an agent runs the task with', function () {
  this.timeout(120_000);
  let world: World;
  let aws: Aws;
  let gce: Gce;
  let dir: string;
  before(async () => {
    world = await startWorld({ database: true });
    // The methods whose libraries or requests differ from the azure chain's: aws (the AWS SDK's
    // chain and signing, a bundle of its own) and gcp, each against its emulator.
    aws = await startAws({ tls: await world.ca.issue([...AWS_STS_HOSTS]) });
    world.imds.route('/latest/', aws.handleImds);
    aws.instanceRole = 'azp-agent';
    aws.defineRole('azp-agent');
    enableAwsAuth(world.vault, 'aws', { iamServerIdHeaderValue: VAULT_HOST, ca: world.ca.certPem }, aws);
    writeAwsRole(world.vault, 'aws', 'ci', {
      auth_type: 'iam',
      token_policies: ['ci-read'],
      token_ttl: 900,
      bound_iam_principal_arn: [`arn:aws:iam::${ACCOUNT_ID}:role/azp-agent`],
    });
    gce = createGce();
    world.imds.route('/computeMetadata/', gce.handle);
    enableGcpAuth(world.vault, 'gcp', gce);
    const { projectId, zone, serviceAccounts } = gce.instance;
    writeGcpRole(world.vault, 'gcp', 'ci', {
      type: 'gce',
      bound_projects: [projectId],
      bound_zones: [zone],
      bound_service_accounts: [serviceAccounts[0]],
      token_policies: ['ci-read'],
      token_ttl: 900,
    });
    dir = fs.mkdtempSync(join(tmpdir(), 'val-runtimes-'));
  });
  after(async () => {
    await aws?.close();
    await world?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const base = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, retries: '0' };

  it('lists the agent Node versions to test', () => {
    assert.ok(versions.length > 0);
    for (const v of versions) assert.match(v, /^(20|24)\.\d+\.\d+$/);
  });

  for (const version of versions) {
    describe(`Node ${version}`, () => {
      let node: string;
      before(() => {
        node = execFileSync(process.execPath, [runtimesScript, 'path', version], { encoding: 'utf8' }).trim();
        assert.equal(execFileSync(node, ['--version'], { encoding: 'utf8' }).trim(), `v${version}`);
      });

      // The last: Azure DevOps answers late, and MSAL is compiled while the assertion is on its way.
      const schemes: Array<[string, (w: World) => Identity, number?]> = [
        ['workload identity federation (Azure DevOps issuer)', (w) => w.ids.wif],
        ['workload identity federation (Entra-issued assertion)', (w) => w.ids.wifEntra],
        ['service principal with a secret', (w) => w.ids.spKey],
        ['service principal with a certificate', (w) => w.ids.spCert],
        ['managed identity', (w) => w.ids.msi],
        [
          'workload identity federation with Azure DevOps answering late (MSAL compiled while the assertion is on its way)',
          (w) => w.ids.wif,
          300,
        ],
      ];
      for (const [scheme, who, azdoLatencyMs = 0] of schemes) {
        it(`${scheme}: logs in and publishes, nothing on stderr`, async () => {
          world.azdo.latencyMs = azdoLatencyMs;
          try {
            const run = await world.runTask({
              node,
              connection: who(world),
              inputs: { ...base, secrets: 'secret/ci/production/db password | DB_PASSWORD' },
            });
            assert.equal(run.code, 0);
            assert.equal(checkRun(world, run, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
          } finally {
            world.azdo.latencyMs = 0;
          }
        });
      }

      it('aws (credentials from IMDSv2, the request signed by the AWS SDK): logs in and publishes, nothing on stderr', async () => {
        const inputs = {
          authMethod: 'aws',
          vaultAddress: VAULT_ADDRESS,
          role: 'ci',
          awsServerIdHeader: VAULT_HOST,
          retries: '0',
          secrets: 'secret/ci/production/db password | DB_PASSWORD',
        };
        // No shared config or credentials files: the chain must reach the instance metadata.
        const variables = { AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_CONFIG_FILE: join(dir, 'none') };
        const run = await world.runTask({ node, connection: world.ids.wif, inputs, variables });
        assert.equal(checkRun(world, run, true, { extraSecrets: aws.secrets() }).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
      });

      it('gcp (the instance identity token from the metadata server): logs in and publishes, nothing on stderr', async () => {
        const inputs = {
          authMethod: 'gcp',
          vaultAddress: VAULT_ADDRESS,
          role: 'ci',
          retries: '0',
          secrets: 'secret/ci/production/db password | DB_PASSWORD',
        };
        const run = await world.runTask({ node, connection: world.ids.wif, inputs });
        const extraSecrets = gce.issuedTokens.map((value) => ({ what: 'a GCE identity token', value }));
        assert.equal(checkRun(world, run, true, { extraSecrets }).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
      });

      it('post-job step: revokes the lease and the token and removes the file the main step left', async () => {
        const issued = new Set(world.vault.issuedTokens());
        const inputs = { ...base, secrets: 'database/creds/ci * | PG_\nsecret/ci/production/tls key | file:TLS_KEY' };
        const main = await world.runTask({ node, connection: world.ids.wif, inputs });
        const { vars } = checkRun(world, main, true);
        assert.ok(vars.get('PG_PASSWORD'));
        const file = vsoCommands(main.stdout).find((c) => c.command === 'task.setvariable' && c.properties.variable === 'TLS_KEY')!.message;
        assert.equal(fs.readFileSync(file, 'utf8'), SECRETS.pem);
        const token = world.vault.issuedTokens().find((t) => !issued.has(t))!;
        const leases = world.vault.leases(token);
        assert.equal(leases.length, 1);

        const post = await world.runTask({
          node,
          connection: world.ids.wif,
          inputs,
          entry: 'post.js',
          tempDir: main.tempDir,
          variables: taskVariablesFrom(main.stdout),
        });
        assert.deepEqual(checkRun(world, post, true).warnings, []);
        assert.equal(await world.vault.leaseRevoked(leases[0]), true, 'the lease was revoked');
        assert.equal((await world.vault.tokenInfo(token))?.revoked, true, 'the token was revoked');
        assert.equal(fs.existsSync(file), false, 'the file was removed');
      });

      it('runAsPreJob: the pre-job target reads, a step before the task step sees the variable, the task step is skipped, the post-job step revokes', async () => {
        const issued = new Set(world.vault.issuedTokens());
        const out = join(dir, `prejob-${version}`);
        const job = await runAgentJob(
          world,
          [
            { name: 'early', env: { PASSWORD: '$(DB_PASSWORD)', OUT: out }, script: 'printf %s "$PASSWORD" > "$OUT"' },
            {
              name: 'vault',
              task: {
                connection: world.ids.wif,
                inputs: { ...base, runAsPreJob: 'true', secrets: 'secret/ci/production/db password | DB_PASSWORD' },
              },
            },
          ],
          { node },
        );
        assert.deepEqual(
          job.steps.map((s) => `${s.title}: ${s.result}`),
          ['Pre-job: vault: Succeeded', 'early: Succeeded', 'vault: Skipped', 'Post-job: vault: Succeeded'],
        );
        assert.equal(checkRun(world, job.step('Pre-job: vault').run!, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
        assert.equal(fs.readFileSync(out, 'utf8'), SECRETS.dbPassword);
        checkRun(world, job.step('vault').run!, 'Skipped');
        checkRun(world, job.step('Post-job: vault').run!, true);
        const token = world.vault.issuedTokens().find((t) => !issued.has(t))!;
        assert.equal((await world.vault.tokenInfo(token))?.revoked, true);
        fs.rmSync(job.tempDir, { recursive: true, force: true });
      });

      it('a failure: a service principal no role binds fails with the cause and the fix, publishing nothing', async () => {
        const run = await world.runTask({
          node,
          connection: world.ids.unbound,
          inputs: { ...base, secrets: 'secret/ci/production/db password | DB_PASSWORD' },
        });
        const { vars, errors } = checkRun(world, run, false);
        assert.equal(vars.size, 0);
        assert.match(errors, new RegExp(`service principal.*${world.ids.unbound.objectId}`, 's'));
        assert.match(errors, /bound_service_principal_ids/);
      });
    });
  }
});
