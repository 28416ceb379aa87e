// Refusals of Vault's and OpenBao's jwt auth method, in their own words (each is a 400), turned
// into the cause, the value seen and a command that fixes it. Used by every method whose token a
// jwt mount can check: an Entra access token (azure) and the tokens Azure DevOps issues (jwt).
//
// The texts matched are OpenBao 2.7's answers, seen in test/server/jwtEntra.test.ts and
// jwt.test.ts (the jwt plugin's own words, which Vault's hashicorp/vault-plugin-auth-jwt shares):
//   role "<r>" could not be found
//   error validating token: invalid audience (aud) claim: audience claim does not match any expected audience
//   error validating claims: claim "<c>" does not match any associated bound claim values
//   error validating claims: claim "<c>" is missing
//   claim "<c>" not found in token                                   (user_claim)
//   error validating token: invalid subject (sub) claim
//   error validating token: invalid issuer (iss) claim
//   error validating token: invalid expiration time (exp) claim: token is expired
//   error validating token: error verifying token signature: failed to verify id token signature
//   role with oidc role_type is not allowed
// Every fix is a command the vault (or bao) CLI accepts as printed: a map such as bound_claims
// only as JSON on standard input (`bound_claims=oid=x` and a JSON string are refused), and a role
// update always with role_type jwt (OpenBao refuses an update that leaves it out: "'allowed_redirect_uris'
// must be set if 'role_type' is 'oidc' or unspecified").
import type { VaultHttpError } from '../core/failures';
import type { Text } from '../core/text';
import type { LoginTarget } from './method';

/** What is known of the token sent, all non-secret: its claims, and how the step calls it. */
export interface SentToken {
  /** "an Entra access token", "the pipeline's OIDC token": for the messages. */
  sent: string;
  aud?: string;
  iss?: string;
  sub?: string;
  /** Any other claim a role may bind, by name (oid, tid, def_id, …); `expires` is no claim. */
  [claim: string]: string | undefined;
}

/** The audience Azure DevOps writes in every OIDC token it issues; it cannot be asked for another. */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

/** What a role binds to admit exactly this token's identity. */
interface Binding {
  claims: string[];
  subject: boolean;
  userClaim: string;
}

/**
 * The binding a role needs for this kind of token: a pipeline token by its project, definition and
 * branch; a service connection's assertion by its subject (the Entra-issued one carries the oid of
 * Azure DevOps' own service principal, shared by every connection, so never by oid); an Entra
 * access token by its tenant and object id.
 */
export function bindingFor(token: SentToken): Binding {
  const sub = token.sub ?? '';
  if (sub.startsWith('p://')) return { claims: ['prj_id', 'def_id', 'rpo_ref'], subject: false, userClaim: 'sub' };
  if (sub.startsWith('sc://') || /\/sc\/[^/]+\/[^/]+$/.test(sub)) return { claims: [], subject: true, userClaim: 'sub' };
  if (token.oid) return { claims: ['tid', 'oid'], subject: false, userClaim: 'oid' };
  return { claims: [], subject: true, userClaim: 'sub' };
}

/** A value in single quotes for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A role update as JSON on standard input: the one form the CLI takes maps in. */
export function roleWrite(mount: string, role: string, fields: Record<string, unknown>): string {
  return `echo ${shellQuote(JSON.stringify({ role_type: 'jwt', ...fields }))} | vault write auth/${mount}/role/${role} -`;
}

/** The mount's config for the token's issuer: discovery at the issuer (OIDC requires them equal), and bound to it. */
function configWrite(mount: string, issuer: string): string {
  return `vault write auth/${mount}/config oidc_discovery_url=${shellQuote(issuer)} bound_issuer=${shellQuote(issuer)}`;
}

/** The names of the token's claims, for "it carries: …". */
function claimNames(token: SentToken): string {
  return Object.keys(token)
    .filter((k) => k !== 'sent' && k !== 'expires' && token[k] !== undefined)
    .join(', ');
}

/** bound_claims admitting this token: the claims its kind is bound by, and `also`. */
function boundClaims(token: SentToken, also?: string): Record<string, string> {
  const names = [...bindingFor(token).claims, ...(also ? [also] : [])];
  return Object.fromEntries([...new Set(names)].map((n) => [n, token[n] ?? '<value>']));
}

/** The role's binding for this token's identity: its claims (none clears them), and its subject where that is what binds it. */
function identityFields(token: SentToken): Record<string, unknown> {
  const fields: Record<string, unknown> = { bound_claims: boundClaims(token) };
  if (bindingFor(token).subject) fields.bound_subject = token.sub ?? '<subject>';
  return fields;
}

/** A whole role for this token, for a role that does not exist. */
function newRole(token: SentToken, mount: string, role: string): string {
  const b = bindingFor(token);
  const fields: Record<string, unknown> = { bound_audiences: [token.aud ?? '<audience>'] };
  if (b.subject) fields.bound_subject = token.sub ?? '<subject>';
  if (b.claims.length) fields.bound_claims = boundClaims(token);
  Object.assign(fields, { user_claim: b.userClaim, token_policies: ['<policy>'], token_ttl: '10m' });
  return roleWrite(mount, role, fields);
}

const quoted = /"([^"]*)"/;

export function explainJwtRefusal(err: VaultHttpError, token: SentToken, target: LoginTarget, loc: Text): string | undefined {
  const text = err.errors.join('; ');
  const { mount, role, nsNote } = target;
  const claim = quoted.exec(text)?.[1] ?? '?';
  if (/^role "[^"]*" could not be found/.test(text)) {
    return loc('JwtRoleMissing', role, mount, nsNote, role, mount, newRole(token, mount, role));
  }
  if (/^role with oidc role_type is not allowed/.test(text)) {
    return loc('JwtRoleTypeOidc', role, mount, roleWrite(mount, role, {}));
  }
  if (/invalid audience \(aud\) claim/.test(text)) {
    const aud = token.aud ?? '<audience>';
    const fix = loc('JwtAudience', token.sent, token.aud ?? '?', role, mount, roleWrite(mount, role, { bound_audiences: [aud] }));
    const hint =
      aud === TOKEN_EXCHANGE_AUDIENCE ? loc('JwtAudienceFixed', TOKEN_EXCHANGE_AUDIENCE) : loc('JwtAudienceResource', mount, role);
    return `${fix} ${hint}`;
  }
  if (/^error validating claims: claim "[^"]+" does not match/.test(text)) {
    const seen = token[claim];
    const value = seen === undefined ? loc('JwtClaimAbsent') : `"${seen}"`;
    return loc(
      'JwtClaimMismatch',
      token.sent,
      claim,
      value,
      role,
      mount,
      roleWrite(mount, role, { bound_claims: boundClaims(token, claim) }),
    );
  }
  if (/^error validating claims: claim "[^"]+" is missing/.test(text)) {
    return loc('JwtClaimMissing', token.sent, claim, role, mount, claimNames(token), roleWrite(mount, role, identityFields(token)));
  }
  if (/^claim "[^"]+" not found in token/.test(text)) {
    const userClaim = bindingFor(token).userClaim;
    return loc('JwtUserClaimMissing', role, mount, claim, token.sent, claimNames(token), roleWrite(mount, role, { user_claim: userClaim }));
  }
  if (/invalid subject \(sub\) claim/.test(text)) {
    return loc(
      'JwtSubject',
      token.sent,
      token.sub ?? '?',
      role,
      mount,
      roleWrite(mount, role, { bound_subject: token.sub ?? '<subject>' }),
    );
  }
  if (/invalid issuer \(iss\) claim/.test(text)) {
    return loc('JwtIssuer', token.sent, token.iss ?? '?', mount, configWrite(mount, token.iss ?? '<issuer>'));
  }
  if (/invalid expiration time \(exp\) claim|token is expired/.test(text)) return loc('JwtExpired', token.sent, text);
  if (/error verifying token signature/.test(text)) {
    return loc('JwtSignature', token.sent, token.iss ?? '?', mount, configWrite(mount, token.iss ?? '<issuer>'));
  }
  return undefined;
}
