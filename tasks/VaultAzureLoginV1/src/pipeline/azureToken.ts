// AzureRM service connection → Entra access token for one resource (audience), via arm-rest.
import * as tl from 'azure-pipelines-task-lib/task';
import { loc } from './adapter';
import { AzureTokenError, AzureTokenSource } from '../auth/tokenSource';

/** Text of what arm-rest threw or rejected with (it rejects with plain strings on some paths). */
function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}


/**
 * Every scheme arm-rest supports: WorkloadIdentityFederation, ServicePrincipal (key or
 * certificate) and ManagedServiceIdentity. The token is requested for exactly `resource`, because
 * Vault compares the token's `aud` to the mount's `resource` character for character.
 */
export const armRestTokenSource: AzureTokenSource = async (connection, resource) => {
  // Loaded on demand: arm-rest is most of the bundle, and input errors should not wait for it.
  const { AzureRMEndpoint, dispose } = await import('azure-pipelines-tasks-azure-arm-rest/azure-arm-endpoint');
  let scheme = tl.getEndpointAuthorizationScheme(connection, true) ?? 'ServicePrincipal';
  try {
    // MSAL for every scheme: the ADAL paths are deprecated in arm-rest. USE_MSAL=false still wins.
    const endpoint = await new AzureRMEndpoint(connection).getEndpoint(false, true);
    scheme = endpoint.scheme ?? scheme;
    const credentials = endpoint.applicationTokenCredentials as unknown as {
      activeDirectoryResourceId: string;
      baseUrl: string;
      getToken(force?: boolean): Promise<string>;
    };
    credentials.activeDirectoryResourceId = resource;
    // The ADAL managed identity path asks IMDS for `baseUrl` instead.
    credentials.baseUrl = resource;
    const token = await credentials.getToken();
    if (typeof token !== 'string' || !token) throw new Error(loc('TokenEmpty'));
    return { token, scheme };
  } catch (err) {
    throw new AzureTokenError(connection, describe(err));
  } finally {
    // A certificate connection leaves its certificate and private key in Agent.TempDirectory.
    dispose();
  }
};
