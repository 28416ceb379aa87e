// The Vault side of the azure auth method's login, for the front of real OpenBao
// (test/server/vaultFront.ts hands it the logins of the mounts enabled here): OpenBao has no azure
// auth method, so this check is the one part of the login that is ours; the token it grants is a
// real OpenBao token. Status codes and error texts follow hashicorp/vault-plugin-auth-azure
// (path_login.go, azure.go) and coreos/go-oidc v3 (oidc/verify.go, oidc/jwks.go).
import { createPublicKey, JsonWebKey, verify as verifySignature } from 'node:crypto';
import type { Arm, ArmComputeView } from './arm';
import { IssueToken, PluginReply, PluginRequest, pluginMounts } from './pluginMounts';

export interface JsonWebKeySet {
  keys: Array<Record<string, unknown>>;
}

export interface AzureAuthConfig {
  /** '' answers as a mount never configured: `tenant_id is required`. */
  tenantId: string;
  /** '' answers `resource is required`. */
  resource: string;
  jwks: () => Promise<JsonWebKeySet> | JsonWebKeySet;
  /**
   * The discovery fetch (`GET <authority><tenant>/.well-known/openid-configuration`): resolves the
   * issuer the document names, or rejects with the plugin's error text (a Go *url.Error when Entra
   * cannot be reached, `<status>: <body>` when it refuses). Default: Entra's v1 issuer of the tenant.
   * Fetched at the first login after the config is written and kept; a failure is tried again at every login.
   */
  discover?: (tenantId: string) => Promise<string>;
  /** ARM, for roles with subscription, resource group, location or scale set bindings (arm.ts). */
  arm?: Arm;
  /** The mount's own ARM credential (client_id, client_secret). */
  clientId?: string;
  clientSecret?: string;
  /** How far the Vault server's clock is off (negative: behind), for the token time checks. */
  clockOffsetMs?: number;
}

export interface AzureRole {
  bound_service_principal_ids: string[];
  bound_group_ids?: string[];
  bound_subscription_ids?: string[];
  bound_resource_groups?: string[];
  bound_locations?: string[];
  bound_scale_sets?: string[];
  token_policies?: string[];
  token_type?: 'service' | 'batch' | 'default';
  /** seconds, default 3600 */
  token_ttl?: number;
}

/** go-oidc accepts an nbf up to this far in the future. */
const OIDC_NBF_LEEWAY_MS = 5 * 60 * 1000;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Go's `%v` of a time.Time in UTC, e.g. `2024-05-01 12:00:00 +0000 UTC`; null is the zero time. */
function goTime(ms: number | null): string {
  if (ms === null) return '0001-01-01 00:00:00 +0000 UTC';
  const d = new Date(ms);
  const frac = d.getUTCMilliseconds() ? `.${pad(d.getUTCMilliseconds(), 3).replace(/0+$/, '')}` : '';
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac} +0000 UTC`
  );
}

/** Go's `%q` of a []string: `["a" "b"]`. */
const goQuotedList = (items: string[]): string => `[${items.map((s) => JSON.stringify(s)).join(' ')}]`;

export function asString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

export class LoginRejected extends Error {}

/** The claims the plugin reads after go-oidc's checks (path_login.go additionalClaims). */
export interface AzureClaims {
  oid: string;
  appid: string;
  groups: string[];
  nbf: number | null;
  xmsAzRid: string;
  xmsMirid: string;
}

function decodeSegment(segment: string): Buffer {
  const bad = /[^A-Za-z0-9_-]/.exec(segment);
  if (bad) throw new LoginRejected(`illegal base64 data at input byte ${bad.index}`);
  if (segment.length % 4 === 1) throw new LoginRejected(`illegal base64 data at input byte ${segment.length - 1}`);
  return Buffer.from(segment, 'base64url');
}

function parseJsonObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SyntaxError(`json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value} into Go value of type oidc.idToken`);
  }
  return value as Record<string, unknown>;
}

/** Seconds since the epoch as go-oidc's jsonTime reads them (fractions truncated); null if absent. */
function claimTime(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? Math.trunc(value) * 1000 : null;
}

const audienceOf = (aud: unknown): string[] =>
  typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];

export class AzureJwtVerifier {
  constructor(
    private readonly config: AzureAuthConfig,
    private readonly issuer: string,
  ) {}

  /** go-oidc's Verify: resolves the claims or throws LoginRejected with the message Vault would return. */
  async verify(jwt: string): Promise<AzureClaims> {
    const claims = this.parseClaims(jwt);
    this.checkClaims(claims);
    await this.checkSignature(jwt);
    const groups = Array.isArray(claims.groups) ? claims.groups.map(asString) : [];
    return {
      oid: asString(claims.oid),
      appid: asString(claims.appid),
      groups,
      nbf: claimTime(claims.nbf),
      xmsAzRid: asString(claims.xms_az_rid),
      xmsMirid: asString(claims.xms_mirid),
    };
  }

  private parseClaims(jwt: string): Record<string, unknown> {
    const parts = jwt.split('.');
    if (parts.length < 2) {
      throw new LoginRejected(`oidc: malformed jwt: oidc: malformed jwt, expected 3 parts got ${parts.length}`);
    }
    let payload: Buffer;
    try {
      payload = decodeSegment(parts[1]);
    } catch (e) {
      throw new LoginRejected(`oidc: malformed jwt: oidc: malformed jwt payload: ${(e as Error).message}`);
    }
    try {
      return parseJsonObject(payload.toString('utf8'));
    } catch (e) {
      throw new LoginRejected(`oidc: failed to unmarshal claims: ${(e as Error).message}`);
    }
  }

  private checkClaims(claims: Record<string, unknown>): void {
    const expectedIssuer = this.issuer;
    const issuer = asString(claims.iss);
    if (issuer !== expectedIssuer) {
      throw new LoginRejected(
        `oidc: id token issued by a different provider, expected ${JSON.stringify(expectedIssuer)} got ${JSON.stringify(issuer)}`,
      );
    }
    const audience = audienceOf(claims.aud);
    if (!audience.includes(this.config.resource)) {
      throw new LoginRejected(`oidc: expected audience ${JSON.stringify(this.config.resource)} got ${goQuotedList(audience)}`);
    }
    const now = Date.now() + (this.config.clockOffsetMs ?? 0);
    const expiry = claimTime(claims.exp);
    if (expiry === null || expiry < now) {
      throw new LoginRejected(`oidc: token is expired (Token Expiry: ${goTime(expiry)})`);
    }
    const nbf = claimTime(claims.nbf);
    if (nbf !== null && now + OIDC_NBF_LEEWAY_MS < nbf) {
      const monotonic = `m=+${process.uptime().toFixed(9)}`;
      throw new LoginRejected(`oidc: current time ${goTime(now)} ${monotonic} before the nbf (not before) time: ${goTime(nbf)}`);
    }
  }

  private async checkSignature(jwt: string): Promise<void> {
    const parts = jwt.split('.');
    if (parts.length !== 3) {
      throw new LoginRejected('oidc: malformed jwt: go-jose/go-jose: compact JWS format must have three parts');
    }
    let header: Record<string, unknown>;
    try {
      header = parseJsonObject(decodeSegment(parts[0]).toString('utf8'));
    } catch (e) {
      throw new LoginRejected(`oidc: malformed jwt: ${(e as Error).message}`);
    }
    const alg = asString(header.alg);
    if (alg !== 'RS256') {
      throw new LoginRejected(
        `oidc: malformed jwt: go-jose/go-jose: unexpected signature algorithm ${JSON.stringify(alg)}; expected ["RS256"]`,
      );
    }
    let keys: JsonWebKeySet;
    try {
      keys = await this.config.jwks();
    } catch (e) {
      throw new LoginRejected(`failed to verify signature: fetching keys oidc: get keys failed: ${(e as Error).message}`);
    }
    const kid = asString(header.kid);
    const input = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2], 'base64url');
    const verified = keys.keys.some((jwk) => {
      if ((kid && jwk.kid !== kid) || jwk.kty !== 'RSA') return false;
      try {
        const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
        return verifySignature('sha256', input, key, signature);
      } catch {
        return false;
      }
    });
    if (!verified) throw new LoginRejected('failed to verify signature: failed to verify id token signature');
  }
}

/** Go's strings.EqualFold over a role's list (the plugin's strListContains). */
const listHas = (list: string[], value: string): boolean => list.some((v) => v.toLowerCase() === value.toLowerCase());
const isWildcard = (list: string[] | undefined): boolean => list?.length === 1 && list[0] === '*';

/** path_login.go verifyRole: the plugin's own, stricter nbf check (no leeway), then the role's principal and group bindings. */
export function verifyAzureRole(claims: AzureClaims, role: AzureRole, now: number): void {
  if (claims.nbf !== null && claims.nbf > now) {
    throw new LoginRejected(`token is not yet valid (Token Not Before: ${goTime(claims.nbf)})`);
  }
  const sps = role.bound_service_principal_ids;
  const groups = role.bound_group_ids ?? [];
  if (isWildcard(sps) && isWildcard(groups)) {
    throw new LoginRejected("expected specific bound_group_ids or bound_service_principal_ids; both cannot be '*'");
  }
  if (!isWildcard(sps) && sps.length > 0 && !listHas(sps, claims.oid))
    throw new LoginRejected(`service principal not authorized: ${claims.oid}`);
  if (!isWildcard(groups) && groups.length > 0 && !claims.groups.some((g) => listHas(groups, g))) {
    throw new LoginRejected(`groups not authorized: [${claims.groups.join(' ')}]`);
  }
}

/** The login's instance fields (subscription_id, resource_group_name, vm_name, vmss_name, resource_id). */
export interface InstanceFields {
  subscriptionId: string;
  resourceGroup: string;
  vmName: string;
  vmssName: string;
  resourceId: string;
}

/** path_login.go verifyXMSClaims: `pattern` with the login's value must be in xms_az_rid or xms_mirid. */
function verifyXmsClaims(claims: AzureClaims, pattern: (v: string) => string, key: string, value: string): string | undefined {
  if (!claims.xmsAzRid && !claims.xmsMirid) return 'xms_az_rid and xms_mirid claims are missing from token';
  const errs: string[] = [];
  if (claims.xmsAzRid) {
    if (claims.xmsAzRid.includes(pattern(value))) return undefined;
    errs.push(`xms_az_rid token claim does not match ${key} ${value}`);
  }
  if (claims.xmsMirid.includes(pattern(value))) return undefined;
  errs.push(`xms_mirid token claim does not match ${key} ${value}`);
  return errs.join('\n');
}

/**
 * path_login.go verifyResource (openbao-plugins auth/azure, with the token-claim checks of
 * hashicorp/vault-plugin-auth-azure#186 and #203): the instance named in the login, looked up in
 * ARM with the mount's own credential, must carry the token's identity and satisfy the role.
 */
export async function verifyAzureResource(f: InstanceFields, claims: AzureClaims, role: AzureRole, config: AzureAuthConfig): Promise<void> {
  const subs = role.bound_subscription_ids ?? [];
  const rgs = role.bound_resource_groups ?? [];
  const locations = role.bound_locations ?? [];
  const scaleSets = role.bound_scale_sets ?? [];
  if (!subs.length && !rgs.length && !locations.length && !scaleSets.length) return;
  if (!f.subscriptionId || !f.resourceGroup) throw new LoginRejected('subscription_id and resource_group_name are required');
  const client = config.arm?.client(config.tenantId, config.clientId ?? '', config.clientSecret ?? '');
  const noArm = () => new Error('the emulated mount has no ARM (AzureAuthConfig.arm)');
  let view: ArmComputeView | undefined;
  const principals = new Set<string>();
  const collect = (v: ArmComputeView) => {
    if (v.identity?.principalId) principals.add(v.identity.principalId);
    for (const u of Object.values(v.identity?.userAssignedIdentities ?? {})) principals.add(u.principalId);
  };
  if (f.vmssName) {
    const flexible = verifyXmsClaims(claims, (v) => `/virtualMachines/${v}_`, 'vmss_name', f.vmssName);
    if (flexible) {
      const uniform = verifyXmsClaims(claims, (v) => `/virtualMachineScaleSets/${v}`, 'vmss_name', f.vmssName);
      if (uniform)
        throw new LoginRejected(`failed to verify flexible vmss claim: ${flexible}\nfailed to verify uniform vmss claim: ${uniform}`);
    }
    if (!client) throw noArm();
    try {
      view = await client.getScaleSet(f.subscriptionId, f.resourceGroup, f.vmssName);
    } catch (e) {
      throw new LoginRejected(`unable to retrieve virtual machine scale set metadata: ${(e as Error).message}`);
    }
    if (scaleSets.length && !listHas(scaleSets, f.vmssName)) throw new LoginRejected('scale set not authorized');
    if (!view.identity) throw new LoginRejected('vmss client did not return identity information');
    collect(view);
  } else if (f.vmName) {
    const mismatch = verifyXmsClaims(claims, (v) => `/virtualMachines/${v}`, 'vm_name', f.vmName);
    if (mismatch) throw new LoginRejected(mismatch);
    if (!client) throw noArm();
    try {
      view = await client.getVm(f.subscriptionId, f.resourceGroup, f.vmName);
    } catch (e) {
      throw new LoginRejected(`unable to retrieve virtual machine metadata: ${(e as Error).message}`);
    }
    if (!view.identity) throw new LoginRejected('vm client did not return identity information');
    if (scaleSets.length) throw new LoginRejected("bound scale set defined but this vm isn't in a scale set");
    collect(view);
  } else if (f.resourceId) {
    if (scaleSets.length) throw new LoginRejected('scale set requires the vmss_name field to be set');
    throw new Error('the emulated plugin does not look up a resource_id');
  } else if (!claims.appid) {
    throw new LoginRejected('one of vm_name, vmss_name, resource_id, or an appid JWT claim must be provided');
  }
  if (f.vmssName || f.vmName) {
    const rg = verifyXmsClaims(claims, (v) => `/resourcegroups/${v}`, 'resource_group_name', f.resourceGroup);
    if (rg) throw new LoginRejected(rg);
  } else if (!f.resourceId.includes(`/resourcegroups/${f.resourceGroup}`) && !f.resourceId.includes(`/resourceGroups/${f.resourceGroup}`)) {
    throw new LoginRejected('provided resource_id does not match resource_group_name');
  }
  let wifMatch = false;
  if (!principals.has(claims.oid)) {
    if (!claims.appid) throw new LoginRejected('token object id does not match expected identities, and no app id was found');
    if (!client) throw noArm();
    const clientIds = new Set<string>();
    for (const rg of [f.resourceGroup, ...rgs])
      for (const id of await client.listIdentityClientIds(f.subscriptionId, rg)) clientIds.add(id);
    if (!clientIds.has(claims.appid)) throw new LoginRejected('neither token object id nor token app id match expected identities');
    wifMatch = true;
  }
  if (subs.length && !listHas(subs, f.subscriptionId)) throw new LoginRejected('subscription not authorized');
  if (!wifMatch && rgs.length && !listHas(rgs, f.resourceGroup)) throw new LoginRejected('resource group not authorized');
  if (locations.length) {
    if (!view?.location) throw new LoginRejected('location is empty');
    if (!listHas(locations, view.location)) throw new LoginRejected('location not authorized');
  }
}

/** azure.go getAzureSettings, the parts a login reads: the tenant and the resource, each required. */
export function azureSettingsError(config: AzureAuthConfig): string | undefined {
  if (!config.tenantId) return 'tenant_id is required';
  if (!config.resource) return 'resource is required';
  return undefined;
}

export const GUID = /^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$/;
export const AZURE_NAME = /^[a-zA-Z]$|^[a-zA-Z][a-zA-Z0-9.\-_]*[a-zA-Z0-9_]$/;
export const RESOURCE_GROUP = /^[-_.()\p{L}\p{N}]*[-_()\p{L}\p{N}]$/u;

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
