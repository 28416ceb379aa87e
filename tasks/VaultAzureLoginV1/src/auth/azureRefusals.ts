// Refusals of Vault's azure auth plugin beyond the token checks (openbao-plugins auth/azure,
// hashicorp/vault-plugin-auth-azure: azure.go getAzureSettings and newAzureProvider, path_login.go
// verifyRole and verifyResource), each a 500, turned into the cause, the value sent and the fix.
// Which of them a retry cannot change, the retry policy knows (vault/retry.ts permanentLogin).
import type { VaultHttpError } from '../core/failures';
import type { Text } from '../core/text';
import type { LoginTarget, Proof } from './method';

/** One line of an outside text, short enough for a message. */
function oneLine(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

export function explainAzureVault(err: VaultHttpError, proof: Proof, target: LoginTarget, resource: string, loc: Text): string | undefined {
  const text = err.errors.join('; ');
  const { mount, role, nsNote } = target;
  const f = proof.facts;
  const oid = f.oid ?? '<object id>';
  const tid = f.tid ?? '<tenant id>';
  const onVm = f.identity === 'vm';
  const [nameField, name] = f.vmss_name ? ['vmss_name', f.vmss_name] : ['vm_name', f.vm_name ?? '?'];

  if (/^tenant_id is required$/.test(text)) return loc('AzureMountNoTenant', mount, nsNote, mount, tid, f.aud ?? resource);
  if (/^resource is required$/.test(text)) return loc('AzureMountNoResource', mount, nsNote, mount, f.aud ?? resource);
  if (/AADSTS90002\b/.test(text)) {
    const configured = /Tenant '([^']*)' not found/.exec(text)?.[1] ?? '?';
    return loc('AzureMountTenantUnknown', configured, mount, tid, mount, tid);
  }
  const discovery = /^Get "https?:\/\/([^/"]+)\/[^"]*openid-configuration": ([\s\S]*)$/.exec(text);
  if (discovery) return loc('AzureMountNoEntra', oneLine(discovery[2]), discovery[1], discovery[1]);
  const keys = /^failed to verify signature: fetching keys oidc: get keys failed: ([\s\S]*)$/.exec(text);
  if (keys) return loc('AzureMountNoKeys', oneLine(keys[1]));
  if (/^token is not yet valid|before the nbf \(not before\) time/.test(text)) return loc('LoginNotYetValid', oneLine(text));
  if (/^groups not authorized/.test(text)) {
    const groups = /\[([^\]]*)\]/.exec(text)?.[1]?.trim();
    const seen = groups ? loc('AzureGroupsSeen', groups) : loc('AzureGroupsNone');
    return loc('AzureGroupsNotBound', role, mount, seen, mount, role, oid);
  }
  if (/both cannot be '\*'$/.test(text)) return loc('AzureBothWildcards', role, mount, mount, role, oid);
  if (/^subscription_id and resource_group_name are required$/.test(text)) {
    return loc('AzureVmBindingsNeedVm', role, mount, f.connection || '-', f.scheme || '-', mount, role, oid);
  }
  const notBound = /^(subscription|resource group|location|scale set) not authorized$/.exec(text);
  if (notBound) {
    const [field, value] = {
      subscription: ['subscription_id', f.subscription_id],
      'resource group': ['resource_group_name', f.resource_group_name],
      location: ['location', f.location],
      'scale set': ['vmss_name', f.vmss_name],
    }[notBound[1] as 'subscription']!;
    const binding = {
      subscription: 'bound_subscription_ids',
      'resource group': 'bound_resource_groups',
      location: 'bound_locations',
      'scale set': 'bound_scale_sets',
    }[notBound[1] as 'subscription'];
    return loc('AzureVmNotBound', role, mount, field, value ?? '?', binding, mount, role, mount, role, binding, value ?? '<value>');
  }
  if (/^bound scale set defined but this vm isn't in a scale set$/.test(text)) {
    return loc('AzureScaleSetRoleVm', role, mount, f.vm_name ?? '?', mount, role, f.resource_group_name ?? '<resource group>');
  }
  const arm = /^unable to retrieve virtual machine (?:scale set )?metadata: ([\s\S]*)$/.exec(text);
  if (arm) {
    const detail = arm[1];
    const aadsts = /AADSTS\d+/.exec(detail)?.[0];
    if (aadsts || /ManagedIdentityCredential/.test(detail))
      return loc('AzureArmCredential', nameField, name, aadsts ?? oneLine(detail, 120), mount, mount);
    if (/AuthorizationFailed/.test(detail)) {
      const client = /The client '([^']*)'/.exec(detail)?.[1] ?? '<client_id of the mount>';
      const sub = f.subscription_id ?? '<subscription>';
      return loc('AzureArmNoReader', nameField, name, client, sub, mount, client, sub);
    }
    const code = /ERROR CODE: (\S+)/.exec(detail)?.[1] ?? oneLine(detail, 120);
    return loc('AzureArmLookupFailed', nameField, name, code, mount, f.subscription_id ?? '?', f.resource_group_name ?? '?');
  }
  if (
    /^token object id does not match expected identities|^neither token object id nor token app id match expected identities$/.test(text)
  ) {
    return loc('AzureIdentityNotOnVm', oid, f.appid ?? '-', nameField, name);
  }
  if (/client did not return identity information$/.test(text)) return loc('AzureVmNoIdentity', nameField, name);
  if (/xms_az_rid|xms_mirid/.test(text) && onVm) return loc('AzureTokenNotFromVm', nameField, name, oneLine(text.split('\n')[0]));
  return undefined;
}
