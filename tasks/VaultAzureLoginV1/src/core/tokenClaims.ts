// Decodes JWT payloads (one decoder for every token the task meets) and reads the non-secret
// claims of an access token for the log; never returns the token.

export interface TokenClaims {
  aud?: string;
  iss?: string;
  tid?: string;
  oid?: string;
  appid?: string;
  sub?: string;
  /** Expiry as an ISO time, when the token has `exp`. */
  expires?: string;
}

const claimNames = ['aud', 'iss', 'tid', 'oid', 'appid', 'sub'] as const;

/** The token's claims among other facts (a login's facts also name the connection or the VM). */
export function claimsAmong(facts: Record<string, string | undefined>): TokenClaims {
  const claims: TokenClaims = {};
  for (const name of [...claimNames, 'expires'] as const) if (facts[name] !== undefined) claims[name] = facts[name];
  return claims;
}

/** The JSON object one part of a JWT holds (base64url text), without verifying anything; undefined when it holds none. */
export function jwtPart(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The one decoder of a JWT's payload, for every token the task meets (Entra's, the pipeline's OIDC
 * token, a service account's, a GCE identity token): three parts separated by '.', the middle one a
 * JSON object. Nothing is verified (Vault does that); undefined when the text is no JWT.
 */
export function jwtPayload(jwt: string): Record<string, unknown> | undefined {
  const parts = jwt.split('.');
  return parts.length === 3 ? jwtPart(parts[1]) : undefined;
}

/** The claims of an access token (a JWT) shown in the log, without verifying it; undefined when it is not a JWT. */
export function readClaims(jwt: string): TokenClaims | undefined {
  const payload = jwtPayload(jwt);
  if (!payload) return undefined;
  const claims: TokenClaims = {};
  for (const name of claimNames) {
    const value = payload[name];
    if (typeof value === 'string') claims[name] = value;
    else if (Array.isArray(value)) claims[name] = value.map(String).join(',');
  }
  // v2 tokens carry the application id as azp.
  if (!claims.appid && typeof payload.azp === 'string') claims.appid = payload.azp;
  if (typeof payload.exp === 'number') claims.expires = new Date(payload.exp * 1000).toISOString();
  return claims;
}
