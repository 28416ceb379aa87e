// The Vault side of the azure auth method's login (vault-plugin-auth-azure path_login.go), for the
// front of real OpenBao (test/server/vaultFront.ts hands it the logins of the mounts enabled here):
// OpenBao has no azure auth method, so this check is the one part of the login that is ours. The
// token it grants is a real OpenBao token.
import { IssueToken, PluginReply, PluginRequest, pluginMounts } from './pluginMounts';
import {
  AZURE_NAME,
  AzureAuthConfig,
  AzureClaims,
  AzureJwtVerifier,
  AzureRole,
  asString,
  azureSettingsError,
  GUID,
  InstanceFields,
  LoginRejected,
  RESOURCE_GROUP,
  verifyAzureResource,
  verifyAzureRole,
} from './vault';

interface Mount {
  config: AzureAuthConfig;
  /** The issuer of the discovery document, once fetched (the plugin's cached provider). */
  issuer?: string;
  roles: Map<string, AzureRole>;
}

/** An azure login that named a jwt and an existing role: its mount path, its body as sent, and the refusal's text. */
export interface AzureLogin {
  mount: string;
  body: Record<string, unknown>;
  refusal?: string;
}

const mounts = pluginMounts<Mount>('azure');
const logins = new WeakMap<object, AzureLogin[]>();

export function enableAzureAuth(vault: object, mount: string, config: AzureAuthConfig, ns = ''): void {
  mounts.enable(vault, mount, { config, roles: new Map() }, ns);
}

/** `vault write auth/<mount>/config`: the new config, and the discovery document fetched again at the next login. */
export function writeAzureConfig(vault: object, mount: string, config: AzureAuthConfig, ns = ''): void {
  const m = mounts.get(vault, mount, ns);
  m.config = config;
  m.issuer = undefined;
}

export function writeAzureRole(vault: object, mount: string, name: string, role: AzureRole, ns = ''): void {
  mounts.get(vault, mount, ns).roles.set(name.toLowerCase(), { ...role });
}

/** The logins the azure mounts of `vault` checked so far. */
export function azureLogins(vault: object): AzureLogin[] {
  if (!logins.has(vault)) logins.set(vault, []);
  return logins.get(vault) as AzureLogin[];
}

const err = (status: number, text: string): PluginReply => ({ status, body: { errors: [text] } });

/** POST auth/<mount>/login of an azure mount enabled here (pathLogin); undefined for any other request. */
export async function login(
  vault: object,
  req: PluginRequest,
  issue: (...args: [...Parameters<IssueToken>, Record<string, string>]) => ReturnType<IssueToken>,
): Promise<PluginReply | undefined> {
  const target = mounts.forLogin(vault, req);
  if (!target || 'reply' in target) return target?.reply;
  const { mount, mountPath } = target;
  const jwt = asString(req.body.jwt);
  if (!jwt) return err(400, 'jwt is required');
  const roleName = asString(req.body.role);
  if (!roleName) return err(400, 'role is required');
  const role = mount.roles.get(roleName.toLowerCase());
  if (!role) return err(400, `invalid role name ${JSON.stringify(roleName)}`);

  const record: AzureLogin = { mount: mountPath, body: { ...req.body } };
  azureLogins(vault).push(record);
  const refuse = (status: number, text: string): PluginReply => {
    record.refusal = text;
    return err(status, text);
  };
  const fields: InstanceFields = {
    subscriptionId: asString(req.body.subscription_id),
    resourceGroup: asString(req.body.resource_group_name),
    vmName: asString(req.body.vm_name),
    vmssName: asString(req.body.vmss_name),
    resourceId: asString(req.body.resource_id),
  };
  if (fields.subscriptionId && !GUID.test(fields.subscriptionId))
    return refuse(400, `invalid subscription id ${JSON.stringify(fields.subscriptionId)}`);
  if (fields.resourceGroup && !RESOURCE_GROUP.test(fields.resourceGroup))
    return refuse(400, `invalid resource group name ${JSON.stringify(fields.resourceGroup)}`);
  if (fields.vmssName && !AZURE_NAME.test(fields.vmssName)) return refuse(400, `invalid vmss_name ${JSON.stringify(fields.vmssName)}`);
  if (fields.vmName && !AZURE_NAME.test(fields.vmName)) return refuse(400, `invalid vm name ${JSON.stringify(fields.vmName)}`);

  const { config } = mount;
  const settings = azureSettingsError(config);
  if (settings) return refuse(500, settings);
  if (mount.issuer === undefined) {
    try {
      mount.issuer = config.discover ? await config.discover(config.tenantId) : `https://sts.windows.net/${config.tenantId}/`;
    } catch (e) {
      return refuse(500, (e as Error).message);
    }
  }
  let claims: AzureClaims;
  try {
    claims = await new AzureJwtVerifier(config, mount.issuer).verify(jwt);
    verifyAzureRole(claims, role, Date.now() + (config.clockOffsetMs ?? 0));
    await verifyAzureResource(fields, claims, role, config);
  } catch (e) {
    if (e instanceof LoginRejected) return refuse(500, e.message);
    throw e;
  }
  const meta: Record<string, string> = {
    resource_group_name: fields.resourceGroup,
    role: roleName,
    subscription_id: fields.subscriptionId,
  };
  if (fields.vmName) meta.vm_name = fields.vmName;
  if (fields.vmssName) meta.vmss_name = fields.vmssName;
  if (fields.resourceId) meta.resource_id = fields.resourceId;
  if (claims.appid) meta.app_id = claims.appid;
  return issue(mountPath, role, roleName, claims.oid, meta);
}
