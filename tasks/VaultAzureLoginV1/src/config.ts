// Everything the main step's flow needs, typed: filled by pipeline/inputs.ts, read by run.ts.
import type { AuthConfig } from './auth';
import type { CredentialRequest } from './core/credentialSpec';
import type { SecretRequest } from './core/secretSpec';
import type { VaultSettings } from './vault/settings';

export interface TaskConfig extends VaultSettings {
  /** The login method and what it needs. */
  auth: AuthConfig;
  /** The auth mount, without auth/. */
  authMount: string;
  role: string;
  requests: SecretRequest[];
  /** Certificates (PKI) and SSH certificates Vault makes for this job, after the reads. */
  credentials: CredentialRequest[];
  ignoreNotFound: boolean;
  isOutput: boolean;
  exportToken: boolean;
  revokeToken: boolean;
}
