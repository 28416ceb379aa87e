// The login methods, chosen by the `authMethod` input: the one place that knows them all.
import { AzureAuthConfig, azureMethod } from './azure';
import type { AuthMethod } from './method';
import type { AzureTokenSource } from './tokenSource';

export type { AuthMethod, AuthMethodName, Proof } from './method';
export { AUTH_METHODS } from './method';

/** Each method's settings, told apart by `method`. */
export type AuthConfig = AzureAuthConfig;

/** What the methods need from the pipeline edge (tokens only the agent's libraries can get). */
export interface AuthSources {
  azureToken: AzureTokenSource;
}

export function createAuthMethod(config: AuthConfig, sources: AuthSources): AuthMethod {
  switch (config.method) {
    case 'azure':
      return azureMethod(config, sources.azureToken);
  }
}
