// approle's inputs: the role_id and secret_id from the inputs approleRoleId and approleSecretId (fed
// by secret variables), else from the HashiCorp Vault service connection in 'vaultConnection' when
// its authentication is AppRole. That scheme is Azure DevOps' built-in basic scheme with its two
// fields renamed (vss-extension.json): the agent passes it as UsernamePassword, the role_id as the
// parameter `username` and the secret_id as `password` (both masked by the agent).
import * as tl from 'azure-pipelines-task-lib/task';
import type { ApproleAuthConfig } from '../auth/approle';
import { loc } from './adapter';
import { AuthInputs, endpointAuthField } from './authInputContext';
import { input } from './inputFields';

/** The scheme name of ms.vss-endpoint.endpoint-auth-scheme-basic, as the agent passes it. */
export const APPROLE_SCHEME = 'UsernamePassword';

export function readApproleInputs({ problems, vault, vaultConnection }: AuthInputs): ApproleAuthConfig {
  const scheme = vaultConnection ? (tl.getEndpointAuthorizationScheme(vaultConnection, true) ?? '') : '';
  const fromConnection = scheme.toLowerCase() === APPROLE_SCHEME.toLowerCase();
  // The basic scheme's two fields: username holds the role_id, password the secret_id.
  const stored = {
    username: fromConnection ? endpointAuthField(vaultConnection, 'username').trim() : '',
    password: fromConnection ? endpointAuthField(vaultConnection, 'password').trim() : '',
  };

  // An input wins over the connection: a role_id kept in the connection, a secret_id wrapped for this run.
  const pick = (inputName: string, key: keyof typeof stored, what: string, variable: string): { value: string; from: string } => {
    const own = input(inputName);
    if (own) return { value: own, from: loc('FromInput', inputName) };
    if (stored[key]) return { value: stored[key], from: loc('FromVaultConnection', vaultConnection) };
    problems.push(loc('ApproleMissing', what, inputName, inputName, variable, vaultConnection ? loc('VaultConnectionScheme', vaultConnection, scheme || 'None') : ''));
    return { value: '', from: '' };
  };
  const roleId = pick('approleRoleId', 'username', 'role_id', 'VAULT_ROLE_ID');
  const secretId = pick('approleSecretId', 'password', 'secret_id', 'VAULT_SECRET_ID');
  for (const [name, v] of [
    ['role_id', roleId],
    ['secret_id', secretId],
  ] as const) {
    if (/[\r\n]/.test(v.value)) problems.push(loc('ApproleMultiline', name, v.from));
  }
  return { method: 'approle', roleId: roleId.value, secretId: secretId.value, roleIdFrom: roleId.from, secretIdFrom: secretId.from, address: vault.address };
}
