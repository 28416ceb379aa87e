// azure: an Entra access token of an Azure Resource Manager service connection (every scheme arm-rest
// has), sent as `{role, jwt}`. Vault's azure method checks it, and so does a jwt mount that trusts
// Entra by its discovery document; the refusals of both are explained here.
import { DeadlineError } from '../core/deadline';
import type { VaultHttpError } from '../core/failures';
import type { Text } from '../core/secretSpec';
import { readClaims } from '../core/tokenClaims';
import { explainJwtRefusal } from './jwtRefusals';
import type { AuthMethod, LoginTarget, Proof } from './method';
import { AzureTokenError, AzureTokenSource } from './tokenSource';

export interface AzureAuthConfig {
  method: 'azure';
  /** The AzureRM service connection. */
  connection: string;
  /** Its authorization scheme, for the log. */
  connectionScheme: string;
  /** The audience the Entra token is requested for. */
  resource: string;
}

/**
 * An Entra failure worth a fresh attempt: a transient service error or a dropped connection. MSAL
 * remembers a 5xx/429 answer and replays it to every retry on the same client for a minute, so
 * arm-rest's own retries cannot get past one; a new attempt builds a new client.
 */
export function isTransientEntra(detail: string): boolean {
  return /AADSTS90033|temporarily_unavailable|service_unavailable|server_error|Status code: 5\d\d|ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|socket hang up/i.test(detail);
}

const entraCodes: Array<[RegExp, string]> = [
  [/AADSTS70021\b/, 'Aadsts70021'],
  [/AADSTS700024\b/, 'Aadsts700024'],
  [/AADSTS7000215\b/, 'Aadsts7000215'],
  [/AADSTS700016\b/, 'Aadsts700016'],
  [/AADSTS90002\b/, 'Aadsts90002'],
];

/** arm-rest's failure, with the meaning of a known Entra error code added. */
export function explainAzureToken(connection: string, detail: string, loc: Text): string {
  const hint = entraCodes.find(([re]) => re.test(detail));
  const base = loc('TokenFailed', connection, detail);
  return hint ? `${base}\n${loc(hint[1])}` : base;
}

const quoted = /"([^"]*)"/g;

/** The azure auth plugin's refusals (hashicorp/vault-plugin-auth-azure), in its own words. */
function explainAzurePlugin(err: VaultHttpError, proof: Proof, target: LoginTarget, resource: string, loc: Text): string | undefined {
  const text = err.errors.join('; ');
  const { aud, iss, tid, oid = '<object id>', appid } = proof.facts;
  if (/^invalid role name/.test(text)) {
    return loc('LoginRoleMissing', target.role, target.mount, target.nsNote, target.mount, target.role, oid);
  }
  // The jwt method's audience refusal ends in "does not match any expected audience": not this one.
  if (/oidc: expected audience/.test(text)) {
    const [expected] = [...text.matchAll(quoted)].map((m) => m[1]);
    const got = aud ?? resource;
    return loc('LoginAudience', got, target.mount, expected ?? '?', expected ?? '?', target.mount, got);
  }
  if (/service principal not authorized/.test(text)) {
    return loc('LoginNotBound', oid, target.role, target.mount, target.role, oid, appid ?? '?');
  }
  if (/issued by a different provider/.test(text)) {
    const [expected, got] = [...text.matchAll(quoted)].map((m) => m[1]);
    return loc('LoginIssuer', expected ?? '?', got ?? iss ?? '?', target.mount, tid ?? '<tenant id>');
  }
  if (/token is expired/.test(text) && !/^error validating token/.test(text)) return loc('LoginExpired', text);
  if (/failed to verify signature/.test(text)) return loc('LoginSignature', target.mount, tid ?? '?');
  return undefined;
}

export function azureMethod(config: AzureAuthConfig, getToken: AzureTokenSource): AuthMethod {
  return {
    name: 'azure',
    describe: (loc) => loc('TokenRequested', config.resource, config.connection, config.connectionScheme),
    what: (loc) => loc('EntraTokenRequest'),
    async prove({ loc, role }) {
      const { token } = await getToken(config.connection, config.resource);
      const claims = readClaims(token);
      const notes = claims ? [loc('TokenClaims', claims.aud ?? '-', claims.iss ?? '-', claims.tid ?? '-', claims.oid ?? '-', claims.appid ?? '-', claims.expires ?? '-')] : [];
      return { body: { role, jwt: token }, secrets: [token], notes, facts: { ...claims } };
    },
    isTransient: (err) => err instanceof AzureTokenError && isTransientEntra(err.detail),
    explainProofFailure(err, ctx, loc) {
      if (err instanceof AzureTokenError) return explainAzureToken(err.connection, err.detail, loc);
      if (err instanceof DeadlineError) return loc('TokenTimeout', config.connection, ctx.timeoutSeconds, ctx.attempts);
      return undefined;
    },
    explainRefusal(err, proof, target, loc) {
      return (
        explainAzurePlugin(err, proof, target, config.resource, loc) ??
        explainJwtRefusal(err, { ...proof.facts, sent: loc('TokenDescribedEntra') }, target, loc)
      );
    },
  };
}
