// What every method's input reader gets and shares: the problems and warnings collected so far,
// the Vault settings (a certificate login puts its client certificate there), and the AzureRM
// service connection reader that more than one method uses.
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
