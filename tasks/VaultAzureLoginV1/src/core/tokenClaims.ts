// Reads the non-secret claims of an access token (a JWT) for the log; never returns the token.

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

/** Decodes the payload of a JWT without verifying it. Returns undefined when it is not a JWT. */
export function readClaims(jwt: string): TokenClaims | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return undefined;
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null) return undefined;
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
