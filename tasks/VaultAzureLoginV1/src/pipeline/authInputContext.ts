// What every method's input reader gets and shares: the problems and warnings collected so far,
// the Vault settings (a certificate login puts its client certificate there), the AzureRM
// service connection reader that more than one method uses, and the Vault connection's stored fields.
import * as tl from 'azure-pipelines-task-lib/task';
import type { VaultSettings } from '../vault/settings';
import { loc } from './adapter';
import { input } from './inputFields';

export interface AuthInputs {
  problems: string[];
  warnings: string[];
  /** How Vault is reached; a method that logs in with a client certificate puts it in `tls`. */
  vault: VaultSettings;
  /** The id of the Vault service connection ('' without one). */
  vaultConnection: string;
}

/** The AzureRM service connection in `azureSubscription`: its id and scheme, or a problem. */
export function azureConnection(problems: string[], hint: string): { connection: string; connectionScheme: string } {
  const connection = input('azureSubscription');
  if (!connection) problems.push(loc('InputRequired', 'azureSubscription', hint));
  else if (!tl.getEndpointUrl(connection, true)) problems.push(loc('ConnectionNotFound', connection));
  const connectionScheme = connection ? tl.getEndpointAuthorizationScheme(connection, true) || 'ServicePrincipal' : '';
  return { connection, connectionScheme };
}

/**
 * A field of a service connection's authorization (the AppRole secret_id, the certificate PEM),
 * read from the agent's ENDPOINT_AUTH_<id> as arm-rest reads System.AccessToken:
 * getEndpointAuthorizationParameter would print the value in a debug line. Keys are matched without
 * regard to case, as the agent stores them.
 */
export function endpointAuthField(connection: string, key: string): string {
  const parameters = tl.getEndpointAuthorization(connection, true)?.parameters ?? {};
  const found = Object.keys(parameters).find((k) => k.toLowerCase() === key.toLowerCase());
  return found === undefined ? '' : (parameters[found] ?? '');
}
