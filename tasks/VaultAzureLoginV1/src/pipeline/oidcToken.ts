// The job's OIDC tokens from Azure DevOps: `POST {System.OidcRequestUri}?api-version=7.1-preview.1`
// (Microsoft's REST reference, "Oidctoken - Create"), with `&serviceConnectionId=<id>` for the
// federated assertion of a service connection and without it for the pipeline's own token,
// authorised with the job's access token. Answer: `{"oidcToken": "<jwt>"}`. Sent through the same
// transport as Vault's requests, with the agent's proxy and certificate settings for this URL and
// the step's timeout; nothing follows a redirect.
import * as tl from 'azure-pipelines-task-lib/task';
import { MAX_PEM_FILE_BYTES } from '../core/inputFile';
import { OidcTokenError, oidcRequestUrl, readOidcAnswer } from '../auth/jwt';
import type { OidcTokenSource } from '../auth/tokenSource';
import { createTransport, TransportError } from '../vault/transport';
import { readInputFile } from './inputFile';

/**
 * The job's access token (System.AccessToken), from the agent's SYSTEMVSSCONNECTION endpoint as
 * arm-rest reads it: getEndpointAuthorizationParameter would print the token in a debug line.
 */
export function jobAccessToken(): string | undefined {
  const token = tl.getEndpointAuthorization('SYSTEMVSSCONNECTION', true)?.parameters?.AccessToken;
  return token || undefined;
}

function readOptional(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const file = readInputFile(path, MAX_PEM_FILE_BYTES);
  // A refusal was reported while the inputs were read (Agent.CAInfo and the client certificate settings).
  return 'text' in file ? file.text : undefined;
}

export const azdoOidcTokenSource: OidcTokenSource = async ({ requestUri, serviceConnectionId, timeoutSeconds }) => {
  const url = oidcRequestUrl(requestUri, serviceConnectionId);
  const shown = `${url.origin}${url.pathname}`;
  const accessToken = jobAccessToken() ?? '';
  const proxy = tl.getHttpProxyConfiguration(url.toString());
  const certs = tl.getHttpCertConfiguration();
  const ca = readOptional(certs?.caFile);
  const cert = readOptional(certs?.certFile);
  const key = cert ? readOptional(certs?.keyFile) : undefined;
  const transport = createTransport(url.origin, {
    tls: {
      verify: true,
      ca: ca ? [ca] : [],
      cert: key ? cert : undefined,
      key,
      passphrase: key ? certs?.passphrase || undefined : undefined,
    },
    proxy: proxy?.proxyUrl
      ? { url: proxy.proxyUrl, username: proxy.proxyUsername || undefined, password: proxy.proxyPassword || undefined }
      : undefined,
    timeoutMs: timeoutSeconds * 1000,
  });
  try {
    // X-TFS-FedAuthRedirect: without it a refused token gets a 302 to the sign-in page, not a 401.
    const res = await transport.send({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${accessToken}`, 'x-tfs-fedauthredirect': 'Suppress' },
      json: {},
    });
    return readOidcAnswer(res.status, res.body, shown);
  } catch (err) {
    if (err instanceof TransportError) throw new OidcTokenError(shown, err.message, undefined, err.code);
    throw err;
  } finally {
    transport.close();
  }
};
