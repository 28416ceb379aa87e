// The gcp login method through the bundled task: the instance identity token of the VM's service
// account from the GCE metadata server emulator (metadata.google.internal), checked by the Vault
// emulator's gcp side (Google's keys, aud http://vault/<role>, project, instance, zone, service
// account), the post-job revocation, and the misconfigurations users meet most, each answered
// with the cause and a command that fixes it.
import * as assert from 'node:assert/strict';
import { createGce, Gce } from '../emulators/gcp';
import { SECRETS, seedVault } from '../emulators/seed';
import { enableGcpAuth, setGcpCredential, writeGcpRole } from '../emulators/vaultGcp';
import { RunOptions, startWorld, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';
import { lookupSelf } from '../helpers/lookupSelf';
import { taskVariablesFrom } from '../helpers/output';

describe('e2e: gcp login (gce method)', function () {
  this.timeout(120_000);
  let world: World;
  let gce: Gce;
  let defaultSa: string;

  before(async () => {
    world = await startWorld();
    await seedVault(world.vault, { jwks: () => world.entra.jwks() as never, boundOids: [] });
    gce = createGce();
    world.imds.route('/computeMetadata/', gce.handle);
    defaultSa = gce.instance.serviceAccounts[0];
    const builder = gce.addServiceAccount('azp-builder', true);
    const { projectId, zone } = gce.instance;
    enableGcpAuth(world.vault, 'gcp', gce);
    const token = { token_policies: ['ci-read'], token_ttl: 900 };
    writeGcpRole(world.vault, 'gcp', 'ci', {
      type: 'gce',
      bound_projects: [projectId],
      bound_zones: [zone],
      bound_service_accounts: [defaultSa, builder.email],
      ...token,
    });
    writeGcpRole(world.vault, 'gcp', 'deploy', {
      type: 'gce',
      bound_projects: [projectId],
      bound_service_accounts: [`deployer@${projectId}.iam.gserviceaccount.com`],
      ...token,
    });
    writeGcpRole(world.vault, 'gcp', 'iam-ci', { type: 'iam', bound_service_accounts: [defaultSa], ...token });
    writeGcpRole(world.vault, 'gcp', 'us-only', {
      type: 'gce',
      bound_projects: [projectId],
      bound_zones: ['us-central1-a', 'us-central1-b'],
      ...token,
    });
    writeGcpRole(world.vault, 'gcp', 'us-regions', {
      type: 'gce',
      bound_projects: [projectId],
      bound_regions: ['us-central1', 'us-east1'],
      ...token,
    });
    writeGcpRole(world.vault, 'gcp', 'platform', {
      type: 'gce',
      bound_projects: [projectId],
      bound_labels: { team: 'platform' },
      ...token,
    });
    enableGcpAuth(world.vault, 'gcp-viewerless', gce);
    setGcpCredential(world.vault, 'gcp-viewerless', false);
    writeGcpRole(world.vault, 'gcp-viewerless', 'ci', { type: 'gce', bound_projects: [projectId], ...token });
  });
  after(async () => world?.stop());

  const inputs = {
    authMethod: 'gcp',
    vaultAddress: VAULT_ADDRESS,
    role: 'ci',
    retries: '0',
    secrets: 'secret/ci/production/db password | DB_PASSWORD',
  };
  const run = (override: Partial<RunOptions> = {}): Promise<TaskRun> => world.runTask({ connection: world.ids.wif, inputs, ...override });
  const check = (r: TaskRun, ok: boolean) =>
    checkRun(world, r, ok, { extraSecrets: gce.issuedTokens.map((value) => ({ what: 'a GCE identity token', value })) });

  it('logs in with the VM’s default service account, reads and publishes; the post-job step revokes the token', async () => {
    const issued = new Set(world.vault.issuedTokens());
    const before = gce.requests.length;
    const main = await run();
    const { vars } = check(main, true);
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    const [asked] = gce.requests.slice(before);
    assert.equal(asked.path, '/computeMetadata/v1/instance/service-accounts/default/identity');
    assert.deepEqual(asked.query, { audience: 'http://vault/ci', format: 'full' });
    assert.equal(asked.flavor, 'Google');
    assert.match(
      main.stdout,
      /Requesting the instance identity token of service account 'default' from the GCE metadata server \(metadata\.google\.internal\)/,
    );
    assert.ok(main.stdout.includes(`Identity token: service account ${defaultSa}`), 'the token’s claims are logged');
    assert.ok(
      main.stdout.includes(
        `project ${gce.instance.projectId}, zone ${gce.instance.zone}, instance ${gce.instance.name}, aud http://vault/ci`,
      ),
    );

    const token = world.vault.issuedTokens().find((t) => !issued.has(t)) as string;
    assert.equal(await lookupSelf(world, token), 200);
    const post = await world.runTask({
      connection: world.ids.wif,
      inputs,
      entry: 'post.js',
      tempDir: main.tempDir,
      variables: taskVariablesFrom(main.stdout),
    });
    check(post, true);
    assert.match(post.stdout, /Revoked the Vault token\./);
    assert.equal(await lookupSelf(world, token), 403, 'the token no longer works');
  });

  it('logs in with another service account attached to the VM (gcpServiceAccount)', async () => {
    const email = `azp-builder@${gce.instance.projectId}.iam.gserviceaccount.com`;
    const r = await run({ inputs: { ...inputs, gcpServiceAccount: email } });
    check(r, true);
    assert.equal(
      gce.requests[gce.requests.length - 1].path,
      `/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(email)}/identity`,
    );
  });

  describe('misconfigurations: the cause, the value seen and the fix', () => {
    it('the service account is not bound to the role (bound_service_accounts)', async () => {
      const r = await run({ inputs: { ...inputs, role: 'deploy' } });
      const { errors } = check(r, false);
      const sa = gce.serviceAccount(defaultSa)!;
      assert.ok(
        errors.includes(`refused service account ${defaultSa} (id ${sa.uniqueId}): role 'deploy' of auth/gcp does not bind it`),
        errors,
      );
      assert.ok(errors.includes(`bound_service_accounts: deployer@${gce.instance.projectId}.iam.gserviceaccount.com`), errors);
      assert.ok(errors.includes(`vault write auth/gcp/role/deploy bound_service_accounts=${defaultSa}`), errors);
    });

    it('the agent is not on GCE: the metadata server does not answer', async () => {
      const logins = () => world.vault.requests.filter((q) => q.path === 'auth/gcp/login').length;
      const before = logins();
      const r = await run({ variables: { GCE_METADATA_HOST: 'metadata.invalid' } });
      const { errors } = check(r, false);
      assert.match(errors, /The GCE metadata server metadata\.invalid could not be reached \((ENOTFOUND|EAI_AGAIN)\)/);
      assert.match(errors, /this agent is not on one/);
      assert.equal(logins(), before, 'no login was tried without a token');
    });

    it('an iam role at its default max_jwt_exp (900 s) refuses a VM’s token, which lives an hour; the printed fix works', async () => {
      const r = await run({ inputs: { ...inputs, role: 'iam-ci' } });
      const { errors } = check(r, false);
      assert.ok(
        errors.startsWith(
          "Role 'iam-ci' of auth/gcp is an iam role, which takes only tokens that expire within 900 seconds (its max_jwt_exp), and a VM's identity token lives an hour",
        ),
        errors,
      );
      assert.ok(
        errors.includes(
          `vault write auth/gcp/role/<name> type=gce bound_projects=${gce.instance.projectId} bound_service_accounts=${defaultSa}`,
        ),
        errors,
      );
      assert.match(errors, /vault write auth\/gcp\/role\/iam-ci max_jwt_exp=3600/);
      writeGcpRole(world.vault, 'gcp', 'iam-ci', {
        type: 'iam',
        bound_service_accounts: [defaultSa],
        max_jwt_exp: 3600,
        token_policies: ['ci-read'],
        token_ttl: 900,
      });
      check(await run({ inputs: { ...inputs, role: 'iam-ci' } }), true);
    });

    it('the VM’s region is not bound (bound_regions)', async () => {
      const r = await run({ inputs: { ...inputs, role: 'us-regions' } });
      const { errors } = check(r, false);
      assert.ok(
        errors.startsWith(
          `Instance ${gce.instance.name} is in region europe-west1 (zone ${gce.instance.zone}), which role 'us-regions' of auth/gcp does not bind (bound_regions: us-central1,us-east1)`,
        ),
        errors,
      );
      assert.ok(errors.includes('vault write auth/gcp/role/us-regions bound_regions=europe-west1'), errors);
    });

    it('the VM lacks a label the role requires (bound_labels); labelled, it logs in', async () => {
      const r = await run({ inputs: { ...inputs, role: 'platform' } });
      const { errors } = check(r, false);
      assert.ok(
        errors.startsWith(
          `Instance ${gce.instance.name} lacks the label team=platform that role 'platform' of auth/gcp requires (bound_labels).`,
        ),
        errors,
      );
      assert.ok(
        errors.includes(`gcloud compute instances add-labels ${gce.instance.name} --zone ${gce.instance.zone} --labels=team=platform`),
        errors,
      );
      gce.instance.labels.team = 'platform';
      try {
        check(await run({ inputs: { ...inputs, role: 'platform' } }), true);
      } finally {
        delete gce.instance.labels.team;
      }
    });

    it('the mount’s own Google credential may not read instances (compute.instances.get)', async () => {
      const r = await run({ inputs: { ...inputs, authMount: 'gcp-viewerless' } });
      const { errors } = check(r, false);
      const { projectId, zone, name } = gce.instance;
      assert.ok(
        errors.startsWith(
          `auth/gcp-viewerless could not look up instance ${name} in project ${projectId} with its own Google credential (googleapi: Error 403: Required 'compute.instances.get' permission for 'projects/${projectId}/zones/${zone}/instances/${name}', forbidden)`,
        ),
        errors,
      );
      assert.ok(errors.includes(`roles/compute.viewer on project ${projectId}`), errors);
      assert.ok(errors.includes('vault write auth/gcp-viewerless/config credentials=@vault-gcp-key.json'), errors);
    });

    it('the VM’s zone is not bound (bound_zones)', async () => {
      const r = await run({ inputs: { ...inputs, role: 'us-only' } });
      const { errors } = check(r, false);
      assert.ok(
        errors.includes(
          `Instance ${gce.instance.name} is in zone ${gce.instance.zone}, which role 'us-only' of auth/gcp does not bind (bound_zones: us-central1-a,us-central1-b)`,
        ),
        errors,
      );
      assert.ok(errors.includes(`vault write auth/gcp/role/us-only bound_zones=${gce.instance.zone}`), errors);
    });

    it('a service account that is not attached to the VM', async () => {
      const r = await run({ inputs: { ...inputs, gcpServiceAccount: 'nobody@elsewhere.iam.gserviceaccount.com' } });
      const { errors } = check(r, false);
      assert.match(errors, /answered HTTP 404 for the identity token of service account 'nobody@elsewhere\.iam\.gserviceaccount\.com'/);
      assert.match(errors, /leave gcpServiceAccount empty for the VM's default one/);
    });

    it('a role that does not exist', async () => {
      const r = await run({ inputs: { ...inputs, role: 'nope' } });
      const { errors } = check(r, false);
      assert.ok(errors.includes(`Vault has no role 'nope' on the gcp auth mount auth/gcp`), errors);
      assert.ok(
        errors.includes(
          `vault write auth/gcp/role/nope type=gce bound_projects=${gce.instance.projectId} bound_service_accounts=${defaultSa}`,
        ),
        errors,
      );
    });
  });
});
