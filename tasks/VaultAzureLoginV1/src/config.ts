// Everything the main step's flow needs, typed: filled by pipeline/inputs.ts, read by run.ts.
import type { SecretRequest } from './core/secretSpec';
import type { VaultSettings } from './vault/settings';

export interface TaskConfig extends VaultSettings {
  connection: string;
  /** The connection's authorization scheme, for the log. */
  connectionScheme: string;
  authMount: string;
  role: string;
  resource: string;
  requests: SecretRequest[];
  ignoreNotFound: boolean;
  isOutput: boolean;
  exportToken: boolean;
  revokeToken: boolean;
}
