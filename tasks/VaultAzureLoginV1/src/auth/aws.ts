// aws: the iam login of Vault's aws auth method. The step signs an sts:GetCallerIdentity request
// with the AWS credentials the agent has (the AWS SDK's standard chain: environment, shared files,
// web identity token file, container credentials, EC2 instance metadata) and sends it, unsent, to
// Vault, which forwards it to STS to learn who signed it. The SDK is loaded only when this method
// runs (./awsSdk, a file of its own in the bundle).
import { DeadlineError } from '../core/deadline';
import { PLUGIN_CRASHED, VaultHttpError } from '../core/failures';
import type { Text } from '../core/text';
import type { AuthMethod, AuthMethodDescriptor, LoginTarget, Proof, ReadContext } from './method';

export interface AwsAuthConfig {
  method: 'aws';
  /** The X-Vault-AWS-IAM-Server-ID header value, signed into the request ('' for none). */
  serverId: string;
  /** The STS region ('' for the global endpoint sts.amazonaws.com, which is signed for us-east-1). */
  stsRegion: string;
}

export const IAM_SERVER_ID_HEADER = 'X-Vault-AWS-IAM-Server-ID';
export const GET_CALLER_IDENTITY = 'Action=GetCallerIdentity&Version=2011-06-15';

/** The STS endpoint the request is signed for: the global one unless a region is named. */
export function stsEndpoint(region: string): { host: string; region: string } {
  if (!region) return { host: 'sts.amazonaws.com', region: 'us-east-1' };
  return { host: `sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`, region };
}

/**
 * The sources of the SDK's standard chain (@aws-sdk/credential-provider-node defaultProvider), in
 * its order: the debug line that starts each one, and its name for the log.
 */
export const AWS_SOURCES: ReadonlyArray<readonly [RegExp, string]> = [
  [/defaultProvider::fromEnv/, 'AwsSourceEnv'],
  [/defaultProvider::fromSSO/, 'AwsSourceSso'],
  [/defaultProvider::fromIni/, 'AwsSourceIni'],
  [/defaultProvider::fromProcess/, 'AwsSourceProcess'],
  [/defaultProvider::fromTokenFile/, 'AwsSourceWebIdentity'],
  [/remoteProvider::fromHttp|fromContainerMetadata/, 'AwsSourceContainer'],
  [/remoteProvider::fromInstanceMetadata/, 'AwsSourceImds'],
];
export type AwsSource = (typeof AWS_SOURCES)[number];

/** What the chain said while it looked: the sources it tried, in order, with each one's last word. */
export class SourceTrail {
  readonly tried: Array<{ source: AwsSource; reason: string }> = [];

  /** The logger the SDK's providers write their debug lines to (a failing provider writes its reason). */
  readonly logger = {
    debug: (...parts: unknown[]) => this.line(parts.map(String).join(' ')),
    info: () => undefined,
    // The chain warns (by default on stderr) when AWS_PROFILE and the key variables are both set.
    warn: (...parts: unknown[]) => this.line(parts.map(String).join(' ')),
    error: () => undefined,
  };

  line(text: string): void {
    const source = AWS_SOURCES.find(([re]) => re.test(text));
    if (source) {
      if (!this.tried.some((t) => t.source === source)) this.tried.push({ source, reason: '' });
      return;
    }
    // "@smithy/property-provider -> <reason>" (or "(!)" when the chain stops there).
    const reason = /^@smithy\/property-provider (?:->|\(!\)) (.*)$/s.exec(text)?.[1];
    const last = this.tried[this.tried.length - 1];
    if (reason !== undefined && last && !/Could not load credentials from any providers/.test(reason)) last.reason = oneLine(reason);
  }

  /** The source that gave the credentials: the last one started. */
  current(): AwsSource | undefined {
    return this.tried[this.tried.length - 1]?.source;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The credential chain found nothing (or stopped at a source that failed). */
export class AwsCredentialsError extends Error {
  constructor(
    readonly tried: Array<{ source: AwsSource; reason: string }>,
    readonly detail: string,
  ) {
    super(`no AWS credentials: ${detail}`);
    this.name = 'AwsCredentialsError';
  }
}

/** The AWS libraries, loaded on first use (a run of another method never parses them). */
export interface AwsSdk {
  fromNodeProviderChain(init: { logger: SourceTrail['logger'] }): () => Promise<AwsCredentials>;
  fromInstanceMetadata(init: { logger: SourceTrail['logger'] }): () => Promise<AwsCredentials>;
  SignatureV4: new (init: {
    service: string;
    region: string;
    credentials: AwsCredentials;
    sha256: unknown;
    applyChecksum: boolean;
  }) => {
    sign(request: SignableRequest): Promise<SignableRequest>;
  };
  Sha256: unknown;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

interface SignableRequest {
  method: string;
  protocol: string;
  hostname: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

export async function loadAwsSdk(): Promise<AwsSdk> {
  // The SDK warns on stderr, when it builds an STS or SSO client (web identity, SSO), that versions
  // published after January 2027 will need Node 22: it says nothing of the version bundled here,
  // which runs on the agents' Node 20, and stderr is for failures.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // require(), not import(): Node's ES module loader would scan the CommonJS file for its exports
  // first, about 100 ms for the SDK's 0.35 MB.
  return require('./awsSdk') as AwsSdk;
}

/** Go's http.Header key form, as Vault reads the headers (net/textproto CanonicalMIMEHeaderKey). */
export function canonicalHeaderKey(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((w) => (w ? w[0].toUpperCase() + w.slice(1) : w))
    .join('-');
}

/** The login body Vault's iam login takes, from a signed request (headers as Vault's CLI sends them: name → [value]). */
export function iamLoginBody(
  role: string,
  signed: { hostname: string; path: string; headers: Record<string, string>; body: string },
): Record<string, string> {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(signed.headers)) {
    // Vault takes the host from the URL, as Go's client sends it.
    if (name.toLowerCase() !== 'host') headers[canonicalHeaderKey(name)] = [value];
  }
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return {
    role,
    iam_http_request_method: 'POST',
    iam_request_url: b64(`https://${signed.hostname}${signed.path}`),
    iam_request_body: b64(signed.body),
    iam_request_headers: b64(JSON.stringify(headers)),
  };
}

/** Vault's canonical form of an IAM ARN: an assumed-role session as its role, without path (path_login.go canonicalArn). */
export function canonicalArn(arn: string): string {
  const parts = arn.split(':');
  if (parts.length !== 6 || parts[0] !== 'arn') return arn;
  const [, partition, , , account, resource] = parts;
  const pieces = resource.split('/');
  if (pieces.length < 2) return arn;
  const type = pieces[0] === 'assumed-role' ? 'role' : pieces[0];
  const name = pieces[0] === 'assumed-role' ? pieces[1] : pieces[pieces.length - 1];
  return `arn:${partition}:iam::${account}:${type}/${name}`;
}

/** When IMDS was the last word, the SDK logs no reason: one more attempt with its own provider tells it. */
async function imdsReason(sdk: AwsSdk): Promise<string> {
  try {
    await sdk.fromInstanceMetadata({ logger: new SourceTrail().logger })();
    return '';
  } catch (err) {
    const e = err as { message?: string; statusCode?: number; code?: string };
    const status = e.statusCode ? ` (HTTP ${e.statusCode})` : e.code ? ` (${e.code})` : '';
    return oneLine(`${e.message ?? String(err)}${status}`);
  }
}

/** The message for a chain that found nothing: each source it tried on a line of its own, then the fix. */
export function explainNoCredentials(err: AwsCredentialsError, loc: Text): string {
  const lines = err.tried.map(({ source, reason }) => loc('AwsSourceTried', loc(source[1]), reason || loc('AwsSourceNothing')));
  return [loc('AwsNoCredentials', err.detail), ...lines, loc('AwsNoCredentialsFix')].join('\n');
}

const quoted = /"([^"]*)"/g;

/** What STS's SignatureDoesNotMatch means, by its message: the region signed for, or the secret key. */
function signatureHint(message: string, sts: { host: string; region: string }, mount: string, source: string, loc: Text): string {
  if (/Credential should be scoped to a valid region/.test(message))
    return loc('AwsStsRegionHint', sts.host, sts.region, mount, sts.host, sts.region);
  if (/Check your AWS Secret Access Key/.test(message)) return loc('AwsStsSecretKeyHint', source);
  return loc('AwsStsCredentialsHint');
}

/**
 * The aws plugin's refusals (hashicorp/vault builtin/credential/aws/path_login.go, the same in
 * openbao/openbao-plugins auth/aws), each a 400, and its crash on a mount without config/client (a 500).
 */
function explainAwsPlugin(err: VaultHttpError, proof: Proof, target: LoginTarget, config: AwsAuthConfig, loc: Text): string | undefined {
  const text = err.errors.join('; ');
  const { mount, role, nsNote } = target;
  const sts = stsEndpoint(config.stsRegion);
  let m: RegExpExecArray | null;
  // openbao-plugins auth/aws reads config/client's fields without checking that it was written:
  // on a mount where it never was, every iam login crashes the plugin.
  if (err.status === 500 && err.errors.some((e) => PLUGIN_CRASHED.test(e)))
    return loc('AwsPluginCrashed', mount, text, mount, sts.region, mount);
  if ((m = /^IAM Principal "([^"]*)" does not belong to the role/.exec(text))) {
    const arn = m[1];
    return loc('AwsPrincipalNotBound', arn, role, mount, canonicalArn(arn), mount, role, canonicalArn(arn));
  }
  if (/^error validating X-Vault-AWS-IAM-Server-ID header: missing header/.test(text)) return loc('AwsServerIdMissing', mount, mount);
  if (/^error validating X-Vault-AWS-IAM-Server-ID header: expected/.test(text)) {
    const [expected, got] = [...text.matchAll(quoted)].map((q) => q[1]);
    return loc('AwsServerIdMismatch', mount, expected ?? '?', got ?? config.serverId, expected ?? '<value>');
  }
  if (/^error validating X-Vault-AWS-IAM-Server-ID header: vault header wasn't signed/.test(text)) return loc('AwsServerIdUnsigned', mount);
  if ((m = /^entry for role (.*) not found$/.exec(text))) return loc('AwsRoleMissing', role, mount, nsNote, mount, mount, role);
  if (/^auth method iam not allowed for role/.test(text)) return loc('AwsRoleNotIam', role, mount, mount);
  if ((m = /^error making upstream request: received error code (\d+) from STS: ([\s\S]*)$/.exec(text))) {
    const code = /<Code>([^<]*)<\/Code>/.exec(m[2])?.[1] ?? '?';
    const message = /<Message>([^<]*)<\/Message>/.exec(m[2])?.[1] ?? oneLine(m[2]).slice(0, 300);
    const source = proof.facts.source ?? '?';
    const hint = code === 'SignatureDoesNotMatch' ? signatureHint(message, sts, mount, source, loc) : loc('AwsStsCredentialsHint');
    return loc('AwsStsRefused', mount, m[1], code, message, hint);
  }
  return undefined;
}

export function awsMethod(config: AwsAuthConfig, load: () => Promise<AwsSdk> = loadAwsSdk): AuthMethod {
  const sts = stsEndpoint(config.stsRegion);
  return {
    name: 'aws',
    describe: (loc) =>
      loc('AwsSigning', sts.host, sts.region, config.serverId ? loc('AwsWithServerId', config.serverId) : loc('AwsWithoutServerId')),
    what: (loc) => loc('AwsCredentialsRequest'),
    async prove({ role, loc }): Promise<Proof> {
      const sdk = await load();
      const trail = new SourceTrail();
      let credentials: AwsCredentials;
      try {
        credentials = await sdk.fromNodeProviderChain({ logger: trail.logger })();
      } catch (err) {
        const detail = oneLine((err as Error)?.message ?? String(err));
        const last = trail.tried[trail.tried.length - 1];
        if (last?.source[1] === 'AwsSourceImds' && !last.reason) last.reason = await imdsReason(sdk);
        throw new AwsCredentialsError(trail.tried, detail);
      }
      const signer = new sdk.SignatureV4({ service: 'sts', region: sts.region, credentials, sha256: sdk.Sha256, applyChecksum: false });
      const headers: Record<string, string> = { host: sts.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
      if (config.serverId) headers[IAM_SERVER_ID_HEADER.toLowerCase()] = config.serverId;
      const signed = await signer.sign({
        method: 'POST',
        protocol: 'https:',
        hostname: sts.host,
        path: '/',
        query: {},
        headers,
        body: GET_CALLER_IDENTITY,
      });
      const body = iamLoginBody(role, signed);
      // The signed request logs in as this principal until it expires (15 minutes): it is a secret.
      const signature = /Signature=([0-9a-f]+)/.exec(signed.headers.authorization ?? '')?.[1];
      const secrets = [credentials.secretAccessKey, credentials.sessionToken, signature, body.iam_request_headers].filter(
        (s): s is string => !!s,
      );
      const source = trail.current();
      const sourceName = source ? loc(source[1]) : undefined;
      // Session credentials (ASIA… with a session token) expire, though not every source says when.
      const expires = credentials.expiration
        ? credentials.expiration.toISOString()
        : credentials.sessionToken
          ? loc('AwsSessionNoExpiry')
          : loc('AwsNoExpiry');
      return {
        body,
        secrets,
        notes: [loc('AwsSigned', sourceName ?? '?', expires)],
        facts: { source: sourceName, serverId: config.serverId },
      };
    },
    isTransient: () => false,
    explainProofFailure(err, ctx, loc) {
      if (err instanceof AwsCredentialsError) return explainNoCredentials(err, loc);
      if (err instanceof DeadlineError) return loc('AwsCredentialsTimeout', ctx.timeoutSeconds, ctx.attempts);
      return undefined;
    },
    explainRefusal: (err, proof, target, loc) => explainAwsPlugin(err, proof, target, config, loc),
  };
}

/** A region name as AWS writes them: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-5. */
export const regionPattern = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** An HTTP header value Vault compares as text: visible ASCII and inner spaces. */
export const headerValuePattern = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

/**
 * The inputs: the X-Vault-AWS-IAM-Server-ID value and the STS region, checked before any request.
 * The credentials are the agent's own (the AWS SDK's chain); no input carries one.
 */
export function readAwsInputs({ port, loc, problems }: ReadContext): AwsAuthConfig {
  const serverId = port.input('awsServerIdHeader');
  if (serverId && !headerValuePattern.test(serverId)) problems.push(loc('AwsServerIdInvalid', serverId));
  const raw = port.input('awsStsRegion');
  const stsRegion = raw.toLowerCase() === 'global' ? '' : raw;
  if (stsRegion && !regionPattern.test(stsRegion)) problems.push(loc('AwsRegionInvalid', raw));
  return { method: 'aws', serverId, stsRegion };
}

export const aws: AuthMethodDescriptor<AwsAuthConfig> = {
  needsRole: true,
  readInputs: readAwsInputs,
  create: (config) => awsMethod(config),
};
