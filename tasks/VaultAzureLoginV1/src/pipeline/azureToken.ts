// AzureRM service connection → Entra access token for one resource (audience), via arm-rest.
import * as tl from 'azure-pipelines-task-lib/task';
import { endpointAuthField, loc } from './adapter';
import { AzureTokenError, AzureTokenSource } from '../auth/tokenSource';
import { OidcTokenError } from '../auth/jwt';
import { send } from '../net/http';
import { hasSocket, whenConnected } from '../vault/early';
import { azdoOidcTokenSource } from './oidcToken';
import { pollOnce, onFirstRequestSent } from './scheduling';
import type { NetworkResponse } from 'msalv3';

/**
 * Where arm-rest's bundle (armRest.js, scripts/build.mjs) finds the task library: this one, which
 * read the inputs and endpoints when it loaded.
 */
const TASK_LIB_SLOT = Symbol.for('vault-azure-login.task-lib');

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

/** System.OidcRequestUri when it is an https URL: where the agent says a job's OIDC tokens are asked for. */
function oidcRequestUri(): string | undefined {
  const uri = tl.getVariable('System.OidcRequestUri');
  try {
    return uri && new URL(uri).protocol === 'https:' ? uri : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the connection to Entra ID while the rest is under way, so that the token request finds
 * it ready: MSAL sends with Node's https module and its global agent, which keeps the connection
 * of this request (the tenant's public discovery document) for the next one. Not through the
 * agent's proxy (MSAL has a client of its own then); settles once the connection is free again or
 * has failed, never failing the step.
 */
function openEntraConnection(connection: string, timeoutSeconds: number): Promise<void> | undefined {
  if (tl.getVariable('Agent.ProxyUrl')) return undefined;
  const authority = tl.getEndpointDataParameter(connection, 'activeDirectoryAuthority', true);
  const tenant = endpointAuthField(connection, 'tenantid');
  if (!authority || !tenant) return undefined;
  let url: URL;
  try {
    url = new URL(`${encodeURIComponent(tenant)}/v2.0/.well-known/openid-configuration`, authority);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:') return undefined;
  // The start-up entry opened it already, for the global agent's first request there: MSAL's.
  if (hasSocket(url.origin, 'https')) return undefined;
  // On Node's global agent, the one MSAL's requests take.
  return send({ method: 'GET', url, headers: {} }, { timeoutMs: timeoutSeconds * 1000 }).then(
    () => undefined,
    () => undefined,
  );
}

/** What compileMsalAhead needs of arm-rest's credentials: where and for whom MSAL asks. */
interface MsalClient {
  authorityUrl: string;
  tenantId: string;
  clientId: string;
}

/**
 * Runs MSAL's client-credential token request once with a made-up assertion and answer, so that
 * V8 compiles its code (it compiles a function when the function is first called) while the step
 * waits for Azure DevOps' answer, rather than once the assertion has arrived, on the way to Entra
 * ID. An MSAL instance of its own, with the connection's authority (MSAL then takes the same path),
 * whose network client answers from within the process a turn of the event loop later, so that
 * what arrives meanwhile goes first: nothing is sent or logged, and the instance and its cache are
 * dropped. A failure only means that less was compiled ahead.
 */
function compileMsalAhead(client: MsalClient): void {
  try {
    const { ConfidentialClientApplication } = require('msalv3') as typeof import('msalv3');
    const answer = { status: 200, headers: {}, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'x' } };
    const app = new ConfidentialClientApplication({
      auth: { clientId: client.clientId, authority: new URL(client.tenantId, client.authorityUrl).toString(), clientAssertion: 'x' },
      system: {
        networkClient: {
          sendGetRequestAsync: () => Promise.reject(new Error('not sent')),
          sendPostRequestAsync: <T>() => new Promise<NetworkResponse<T>>((resolve) => setImmediate(resolve, answer as NetworkResponse<T>)),
        },
      },
    });
    app.acquireTokenByClientCredential({ scopes: ['https://compile.invalid/.default'] }).catch(() => undefined);
  } catch {
    // As above.
  }
}

/**
 * Every scheme arm-rest supports: WorkloadIdentityFederation, ServicePrincipal (key or
 * certificate) and ManagedServiceIdentity. The token is requested for exactly `resource`, because
 * Vault compares the token's `aud` to the mount's `resource` character for character.
 *
 * With workload identity federation, the connection's federated assertion is asked for at
 * System.OidcRequestUri at once, while arm-rest loads, and handed to arm-rest, which exchanges it
 * at Entra ID as always: arm-rest would first look up that URL's location at Azure DevOps, a round
 * trip the agent's variable makes unnecessary.
 */
export const armRestTokenSource: AzureTokenSource = async (connection, resource, timeoutSeconds) => {
  let scheme = tl.getEndpointAuthorizationScheme(connection, true) ?? 'ServicePrincipal';
  const federated = scheme === 'WorkloadIdentityFederation';
  const requestUri = federated ? oidcRequestUri() : undefined;
  let assertion: Promise<string> | undefined;
  // Resolved once the assertion's request is on its way (the first HTTP request started from here),
  // once the TLS connection opened for it at start has sent its first flight, or once the assertion
  // has settled.
  let assertionSent: Promise<void> | undefined;
  let assertionDone = false;
  if (requestUri) {
    let sent!: () => void;
    assertionSent = new Promise((resolve) => (sent = resolve));
    // Looked at before the request takes the connection. Its TLS handshake's round trip covers the
    // loading below as well as the request's would; a TCP connection still connecting would have
    // to wait for the loading before the TLS connection on it could send anything.
    void whenConnected(new URL(requestUri).origin, 'tls')?.then(() => setImmediate(sent));
    // Watched from before it starts: on a connection opened early, it may start at once.
    const watch = onFirstRequestSent(sent);
    assertion = azdoOidcTokenSource({ requestUri, serviceConnectionId: connection, timeoutSeconds });
    const settled = () => {
      assertionDone = true;
      watch.cancel();
      sent();
    };
    // Also what keeps a failure before arm-rest awaits the assertion from counting as unhandled.
    assertion.then(settled, settled);
  }
  const entraOpen = assertion ? openEntraConnection(connection, timeoutSeconds) : undefined;
  // Evaluating arm-rest and MSAL takes tens of milliseconds of the main thread: with an assertion
  // to ask for, only once that request's connection has sent its first flight or the request is on
  // its way, so that a wait for Azure DevOps (the TLS handshake's, the answer's) covers it rather
  // than the handshakes waiting for it.
  await assertionSent;
  // Loaded on demand: arm-rest is most of the task's code, and input errors should not wait for it.
  // In two parts, MSAL (which arm-rest requires) first, with a poll of the event loop between them:
  // a TLS handshake that completes during the first goes on (the assertion's request is sent) before
  // the second, not after both.
  // require(), not import(): Node's ES module loader would start for them, and both are CommonJS.
  require('msalv3');
  await pollOnce();
  (globalThis as { [TASK_LIB_SLOT]?: typeof tl })[TASK_LIB_SLOT] = tl;
  const { AzureRMEndpoint, dispose } =
    require('azure-pipelines-tasks-azure-arm-rest/azure-arm-endpoint') as typeof import('azure-pipelines-tasks-azure-arm-rest/azure-arm-endpoint');
  try {
    // MSAL for every scheme: the ADAL paths are deprecated in arm-rest. USE_MSAL=false still wins.
    const endpoint = await new AzureRMEndpoint(connection).getEndpoint(false, true);
    scheme = endpoint.scheme ?? scheme;
    const credentials = endpoint.applicationTokenCredentials as unknown as MsalClient & {
      activeDirectoryResourceId: string;
      baseUrl: string;
      getToken(force?: boolean): Promise<string>;
      getFederatedToken(): Promise<string>;
    };
    credentials.activeDirectoryResourceId = resource;
    // The ADAL managed identity path asks IMDS for `baseUrl` instead.
    credentials.baseUrl = resource;
    // The exchange goes out once the connection to Entra is free: the assertion and that connection
    // take the same round trips, and a request sent a moment early would open a connection of its own.
    // MSAL's code is compiled while the assertion is on its way, after a poll of the event loop
    // (a handshake or answer that is in goes first).
    if (assertion)
      credentials.getFederatedToken = () => {
        if (!assertionDone) void pollOnce().then(() => assertionDone || compileMsalAhead(credentials));
        return Promise.all([assertion, entraOpen]).then(([jwt]) => jwt);
      };
    const token = await credentials.getToken();
    if (typeof token !== 'string' || !token) throw new Error(loc('TokenEmpty'));
    return { token, scheme };
  } catch (err) {
    // Azure DevOps refused or did not answer the assertion request: explained as such.
    if (err instanceof OidcTokenError) throw err;
    throw new AzureTokenError(connection, describe(err));
  } finally {
    // A certificate connection leaves its certificate and private key in Agent.TempDirectory.
    dispose();
  }
};
