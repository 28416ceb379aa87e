// The Vault side of the gcp auth method, for the front of OpenBao (vaultFront.ts hands it the logins of the
// mounts enabled here): verify the JWT with Google's keys (the metadata emulator's), check `exp` and
// that every `aud` ends in vault/<role>, then a gce role's bound_projects, the instance (the
// Compute API), bound_zones and bound_service_accounts, or an iam role's GCE inference and bound
// service accounts. Errors as hashicorp/vault-plugin-auth-gcp plugin/path_login.go
// (parseAndValidateJwt, getSigningKey, validateBaseJWTClaims, pathIamLogin,
// authorizeIAMServiceAccount, pathGceLogin) and plugin/authorizer_gce.go (AuthorizeGCE) write them
// (the same in openbao/openbao-plugins auth/gcp): logical.ErrorResponse, so HTTP 400, with Go's %q
// and %+v renderings of lists.
import { decodeJwt, JwtError, verifyJwt } from './jwt';
import type { Gce } from './gcp';
import type { AzureRole } from './vaultAzure';
import { IssueToken, PluginReply, PluginRequest, pluginMounts } from './pluginMounts';

export interface GcpRole {
  type: 'gce' | 'iam';
  bound_service_accounts?: string[];
  bound_projects?: string[];
  bound_zones?: string[];
  bound_regions?: string[];
  /** gce roles: labels the instance must carry, key → value (checked first, as AuthorizeGCE does). */
  bound_labels?: Record<string, string>;
  /**
   * iam roles: accept GCE instance tokens (the plugin's default is true). Never decisive at login:
   * the plugin reads a token's GCE claims for gce roles only, so an iam role sees a VM's token as a
   * service account JWT, held to max_jwt_exp.
   */
  allow_gce_inference?: boolean;
  /** iam roles: the longest lifetime a service account JWT may have, in seconds (default 900). */
  max_jwt_exp?: number;
  token_policies?: string[];
  token_ttl?: number;
  token_type?: 'service' | 'batch';
}

interface Mount {
  gce: Gce;
  roles: Map<string, GcpRole>;
  /** Whether Google lets the plugin's own credential read instances (compute.instances.get). */
  computeAllowed: boolean;
}

const mounts = pluginMounts<Mount>('gcp');

export function enableGcpAuth(vault: object, mount: string, gce: Gce, ns = ''): void {
  mounts.enable(vault, mount, { gce, roles: new Map(), computeAllowed: true }, ns);
}

/** The mount's own Google credential: one with compute.instances.get (the default), or one without it. */
export function setGcpCredential(vault: object, mount: string, computeAllowed: boolean, ns = ''): void {
  mounts.get(vault, mount, ns).computeAllowed = computeAllowed;
}

export function writeGcpRole(vault: object, mount: string, name: string, role: GcpRole, ns = ''): void {
  const m = mounts.get(vault, mount, ns);
  if (role.type === 'iam' && !(role.bound_service_accounts ?? []).length)
    throw new Error('IAM role must have at least one service account');
  m.roles.set(name.toLowerCase(), { allow_gce_inference: true, ...role });
}

const err = (...errors: string[]): PluginReply => ({ status: 400, body: { errors } });
/** Go's %q of a []string. */
const goQuoted = (list: string[]) => `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
/** Go's %+v of a []string. */
const goPlain = (list: string[]) => `[${list.join(' ')}]`;

/** POST auth/<mount>/login of a gcp mount enabled here; undefined for any other request. */
export async function login(vault: object, req: PluginRequest, issue: IssueToken): Promise<PluginReply | undefined> {
  const target = mounts.forLogin(vault, req);
  if (!target || 'reply' in target) return target?.reply;
  const { mount: m, mountPath } = target;

  const roleName = typeof req.body.role === 'string' ? req.body.role : '';
  if (!roleName) return err('role is required');
  const role = m.roles.get(roleName.toLowerCase());
  if (!role) return err(`role ${JSON.stringify(roleName)} not found`);
  const jwt = req.body.jwt;
  if (typeof jwt !== 'string') return err('jwt argument is required');

  let header: ReturnType<typeof decodeJwt>['header'];
  let unverified: ReturnType<typeof decodeJwt>['payload'];
  try {
    ({ header, payload: unverified } = decodeJwt(jwt));
  } catch {
    return err('unable to parse signed JWT: go-jose/go-jose: compact JWS format must have three parts');
  }
  const kid = String(header.kid ?? '');
  const sub = String(unverified.sub ?? '');
  const keys = m.gce.jwks();
  if (!keys.keys.some((k) => k.kid === kid)) {
    return err(
      `unable to get public key for signed JWT: unable to get public key ${JSON.stringify(kid)} for JWT subject ${JSON.stringify(sub)}: no Google OAuth2 provider key found for GCE role`,
    );
  }
  let claims: Record<string, unknown>;
  try {
    claims = verifyJwt(jwt, keys, { checkTime: false });
  } catch (e) {
    if (e instanceof JwtError) return err('go-jose/go-jose: error in cryptographic primitive');
    throw e;
  }
  // validateBaseJWTClaims: exp (60 s of tolerance), sub, every aud ending in vault/<role>.
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number' || claims.exp < now - 60) return err("JWT is expired or does not have proper 'exp' claim");
  if (!claims.sub) return err("expected JWT to have 'sub' claim with service account id or email");
  const suffix = `vault/${roleName}`;
  for (const aud of ([] as unknown[]).concat(claims.aud ?? [])) {
    if (!String(aud).endsWith(suffix)) return err(`at least one of the JWT claim 'aud' must end in ${JSON.stringify(suffix)}`);
  }
  const gce = ((claims.google as Record<string, unknown> | undefined)?.compute_engine ?? undefined) as Record<string, unknown> | undefined;
  const hasGce = !!gce && !!gce.instance_id;
  if (role.type === 'gce' && !hasGce) return err('expected JWT to have claims with GCE metadata');

  const sa = m.gce.serviceAccount(String(claims.sub));
  const azureShaped: AzureRole = {
    bound_service_principal_ids: [],
    token_policies: role.token_policies,
    token_ttl: role.token_ttl,
    token_type: role.token_type,
  };
  if (role.type === 'iam') {
    // parseAndValidateJwt keeps GCE claims for gce roles only: here the allow_gce_inference check
    // never fires, and a VM's token (an hour) is held to max_jwt_exp like any service account JWT.
    const maxJwtExp = role.max_jwt_exp ?? 900;
    if (claims.exp > now + maxJwtExp) return err(`role requires that service account JWTs expire within ${maxJwtExp} seconds`);
    if (!sa) return err(`service account ${String(claims.sub)} not found`);
    const projects = role.bound_projects ?? [];
    if (projects.length && !projects.includes(sa.projectId))
      return err(`service account ${JSON.stringify(sa.email)} not in bound projects ${goPlain(projects)}`);
    const bound = role.bound_service_accounts ?? [];
    if (!(bound.length === 1 && bound[0] === '*') && !bound.includes(sa.email) && !bound.includes(sa.uniqueId)) {
      return err(`service account ${sa.email} (id: ${sa.uniqueId}) is not authorized for role`);
    }
    return issue(mountPath, azureShaped, roleName, sa.email);
  }

  const projectId = String(gce?.project_id ?? '');
  const zone = String(gce?.zone ?? '');
  const instanceName = String(gce?.instance_name ?? '');
  const instanceId = String(gce?.instance_id ?? '');
  const projects = role.bound_projects ?? [];
  if (projects.length && !projects.includes(projectId))
    return err(`instance ${JSON.stringify(instanceId)} (project ${JSON.stringify(projectId)}) not in bound projects ${goPlain(projects)}`);
  // GetVerifiedInstance (go-gcp-common gcputil): compute.instances.get with the plugin's own credential.
  const lookup = `error when attempting to find instance (project ${projectId}, zone: ${zone}, instance: ${instanceName}) :unable to find instance associated with token: `;
  if (!m.computeAllowed)
    return err(
      `${lookup}googleapi: Error 403: Required 'compute.instances.get' permission for 'projects/${projectId}/zones/${zone}/instances/${instanceName}', forbidden`,
    );
  if (!m.gce.instanceExists(projectId, zone, instanceName)) {
    return err(
      `${lookup}googleapi: Error 404: The resource 'projects/${projectId}/zones/${zone}/instances/${instanceName}' was not found, notFound`,
    );
  }
  // AuthorizeGCE: labels, then zones or regions, then service accounts.
  const labels = m.gce.instance.labels;
  for (const [k, v] of Object.entries(role.bound_labels ?? {})) {
    if (labels[k] !== v) return err(`instance missing bound label "${k}:${v}"`);
  }
  const zones = role.bound_zones ?? [];
  const regions = role.bound_regions ?? [];
  if (zones.length && !zones.includes(zone)) return err(`instance not in bound zones ${goQuoted(zones)}`);
  if (!zones.length && regions.length && !regions.includes(zone.replace(/-[a-z]$/, '')))
    return err(`instance not in bound regions ${goQuoted(regions)}`);
  const bound = role.bound_service_accounts ?? [];
  if (bound.length) {
    if (!sa)
      return err(
        `could not find service account ${JSON.stringify(String(claims.sub))}: googleapi: Error 404: Not found; Gaia id not found for email ${String(claims.sub)}, notFound`,
      );
    if (!bound.includes(sa.email) && !bound.includes(sa.uniqueId)) {
      return err(
        `service account ${JSON.stringify(sa.uniqueId)} (${JSON.stringify(sa.email)}) is not in bound service accounts ${goQuoted(bound)}`,
      );
    }
  }
  return issue(mountPath, azureShaped, roleName, instanceName);
}
