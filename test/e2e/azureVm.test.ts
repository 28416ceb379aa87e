// The azure method from agents on Azure VMs and scale sets, by their managed identity: the bundled
// task reads the token and the instance metadata from the IMDS emulator and sends what Vault's Go
// client sends (subscription_id, resource_group_name, and vmss_name on a scale-set instance or
// vm_name otherwise); the azure login check in front of OpenBao checks them against ARM (arm.ts) with the
// mount's own credential, as the plugin does, for roles bound by resource group, subscription,
// location and scale set. A service connection's login keeps its {role, jwt} body, and an agent
// with no IMDS fails at once, naming it.
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Arm, ArmCompute, ArmUserIdentity, identityResourceId } from '../emulators/arm';
import { DEFAULT_INSTANCE, scaleSetInstance } from '../emulators/imds';
import { AUTH_MOUNT, DEFAULT_RESOURCE, ROLE, SECRETS, seedVault, TENANT_ID } from '../emulators/seed';
import { RunOptions, startWorld, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';

const MOUNT = 'azure-vm';
const SUB = DEFAULT_INSTANCE.subscriptionId;
const RG = DEFAULT_INSTANCE.resourceGroupName;
const VMSS = { subscriptionId: SUB, resourceGroup: 'rg-pool', name: 'vmss-agents', location: 'westeurope' };

describe('e2e: azure login from an Azure VM or scale-set agent (managed identity, IMDS)', function () {
  this.timeout(120_000);
  let world: World;
  let arm: Arm;
  let uami: ArmUserIdentity;
  const vaultApp = { tenantId: TENANT_ID, clientId: randomUUID(), objectId: randomUUID(), secret: `vault-arm-${randomUUID()}` };

  before(async () => {
    world = await startWorld();
    await seedVault(world.vault, { jwks: () => world.entra.jwks() as never, boundOids: [world.ids.wif.objectId] });
    uami = { subscriptionId: SUB, resourceGroup: 'rg-identities', name: 'id-agents', clientId: randomUUID(), principalId: randomUUID() };
    world.entra.addManagedIdentity({
      tenantId: TENANT_ID,
      clientId: uami.clientId,
      objectId: uami.principalId,
      resourceId: identityResourceId(uami),
    });
    arm = new Arm();
    arm.addCredential(vaultApp);
    arm.grantReader(vaultApp.clientId, SUB);
    // The agent VM has the world's system-assigned identity and the user-assigned one; so has the scale set.
    const vm: ArmCompute = {
      kind: 'vm',
      subscriptionId: SUB,
      resourceGroup: RG,
      name: DEFAULT_INSTANCE.name,
      location: 'westeurope',
      systemPrincipalId: world.ids.msi.objectId,
      userAssigned: [uami],
    };
    arm.addCompute(vm);
    arm.addCompute({ ...vm, kind: 'vmss', resourceGroup: VMSS.resourceGroup, name: VMSS.name });
    // A flexible scale set's instance is a VM of its own in ARM, named <scale set>_<id>.
    arm.addCompute({ ...vm, resourceGroup: VMSS.resourceGroup, name: `${VMSS.name}_4f2a9c1e` });
    world.vault.enableAzureAuth(MOUNT, {
      tenantId: TENANT_ID,
      resource: DEFAULT_RESOURCE,
      jwks: () => world.entra.jwks() as never,
      arm,
      clientId: vaultApp.clientId,
      clientSecret: vaultApp.secret,
    });
    const policies = { token_policies: ['ci-read'], token_ttl: 900 };
    world.vault.writeRole(MOUNT, 'by-rg', {
      bound_service_principal_ids: [],
      bound_resource_groups: [RG, VMSS.resourceGroup],
      ...policies,
    });
    world.vault.writeRole(MOUNT, 'by-sub', { bound_service_principal_ids: [], bound_subscription_ids: [SUB], ...policies });
    world.vault.writeRole(MOUNT, 'by-scale-set', { bound_service_principal_ids: [], bound_scale_sets: [VMSS.name], ...policies });
    world.vault.writeRole(MOUNT, 'by-location', { bound_service_principal_ids: [], bound_locations: ['westeurope'], ...policies });
  });
  afterEach(() => {
    world.imds.instance = DEFAULT_INSTANCE;
    world.imds.latencyMs = 0;
  });
  after(async () => world?.stop());

  const secrets = 'secret/ci/production/db password | DB_PASSWORD';
  const agentVm = {
    vaultAddress: VAULT_ADDRESS,
    authMount: MOUNT,
    authMethod: 'azure',
    azureIdentity: 'agentVm',
    azureSubscription: '',
    retries: '2',
    secrets,
  };
  const run = (inputs: Record<string, string>, override: Partial<RunOptions> = {}): Promise<TaskRun> =>
    world.runTask({ connection: world.ids.wif, inputs, ...override });
  const lastLogin = () => world.vault.azureLogins[world.vault.azureLogins.length - 1];
  const fieldsOf = (body: Record<string, unknown>) => Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'jwt'));

  for (const role of ['by-rg', 'by-sub', 'by-location']) {
    it(`a VM agent logs in to a role bound by ${role.slice(3)}: the body carries the VM's subscription, resource group and vm_name`, async () => {
      const imdsBefore = world.imds.requests.length;
      const armBefore = arm.requests.length;
      const r = await run({ ...agentVm, role });
      const { vars } = checkRun(world, r, true);
      assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
      const { body } = lastLogin();
      assert.deepEqual(fieldsOf(body), { role, subscription_id: SUB, resource_group_name: RG, vm_name: DEFAULT_INSTANCE.name });
      assert.match(String(body.jwt), /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const asked = world.imds.requests.slice(imdsBefore);
      assert.deepEqual(
        asked.map((q) => [q.path, q.metadataHeader]),
        [
          ['/metadata/identity/oauth2/token', 'true'],
          ['/metadata/instance', 'true'],
        ],
      );
      assert.deepEqual(
        asked[0].query,
        { 'api-version': '2018-02-01', resource: DEFAULT_RESOURCE },
        'no client_id: the VM’s system-assigned identity',
      );
      assert.deepEqual(asked[1].query, { 'api-version': '2021-05-01' });
      assert.ok(
        r.stdout.includes(
          `Agent VM (instance metadata): subscription_id=${SUB} resource_group_name=${RG} vm_name=${DEFAULT_INSTANCE.name} location=westeurope`,
        ),
        r.stdout,
      );
      assert.ok(r.stdout.includes(`oid=${world.ids.msi.objectId}`));
      // The plugin's lookup, with its own credential: the VM with its instance view.
      assert.deepEqual(arm.requests.slice(armBefore), [
        `TOKEN ${vaultApp.clientId}`,
        `GET /subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${DEFAULT_INSTANCE.name}?$expand=instanceView&api-version=2022-11-01`,
      ]);
    });
  }

  for (const mode of ['uniform', 'flexible'] as const) {
    it(`a ${mode} scale-set instance sends vmss_name, never its own vm_name, and logs in to roles bound by scale set and resource group`, async () => {
      const instance = scaleSetInstance(VMSS, mode, mode === 'uniform' ? '4' : '4f2a9c1e');
      world.imds.instance = instance;
      for (const role of ['by-scale-set', 'by-rg']) {
        const armBefore = arm.requests.length;
        const r = await run({ ...agentVm, role });
        checkRun(world, r, true);
        assert.deepEqual(fieldsOf(lastLogin().body), {
          role,
          subscription_id: SUB,
          resource_group_name: VMSS.resourceGroup,
          vmss_name: VMSS.name,
        });
        assert.ok(r.stdout.includes(`resource_group_name=${VMSS.resourceGroup} vmss_name=${VMSS.name}`), r.stdout);
        assert.deepEqual(arm.requests.slice(armBefore).slice(1), [
          `GET /subscriptions/${SUB}/resourceGroups/${VMSS.resourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${VMSS.name}?api-version=2022-11-01`,
        ]);
      }
    });
  }

  it('a user-assigned identity is named by its client id on the IMDS token request (managedIdentityClientId)', async () => {
    const before = world.imds.requests.length;
    const r = await run({ ...agentVm, role: 'by-rg', managedIdentityClientId: uami.clientId });
    checkRun(world, r, true);
    const [token] = world.imds.requests.slice(before);
    assert.deepEqual(token.query, { 'api-version': '2018-02-01', resource: DEFAULT_RESOURCE, client_id: uami.clientId });
    assert.ok(r.stdout.includes(`oid=${uami.principalId}`));
    assert.match(r.stdout, new RegExp(`managed identity \\(user-assigned, client id ${uami.clientId}\\)`));
  });

  it('a managed identity service connection sends the VM values read from IMDS, and its identity’s client id when the connection names one', async () => {
    const before = world.imds.requests.length;
    const r = await run({ vaultAddress: VAULT_ADDRESS, authMount: MOUNT, role: 'by-sub', secrets }, { connection: world.ids.msi });
    checkRun(world, r, true);
    assert.deepEqual(fieldsOf(lastLogin().body), {
      role: 'by-sub',
      subscription_id: SUB,
      resource_group_name: RG,
      vm_name: DEFAULT_INSTANCE.name,
    });
    assert.ok(!('client_id' in world.imds.requests[before].query));
    assert.match(r.stdout, new RegExp(`service connection '${world.ids.msi.connectionId}'`));

    // A managed identity connection for the user-assigned identity: its client id in the endpoint data.
    const id = randomUUID();
    const endpoint = {
      id,
      url: 'https://management.azure.com/',
      scheme: 'ManagedServiceIdentity',
      parameters: { tenantid: TENANT_ID },
      data: { msiclientId: uami.clientId },
    };
    const next = world.imds.requests.length;
    const u = await run(
      { vaultAddress: VAULT_ADDRESS, authMount: MOUNT, role: 'by-sub', secrets, azureSubscription: id },
      { endpoints: [endpoint] },
    );
    checkRun(world, u, true);
    assert.equal(world.imds.requests[next].query.client_id, uami.clientId);
    assert.ok(u.stdout.includes(`oid=${uami.principalId}`));
  });

  it('a workload identity federation run keeps its body: exactly {role, jwt}, and no IMDS request', async () => {
    const before = world.imds.requests.length;
    const r = await run({ vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, secrets });
    checkRun(world, r, true);
    assert.deepEqual(Object.keys(lastLogin().body).sort(), ['jwt', 'role']);
    assert.equal(world.imds.requests.length, before);
  });

  it('agentVm with a service connection named as well is refused before any request, naming both inputs', async () => {
    const before = world.imds.requests.length;
    const r = await run({ ...agentVm, role: 'by-rg', azureSubscription: world.ids.wif.connectionId });
    const { errors } = checkRun(world, r, false);
    assert.match(errors, /Input 'azureIdentity' is agentVm.*'azureSubscription' names service connection/);
    assert.equal(world.imds.requests.length, before);
  });

  it('a bad azureIdentity and a client id that is no GUID are told together, before any request', async () => {
    const before = world.imds.requests.length;
    const r = await run({
      ...agentVm,
      role: 'by-rg',
      azureIdentity: 'vm',
      managedIdentityClientId: 'id-agents',
      azureSubscription: world.ids.wif.connectionId,
    });
    const { errors } = checkRun(world, r, false);
    assert.ok(errors.includes("Input 'azureIdentity' is 'vm': use connection"), errors);
    assert.ok(errors.includes("Input 'managedIdentityClientId' is 'id-agents': give the client id (a GUID)"), errors);
    assert.equal(world.imds.requests.length, before);
  });

  it('a client id with a service principal connection is not used, and says so', async () => {
    const r = await run({
      vaultAddress: VAULT_ADDRESS,
      authMount: AUTH_MOUNT,
      role: ROLE,
      secrets,
      managedIdentityClientId: uami.clientId,
    });
    const { warnings } = checkRun(world, r, true);
    assert.ok(
      warnings.some((w) =>
        w.includes(
          `Input 'managedIdentityClientId' is not used: service connection '${world.ids.wif.connectionId}' has the WorkloadIdentityFederation scheme`,
        ),
      ),
      warnings.join('\n'),
    );
    assert.deepEqual(Object.keys(lastLogin().body).sort(), ['jwt', 'role']);
  });

  it('an IMDS that accepts the connection but never answers: bounded by timeoutSeconds, named', async () => {
    world.imds.latencyMs = 60_000;
    const r = await run({ ...agentVm, role: 'by-rg', timeoutSeconds: '1', retries: '0' });
    const { errors } = checkRun(world, r, false);
    assert.ok(
      errors.includes(
        'The Azure Instance Metadata Service at 169.254.169.254 gave no answer within 1 s (1 attempt(s)): this agent is not an Azure VM, or its IMDS is blocked or overloaded.',
      ),
      errors,
    );
  });

  // Last: it stops the IMDS emulator.
  it('a non-Azure agent (no IMDS) fails at once, without retrying: not an Azure VM, or IMDS blocked', async () => {
    const logins = world.vault.azureLogins.length;
    await world.imds.close();
    const r = await run({ ...agentVm, role: 'by-rg' });
    const { errors } = checkRun(world, r, false);
    assert.ok(errors.includes('The Azure Instance Metadata Service at 169.254.169.254 could not be reached (ECONNREFUSED)'), errors);
    assert.ok(errors.includes('this agent is not an Azure VM, or its IMDS is blocked'), errors);
    assert.doesNotMatch(r.stdout, /retrying/, 'no IMDS is not worth a second attempt');
    assert.equal(world.vault.azureLogins.length, logins, 'Vault was never asked');
  });
});
