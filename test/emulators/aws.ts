// AWS emulator: STS over TLS at sts.amazonaws.com (and the regional names of hosts.ts) answering
// GetCallerIdentity after checking the SigV4 signature itself (written from AWS's "Signature Version
// 4 signing process", independently of the SDK the task signs with), AssumeRoleWithWebIdentity for
// the web identity token file; the EC2 instance metadata (IMDSv2: PUT /latest/api/token, then
// /latest/meta-data/iam/security-credentials/[<role>] with the token), served by imds.ts at
// 169.254.169.254; and a container credentials endpoint (EKS Pod Identity, ECS) on loopback.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { AWS_STS_IP } from './hosts';
import type { KeyPair } from './pki';
import { closeServer, listen, readBody } from './serve';

export const ACCOUNT_ID = '123456789012';

/** A key pair STS knows, and who it belongs to. */
export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** What GetCallerIdentity answers: arn:aws:iam::<acct>:user/<name> or arn:aws:sts::<acct>:assumed-role/<role>/<session>. */
  arn: string;
  /** AIDA… for a user; AROA…:<session> for a role session. */
  userId: string;
  expiresAt?: number;
}

/** An IAM principal as iam:GetRole / iam:GetUser describe it (what Vault resolves bound ARNs with). */
export interface AwsPrincipal {
  arn: string;
  uniqueId: string;
}

export interface StsRequest {
  host: string;
  action: string;
  status: number;
  code?: string;
  /** The X-Vault-AWS-IAM-Server-ID value the request carried, and whether it was signed. */
  serverId?: string;
  signedHeaders: string[];
}

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function stsError(status: number, code: string, message: string, type = 'Sender'): { status: number; xml: string; code: string } {
  const xml = `<ErrorResponse xmlns="${XMLNS}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${code}</Code>\n    <Message>${escapeXml(message)}</Message>\n  </Error>\n  <RequestId>${randomUUID()}</RequestId>\n</ErrorResponse>\n`;
  return { status, xml, code };
}

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it (every byte but unreserved ones). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The SigV4 signature of a request, from its parts as received. */
export function sigV4Signature(
  req: { method: string; path: string; query: string; headers: Record<string, string>; body: string },
  signedHeaders: string[],
  secretAccessKey: string,
  amzDate: string,
  scope: string,
): string {
  const [date, region, service] = scope.split('/');
  const canonicalQuery = [...new URLSearchParams(req.query)]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalPath =
    req.path
      .split('/')
      .map((seg) => uriEncode(decodeURIComponent(seg)))
      .join('/') || '/';
  const canonicalRequest = [req.method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaders.join(';'), sha256Hex(req.body)].join(
    '\n',
  );
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${secretAccessKey}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  const kSigning = hmac(kService, 'aws4_request');
  return createHmac('sha256', kSigning).update(stringToSign).digest('hex');
}

/** The region a host name of STS signs for: the global endpoint is us-east-1. */
function regionOfHost(host: string): string {
  const m = /^sts\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host);
  return m ? m[1] : 'us-east-1';
}

export interface AwsOptions {
  /** TLS key pair for the STS host names. */
  tls: KeyPair;
  host?: string;
  port?: number;
}

export interface Aws {
  readonly stsUrl: string;
  readonly stsRequests: StsRequest[];
  /** Requests the instance metadata answered, in order: method and path. */
  readonly imdsRequests: Array<{ method: string; path: string; status: number }>;
  /** A key pair STS accepts, for `arn` (a user, or a session of a role). */
  addKey(key: AwsKey): AwsKey;
  /** New long-term keys of an IAM user (what AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY hold). */
  userKeys(name: string): AwsKey;
  /** New session credentials of a role session (what IMDS, a container endpoint or STS hands out). */
  roleSession(roleName: string, session: string, ttlSeconds?: number): AwsKey;
  /** iam:GetRole / iam:GetUser by ARN (without path), as Vault resolves a bound ARN. */
  principal(arn: string): AwsPrincipal | undefined;
  /** Creates the IAM role (iam:CreateRole) if it is new; its principal. */
  defineRole(name: string): AwsPrincipal;
  /** Deletes the IAM role and creates it again (iam:DeleteRole, iam:CreateRole): the same ARN, a new unique id. */
  recreateRole(name: string): AwsPrincipal;
  /** The role of the EC2 instance profile IMDS serves ('' for none: security-credentials/ answers 404). */
  instanceRole: string;
  instanceId: string;
  /** IMDSv2 only (a token is required), as EC2 is set up today; false lets an IMDSv1 GET through. */
  imdsV2Only: boolean;
  /** The instance metadata's answer for 169.254.169.254 paths under /latest/ (imds.ts routes them here). */
  handleImds(req: IncomingMessage, res: ServerResponse, path: string): void;
  /** Roles AssumeRoleWithWebIdentity lets a token file assume (role ARN). */
  webIdentityRoles: Set<string>;
  /** A container credentials endpoint on loopback (AWS_CONTAINER_CREDENTIALS_FULL_URI) with its authorization token. */
  startContainerEndpoint(roleName: string): Promise<{ url: string; authToken: string }>;
  /** Every secret handed out (secret keys, session tokens, IMDS tokens, container tokens). */
  secrets(): Array<{ what: string; value: string }>;
  close(): Promise<void>;
}

export async function startAws(options: AwsOptions): Promise<Aws> {
  const keys = new Map<string, AwsKey>();
  const principals = new Map<string, AwsPrincipal>();
  const secrets: Array<{ what: string; value: string }> = [];
  const stsRequests: StsRequest[] = [];
  const imdsRequests: Array<{ method: string; path: string; status: number }> = [];
  const imdsTokens = new Map<string, number>();
  const servers: Server[] = [];

  const uniqueId = (prefix: string) => prefix + randomBytes(10).toString('hex').toUpperCase().slice(0, 17);
  const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT_ID}:role/${name}`;

  function rolePrincipal(name: string): AwsPrincipal {
    const arn = roleArn(name);
    let p = principals.get(arn);
    if (!p) principals.set(arn, (p = { arn, uniqueId: uniqueId('AROA') }));
    return p;
  }

  function addKey(key: AwsKey): AwsKey {
    keys.set(key.accessKeyId, key);
    secrets.push({ what: 'an AWS secret access key', value: key.secretAccessKey });
    if (key.sessionToken) secrets.push({ what: 'an AWS session token', value: key.sessionToken });
    return key;
  }

  function userKeys(name: string): AwsKey {
    const arn = `arn:aws:iam::${ACCOUNT_ID}:user/${name}`;
    let p = principals.get(arn);
    if (!p) principals.set(arn, (p = { arn, uniqueId: uniqueId('AIDA') }));
    return addKey({
      accessKeyId: uniqueId('AKIA').slice(0, 20),
      secretAccessKey: randomBytes(30).toString('base64').slice(0, 40),
      arn,
      userId: p.uniqueId,
    });
  }

  function roleSession(roleName: string, session: string, ttlSeconds = 3600): AwsKey {
    const p = rolePrincipal(roleName);
    return addKey({
      accessKeyId: uniqueId('ASIA').slice(0, 20),
      secretAccessKey: randomBytes(30).toString('base64').slice(0, 40),
      sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(48).toString('base64')}`,
      arn: `arn:aws:sts::${ACCOUNT_ID}:assumed-role/${roleName}/${session}`,
      userId: `${p.uniqueId}:${session}`,
      expiresAt: Date.now() + ttlSeconds * 1000,
    });
  }

  /** Checks the SigV4 Authorization of a request as STS does; the key, or an STS error. */
  function authenticate(
    req: { method: string; path: string; query: string; headers: Record<string, string>; body: string },
    host: string,
    rec: StsRequest,
  ): AwsKey | { status: number; xml: string; code: string } {
    const authz = req.headers.authorization ?? '';
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authz);
    if (!m) return stsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    const [, accessKeyId, scope, signedList, signature] = m;
    rec.signedHeaders = signedList.split(';');
    const key = keys.get(accessKeyId);
    if (!key) return stsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    if (key.sessionToken && req.headers['x-amz-security-token'] !== key.sessionToken) {
      return stsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    if (key.expiresAt !== undefined && key.expiresAt < Date.now())
      return stsError(403, 'ExpiredToken', 'The security token included in the request is expired');
    const [, region, service, terminator] = scope.split('/');
    if (service !== 'sts' || terminator !== 'aws4_request')
      return stsError(403, 'SignatureDoesNotMatch', `Credential should be scoped to correct service: 'sts'. `);
    if (region !== regionOfHost(host))
      return stsError(403, 'SignatureDoesNotMatch', `Credential should be scoped to a valid region, not '${region}'. `);
    const amzDate = req.headers['x-amz-date'] ?? '';
    const when = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    if (!Number.isFinite(when) || Math.abs(Date.now() - when) > 15 * 60 * 1000) {
      return stsError(403, 'SignatureDoesNotMatch', `Signature expired: ${amzDate} is now earlier than the allowed time window.`);
    }
    if (!rec.signedHeaders.includes('host'))
      return stsError(403, 'SignatureDoesNotMatch', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
    secrets.push({ what: 'the SigV4 signature of a login request (replayable until it expires)', value: signature });
    const expected = sigV4Signature(req, rec.signedHeaders, key.secretAccessKey, amzDate, scope);
    if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
      return stsError(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    return key;
  }

  async function handleSts(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'https://sts.amazonaws.com');
    const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : String(v);
    const params = new URLSearchParams(req.method === 'POST' ? body : url.search);
    const action = params.get('Action') ?? '';
    const rec: StsRequest = { host, action, status: 0, signedHeaders: [], serverId: headers['x-vault-aws-iam-server-id'] };
    stsRequests.push(rec);
    let status: number;
    let xml: string;
    if (action === 'AssumeRoleWithWebIdentity') {
      // Unsigned: the token is the proof. The emulator trusts any token for a role it lists.
      const role = params.get('RoleArn') ?? '';
      const session = params.get('RoleSessionName') ?? 'session';
      if (!webIdentityRoles.has(role) || !params.get('WebIdentityToken')) {
        ({ status, xml } = stsError(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity'));
      } else {
        const name = role.split('/').pop() as string;
        const k = roleSession(name, session);
        status = 200;
        xml =
          `<AssumeRoleWithWebIdentityResponse xmlns="${XMLNS}">\n  <AssumeRoleWithWebIdentityResult>\n` +
          `    <Credentials>\n      <AccessKeyId>${k.accessKeyId}</AccessKeyId>\n      <SecretAccessKey>${escapeXml(k.secretAccessKey)}</SecretAccessKey>\n` +
          `      <SessionToken>${escapeXml(k.sessionToken as string)}</SessionToken>\n      <Expiration>${new Date(k.expiresAt as number).toISOString()}</Expiration>\n    </Credentials>\n` +
          `    <AssumedRoleUser>\n      <Arn>${k.arn}</Arn>\n      <AssumedRoleId>${k.userId}</AssumedRoleId>\n    </AssumedRoleUser>\n` +
          `    <SubjectFromWebIdentityToken>system:serviceaccount:ci:azp-agent</SubjectFromWebIdentityToken>\n  </AssumeRoleWithWebIdentityResult>\n` +
          `  <ResponseMetadata>\n    <RequestId>${randomUUID()}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleWithWebIdentityResponse>\n`;
      }
    } else if (action !== 'GetCallerIdentity') {
      ({ status, xml } = stsError(
        400,
        'InvalidAction',
        `Could not find operation ${action} for version ${params.get('Version') ?? 'NO_VERSION_SPECIFIED'}`,
      ));
    } else {
      const auth = authenticate(
        { method: req.method ?? 'GET', path: url.pathname, query: req.method === 'POST' ? url.search.slice(1) : '', headers, body },
        host,
        rec,
      );
      if ('status' in auth) ({ status, xml } = auth);
      else {
        status = 200;
        xml =
          `<GetCallerIdentityResponse xmlns="${XMLNS}">\n  <GetCallerIdentityResult>\n    <Arn>${auth.arn}</Arn>\n    <UserId>${auth.userId}</UserId>\n` +
          `    <Account>${ACCOUNT_ID}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>${randomUUID()}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n`;
      }
    }
    rec.status = status;
    rec.code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
    res.writeHead(status, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': randomUUID(), 'Content-Length': Buffer.byteLength(xml) });
    res.end(xml);
  }

  const IMDS_CREDS = '/latest/meta-data/iam/security-credentials/';

  function imdsCredentials(roleName: string): Record<string, string> {
    const k = roleSession(roleName, api.instanceId);
    return {
      Code: 'Success',
      LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      Type: 'AWS-HMAC',
      AccessKeyId: k.accessKeyId,
      SecretAccessKey: k.secretAccessKey,
      Token: k.sessionToken as string,
      Expiration: new Date(k.expiresAt as number).toISOString().replace(/\.\d+Z$/, 'Z'),
    };
  }

  /** EC2's instance metadata service, as the SDK's IMDSv2 client uses it. */
  function handleImds(req: IncomingMessage, res: ServerResponse, path: string): void {
    const send = (status: number, text: string, type = 'text/plain') => {
      imdsRequests.push({ method: req.method ?? 'GET', path, status });
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), Server: 'EC2ws' });
      res.end(text);
    };
    req.resume();
    req.on('end', () => {
      if (path === '/latest/api/token') {
        if (req.method !== 'PUT') return send(405, '');
        const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
        if (!(ttl >= 1 && ttl <= 21600)) return send(400, '');
        const token = randomBytes(42).toString('base64');
        imdsTokens.set(token, Date.now() + ttl * 1000);
        secrets.push({ what: 'an IMDSv2 session token', value: token });
        return send(200, token);
      }
      const token = req.headers['x-aws-ec2-metadata-token'];
      const valid = typeof token === 'string' && (imdsTokens.get(token) ?? 0) > Date.now();
      if (token !== undefined && !valid) return send(401, '');
      if (!valid && api.imdsV2Only) return send(401, '');
      if (req.method !== 'GET') return send(405, '');
      if (path === IMDS_CREDS) return api.instanceRole ? send(200, api.instanceRole) : send(404, notFoundPage);
      if (path.startsWith(IMDS_CREDS)) {
        const name = path.slice(IMDS_CREDS.length);
        if (!api.instanceRole || name !== api.instanceRole) return send(404, notFoundPage);
        return send(200, JSON.stringify(imdsCredentials(name), null, 2));
      }
      if (path === '/latest/meta-data/instance-id') return send(200, api.instanceId);
      return send(404, notFoundPage);
    });
  }
  const notFoundPage =
    '<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head><title>404 - Not Found</title></head><body><h1>404 - Not Found</h1></body></html>\n';

  async function startContainerEndpoint(roleName: string): Promise<{ url: string; authToken: string }> {
    const authToken = randomBytes(24).toString('base64');
    secrets.push({ what: 'a container credentials authorization token', value: authToken });
    const server = createHttpServer((req, res) => {
      req.resume();
      const ok = req.headers.authorization === authToken;
      const k = ok ? roleSession(roleName, `eks-pod-${randomBytes(4).toString('hex')}`) : undefined;
      const text = k
        ? JSON.stringify({
            AccessKeyId: k.accessKeyId,
            SecretAccessKey: k.secretAccessKey,
            Token: k.sessionToken,
            AccountId: ACCOUNT_ID,
            Expiration: new Date(k.expiresAt as number).toISOString(),
          })
        : JSON.stringify({ code: 'AccessDeniedException', message: 'Unauthorized' });
      res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    });
    const port = await listen(server, 0, '127.0.0.1');
    servers.push(server);
    return { url: `http://127.0.0.1:${port}/v1/credentials`, authToken };
  }

  const webIdentityRoles = new Set<string>();
  const sts = createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem }, (req, res) => {
    handleSts(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`STS emulator error: ${err.message}`);
    });
  });
  const host = options.host ?? AWS_STS_IP;
  const port = await listen(sts, options.port ?? 443, host);
  servers.push(sts);

  const api: Aws = {
    stsUrl: port === 443 ? 'https://sts.amazonaws.com' : `https://sts.amazonaws.com:${port}`,
    stsRequests,
    imdsRequests,
    addKey,
    userKeys,
    roleSession,
    principal: (arn) => principals.get(arn),
    defineRole: rolePrincipal,
    recreateRole(name) {
      principals.delete(roleArn(name));
      return rolePrincipal(name);
    },
    instanceRole: '',
    instanceId: `i-0${randomBytes(8).toString('hex')}`,
    imdsV2Only: true,
    handleImds,
    webIdentityRoles,
    startContainerEndpoint,
    secrets: () => [...secrets],
    close: async () => {
      await Promise.all(servers.map((s) => closeServer(s)));
    },
  };
  return api;
}
