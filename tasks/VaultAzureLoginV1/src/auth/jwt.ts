// jwt: an OIDC token Azure DevOps itself issues to the job, sent as `{role, jwt}` to a Vault jwt
// mount that trusts Azure DevOps' issuer; no Entra hop, no service principal. Two sources: the
// pipeline's own token (sub p://org/project/pipeline, with the run's claims), or the federated
// assertion of an AzureRM workload identity federation connection (sub sc://org/project/connection,
// or the Entra-issued shape). The pipeline edge requests the token (pipeline/oidcToken.ts).
import { DeadlineError } from '../core/deadline';
import { ANSWER_TOO_LARGE, MAX_ANSWER_BYTES } from '../core/failures';
import type { Text } from '../core/text';
import { jwtPayload } from '../core/tokenClaims';
import { explainJwtRefusal } from './jwtRefusals';
import type { AuthMethod, AuthMethodDescriptor, ReadContext } from './method';
import type { OidcTokenSource } from './tokenSource';

export type JwtSource = 'pipeline' | 'serviceConnection';

export interface JwtAuthConfig {
  method: 'jwt';
  source: JwtSource;
  /** System.OidcRequestUri: where the job's OIDC tokens are requested. */
  requestUri: string;
  /** The AzureRM connection (its id) whose assertion is requested; '' for the pipeline token. */
  connection: string;
}

/** Azure DevOps did not give the token: its HTTP answer (`status`), or no answer at all (`code`). */
export class OidcTokenError extends Error {
  constructor(
    /** The request URI without its query. */
    readonly url: string,
    readonly detail: string,
    readonly status?: number,
    /** Node's error code (ECONNREFUSED, ETIMEDOUT, …) when nothing was answered. */
    readonly code?: string,
  ) {
    // The message is what a retry line shows as the cause.
    super(status !== undefined ? `HTTP ${status}: ${detail}` : `${code ?? 'no answer'}: ${detail}`);
    this.name = 'OidcTokenError';
  }
}

/** The agent's connection to Azure DevOps: its authorization holds the job's access token (System.AccessToken). */
export const JOB_CONNECTION = 'SYSTEMVSSCONNECTION';

export const OIDC_API_VERSION = '7.1-preview.1';

/** The request URL: the agent's URI with the API version, and the connection when one is asked for. */
export function oidcRequestUrl(requestUri: string, serviceConnectionId?: string): URL {
  const url = new URL(requestUri);
  url.searchParams.set('api-version', OIDC_API_VERSION);
  if (serviceConnectionId) url.searchParams.set('serviceConnectionId', serviceConnectionId);
  return url;
}

/** Azure DevOps' own words in an error answer: a VSS error's message, the `{count, value}` text form, or plain text. */
export function azdoErrorText(body: unknown): string {
  let text = '';
  if (typeof body === 'string') text = body;
  else if (body && typeof body === 'object') {
    const { message, value } = body as { message?: unknown; value?: unknown };
    if (typeof message === 'string') text = message;
    else if (typeof value === 'string') text = value;
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** The token of a 200 answer; an OidcTokenError naming the status and Azure DevOps' words otherwise. */
export function readOidcAnswer(status: number, body: unknown, url: string): string {
  if (status === 200) {
    const token = (body as { oidcToken?: unknown } | undefined)?.oidcToken;
    if (typeof token === 'string' && token) return token;
    throw new OidcTokenError(url, 'the answer holds no oidcToken', 200);
  }
  throw new OidcTokenError(url, azdoErrorText(body) || `HTTP ${status}`, status);
}

/** The claims logged and used in explanations, in the order the log shows them; none is secret. */
export const LOGGED_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'org_id',
  'prj_id',
  'def_id',
  'rpo_id',
  'rpo_uri',
  'rpo_ref',
  'rpo_ver',
  'run_id',
  'tid',
  'oid',
] as const;

/** The payload's string claims (arrays joined with ','), and `expires` from exp; undefined when it is no JWT. */
export function readOidcClaims(jwt: string): Record<string, string> | undefined {
  const payload = jwtPayload(jwt);
  if (!payload) return undefined;
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(payload)) {
    if (typeof value === 'string') claims[name] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) claims[name] = value.join(',');
  }
  const exp = payload.exp;
  if (typeof exp === 'number' && Number.isFinite(exp)) claims.expires = new Date(exp * 1000).toISOString();
  return claims;
}

/** `name=value` for each logged claim the token has, then its expiry. */
export function describeClaims(claims: Record<string, string>): string {
  const shown = LOGGED_CLAIMS.filter((n) => claims[n] !== undefined).map((n) => `${n}=${claims[n]}`);
  return [...shown, `expires=${claims.expires ?? '-'}`].join(' ');
}

/** Worth another attempt: Azure DevOps busy or failing (429, 5xx), or the connection dropped. */
export function isTransientOidc(err: OidcTokenError): boolean {
  if (err.status !== undefined) return err.status === 429 || err.status >= 500;
  return /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|ECONNABORTED|EAI_AGAIN|EPIPE|ENETUNREACH|EHOSTUNREACH)$/.test(err.code ?? '');
}

/** Azure DevOps' answer in its own words, for the messages. */
export function explainOidcFailure(err: OidcTokenError, config: JwtAuthConfig, loc: Text): string {
  const what = config.source === 'pipeline' ? loc('TokenDescribedPipeline') : loc('TokenDescribedConnection', config.connection);
  if (err.code === ANSWER_TOO_LARGE) return loc('JwtOidcTooLarge', what, err.url, MAX_ANSWER_BYTES / 1024 / 1024);
  if (err.status === undefined) return loc('JwtOidcUnreachable', what, err.url, err.code ?? '?', err.detail);
  if (err.status === 200) return loc('JwtOidcNoToken', what, err.url, err.detail);
  if (err.status === 401) return loc('JwtOidcUnauthorized', what, err.url, err.detail);
  if (err.status === 404) {
    return config.source === 'pipeline'
      ? loc('JwtOidcNotFound', what, err.url, err.detail)
      : loc('JwtOidcConnectionNotFound', config.connection, err.url, err.detail);
  }
  if (err.status >= 400 && err.status < 500) return loc('JwtOidcRefused', what, err.status, err.url, err.detail);
  return loc('JwtOidcFailed', what, err.status, err.url, err.detail);
}

export function jwtMethod(config: JwtAuthConfig, getToken: OidcTokenSource): AuthMethod {
  const pipeline = config.source === 'pipeline';
  const sent = (loc: Text) => (pipeline ? loc('TokenDescribedPipeline') : loc('TokenDescribedConnection', config.connection));
  return {
    name: 'jwt',
    describe: (loc) =>
      pipeline
        ? loc('JwtTokenRequestedPipeline', config.requestUri)
        : loc('JwtTokenRequestedConnection', config.connection, config.requestUri),
    what: (loc) => loc('JwtOidcRequest'),
    async prove({ loc, role, mask, timeoutSeconds }) {
      const token = await getToken({
        requestUri: config.requestUri,
        serviceConnectionId: pipeline ? undefined : config.connection,
        timeoutSeconds,
      });
      const claims = readOidcClaims(token);
      if (!claims) {
        mask(token);
        throw new OidcTokenError(config.requestUri, loc('JwtOidcNotJwt'), 200);
      }
      return {
        body: { role, jwt: token },
        secrets: [token],
        notes: [loc('JwtTokenClaims', sent(loc), describeClaims(claims))],
        facts: claims,
      };
    },
    isTransient: (err) => err instanceof OidcTokenError && isTransientOidc(err),
    explainProofFailure(err, ctx, loc) {
      // The request's own timeout and the flow's deadline are the same length: either may end it.
      const timedOut = err instanceof DeadlineError || (err instanceof OidcTokenError && err.code === 'ETIMEDOUT');
      if (timedOut) return loc('JwtOidcTimeout', sent(loc), config.requestUri, ctx.timeoutSeconds, ctx.attempts);
      if (err instanceof OidcTokenError) return explainOidcFailure(err, config, loc);
      return undefined;
    },
    explainRefusal: (err, proof, target, loc) => explainJwtRefusal(err, { ...proof.facts, sent: sent(loc) }, target, loc),
  };
}

const SOURCES: readonly JwtSource[] = ['pipeline', 'serviceConnection'];

/**
 * The inputs, checked before any request: which token (`jwtSource`), the AzureRM connection for
 * `serviceConnection` (workload identity federation: no other scheme has an OIDC token), and what
 * the agent must give for any OIDC token: System.OidcRequestUri and the job's access token.
 */
export function readJwtInputs({ port, loc, problems }: ReadContext): JwtAuthConfig {
  const raw = port.input('jwtSource');
  let source: JwtSource = 'pipeline';
  if (raw) {
    const known = SOURCES.find((s) => s.toLowerCase() === raw.toLowerCase());
    if (known) source = known;
    else problems.push(loc('JwtSourceInvalid', raw));
  }

  let connection = '';
  if (source === 'serviceConnection') {
    connection = port.input('azureSubscription');
    if (!connection) problems.push(loc('InputRequired', 'azureSubscription', loc('JwtConnectionHint')));
    else if (!port.endpoint(connection).url) problems.push(loc('ConnectionNotFound', connection));
    else {
      const scheme = port.endpoint(connection).scheme || 'ServicePrincipal';
      if (scheme !== 'WorkloadIdentityFederation') problems.push(loc('JwtConnectionScheme', connection, scheme));
    }
  }

  const requestUri = port.variable('System.OidcRequestUri');
  if (!requestUri) problems.push(loc('JwtOidcUriMissing'));
  else if (!/^https?:\/\//i.test(requestUri) || !URL.canParse(requestUri)) problems.push(loc('JwtOidcUriInvalid', requestUri));
  if (!port.endpoint(JOB_CONNECTION).auth('AccessToken')) problems.push(loc('JwtAccessTokenMissing'));

  return { method: 'jwt', source, requestUri, connection };
}

export const jwt: AuthMethodDescriptor<JwtAuthConfig> = {
  needsRole: true,
  readInputs: readJwtInputs,
  create: (config, sources) => jwtMethod(config, sources.oidcToken),
};
