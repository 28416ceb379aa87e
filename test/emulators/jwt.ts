// Minimal RS256 JSON Web Token helpers on node:crypto, shared by the emulators: signing keys with
// their public JWK, signing, decoding and verification with descriptive errors.
import { createPrivateKey, createPublicKey, createSign, createVerify, generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';

export interface Jwk {
  kty: 'RSA';
  n: string;
  e: string;
  kid: string;
  use: 'sig';
  alg: 'RS256';
  x5t?: string;
}

export interface Jwks {
  keys: Jwk[];
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: Jwk;
}

export type JwtHeader = Record<string, unknown> & { alg?: string; typ?: string; kid?: string; x5t?: string };
export type JwtClaims = Record<string, unknown> & {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
};

export interface DecodedJwt {
  header: JwtHeader;
  payload: JwtClaims;
  /** `base64url(header).base64url(payload)`, the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

export type JwtErrorCode =
  | 'malformed'
  | 'unsupported_alg'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'missing_exp'
  | 'wrong_issuer'
  | 'wrong_audience';

export class JwtError extends Error {
  constructor(
    readonly code: JwtErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'JwtError';
  }
}

/**
 * A fresh RSA-2048 key pair, encoded by the generation itself and read back: exporting a key
 * object the generation made can deadlock Node 20 (its mutex is held while the export allocates,
 * and a collection that ends the generation's job waits for the same mutex).
 */
export function rsaKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKey: createPrivateKey(pair.privateKey), publicKey: createPublicKey(pair.publicKey) };
}

/** A fresh RSA-2048 signing key with its public JWK. */
export function newSigningKey(kid: string = randomUUID().replace(/-/g, '').slice(0, 27)): SigningKey {
  const { privateKey, publicKey } = rsaKeyPair();
  const { n, e } = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  return { kid, privateKey, publicJwk: { kty: 'RSA', n, e, kid, use: 'sig', alg: 'RS256', x5t: kid } };
}

function b64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * Signs `payload` with RS256. The header gets `typ`, `alg` and the key's `kid` (and `x5t`, as
 * Microsoft's issuers set both) unless `extraHeader` overrides them.
 */
export function signJwt(payload: JwtClaims, key: Pick<SigningKey, 'privateKey'> & { kid?: string }, extraHeader: JwtHeader = {}): string {
  const header: JwtHeader = { typ: 'JWT', alg: 'RS256', ...(key.kid ? { kid: key.kid, x5t: key.kid } : {}), ...extraHeader };
  const signingInput = `${b64urlJson(header)}.${b64urlJson(payload)}`;
  const signature = createSign('RSA-SHA256').update(signingInput).sign(key.privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** Splits and parses a compact JWS without verifying it. Throws JwtError('malformed'). */
export function decodeJwt(token: string): DecodedJwt {
  if (typeof token !== 'string') throw new JwtError('malformed', `JWT must be a string, got ${typeof token}`);
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('malformed', `JWT must have 3 dot-separated parts, got ${parts.length}`);
  const parse = (part: string, what: string): Record<string, unknown> => {
    try {
      const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
      return value as Record<string, unknown>;
    } catch (err) {
      throw new JwtError('malformed', `JWT ${what} is not base64url JSON: ${(err as Error).message}`);
    }
  };
  return {
    header: parse(parts[0], 'header') as JwtHeader,
    payload: parse(parts[1], 'payload') as JwtClaims,
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2], 'base64url'),
  };
}

export interface VerifyOptions {
  /** Accepted `iss` values (exact compare). */
  issuer?: string | string[];
  /** Accepted audiences (exact compare); the token's `aud` (string or array) must contain one. */
  audience?: string | string[];
  /** Current time in seconds since the epoch; defaults to now. */
  now?: number;
  /** Allowed clock skew in seconds for exp/nbf; default 0. */
  clockSkewSec?: number;
  /** Require an `exp` claim; default true. */
  requireExp?: boolean;
  /** Check exp/nbf at all; default true (false: signature, issuer and audience only). */
  checkTime?: boolean;
}

/** Key material for verification: a JWKS (selected by `kid`) or one public key. */
export type VerificationKeys = Jwks | KeyObject | string;

function selectKey(header: JwtHeader, keys: VerificationKeys): KeyObject {
  if (typeof keys === 'string') return createPublicKey(keys);
  if (keys instanceof KeyObject) return keys.type === 'private' ? createPublicKey(keys) : keys;
  const kid = header.kid ?? header.x5t;
  const jwk = kid === undefined && keys.keys.length === 1 ? keys.keys[0] : keys.keys.find((k) => k.kid === kid);
  if (!jwk) {
    throw new JwtError(
      'unknown_key',
      `no key with kid "${String(kid)}" in JWKS (kids: ${keys.keys.map((k) => k.kid).join(', ') || 'none'})`,
    );
  }
  return createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: 'jwk' });
}

/** Verifies an RS256 JWT and returns its claims; throws JwtError naming what failed. */
export function verifyJwt(token: string, keys: VerificationKeys, opts: VerifyOptions = {}): JwtClaims {
  const jwt = decodeJwt(token);
  if (jwt.header.alg !== 'RS256') throw new JwtError('unsupported_alg', `JWT alg must be RS256, got ${String(jwt.header.alg)}`);
  const key = selectKey(jwt.header, keys);
  if (!createVerify('RSA-SHA256').update(jwt.signingInput).verify(key, jwt.signature)) {
    throw new JwtError('bad_signature', 'JWT signature does not verify with the given key');
  }
  const claims = jwt.payload;
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const skew = opts.clockSkewSec ?? 0;
  if (opts.checkTime === false) {
    // time checks are the caller's
  } else if (typeof claims.exp !== 'number') {
    if (opts.requireExp !== false) throw new JwtError('missing_exp', 'JWT has no numeric exp claim');
  } else if (now - skew >= claims.exp) {
    throw new JwtError(
      'expired',
      `JWT expired at ${new Date(claims.exp * 1000).toISOString()} (now ${new Date(now * 1000).toISOString()})`,
    );
  }
  if (opts.checkTime !== false && typeof claims.nbf === 'number' && now + skew < claims.nbf) {
    throw new JwtError(
      'not_yet_valid',
      `JWT not valid before ${new Date(claims.nbf * 1000).toISOString()} (now ${new Date(now * 1000).toISOString()})`,
    );
  }
  if (opts.issuer !== undefined) {
    const allowed = ([] as string[]).concat(opts.issuer);
    if (!allowed.includes(String(claims.iss))) {
      throw new JwtError('wrong_issuer', `JWT issuer "${String(claims.iss)}" is not one of ${JSON.stringify(allowed)}`);
    }
  }
  if (opts.audience !== undefined) {
    const allowed = ([] as string[]).concat(opts.audience);
    const got = ([] as unknown[]).concat(claims.aud ?? []);
    if (!got.some((a) => typeof a === 'string' && allowed.includes(a))) {
      throw new JwtError('wrong_audience', `JWT audience ${JSON.stringify(claims.aud)} does not contain any of ${JSON.stringify(allowed)}`);
    }
  }
  return claims;
}
