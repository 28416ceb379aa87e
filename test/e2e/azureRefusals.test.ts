// Every refusal of Vault's azure auth plugin, as its source words it and in its order, through the
// bundled task: a refusal that never changes is sent once (retries: 2 notwithstanding) and told
// with its cause and a fix to paste; Vault unable to reach Entra or its signing keys is retried,
// then told as the Vault admin's to fix. The azure login check in front of OpenBao fetches the discovery document from the
// Entra emulator over TLS, as the plugin does at its first login after the config is written.
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { get } from 'node:https';
import { Arm, ArmCompute } from '../emulators/arm';
import { AzureInstance, DEFAULT_INSTANCE, scaleSetInstance } from '../emulators/imds';
import { newSigningKey } from '../emulators/jwt';
import { DEFAULT_RESOURCE, seedVault, TENANT_ID } from '../emulators/seed';
import type { AzureAuthConfig, AzureRole } from '../emulators/vaultAzure';
import { Identity, startWorld, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';

const SUB = DEFAULT_INSTANCE.subscriptionId;
const RG = DEFAULT_INSTANCE.resourceGroupName;
const VM = DEFAULT_INSTANCE.name;
const OTHER_SUB = '5f1d7a3e-9c2b-4e8f-a6d0-3b7c1e9f2a44';
const VMSS = { subscriptionId: SUB, resourceGroup: RG, name: 'vmss-agents', location: 'westeurope' };

/** The plugin's discovery request (azure.go newAzureProvider) to the Entra emulator, failures in Go's words. */
function entraDiscovery(ca: string, fetched: string[]): (tenant: string) => Promise<string> {
  return (tenant) =>
    new Promise((resolve, reject) => {
      const url = `https://login.microsoftonline.com/${tenant}/.well-known/openid-configuration`;
      fetched.push(tenant);
      get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve((JSON.parse(body) as { issuer: string }).issuer)
            : reject(new Error(`${res.statusCode} ${res.statusMessage}: ${body}`)),
        );
      }).on('error', (e) => reject(new Error(`Get "${url}": ${e.message}`)));
    });
}

interface Case {
  title: string;
  /** The plugin's text the emulator answers with. */
  text: RegExp;
  config?: Partial<AzureAuthConfig>;
  role?: Partial<AzureRole>;
  /** Log in with the agent VM's managed identity (else the workload identity federation connection). */
  vm?: boolean;
  /** The compute resource IMDS answers for (default the VM). */
  instance?: AzureInstance;
  /** Substrings of the explanation: the cause, the values, the fix. */
  says: (w: World) => string[];
}

describe('e2e: azure plugin refusals, each sent once and explained (the plugin’s order and texts)', function () {
  this.timeout(120_000);
  let world: World;
  let arm: Arm;
  let wif: Identity;
  const fetched: string[] = [];
  const vaultApp = { tenantId: TENANT_ID, clientId: randomUUID(), objectId: randomUUID(), secret: `vault-arm-${randomUUID()}` };
  let n = 0;

  before(async () => {
    world = await startWorld();
    wif = world.ids.wif;
    await seedVault(world.vault, { jwks: () => world.entra.jwks() as never, boundOids: [wif.objectId] });
    arm = new Arm();
    arm.addCredential(vaultApp);
    arm.grantReader(vaultApp.clientId, SUB);
    const vm: ArmCompute = {
      kind: 'vm',
      subscriptionId: SUB,
      resourceGroup: RG,
      name: VM,
      location: 'westeurope',
      systemPrincipalId: world.ids.msi.objectId,
    };
    arm.addCompute(vm);
    arm.addCompute({ ...vm, kind: 'vmss', name: VMSS.name });
  });
  afterEach(() => {
    world.imds.instance = DEFAULT_INSTANCE;
  });
  after(async () => world?.stop());

  /** A fresh mount (so the discovery document is fetched again) with one role, `r`. */
  function mount(config: Partial<AzureAuthConfig> = {}, role: Partial<AzureRole> = {}): string {
    const name = `az${++n}`;
    world.vault.enableAzureAuth(name, {
      tenantId: TENANT_ID,
      resource: DEFAULT_RESOURCE,
      jwks: () => world.entra.jwks() as never,
      discover: entraDiscovery(world.ca.certPem, fetched),
      arm,
      clientId: vaultApp.clientId,
      clientSecret: vaultApp.secret,
      ...config,
    });
    world.vault.writeRole(name, 'r', { bound_service_principal_ids: [], token_policies: ['ci-read'], token_ttl: 900, ...role });
    return name;
  }
  /** The plugin's text for the last login at mount `m`. */
  const lastAnswer = (m: string): string => [...world.vault.azureLogins].reverse().find((l) => l.mount === `${m}/`)?.refusal ?? '';
  const logins = (m: string) => world.vault.requests.filter((q) => q.path === `auth/${m}/login`).length;
  async function run(m: string, vm = false, extra: Record<string, string> = {}): Promise<TaskRun> {
    const inputs = {
      vaultAddress: VAULT_ADDRESS,
      authMount: m,
      role: 'r',
      retries: '2',
      secrets: 'secret/ci/production/db password | DB_PASSWORD',
      ...extra,
    };
    return world.runTask({ connection: wif, inputs: vm ? { ...inputs, azureIdentity: 'agentVm', azureSubscription: '' } : inputs });
  }
  /** The failed run's error, checked: explained (not Vault's words passed on), no ARM or Entra body dumped. */
  function explained(r: TaskRun): string {
    const { errors } = checkRun(world, r, false);
    assert.doesNotMatch(errors, /Vault login at auth\/\S+\/login failed/, `explained, not passed on raw: ${errors}`);
    assert.doesNotMatch(errors, /-{20}|"error_description"|"error":/, `no raw body: ${errors}`);
    return errors;
  }

  const permanent: Case[] = [
    {
      title: 'a mount never configured: tenant_id is required',
      text: /^tenant_id is required$/,
      config: { tenantId: '' },
      says: () => ['has no tenant_id', `vault write auth/<m>/config tenant_id=${TENANT_ID} resource=${DEFAULT_RESOURCE}`],
    },
    {
      title: 'no resource on the mount: resource is required',
      text: /^resource is required$/,
      config: { resource: '' },
      says: () => ['has no resource', `vault write auth/<m>/config resource=${DEFAULT_RESOURCE}`],
    },
    {
      title: 'a tenant typo: Entra’s AADSTS90002 in the discovery failure',
      text: /^400 Bad Request: \{"error":"invalid_tenant".*AADSTS90002/,
      config: { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db48' },
      says: () => [
        "Entra does not know the tenant '72f988bf-86f1-41af-91ab-2d7cd011db48'",
        `vault write auth/<m>/config tenant_id=${TENANT_ID}`,
      ],
    },
    {
      title: 'a signature no key of Entra’s verifies',
      text: /^failed to verify signature: failed to verify id token signature$/,
      config: { jwks: () => ({ keys: [newSigningKey('other').publicJwk as never] }) },
      says: () => [`fetched Entra's signing keys for tenant ${TENANT_ID} and none of them verifies the token's signature`],
    },
    {
      title: 'the Vault server’s clock behind, inside go-oidc’s leeway: token is not yet valid',
      text: /^token is not yet valid \(Token Not Before: .+\)$/,
      config: { clockOffsetMs: -120_000 },
      says: () => [
        'Vault says the Entra token is not valid yet (token is not yet valid (Token Not Before:',
        "the Vault server's clock is behind",
        'NTP',
      ],
    },
    {
      title: 'the Vault server’s clock behind by more than the leeway: go-oidc’s nbf check',
      text: /^oidc: current time .+ before the nbf \(not before\) time: /,
      config: { clockOffsetMs: -600_000 },
      says: () => ['Vault says the Entra token is not valid yet (oidc: current time', 'NTP'],
    },
    {
      title: 'both bindings *',
      text: /^expected specific bound_group_ids or bound_service_principal_ids; both cannot be '\*'$/,
      role: { bound_service_principal_ids: ['*'], bound_group_ids: ['*'] },
      says: (w) => [
        'bound_service_principal_ids=* and bound_group_ids=*',
        `vault write auth/<m>/role/r bound_service_principal_ids=${w.ids.wif.objectId} bound_group_ids=""`,
      ],
    },
    {
      title: 'a service principal not bound',
      text: /^service principal not authorized: /,
      role: { bound_service_principal_ids: [randomUUID()] },
      says: (w) => [
        `The service principal with object id ${w.ids.wif.objectId} is not allowed by role 'r'`,
        `bound_service_principal_ids=${w.ids.wif.objectId}`,
      ],
    },
    {
      title: 'a role bound by groups: an app token has no groups claim',
      text: /^groups not authorized: \[\]$/,
      role: { bound_group_ids: ['5b1c4e2a-0d3f-4a6b-8c9e-1f2a3b4c5d6e'] },
      says: (w) => [
        'the token has no groups claim',
        `vault write auth/<m>/role/r bound_group_ids="" bound_service_principal_ids=${w.ids.wif.objectId}`,
      ],
    },
    {
      title: 'a role bound by subscription used with a service principal connection',
      text: /^subscription_id and resource_group_name are required$/,
      role: { bound_subscription_ids: [SUB] },
      says: (w) => [
        'Those bindings are for managed identities of Azure VMs and scale sets',
        `service connection '${w.ids.wif.connectionId}' (WorkloadIdentityFederation)`,
        `bound_service_principal_ids=${w.ids.wif.objectId} bound_subscription_ids=""`,
      ],
    },
    {
      title: 'the VM’s subscription not bound',
      text: /^subscription not authorized$/,
      vm: true,
      role: { bound_subscription_ids: [OTHER_SUB] },
      says: () => [`the login sent subscription_id=${SUB}`, `vault write auth/<m>/role/r bound_subscription_ids=${SUB}`],
    },
    {
      title: 'the VM’s resource group not bound',
      text: /^resource group not authorized$/,
      vm: true,
      role: { bound_resource_groups: ['rg-other'] },
      says: () => [`the login sent resource_group_name=${RG}`, `vault write auth/<m>/role/r bound_resource_groups=${RG}`],
    },
    {
      title: 'the VM’s location not bound',
      text: /^location not authorized$/,
      vm: true,
      role: { bound_locations: ['eastus'] },
      says: () => ['the login sent location=westeurope', 'vault write auth/<m>/role/r bound_locations=westeurope'],
    },
    {
      title: 'the scale set not bound',
      text: /^scale set not authorized$/,
      vm: true,
      instance: scaleSetInstance(VMSS, 'uniform', '3'),
      role: { bound_scale_sets: ['vmss-builders'] },
      says: () => [`the login sent vmss_name=${VMSS.name}`, `vault write auth/<m>/role/r bound_scale_sets=${VMSS.name}`],
    },
    {
      title: 'a scale-set role and a standalone VM',
      text: /^bound scale set defined but this vm isn't in a scale set$/,
      vm: true,
      role: { bound_scale_sets: ['vmss-agents'] },
      says: () => [
        `this agent is VM '${VM}', in no scale set`,
        `vault write auth/<m>/role/r bound_scale_sets="" bound_resource_groups=${RG}`,
      ],
    },
    {
      title: 'the token’s identity is not one of the VM’s (object id and app id both unknown to ARM)',
      text: /^neither token object id nor token app id match expected identities$/,
      vm: true,
      role: { bound_resource_groups: [RG] },
      config: { arm: undefined },
      says: (w) => [
        `The token's identity (object id ${w.ids.msi.objectId}, client id ${w.ids.msi.clientId}) is not a managed identity of the agent's vm_name '${VM}'`,
        "'managedIdentityClientId'",
      ],
    },
    {
      title: 'the mount’s own ARM credential refused by Entra (AADSTS7000215)',
      text: /^unable to retrieve virtual machine metadata: ClientSecretCredential: authenticate failed:[\s\S]*AADSTS7000215/,
      vm: true,
      role: { bound_resource_groups: [RG] },
      config: { clientSecret: 'the-secret-id-not-its-value' },
      says: () => [
        "Entra refused the mount's own credential (AADSTS7000215)",
        "This is the Vault admin's to fix",
        'vault write auth/<m>/config client_id=<app id> client_secret=<secret value>',
        'Reader role',
      ],
    },
    {
      title: 'the mount’s own ARM credential without Reader on the agents’ subscription (AuthorizationFailed)',
      text: /^unable to retrieve virtual machine metadata: GET https:\/\/management\.azure\.com\/[\s\S]*AuthorizationFailed/,
      vm: true,
      role: { bound_resource_groups: [RG] },
      config: { clientId: 'reader-less' },
      says: () => [
        '(AuthorizationFailed)',
        "This is the Vault admin's to fix",
        `az role assignment create --assignee reader-less --role Reader --scope /subscriptions/${SUB}`,
      ],
    },
  ];

  for (const c of permanent) {
    it(`${c.title}: one login request, the cause and the fix`, async () => {
      let config = c.config;
      if (c.title.startsWith('the token’s identity')) {
        // ARM knows the VM with another system-assigned identity than the one IMDS gives the agent.
        const other = new Arm();
        other.addCredential(vaultApp);
        other.grantReader(vaultApp.clientId, SUB);
        other.addCompute({
          kind: 'vm',
          subscriptionId: SUB,
          resourceGroup: RG,
          name: VM,
          location: 'westeurope',
          systemPrincipalId: randomUUID(),
        });
        config = { ...config, arm: other };
      }
      if (c.config?.clientId === 'reader-less') {
        arm.addCredential({ ...vaultApp, clientId: 'reader-less' });
        config = { ...config, clientSecret: vaultApp.secret };
      }
      const m = mount(config, c.role);
      if (c.instance) world.imds.instance = c.instance;
      const r = await run(m, c.vm);
      assert.equal(logins(m), 1, 'sent once: the answer never changes');
      // The emulator answered with the plugin's text: the one the explanation is for.
      assert.match(lastAnswer(m), c.text);
      const errors = explained(r);
      for (const s of c.says(world))
        assert.ok(errors.includes(s.replace(/<m>/g, m)), `${JSON.stringify(s.replace(/<m>/g, m))} in:\n${errors}`);
    });
  }

  it('with several faults at once the plugin’s first check answers: config, discovery, token, nbf, principal, groups, ARM', async () => {
    const badKeys = { jwks: () => ({ keys: [newSigningKey('other').publicJwk as never] }) };
    const combos: Array<[Partial<AzureAuthConfig>, Partial<AzureRole>, boolean, RegExp]> = [
      [{ tenantId: '', ...badKeys }, { bound_group_ids: ['g'] }, false, /^tenant_id is required$/],
      [{ tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db48', resource: 'api://other' }, {}, false, /^400 Bad Request: .*AADSTS90002/],
      [{ resource: 'api://other', ...badKeys }, {}, false, /^oidc: expected audience "api:\/\/other"/],
      [{ clockOffsetMs: -120_000, ...badKeys }, {}, false, /^failed to verify signature: failed to verify id token signature$/],
      [{ clockOffsetMs: -120_000 }, { bound_service_principal_ids: ['*'], bound_group_ids: ['*'] }, false, /^token is not yet valid/],
      [{}, { bound_service_principal_ids: ['someone-else'], bound_group_ids: ['g'] }, false, /^service principal not authorized: /],
      [{}, { bound_group_ids: ['g'], bound_subscription_ids: [SUB] }, false, /^groups not authorized: \[\]$/],
      [
        { clientSecret: 'wrong' },
        { bound_subscription_ids: [OTHER_SUB] },
        true,
        /^unable to retrieve virtual machine metadata: ClientSecretCredential/,
      ],
    ];
    for (const [config, role, vm, text] of combos) {
      const m = mount(config, role);
      explained(await run(m, vm));
      assert.match(lastAnswer(m), text);
    }
  });

  it('the discovery document is fetched at the first login and kept, and a tenant typo is fetched again at each login', async () => {
    const ok = mount({}, { bound_service_principal_ids: [wif.objectId] });
    const start = fetched.length;
    checkRun(world, await run(ok), true);
    checkRun(world, await run(ok), true);
    assert.equal(fetched.length - start, 1, 'fetched once for two logins');
    const typo = mount({ tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db48' });
    const before = fetched.length;
    explained(await run(typo));
    explained(await run(typo));
    assert.equal(fetched.length - before, 2, 'a failed fetch is not kept');
  });

  const unreachable: Array<[string, string]> = [
    ['EOF', 'EOF'],
    ['a dial error', 'dial tcp: lookup login.microsoftonline.com on 10.0.0.2:53: no such host'],
  ];
  for (const [what, cause] of unreachable) {
    it(`Vault unable to reach Entra (${what}): retried, then the Vault admin's egress named`, async () => {
      const m = mount(
        {
          discover: async (t) =>
            Promise.reject(new Error(`Get "https://login.microsoftonline.com/${t}/.well-known/openid-configuration": ${cause}`)),
        },
        { bound_service_principal_ids: [wif.objectId] },
      );
      const r = await run(m);
      assert.equal(logins(m), 3, 'retried: the next attempt may get through');
      const errors = explained(r);
      assert.match(lastAnswer(m), /^Get "https:\/\/login\.microsoftonline\.com\/.+\/\.well-known\/openid-configuration": /);
      assert.ok(
        errors.includes(
          `Vault could not read Entra's discovery document (${cause}): the Vault server cannot reach login.microsoftonline.com`,
        ),
        errors,
      );
      assert.ok(errors.includes('the Vault admin must let the Vault server reach https://login.microsoftonline.com on port 443'), errors);
    });
  }

  it('Entra unreachable at the first login, reachable at the next: the retry logs in', async () => {
    let failures = 1;
    const real = entraDiscovery(world.ca.certPem, fetched);
    const m = mount(
      {
        discover: async (t) =>
          failures-- > 0
            ? Promise.reject(new Error(`Get "https://login.microsoftonline.com/${t}/.well-known/openid-configuration": EOF`))
            : real(t),
      },
      { bound_service_principal_ids: [wif.objectId] },
    );
    checkRun(world, await run(m), true);
    assert.equal(logins(m), 2);
  });

  it("Entra's signing keys not fetched: retried (transient), then the Vault admin's egress named", async () => {
    const m = mount(
      { jwks: () => Promise.reject(new Error('Get "https://login.microsoftonline.com/common/discovery/keys": EOF')) },
      { bound_service_principal_ids: [wif.objectId] },
    );
    const r = await run(m);
    assert.equal(logins(m), 3);
    assert.match(lastAnswer(m), /^failed to verify signature: fetching keys oidc: get keys failed: /);
    const errors = explained(r);
    assert.ok(
      errors.includes(
        `Vault could not fetch Entra's signing keys to check the token (Get "https://login.microsoftonline.com/common/discovery/keys": EOF), and the task retried it.`,
      ),
      errors,
    );
  });
});
