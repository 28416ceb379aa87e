// The login methods, chosen by the `authMethod` input: the one place that knows them all.
import { ApproleAuthConfig, approleMethod } from './approle';
import { AwsAuthConfig, awsMethod } from './aws';
import { AzureAuthConfig, azureMethod } from './azure';
import { CertAuthConfig, certMethod } from './cert';
import { GcpAuthConfig, gcpMethod } from './gcp';
import { JwtAuthConfig, jwtMethod, OidcTokenSource } from './jwt';
import { KubernetesAuthConfig, kubernetesMethod } from './kubernetes';
import type { ReadFile } from '../core/inputFile';
import type { AuthMethod } from './method';
import type { AzureTokenSource } from './tokenSource';

export type { AuthMethod, AuthMethodName, Proof } from './method';
export { AUTH_METHODS } from './method';

/** Each method's settings, told apart by `method`. */
export type AuthConfig = AzureAuthConfig | ApproleAuthConfig | CertAuthConfig | AwsAuthConfig | GcpAuthConfig | KubernetesAuthConfig | JwtAuthConfig;

/** What the methods need from the pipeline edge (tokens only the agent's libraries can get). */
export interface AuthSources {
  azureToken: AzureTokenSource;
  /** The job's OIDC tokens from Azure DevOps (jwt). */
  oidcToken: OidcTokenSource;
  /** The bounded reader of files an input names (kubernetes reads its token file again at login). */
  readFile: ReadFile;
}

export function createAuthMethod(config: AuthConfig, sources: AuthSources): AuthMethod {
  switch (config.method) {
    case 'azure':
      return azureMethod(config, sources.azureToken);
    case 'approle':
      return approleMethod(config);
    case 'cert':
      return certMethod(config);
    case 'aws':
      return awsMethod(config);
    case 'gcp':
      return gcpMethod(config);
    case 'kubernetes':
      return kubernetesMethod(config, sources.readFile);
    case 'jwt':
      return jwtMethod(config, sources.oidcToken);
  }
}
