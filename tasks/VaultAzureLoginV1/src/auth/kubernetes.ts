// kubernetes: the pod's service account token, read from a file (the token the kubelet mounts, or a
// projected volume's), sent as `{role, jwt}` to Vault's kubernetes auth method. Vault checks the
// token's audience and the role's bound service account names and namespaces itself, then asks the
// cluster's API server (TokenReview) whether the token is still good. Its refusals are explained
// here in its own words (openbao/openbao builtin/credential/kubernetes/path_login.go, the same in
// hashicorp/vault-plugin-auth-kubernetes): every failed TokenReview is a bare 403 "permission denied".
import type { VaultHttpError } from '../core/failures';
import { fileRefusal, MAX_TOKEN_FILE_BYTES, ReadFile } from '../core/inputFile';
import type { Text } from '../core/text';
import { jwtPart, jwtPayload } from '../core/tokenClaims';
import type { AuthMethod, AuthMethodDescriptor, LoginTarget, ReadContext } from './method';

/** Where the kubelet mounts the pod's service account token. */
export const DEFAULT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubernetesAuthConfig {
  method: 'kubernetes';
  /** The token file (absolute, or relative to the task's working directory). */
  tokenFile: string;
}

/** The non-secret claims of a service account token, bound (`kubernetes.io`) or legacy (`kubernetes.io/serviceaccount/*`). */
export interface ServiceAccountClaims {
  iss?: string;
  sub?: string;
  aud: string[];
  /** Expiry as an ISO time, and in seconds since the epoch. */
  expires?: string;
  exp?: number;
  namespace?: string;
  serviceAccount?: string;
  pod?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** The claims of a service account token, read without verifying it; undefined when the text is not a JWT. */
export function readServiceAccountClaims(jwt: string): ServiceAccountClaims | undefined {
  // A token file is checked harder than a token an API answered with: a header and a signature as well.
  const [header, , signature] = jwt.split('.');
  const payload = jwtPayload(jwt);
  if (!payload || !signature || !jwtPart(header)) return undefined;
  const k8s = obj(payload['kubernetes.io']);
  const aud = payload.aud;
  const claims: ServiceAccountClaims = {
    iss: str(payload.iss),
    sub: str(payload.sub),
    aud: typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.map(String) : [],
    namespace: str(k8s.namespace) ?? str(payload['kubernetes.io/serviceaccount/namespace']),
    serviceAccount: str(obj(k8s.serviceaccount).name) ?? str(payload['kubernetes.io/serviceaccount/service-account.name']),
    pod: str(obj(k8s.pod).name),
  };
  if (typeof payload.exp === 'number' && Number.isFinite(payload.exp)) {
    claims.exp = payload.exp;
    claims.expires = new Date(payload.exp * 1000).toISOString();
  }
  // sub is system:serviceaccount:<namespace>:<name> in every kind of service account token.
  const sub = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub ?? '');
  if (sub) {
    claims.namespace ??= sub[1];
    claims.serviceAccount ??= sub[2];
  }
  return claims;
}

export type TokenFile = { token: string; claims: ServiceAccountClaims } | { problem: string };

/**
 * The token in `path`, or the problem with it in the words of `loc` (naming the input, the path and
 * the fix, never the file's content): missing, unreadable, not a regular file, larger than any token
 * (64 KiB), empty, not a JWT, or expired at `now`. `read` is the pipeline edge's bounded reader.
 */
export function readTokenFile(path: string, loc: Text, now: number, read: ReadFile): TokenFile {
  const file = read(path, MAX_TOKEN_FILE_BYTES);
  if (!('text' in file)) {
    if (file.refused === 'missing') return { problem: loc('KubernetesTokenFileMissing', path) };
    if (file.refused === 'unreadable') return { problem: loc('KubernetesTokenFileUnreadable', path, file.code) };
    return { problem: fileRefusal(loc('InputNamed', 'kubernetesTokenFile'), path, MAX_TOKEN_FILE_BYTES, file, loc) ?? '' };
  }
  const token = file.text.trim();
  if (!token) return { problem: loc('KubernetesTokenFileEmpty', path) };
  const claims = readServiceAccountClaims(token);
  if (!claims) return { problem: loc('KubernetesTokenNotJwt', path) };
  if (claims.exp !== undefined && claims.exp * 1000 <= now) return { problem: loc('KubernetesTokenExpired', path, claims.expires) };
  return { token, claims };
}

/** The token file changed for the worse between the input check and the login. */
export class KubernetesTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubernetesTokenError';
  }
}

/** What the explanations know of the token: its claims, by name. */
type Facts = Record<string, string | undefined>;

/** The kubernetes auth method's refusals (path_login.go), with the value seen and the fix. */
export function explainKubernetesRefusal(err: VaultHttpError, facts: Facts, target: LoginTarget, loc: Text): string | undefined {
  const text = err.errors.join('; ');
  const { mount, role, nsNote } = target;
  const sa = facts.serviceAccount ?? '<service account>';
  const ns = facts.namespace ?? '<namespace>';
  const aud = facts.aud || '-';
  const firstAud = facts.aud?.split(',')[0] || '<audience>';
  if (/^invalid role name/.test(text)) return loc('KubernetesRoleMissing', role, mount, nsNote, mount, role, sa, ns, firstAud);
  if (/^service account name not authorized/.test(text))
    return loc('KubernetesNameNotBound', sa, ns, role, mount, mount, role, sa, mount, role);
  if (/^namespace not authorized/.test(text)) return loc('KubernetesNamespaceNotBound', ns, sa, role, mount, mount, role, ns, mount, role);
  if (/invalid audience \(aud\) claim/.test(text)) return loc('KubernetesAudience', role, mount, aud, mount, role, mount, role, firstAud);
  if (/invalid expiration time \(exp\) claim|token is expired/.test(text)) return loc('KubernetesExpired', facts.expires ?? '?', text);
  if (/^could not load backend configuration/.test(text)) return loc('KubernetesNotConfigured', mount, nsNote, mount);
  // A failed TokenReview, a token_bound_cidrs refusal and a login at a path where no auth method is
  // enabled all answer exactly this.
  if (err.status === 403 && text === 'permission denied') return loc('KubernetesReviewFailed', mount, nsNote, mount, mount, `${ns}:${sa}`);
  return undefined;
}

export function kubernetesMethod(config: KubernetesAuthConfig, read: ReadFile, now: () => number = Date.now): AuthMethod {
  return {
    name: 'kubernetes',
    describe: (loc) => loc('KubernetesTokenReading', config.tokenFile),
    what: (loc) => loc('KubernetesTokenRequest'),
    async prove({ loc, role, mask }) {
      // Read again at login, not kept from the input check: the kubelet replaces the file as the token nears expiry.
      const file = readTokenFile(config.tokenFile, loc, now(), read);
      if ('problem' in file) throw new KubernetesTokenError(file.problem);
      const { token, claims } = file;
      mask(token);
      const notes = [
        loc(
          'KubernetesClaims',
          claims.sub ?? '-',
          claims.namespace ?? '-',
          claims.serviceAccount ?? '-',
          claims.pod ?? '-',
          claims.aud.join(',') || '-',
          claims.iss ?? '-',
          claims.expires ?? '-',
        ),
      ];
      const facts = {
        sub: claims.sub,
        namespace: claims.namespace,
        serviceAccount: claims.serviceAccount,
        aud: claims.aud.join(','),
        iss: claims.iss,
        expires: claims.expires,
      };
      return { body: { role, jwt: token }, secrets: [token], notes, facts };
    },
    isTransient: () => false,
    explainProofFailure: (err) => (err instanceof KubernetesTokenError ? err.message : undefined),
    explainRefusal: (err, proof, target, loc) => explainKubernetesRefusal(err, proof.facts, target, loc),
  };
}

/**
 * The input: the service account token file, checked before any request (there, readable, a
 * regular file of at most 64 KiB, not empty, a JWT, not expired). Only its path goes on: the login
 * reads it again.
 */
export function readKubernetesInputs({ port, loc, problems, readFile }: ReadContext): KubernetesAuthConfig {
  const tokenFile = port.input('kubernetesTokenFile') || DEFAULT_TOKEN_FILE;
  const read = readTokenFile(tokenFile, loc, Date.now(), readFile);
  if ('problem' in read) problems.push(read.problem);
  return { method: 'kubernetes', tokenFile };
}

export const kubernetes: AuthMethodDescriptor<KubernetesAuthConfig> = {
  needsRole: true,
  readInputs: readKubernetesInputs,
  create: (config, sources) => kubernetesMethod(config, sources.readFile),
};
