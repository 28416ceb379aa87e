// Refusals of Vault's and OpenBao's jwt auth method, in their own words (each is a 400), turned
// into the cause, the value seen and a `vault write` that fixes it. Used by every method whose
// token a jwt mount can check: an Entra access token (azure) and the tokens Azure DevOps issues (jwt).
import type { VaultHttpError } from '../core/failures';
import type { Text } from '../core/secretSpec';
import type { LoginTarget } from './method';

/** What is known of the token sent, all non-secret: its claims, and how the step calls it. */
export interface SentToken {
  /** "an Entra access token", "the pipeline's OIDC token": for the messages. */
  sent: string;
  aud?: string;
  iss?: string;
  sub?: string;
  /** Any other claim a role may bind, by name (oid, appid, def_id, …). */
  [claim: string]: string | undefined;
}

const quoted = /"([^"]*)"/;

export function explainJwtRefusal(err: VaultHttpError, token: SentToken, target: LoginTarget, loc: Text): string | undefined {
  const text = err.errors.join('; ');
  const { mount, role, nsNote } = target;
  if (/^role "[^"]*" could not be found/.test(text)) {
    return loc('JwtRoleMissing', role, mount, nsNote, mount, role, token.aud ?? '<audience>', token.sub ?? '<subject>');
  }
  if (/invalid audience \(aud\) claim/.test(text)) {
    return loc('JwtAudience', token.sent, token.aud ?? '?', mount, role, mount, role, token.aud ?? '<audience>');
  }
  if (/^error validating claims: claim "[^"]+" does not match/.test(text)) {
    const claim = quoted.exec(text)?.[1] ?? '?';
    const seen = token[claim];
    return loc('JwtClaimMismatch', claim, seen ?? loc('JwtClaimAbsent'), role, mount, mount, role, claim, seen ?? '<value>');
  }
  if (/^error validating claims: claim "[^"]+" is missing/.test(text)) {
    const claim = quoted.exec(text)?.[1] ?? '?';
    return loc('JwtClaimMissing', token.sent, claim, role, mount);
  }
  if (/invalid issuer \(iss\) claim/.test(text)) {
    return loc('JwtIssuer', token.sent, token.iss ?? '?', mount, mount, token.iss ?? '<issuer>', token.iss ?? '<issuer>');
  }
  if (/invalid expiration time \(exp\) claim|token is expired/.test(text)) return loc('JwtExpired', token.sent, text);
  if (/^error verifying token signature/.test(text)) return loc('JwtSignature', token.sent, token.iss ?? '?', mount, mount, token.iss ?? '<issuer>');
  return undefined;
}
