// gcp: the gce login of Vault's gcp auth method. The step asks the Compute Engine metadata server of
// the VM it runs on for the instance identity token of a service account (audience
// http://vault/<role>, format=full: Google signs it with the instance's project, zone and name)
// and sends it as `{role, jwt}`; Vault checks Google's signature, the instance and the role's bindings.
import { DeadlineError } from '../core/deadline';
import type { VaultHttpError } from '../core/failures';
import type { Text } from '../core/text';
import { jwtPayload } from '../core/tokenClaims';
import { ANSWER_TOO_LARGE, Answer, asTransportError, MAX_METADATA_BYTES, RequestTimeout, send, TransportError } from '../net/http';
import type { AuthMethod, AuthMethodDescriptor, LoginTarget, Proof, ReadContext } from './method';

export interface GcpAuthConfig {
  method: 'gcp';
  /** The VM's service account whose token is asked for: 'default' or an email. */
  serviceAccount: string;
  /** The metadata server's host (GCE_METADATA_HOST, as Google's libraries read it; else metadata.google.internal). */
  metadataHost: string;
}

export const METADATA_HOST = 'metadata.google.internal';
const NOT_A_JWT = 'the answer is not a JWT';

/** The audience Vault's gcp method expects: it must end in vault/<role> (vault-plugin-auth-gcp path_login.go). */
export function vaultAudience(role: string): string {
  return `http://vault/${role}`;
}

export function identityUrl(host: string, serviceAccount: string, role: string): string {
  const query = new URLSearchParams({ audience: vaultAudience(role), format: 'full' });
  return `http://${host}/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(serviceAccount)}/identity?${query}`;
}

/** The metadata server could not be asked (no answer) or did not give a token. */
export class GcpMetadataError extends Error {
  constructor(
    readonly url: string,
    /** The network error code (ENOTFOUND, ECONNREFUSED, …), '' when the server answered. */
    readonly code: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`GCE metadata server: ${code || `HTTP ${status}`} ${detail}`);
    this.name = 'GcpMetadataError';
  }
}

/** One GET to the metadata server, as Google's libraries make it (Metadata-Flavor: Google, no proxy). */
export async function fetchIdentityToken(url: string, timeoutSeconds: number): Promise<string> {
  let answer: Answer;
  try {
    answer = await send(
      { method: 'GET', url: new URL(url), headers: { 'Metadata-Flavor': 'Google' } },
      { timeoutMs: timeoutSeconds * 1000, maxBytes: MAX_METADATA_BYTES },
    );
  } catch (err) {
    const e = err instanceof TransportError ? err : asTransportError(err);
    // Out of time: the attempt's deadline, which the step explains and retries.
    if (e instanceof RequestTimeout) throw new DeadlineError(timeoutSeconds * 1000);
    // An answer larger than any token is no token.
    if (e.code === ANSWER_TOO_LARGE) throw new GcpMetadataError(url, '', e.status ?? 0, e.status === 200 ? NOT_A_JWT : e.message);
    throw new GcpMetadataError(url, e.code, 0, e.message);
  }
  const text = answer.text.trim();
  if (answer.status !== 200) throw new GcpMetadataError(url, '', answer.status, text.replace(/\s+/g, ' ').slice(0, 300));
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(text)) throw new GcpMetadataError(url, '', 200, NOT_A_JWT);
  return text;
}

export interface GceClaims {
  email?: string;
  sub?: string;
  aud?: string;
  project?: string;
  zone?: string;
  instance?: string;
  instanceId?: string;
  expires?: string;
}

/** The non-secret claims of a GCE identity token, without verifying it. */
export function readGceClaims(jwt: string): GceClaims {
  const payload = jwtPayload(jwt);
  if (!payload) return {};
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
  const gce = ((payload.google as Record<string, unknown> | undefined)?.compute_engine ?? {}) as Record<string, unknown>;
  return {
    email: str(payload.email),
    sub: str(payload.sub),
    aud: Array.isArray(payload.aud) ? payload.aud.map(String).join(',') : str(payload.aud),
    project: str(gce.project_id),
    zone: str(gce.zone),
    instance: str(gce.instance_name),
    instanceId: str(gce.instance_id),
    expires: typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : undefined,
  };
}

/** No answer worth waiting for, or one that may be different next time. */
export function isTransientMetadata(err: unknown): boolean {
  if (!(err instanceof GcpMetadataError)) return false;
  if (err.code) return /ECONNRESET|ETIMEDOUT|EAI_AGAIN|ECONNREFUSED|EPIPE/.test(err.code);
  return err.status === 429 || err.status >= 500;
}

const quotedList = /\[([^\]]*)\]/;
/** Go's %q of a []string ("[\"a\" \"b\"]") or %+v ("[a b]"), as a comma-separated list. */
function goList(text: string): string {
  const inner = quotedList.exec(text)?.[1] ?? '';
  const quoted = [...inner.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  return (quoted.length ? quoted : inner.split(/\s+/).filter(Boolean)).join(',');
}

/** The region of a zone (europe-west1-b → europe-west1), as the plugin's zoneToRegion. */
const regionOf = (zone: string) => zone.replace(/-[a-z]$/, '');

/**
 * The gcp plugin's refusals (hashicorp/vault-plugin-auth-gcp plugin/path_login.go, authorizer_gce.go;
 * the same in openbao/openbao-plugins auth/gcp), each a 400.
 */
function explainGcpPlugin(err: VaultHttpError, proof: Proof, target: LoginTarget, loc: Text): string | undefined {
  const text = err.errors.join('; ');
  const { mount, role, nsNote } = target;
  const { email = '<service account email>', sub = '?', project = '<project>', zone = '<zone>', instance = '?' } = proof.facts;
  if (/^role "[^"]*" not found$/.test(text)) return loc('GcpRoleMissing', role, mount, nsNote, mount, mount, role, project, email);
  if (/is not in bound service accounts|\) is not authorized for role$/.test(text)) {
    return loc('GcpNotBound', email, sub, role, mount, goList(text) || '-', mount, role, email);
  }
  if (/^Got GCE token but IAM role "[^"]*" does not allow GCE inference$/.test(text)) {
    return loc('GcpRoleIsIam', role, mount, mount, project, email, mount, role);
  }
  if (/^instance "[^"]*" \(project "[^"]*"\) not in bound projects/.test(text)) {
    return loc('GcpProjectNotBound', instance, project, role, mount, goList(text) || '-', mount, role, project);
  }
  if (/^instance not in bound zones/.test(text))
    return loc('GcpZoneNotBound', instance, zone, role, mount, goList(text) || '-', mount, role, zone);
  if (/^instance not in bound regions/.test(text))
    return loc('GcpRegionNotBound', instance, regionOf(zone), zone, role, mount, goList(text) || '-', mount, role, regionOf(zone));
  let m: RegExpExecArray | null;
  if ((m = /^instance missing bound label "([^":]*):(.*)"$/.exec(text))) {
    const [, key, value] = m;
    return loc('GcpLabelNotBound', instance, key, value, role, mount, instance, zone, key, value, mount, role);
  }
  // pathIamLogin checks a JWT's lifetime against the role's max_jwt_exp (900 s by default) unless
  // it holds GCE claims, which the plugin reads for gce roles only: a VM's token (an hour) fails.
  if ((m = /^role requires that service account JWTs expire within (\d+) seconds$/.exec(text))) {
    return loc('GcpIamRoleJwtExp', role, mount, m[1], mount, role, mount, project, email);
  }
  // The instance lookup (compute.instances.get) with the plugin's own Google credential, refused.
  if (
    (m =
      /^error when attempting to find instance \(.*\) :unable to find instance associated with token: (googleapi: Error 40[13]\b.*|.*oauth2: .*)$/s.exec(
        text,
      ))
  ) {
    return loc('GcpPluginCredential', mount, instance, project, m[1].replace(/\s+/g, ' '), project, mount);
  }
  return undefined;
}

export function gcpMethod(config: GcpAuthConfig, fetchToken: typeof fetchIdentityToken = fetchIdentityToken): AuthMethod {
  return {
    name: 'gcp',
    describe: (loc) => loc('GcpTokenRequested', config.serviceAccount, config.metadataHost),
    what: (loc) => loc('GcpTokenRequest'),
    async prove({ role, loc, timeoutSeconds }): Promise<Proof> {
      const jwt = await fetchToken(identityUrl(config.metadataHost, config.serviceAccount, role), timeoutSeconds);
      const c = readGceClaims(jwt);
      const notes = [
        loc(
          'GcpTokenClaims',
          c.email ?? '-',
          c.sub ?? '-',
          c.project ?? '-',
          c.zone ?? '-',
          c.instance ?? '-',
          c.aud ?? '-',
          c.expires ?? '-',
        ),
      ];
      return { body: { role, jwt }, secrets: [jwt], notes, facts: { ...c } };
    },
    isTransient: isTransientMetadata,
    explainProofFailure(err, ctx, loc) {
      if (err instanceof DeadlineError) return loc('GcpMetadataTimeout', config.metadataHost, ctx.timeoutSeconds, ctx.attempts);
      if (!(err instanceof GcpMetadataError)) return undefined;
      if (err.code) return loc('GcpNotOnGce', config.metadataHost, err.code);
      const hint = err.status === 404 ? loc('GcpServiceAccountHint', config.serviceAccount) : '';
      return loc('GcpMetadataRefused', config.metadataHost, err.status, config.serviceAccount, err.detail || '-', hint);
    },
    explainRefusal: (err, proof, target, loc) => explainGcpPlugin(err, proof, target, loc),
  };
}

/** 'default', or a service account email (name@project.iam.gserviceaccount.com, PROJECT_NUMBER-compute@developer.gserviceaccount.com). */
export const serviceAccountPattern = /^(default|[a-z0-9][a-z0-9._-]*@[a-z0-9][a-z0-9.-]*[a-z0-9])$/i;

/** The input: which of the VM's service accounts proves the identity ('default' or an email), checked before any request. */
export function readGcpInputs({ port, loc, problems }: ReadContext): GcpAuthConfig {
  const serviceAccount = port.input('gcpServiceAccount') || 'default';
  if (!serviceAccountPattern.test(serviceAccount)) problems.push(loc('GcpServiceAccountInvalid', serviceAccount));
  // Google's client libraries let GCE_METADATA_HOST move the metadata server (an emulator, a proxy).
  const metadataHost = port.variable('GCE_METADATA_HOST') || METADATA_HOST;
  return { method: 'gcp', serviceAccount, metadataHost };
}

export const gcp: AuthMethodDescriptor<GcpAuthConfig> = {
  needsRole: true,
  readInputs: readGcpInputs,
  create: (config) => gcpMethod(config),
};
