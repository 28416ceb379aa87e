// The one place that reads task inputs and endpoints; returns a typed TaskConfig or fails with
// every problem found, each naming the input and the fix.
import * as tl from 'azure-pipelines-task-lib/task';
import { TaskError } from './errors';
import { formatProblem, parseSecrets, SecretRequest, SecretSpecError } from './secretSpec';

export interface TaskConfig {
  connection: string;
  /** The connection's authorization scheme, for the log. */
  connectionScheme: string;
  address: string;
  namespace?: string;
  authMount: string;
  role: string;
  resource: string;
  requests: SecretRequest[];
  timeoutSeconds: number;
  concurrency: number;
}

const mountPattern = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
const rolePattern = /^\w([\w.-]*\w)?$/;
const namespacePattern = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

function trimSlashes(s: string): string {
  return s.trim().replace(/^\/+|\/+$/g, '');
}

export function parseAddress(raw: string, from: string, problems: string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(tl.loc('VaultAddressInvalid', raw, from));
    return '';
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || url.password) {
    problems.push(tl.loc('VaultAddressInvalid', raw, from));
    return '';
  }
  // A path the user gave (e.g. /vault behind a gateway) is kept; "/v1" would be doubled.
  const path = url.pathname.replace(/\/+$/, '');
  if (/\/v1$/.test(path)) {
    problems.push(tl.loc('VaultAddressHasApiPath', raw, from, `${url.origin}${path.slice(0, -3)}`));
    return '';
  }
  return `${url.origin}${path}`;
}

export function readConfig(): TaskConfig {
  const problems: string[] = [];

  const connection = (tl.getInput('azureSubscription', false) ?? '').trim();
  if (!connection) problems.push(tl.loc('InputRequired', 'azureSubscription', tl.loc('ConnectionHint')));
  else if (!tl.getEndpointUrl(connection, true)) problems.push(tl.loc('ConnectionNotFound', connection));

  const addressInput = (tl.getInput('vaultAddress', false) ?? '').trim();
  const addressVariable = (tl.getVariable('VAULT_ADDR') ?? '').trim();
  let address = '';
  if (addressInput) address = parseAddress(addressInput, "input 'vaultAddress'", problems);
  else if (addressVariable) address = parseAddress(addressVariable, 'variable VAULT_ADDR', problems);
  else problems.push(tl.loc('VaultAddressMissing'));

  const namespace = trimSlashes(tl.getInput('vaultNamespace', false) ?? '');
  if (namespace && !namespacePattern.test(namespace)) problems.push(tl.loc('NamespaceInvalid', namespace));

  const authMountRaw = tl.getInput('authMount', false) ?? '';
  const authMount = trimSlashes(authMountRaw) || 'azure';
  if (!mountPattern.test(authMount) || authMount.split('/').some((s) => s === '.' || s === '..')) {
    problems.push(tl.loc('MountInvalid', authMountRaw.trim()));
  } else if (authMount.startsWith('auth/')) {
    problems.push(tl.loc('MountHasAuthPrefix', authMount, authMount.slice('auth/'.length)));
  }

  const role = (tl.getInput('role', false) ?? '').trim();
  if (!role) problems.push(tl.loc('InputRequired', 'role', tl.loc('RoleHint')));
  else if (!rolePattern.test(role)) problems.push(tl.loc('RoleInvalid', role));

  const resourceRaw = (tl.getInput('resource', false) ?? '').trim();
  const resource = resourceRaw || 'https://management.azure.com/';
  if (/\s/.test(resource)) problems.push(tl.loc('ResourceInvalid', resourceRaw));
  else if (/\/\.default$/.test(resource)) problems.push(tl.loc('ResourceIsScope', resource, resource.replace(/\/\.default$/, '')));

  let requests: SecretRequest[] = [];
  try {
    requests = parseSecrets(tl.getInput('secrets', false) ?? '');
  } catch (err) {
    if (!(err instanceof SecretSpecError)) throw err;
    problems.push(tl.loc('SecretsInvalid', err.problems.length, err.problems.map((p) => `  ${formatProblem(p)}`).join('\n')));
  }

  if (problems.length) throw new TaskError(problems.length === 1 ? problems[0] : problems.map((p) => `- ${p}`).join('\n'));
  const connectionScheme = tl.getEndpointAuthorizationScheme(connection, true) || 'ServicePrincipal';
  return { connection, connectionScheme, address, namespace: namespace || undefined, authMount, role, resource, requests, timeoutSeconds: 30, concurrency: 8 };
}
