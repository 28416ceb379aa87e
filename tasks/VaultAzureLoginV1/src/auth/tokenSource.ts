// What the flow needs from Azure, without the Azure library: an Entra access token for a
// connection and a resource, and the failure to get one.
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
