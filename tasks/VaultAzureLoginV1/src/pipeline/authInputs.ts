// The inputs of the login method `authMethod` names, read and checked before any request: one
// reader per method, each returning that method's settings and adding a problem per bad input.
import * as tl from 'azure-pipelines-task-lib/task';
import { AUTH_METHODS, AuthConfig, AuthMethodName } from '../auth';
import { loc } from './adapter';
import { AuthInputs, azureConnection } from './authInputContext';
import { readApproleInputs } from './approleInputs';
import { readAwsInputs } from './awsInputs';
import { readCertInputs } from './certInputs';
import { readGcpInputs } from './gcpInputs';
import { input } from './inputFields';
import { readJwtInputs } from './jwtInputs';
import { readKubernetesInputs } from './kubernetesInputs';

type Reader = (ctx: AuthInputs) => AuthConfig;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const readers: Partial<Record<AuthMethodName, Reader>> = {
  azure({ problems, warnings }) {
    const resourceRaw = input('resource');
    const resource = resourceRaw || 'https://management.azure.com/';
    if (/\s/.test(resource)) problems.push(loc('ResourceInvalid', resourceRaw));
    else if (/\/\.default$/.test(resource)) problems.push(loc('ResourceIsScope', resource, resource.replace(/\/\.default$/, '')));
    const identity = input('azureIdentity') || 'connection';
    const clientId = input('managedIdentityClientId');
    if (clientId && !GUID.test(clientId)) problems.push(loc('ManagedIdentityClientIdInvalid', clientId));
    if (identity === 'agentVm') {
      if (input('azureSubscription')) problems.push(loc('AzureIdentityWithConnection', input('azureSubscription')));
      return { method: 'azure', connection: '', connectionScheme: 'ManagedServiceIdentity', resource, managedIdentity: { clientId } };
    }
    if (identity !== 'connection') problems.push(loc('AzureIdentityInvalid', identity));
    const { connection, connectionScheme } = azureConnection(problems, loc('ConnectionHint'));
    if (connectionScheme !== 'ManagedServiceIdentity') {
      if (clientId) warnings.push(loc('ManagedIdentityClientIdUnused', connection, connectionScheme));
      return { method: 'azure', connection, connectionScheme, resource };
    }
    // A managed identity connection is the agent VM's identity: a user-assigned one is named by the input, else by the connection.
    const fromConnection = (tl.getEndpointDataParameter(connection, 'msiclientId', true) ?? '').trim();
    return { method: 'azure', connection, connectionScheme, resource, managedIdentity: { clientId: clientId || fromConnection } };
  },
  approle: readApproleInputs,
  cert: readCertInputs,
  aws: readAwsInputs,
  gcp: readGcpInputs,
  kubernetes: readKubernetesInputs,
  jwt: ({ problems }) => readJwtInputs(problems),
};

/** The method `authMethod` names (azure when empty) and its settings; undefined when the name is unknown. */
export function readAuthInputs(ctx: AuthInputs): AuthConfig | undefined {
  const raw = input('authMethod') || 'azure';
  const name = raw.toLowerCase() as AuthMethodName;
  const reader = AUTH_METHODS.includes(name) ? readers[name] : undefined;
  if (!reader) {
    ctx.problems.push(loc('AuthMethodInvalid', raw, Object.keys(readers).join(', ')));
    return undefined;
  }
  return reader(ctx);
}
