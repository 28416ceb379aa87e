// The Vault side of the aws auth method's iam login, for the front of OpenBao (vaultFront.ts hands it
// the logins of the mounts enabled here): decode the signed sts:GetCallerIdentity request, check the
// X-Vault-AWS-IAM-Server-ID header is there, equal and signed, forward the request to STS as Vault
// does (to sts_endpoint, with the Host the client signed) and bind the caller on
// bound_iam_principal_arn. Errors and statuses as hashicorp/vault builtin/credential/aws/path_login.go
// (pathLoginUpdateIam, validateVaultHeaderValue, submitCallerIdentityRequest, canonicalArn) and
// backend.go (defaultAllowedSTSRequestHeaders) write them: logical.ErrorResponse, so HTTP 400; and
// openbao-plugins auth/aws's crash on a mount whose config/client was never written (HTTP 500).
import { request as httpsRequest } from 'node:https';
import type { Aws } from './aws';
import { IssueToken, PluginReply, PluginRequest, pluginMounts } from './pluginMounts';
import type { AzureRole } from './vaultAzure';

export interface AwsAuthMountConfig {
  /**
   * Whether auth/<mount>/config/client was ever written (default true). openbao-plugins auth/aws
   * reads its fields without checking: on a mount where it never was, each iam login crashes the
   * plugin, and Vault answers 500 with the broken gRPC link's words.
   */
  clientConfigWritten?: boolean;
  /** config/client iam_server_id_header_value ('' or absent: no header required). */
  iamServerIdHeaderValue?: string;
  /** config/client sts_endpoint (default https://sts.amazonaws.com). */
  stsEndpoint?: string;
  /** config/client allowed_sts_header_values. */
  allowedStsHeaderValues?: string[];
  /** The CA Vault trusts for STS (the test CA). */
  ca: string;
}

export interface AwsRole {
  auth_type: 'iam' | 'ec2';
  bound_iam_principal_arn: string[];
  /** Vault's default is true: a bound ARN without a wildcard is resolved to the principal's unique id when the role is written. */
  resolve_aws_unique_ids?: boolean;
  token_policies?: string[];
  token_ttl?: number;
  token_type?: 'service' | 'batch';
}

interface StoredRole extends AwsRole {
  boundIds: string[];
}

interface Mount {
  config: AwsAuthMountConfig;
  /** The plugin crashed on the last login and has not been started again. */
  crashed?: boolean;
  aws: Aws;
  roles: Map<string, StoredRole>;
}

const mounts = pluginMounts<Mount>('aws');

export const IAM_SERVER_ID_HEADER = 'X-Vault-AWS-IAM-Server-ID';
const DEFAULT_ALLOWED_STS_HEADERS = [
  'X-Amz-Algorithm',
  'X-Amz-Content-Sha256',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Security-Token',
  'X-Amz-Signature',
  'X-Amz-SignedHeaders',
  'X-Amz-User-Agent',
];

export function enableAwsAuth(vault: object, mount: string, config: AwsAuthMountConfig, aws: Aws, ns = ''): void {
  mounts.enable(vault, mount, { config, aws, roles: new Map() }, ns);
}

/** auth/<mount>/role/<name>: bound ARNs without a wildcard are resolved to unique ids (iam:GetRole) unless resolve_aws_unique_ids=false. */
export function writeAwsRole(vault: object, mount: string, name: string, role: AwsRole, ns = ''): void {
  const m = mounts.get(vault, mount, ns);
  const resolve = role.resolve_aws_unique_ids ?? true;
  const boundIds: string[] = [];
  if (resolve) {
    for (const arn of role.bound_iam_principal_arn) {
      if (arn.endsWith('*')) continue;
      const p = m.aws.principal(arn);
      if (!p) throw new Error(`unable to resolve ARN ${JSON.stringify(arn)} to internal ID: NoSuchEntity`);
      boundIds.push(p.uniqueId);
    }
  }
  m.roles.set(name.toLowerCase(), { ...role, resolve_aws_unique_ids: resolve, boundIds });
}

export function setAwsConfig(vault: object, mount: string, config: Partial<AwsAuthMountConfig>, ns = ''): void {
  const m = mounts.get(vault, mount, ns);
  Object.assign(m.config, { clientConfigWritten: true, ...config });
}

const err = (...errors: string[]): PluginReply => ({ status: 400, body: { errors } });

/** Go's textproto.CanonicalMIMEHeaderKey, which http.Header.Add applies (framework TypeHeader). */
function canonical(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((w) => (w ? w[0].toUpperCase() + w.slice(1) : w))
    .join('-');
}

/** The iam_request_headers field (TypeHeader): base64 of a JSON object of string or []string values. */
function parseHeaders(raw: unknown): Map<string, string[]> | undefined {
  if (typeof raw !== 'string' || !raw) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const headers = new Map<string, string[]>();
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const values = Array.isArray(v) ? v.map(String) : [String(v)];
    headers.set(canonical(k), [...(headers.get(canonical(k)) ?? []), ...values]);
  }
  return headers;
}

/** validateVaultHeaderValue: present, equal, and among the SignedHeaders of the Authorization header. */
function validateServerId(headers: Map<string, string[]>, required: string): string | undefined {
  let provided = '';
  for (const [k, v] of headers) {
    if (k.toLowerCase() === IAM_SERVER_ID_HEADER.toLowerCase()) {
      provided = v.join(',');
      break;
    }
  }
  if (!provided) return `missing header ${JSON.stringify(IAM_SERVER_ID_HEADER)}`;
  if (provided !== required) return `expected ${JSON.stringify(required)} but got ${JSON.stringify(provided)}`;
  const authz = headers.get('Authorization');
  if (!authz) return 'missing Authorization header';
  const signed = /.*SignedHeaders=([^,]+)/.exec(authz.join(','))?.[1];
  if (!signed) return "vault header wasn't signed";
  return signed.split(';').includes(IAM_SERVER_ID_HEADER.toLowerCase()) ? undefined : "vault header wasn't signed";
}

/** submitCallerIdentityRequest: the request sent to the configured endpoint with the Host the client signed. */
function forward(
  endpoint: string,
  url: URL,
  body: string,
  headers: Map<string, string[]>,
  ca: string,
): Promise<{ status: number; text: string }> {
  const target = new URL(url.pathname + url.search, endpoint);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of headers) if (k !== 'Host' && k !== 'Content-Length') out[k] = v;
  out.Host = url.host;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(target, { method: 'POST', headers: out, ca, servername: target.hostname }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function canonicalArn(arn: string): { canonical: string; account: string } | string {
  const parts = arn.split(':');
  if (parts.length !== 6) return `unrecognized arn: contains ${parts.length} colon-separated parts, expected 6`;
  const [, partition, service, , account, resource] = parts;
  if (service !== 'iam' && service !== 'sts') return `unrecognized service: ${service}, not one of iam or sts`;
  const pieces = resource.split('/');
  if (pieces.length < 2) return `unrecognized arn: ${JSON.stringify(resource)} contains fewer than 2 slash-separated parts`;
  const type = pieces[0] === 'assumed-role' ? 'role' : pieces[0];
  const name = pieces[0] === 'assumed-role' ? pieces[1] : pieces[pieces.length - 1];
  return { canonical: `arn:${partition}:iam::${account}:${type}/${name}`, account };
}

/** strutil.GlobbedStringsMatch for a trailing '*'. */
const globMatch = (pattern: string, value: string) => (pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value);

/** POST auth/<mount>/login of an aws mount enabled here; undefined for any other request. */
export async function login(vault: object, req: PluginRequest, issue: IssueToken): Promise<PluginReply | undefined> {
  const target = mounts.forLogin(vault, req);
  if (!target || 'reply' in target) return target?.reply;
  const { mount: m, mountPath } = target;
  if (m.config.clientConfigWritten === false) {
    // The request that crashes the plugin loses its link; the next finds the plugin shut down,
    // and Vault starts it again for the one after (which crashes it again).
    const text = m.crashed ? 'plugin is shut down' : 'rpc error: code = Unavailable desc = error reading from server: EOF';
    m.crashed = !m.crashed;
    return { status: 500, body: { errors: [text] } };
  }
  const b = req.body;
  const has = (f: string) => b[f] !== undefined && b[f] !== null;
  const anyIam = ['iam_http_request_method', 'iam_request_url', 'iam_request_body', 'iam_request_headers'].filter(has);
  if (anyIam.length === 0) return err("didn't supply required authentication values");
  if (anyIam.length < 4) return err('supplied some of the auth values for the iam auth type but not all');

  const method = String(b.iam_http_request_method);
  if (!method) return err('missing iam_http_request_method');
  if (method !== 'POST') return err("invalid iam_http_request_method; currently only 'POST' is supported");
  const rawUrl = String(b.iam_request_url);
  if (!rawUrl) return err('missing iam_request_url');
  let url: URL;
  try {
    url = new URL(Buffer.from(rawUrl, 'base64').toString('utf8'));
  } catch {
    return err('error parsing iam_request_url');
  }
  const bodyB64 = String(b.iam_request_body);
  if (!bodyB64) return err('missing iam_request_body');
  const body = Buffer.from(bodyB64, 'base64').toString('utf8');
  const headers = parseHeaders(b.iam_request_headers);
  if (!headers || headers.size === 0) return err('missing iam_request_headers');

  if (m.config.iamServerIdHeaderValue) {
    const problem = validateServerId(headers, m.config.iamServerIdHeaderValue);
    if (problem) return err(`error validating ${IAM_SERVER_ID_HEADER} header: ${problem}`);
  }
  for (const k of headers.keys()) {
    if (k.startsWith('X-Amz-') && !DEFAULT_ALLOWED_STS_HEADERS.includes(k) && !(m.config.allowedStsHeaderValues ?? []).includes(k)) {
      return err(`invalid request header: ${k}`);
    }
  }

  let answer: { status: number; text: string };
  try {
    answer = await forward(m.config.stsEndpoint ?? 'https://sts.amazonaws.com', url, body, headers, m.config.ca);
  } catch (e) {
    return err(`error making upstream request: error making request: Post ${JSON.stringify(url.href)}: ${(e as Error).message}`);
  }
  if (answer.status !== 200) return err(`error making upstream request: received error code ${answer.status} from STS: ${answer.text}`);
  const arn = /<Arn>([^<]*)<\/Arn>/.exec(answer.text)?.[1];
  const userId = /<UserId>([^<]*)<\/UserId>/.exec(answer.text)?.[1] ?? '';
  if (!arn) return err('error making upstream request: error parsing STS response');
  const entity = canonicalArn(arn);
  if (typeof entity === 'string') return err(`error parsing arn ${JSON.stringify(arn)}: ${entity}`);

  const roleName = String(b.role ?? '') || (entity.canonical.split('/').pop() as string);
  const role = m.roles.get(roleName.toLowerCase());
  if (!role) return err(`entry for role ${roleName} not found`);
  if (role.auth_type !== 'iam') return err(`auth method iam not allowed for role ${roleName}`);

  const callerUniqueId = userId.split(':')[0];
  if (role.bound_iam_principal_arn.length > 0) {
    const byId = role.boundIds.includes(callerUniqueId);
    const byArn = !role.resolve_aws_unique_ids && role.bound_iam_principal_arn.includes(entity.canonical);
    // The full ARN (with path) as iam:GetRole / iam:GetUser give it, for wildcard binds.
    const fullArn = m.aws.principal(entity.canonical)?.arn ?? entity.canonical;
    const byGlob = role.bound_iam_principal_arn.some((p) => p.endsWith('*') && globMatch(p, fullArn));
    if (!byId && !byArn && !byGlob)
      return err(`IAM Principal ${JSON.stringify(arn)} does not belong to the role ${JSON.stringify(roleName)}`);
  }
  const azureShaped: AzureRole = {
    bound_service_principal_ids: [],
    token_policies: role.token_policies,
    token_ttl: role.token_ttl,
    token_type: role.token_type,
  };
  return issue(mountPath, azureShaped, roleName, entity.canonical.split('/').pop() as string);
}
