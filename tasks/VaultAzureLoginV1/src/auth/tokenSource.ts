// What the login methods need from the pipeline edge, without its libraries: an Entra access token
// for a connection and a resource (and the failure to get one), the job's OIDC tokens from Azure
// DevOps, and the bounded reader of files an input names.
import type { ReadFile } from '../core/inputFile';

export interface AzureToken {
  token: string;
  scheme: string;
}

/** `timeoutSeconds` bounds each request the source makes itself. */
export type AzureTokenSource = (connection: string, resource: string, timeoutSeconds: number) => Promise<AzureToken>;

export class AzureTokenError extends Error {
  constructor(
    readonly connection: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'AzureTokenError';
  }
}

export interface OidcTokenRequest {
  requestUri: string;
  /** The connection whose assertion is asked for; none for the pipeline's own token. */
  serviceConnectionId?: string;
  /** The request gets at most this long. */
  timeoutSeconds: number;
}

/** Asks Azure DevOps for an OIDC token; throws OidcTokenError. */
export type OidcTokenSource = (request: OidcTokenRequest) => Promise<string>;

/** What the methods need from the pipeline edge (tokens only the agent's libraries can get). */
export interface AuthSources {
  azureToken: AzureTokenSource;
  /** The job's OIDC tokens from Azure DevOps (jwt). */
  oidcToken: OidcTokenSource;
  /** The bounded reader of files an input names (kubernetes reads its token file again at login). */
  readFile: ReadFile;
}
