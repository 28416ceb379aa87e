// azure: an Entra access token of an Azure Resource Manager service connection (every scheme arm-rest
// has), sent as `{role, jwt}`. Vault's azure method checks it, and so does a jwt mount that trusts
// Entra by its discovery document; the refusals of both are explained here. A managed identity of
// the agent VM (a managed identity connection, or the VM's own with no connection) logs in as
// Vault's Go client does: the token and the VM's values from IMDS, so that roles bound to
// subscriptions, resource groups, locations or scale sets can check them.
import { DeadlineError } from '../core/deadline';
import type { VaultHttpError } from '../core/failures';
import type { Text } from '../core/text';
import { claimsAmong, readClaims } from '../core/tokenClaims';
import { Imds, imds as defaultImds, ImdsError, isNoImds, isTransientImds, IMDS_HOST } from './azureImds';
import { explainAzureVault } from './azureRefusals';
import { explainOidcFailure, isTransientOidc, OidcTokenError } from './jwt';
import { explainJwtRefusal } from './jwtRefusals';
import type { AuthMethod, AuthMethodDescriptor, LoginTarget, Proof, ReadContext } from './method';
import { AzureTokenError, AzureTokenSource } from './tokenSource';

export interface AzureAuthConfig {
  method: 'azure';
  /** The AzureRM service connection ('' when the agent VM's own identity logs in). */
  connection: string;
  /** Its authorization scheme, for the log. */
  connectionScheme: string;
  /** The audience the Entra token is requested for. */
  resource: string;
  /**
   * Set when a managed identity of the agent VM logs in: the token comes from IMDS (naming the
   * user-assigned identity `clientId`, '' for the VM's default), and the login carries the VM's values.
   */
  managedIdentity?: { clientId: string };
}

/**
 * An Entra failure worth a fresh attempt: a transient service error or a dropped connection. MSAL
 * remembers a 5xx/429 answer and replays it to every retry on the same client for a minute, so
 * arm-rest's own retries cannot get past one; a new attempt builds a new client.
 */
export function isTransientEntra(detail: string): boolean {
  return /AADSTS90033|temporarily_unavailable|service_unavailable|server_error|Status code: 5\d\d|ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|socket hang up/i.test(
    detail,
  );
}

const entraCodes: Array<[RegExp, string]> = [
  [/AADSTS70021\b/, 'Aadsts70021'],
  [/AADSTS700024\b/, 'Aadsts700024'],
  [/AADSTS7000215\b/, 'Aadsts7000215'],
  [/AADSTS700016\b/, 'Aadsts700016'],
  [/AADSTS90002\b/, 'Aadsts90002'],
];

/** arm-rest's failure, with the meaning of a known Entra error code added. */
export function explainAzureToken(connection: string, detail: string, loc: Text): string {
  const hint = entraCodes.find(([re]) => re.test(detail));
  const base = loc('TokenFailed', connection, detail);
  return hint ? `${base}\n${loc(hint[1])}` : base;
}

const quoted = /"([^"]*)"/g;

/** The azure auth plugin's refusals (hashicorp/vault-plugin-auth-azure), in its own words. */
function explainAzurePlugin(err: VaultHttpError, proof: Proof, target: LoginTarget, resource: string, loc: Text): string | undefined {
  const text = err.errors.join('; ');
  const { aud, iss, tid, oid = '<object id>', appid } = proof.facts;
  if (/^invalid role name/.test(text)) {
    return loc('LoginRoleMissing', target.role, target.mount, target.nsNote, target.mount, target.role, oid);
  }
  // The jwt method's audience refusal ends in "does not match any expected audience": not this one.
  if (/oidc: expected audience/.test(text)) {
    const [expected] = [...text.matchAll(quoted)].map((m) => m[1]);
    const got = aud ?? resource;
    return loc('LoginAudience', got, target.mount, expected ?? '?', expected ?? '?', target.mount, got);
  }
  if (/service principal not authorized/.test(text)) {
    return loc('LoginNotBound', oid, target.role, target.mount, target.role, oid, appid ?? '?');
  }
  if (/issued by a different provider/.test(text)) {
    const [expected, got] = [...text.matchAll(quoted)].map((m) => m[1]);
    return loc('LoginIssuer', expected ?? '?', got ?? iss ?? '?', target.mount, tid ?? '<tenant id>');
  }
  if (/token is expired/.test(text) && !/^error validating token/.test(text)) return loc('LoginExpired', text);
  if (/^failed to verify signature: failed to verify id token signature/.test(text)) return loc('LoginSignature', target.mount, tid ?? '?');
  return explainAzureVault(err, proof, target, resource, loc);
}

/** The login body's instance fields, as Vault's Go client reads them: vmss_name on a scale-set instance (its vm_name is no VM ARM knows), else vm_name. */
function instanceFields(vm: {
  subscriptionId: string;
  resourceGroupName: string;
  name: string;
  vmScaleSetName: string;
}): Record<string, string> {
  const fields: Record<string, string> = { subscription_id: vm.subscriptionId, resource_group_name: vm.resourceGroupName };
  if (vm.vmScaleSetName) fields.vmss_name = vm.vmScaleSetName;
  else fields.vm_name = vm.name;
  return fields;
}

export function azureMethod(config: AzureAuthConfig, getToken: AzureTokenSource, imds: Imds = defaultImds): AuthMethod {
  const mi = config.managedIdentity;
  const claimsNote = (loc: Text, claims: ReturnType<typeof readClaims>) =>
    claims
      ? [
          loc(
            'TokenClaims',
            claims.aud ?? '-',
            claims.iss ?? '-',
            claims.tid ?? '-',
            claims.oid ?? '-',
            claims.appid ?? '-',
            claims.expires ?? '-',
          ),
        ]
      : [];
  return {
    name: 'azure',
    describe(loc) {
      if (!mi) return loc('TokenRequested', config.resource, config.connection, config.connectionScheme);
      const identity = mi.clientId ? loc('AzureVmIdentityUser', mi.clientId) : loc('AzureVmIdentityDefault');
      const from = config.connection ? loc('AzureVmFromConnection', config.connection) : '';
      return loc('AzureVmTokenRequested', config.resource, identity, IMDS_HOST, from);
    },
    what: (loc) => (mi ? loc('AzureImdsRequest') : loc('EntraTokenRequest')),
    async prove({ loc, role, timeoutSeconds }) {
      if (mi) {
        const token = await imds.token(config.resource, mi.clientId, timeoutSeconds);
        const vm = await imds.instance(timeoutSeconds);
        const claims = readClaims(token);
        const fields = instanceFields(vm);
        const [nameField, name] = vm.vmScaleSetName ? ['vmss_name', vm.vmScaleSetName] : ['vm_name', vm.name];
        // Not secret, and what a refusal is about: logged as sent.
        const notes = [
          ...claimsNote(loc, claims),
          loc('AzureVmValues', vm.subscriptionId, vm.resourceGroupName, nameField, name, vm.location || '-'),
        ];
        const facts = { ...claims, ...fields, location: vm.location, instance: vm.name, identity: 'vm' };
        return { body: { role, jwt: token, ...fields }, secrets: [token], notes, facts };
      }
      const { token } = await getToken(config.connection, config.resource, timeoutSeconds);
      const claims = readClaims(token);
      return {
        body: { role, jwt: token },
        secrets: [token],
        notes: claimsNote(loc, claims),
        facts: { ...claims, connection: config.connection, scheme: config.connectionScheme },
      };
    },
    isTransient: (err) =>
      (err instanceof AzureTokenError && isTransientEntra(err.detail)) ||
      (err instanceof OidcTokenError && isTransientOidc(err)) ||
      isTransientImds(err),
    explainProofFailure(err, ctx, loc) {
      if (err instanceof AzureTokenError) return explainAzureToken(err.connection, err.detail, loc);
      // The connection's federated assertion, asked of Azure DevOps at System.OidcRequestUri.
      if (err instanceof OidcTokenError && err.code !== 'ETIMEDOUT') {
        return explainOidcFailure(
          err,
          { method: 'jwt', source: 'serviceConnection', requestUri: err.url, connection: config.connection },
          loc,
        );
      }
      if (err instanceof ImdsError) {
        if (isNoImds(err)) return loc('AzureNotOnVm', IMDS_HOST, err.code);
        const what = loc(err.what === 'token' ? 'AzureImdsToken' : 'AzureImdsInstance');
        const hint = err.what === 'token' && err.status === 400 ? ` ${loc('AzureImdsIdentityHint')}` : '';
        return loc('AzureImdsRefused', IMDS_HOST, what, err.code || `HTTP ${err.status}`, err.detail || '-', hint);
      }
      if (err instanceof DeadlineError || err instanceof OidcTokenError) {
        return mi
          ? loc('AzureImdsTimeout', IMDS_HOST, ctx.timeoutSeconds, ctx.attempts)
          : loc('TokenTimeout', config.connection, ctx.timeoutSeconds, ctx.attempts);
      }
      return undefined;
    },
    explainRefusal(err, proof, target, loc) {
      return (
        explainAzurePlugin(err, proof, target, config.resource, loc) ??
        // At a jwt mount only the token's claims count: the connection and the VM's values are no claims.
        explainJwtRefusal(err, { ...claimsAmong(proof.facts), sent: loc('TokenDescribedEntra') }, target, loc)
      );
    },
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The inputs: the token's audience (`resource`), and whose identity logs in (`azureIdentity`): the
 * AzureRM connection in `azureSubscription`, or the agent VM's managed identity with no connection.
 */
export function readAzureInputs({ port, loc, problems, warnings }: ReadContext): AzureAuthConfig {
  const resourceRaw = port.input('resource');
  const resource = resourceRaw || 'https://management.azure.com/';
  if (/\s/.test(resource)) problems.push(loc('ResourceInvalid', resourceRaw));
  else if (/\/\.default$/.test(resource)) problems.push(loc('ResourceIsScope', resource, resource.replace(/\/\.default$/, '')));
  const identity = port.input('azureIdentity') || 'connection';
  const clientId = port.input('managedIdentityClientId');
  if (clientId && !GUID.test(clientId)) problems.push(loc('ManagedIdentityClientIdInvalid', clientId));
  if (identity === 'agentVm') {
    if (port.input('azureSubscription')) problems.push(loc('AzureIdentityWithConnection', port.input('azureSubscription')));
    return { method: 'azure', connection: '', connectionScheme: 'ManagedServiceIdentity', resource, managedIdentity: { clientId } };
  }
  if (identity !== 'connection') problems.push(loc('AzureIdentityInvalid', identity));
  const connection = port.input('azureSubscription');
  if (!connection) problems.push(loc('InputRequired', 'azureSubscription', loc('ConnectionHint')));
  else if (!port.endpoint(connection).url) problems.push(loc('ConnectionNotFound', connection));
  const connectionScheme = connection ? port.endpoint(connection).scheme || 'ServicePrincipal' : '';
  if (connectionScheme !== 'ManagedServiceIdentity') {
    if (clientId) warnings.push(loc('ManagedIdentityClientIdUnused', connection, connectionScheme));
    return { method: 'azure', connection, connectionScheme, resource };
  }
  // A managed identity connection is the agent VM's identity: a user-assigned one is named by the input, else by the connection.
  const fromConnection = port.endpoint(connection).data('msiclientId');
  return { method: 'azure', connection, connectionScheme, resource, managedIdentity: { clientId: clientId || fromConnection } };
}

export const azure: AuthMethodDescriptor<AzureAuthConfig> = {
  needsRole: true,
  readInputs: readAzureInputs,
  create: (config, sources) => azureMethod(config, sources.azureToken),
};
