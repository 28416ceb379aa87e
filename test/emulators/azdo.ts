// Azure DevOps emulator: the two calls azure-devops-node-api's TaskApi.createOidcToken makes (the
// distributedtask location lookup and the job's oidctoken POST), answered with an RS256 OIDC token:
// - with `serviceConnectionId`, the assertion of that service connection, in either issuer shape
//   Azure DevOps uses: its own (https://vstoken.dev.azure.com/<org id>, sc://org/project/connection)
//   or Entra-issued (https://login.microsoftonline.com/<tenant>/v2.0,
//   /eid1/c/pub/t/.../sc/<org id>/<connection id>);
// - without it, the pipeline's own token (sub p://org/project/pipeline, and the claims org_id,
//   prj_id, def_id, rpo_id, rpo_uri, rpo_ver, rpo_ref, run_id, all strings), as the public samples
//   show it: sigstore/fulcio#1803, and gravitational/teleport rfd/0211-azure-devops-joining.md with
//   lib/azuredevops/azuredevops.go (which decodes every one of those claims as a string).
// The issuer's OpenID discovery document and keys are served at vstoken.dev.azure.com as that RFD
// shows them: `/<org id>/.well-known/openid-configuration` with a jwks_uri shared by every
// organization, `/.well-known/jwks`. Served over HTTPS, by default on 127.0.0.2:443, which the
// private network namespace names dev.azure.com and vstoken.dev.azure.com.
import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, Server } from 'node:https';
import { FederatedCredential, TlsMaterial, TOKEN_EXCHANGE_AUDIENCE } from './entra';
import { AZDO_HOST, AZDO_IP, VSTOKEN_HOST } from './hosts';
import { JwtClaims, Jwks, newSigningKey, signJwt } from './jwt';
import { closeServer, delay, guarded, listen, readBody } from './serve';

/** Location id of the distributedtask `oidctoken` resource. */
export const OIDC_TOKEN_LOCATION_ID = '69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2';
/** Application id of Azure DevOps in Entra (the `azp` of Entra-issued assertions). */
export const AZURE_DEVOPS_APP_ID = '499b84ac-1321-427f-aa17-267ca6975798';

export type OidcIssuerShape = 'azdo' | 'entra';

/** The pipeline run a job belongs to: what its pipeline token says. */
export interface PipelineRun {
  /** The pipeline's name (the last part of `sub`). */
  name: string;
  /** Definition id, a number written as a string (`def_id`). */
  definitionId: string;
  /** Repository id (`rpo_id`): a GUID for Azure Repos, owner/name for GitHub. */
  repositoryId: string;
  repositoryUri: string;
  /** The branch or tag the run builds (`rpo_ref`), e.g. refs/heads/main. */
  ref: string;
  /** The commit (`rpo_ver`). */
  version: string;
  /** Build id of the run (`run_id`). */
  runId: string;
}

export interface ServiceConnection {
  id: string;
  name: string;
  /** Tenant of the connection's app registration (used by the Entra-issued shape). */
  tenantId: string;
  /** Which issuer signs this connection's assertions; default the emulator's `issuerShape`. */
  issuerShape?: OidcIssuerShape;
  /** false: the job does not reference the connection (Azure DevOps refuses the token). */
  referenced?: boolean;
}

export interface AzdoOptions {
  tls: TlsMaterial;
  /** Listen address; default 127.0.0.2. */
  host?: string;
  /** Listen port; default 443, 0 picks a free one. */
  port?: number;
  /** Host name used in `url`; default dev.azure.com on port 443, else `host`. */
  publicHost?: string;
  organization: string;
  organizationId: string;
  project: { id: string; name: string };
  /** System.AccessToken the agent hands the job; requests must bear it. */
  systemAccessToken: string;
  /** Default issuer shape of new connections; default 'azdo'. */
  issuerShape?: OidcIssuerShape;
  /** OIDC assertion lifetime in seconds; default 600; zero or negative mints expired ones. */
  oidcLifetimeSec?: number;
  /** The run a job's pipeline token describes, unless setJobRun names another for that job. */
  pipelineRun?: PipelineRun;
  /** Delay added before answering each request, as a network round trip; default 0. */
  latencyMs?: number;
}

export interface AzdoRequest {
  at: bigint;
  method: string;
  host: string;
  path: string;
  query: Record<string, string>;
  accept?: string;
  /** 'bearer-ok', 'bearer-wrong', 'basic', 'none'; the token itself is not kept. */
  auth: 'bearer-ok' | 'bearer-wrong' | 'basic' | 'none';
  status: number;
  /** The client's port: requests over one connection share it. */
  clientPort: number;
}

export interface AzdoFailOptions {
  match?: RegExp;
  body?: unknown;
}

export interface Azdo {
  /** Collection URI with trailing slash, e.g. https://dev.azure.com/contoso/ (System.CollectionUri). */
  readonly url: string;
  readonly port: number;
  readonly requests: AzdoRequest[];
  /** Every OIDC assertion and pipeline token handed out, for leak scans. */
  readonly issuedTokens: string[];
  /** The run a job's pipeline token describes when setJobRun named none. */
  readonly pipelineRun: PipelineRun;
  /** The issuer of pipeline tokens and of connection assertions in the Azure DevOps shape. */
  readonly issuer: string;
  /** The run the job `jobId` belongs to, for its pipeline token (fields not given: pipelineRun's). */
  setJobRun(jobId: string, run: Partial<PipelineRun>): void;
  /** The `sub` of the pipeline token of that run. */
  pipelineSubject(run?: Partial<PipelineRun>): string;
  oidcLifetimeSec: number;
  /** Delay added before answering each request; can be changed at run time. */
  latencyMs: number;
  addServiceConnection(connection: ServiceConnection): void;
  /** The `iss` this emulator puts in assertions for the connection. */
  oidcIssuer(connectionId: string): string;
  /** The `sub` this emulator puts in assertions for the connection. */
  oidcSubject(connectionId: string): string;
  /** The federated credential an app registration needs to trust the connection. */
  federatedCredential(connectionId: string): FederatedCredential;
  /** Public keys of every token it issues, either shape (for Entra's trustIssuer). */
  jwks(): Jwks;
  /** The key of the Azure DevOps issuer alone, as vstoken.dev.azure.com serves it. */
  vstokenJwks(): Jwks;
  /** The key of the Entra-issued assertions alone, which Entra's key sets hold. */
  entraJwks(): Jwks;
  /** Answers the next `times` matching requests with `status`. */
  failNext(status: number, times?: number, options?: AzdoFailOptions): void;
  close(): Promise<void>;
}

/** A GUID in Microsoft's byte order (as .NET's Guid.ToByteArray), base64url: the /eid1/ subject encoding. */
export function guidToBase64url(guid: string): string {
  const b = Buffer.from(guid.replace(/-/g, ''), 'hex');
  if (b.length !== 16) throw new Error(`not a GUID: "${guid}"`);
  const le = Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8),
  ]);
  return le.toString('base64url');
}

/** Body of an Azure DevOps (VSS) service error. */
export function vssErrorBody(
  message: string,
  typeKey: string,
  typeName = `Microsoft.TeamFoundation.DistributedTask.WebApi.${typeKey}, Microsoft.TeamFoundation.DistributedTask.WebApi`,
) {
  return { $id: '1', innerException: null, message, typeName, typeKey, errorCode: 0, eventId: 3000 };
}

const ROUTE_TEMPLATE = '{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/jobs/{jobId}/{resource}';

function locations(): { count: number; value: unknown[] } {
  const value = [
    {
      id: OIDC_TOKEN_LOCATION_ID,
      area: 'distributedtask',
      resourceName: 'oidctoken',
      routeTemplate: ROUTE_TEMPLATE,
      resourceVersion: 1,
      minVersion: '7.1',
      maxVersion: '7.2',
      releasedVersion: '0.0',
    },
    {
      id: '5cecd946-d704-471e-a45f-3b4064fcfaba',
      area: 'distributedtask',
      resourceName: 'plans',
      routeTemplate: '{scopeIdentifier}/_apis/{area}/hubs/{hubName}/{resource}/{planId}',
      resourceVersion: 1,
      minVersion: '2.0',
      maxVersion: '7.2',
      releasedVersion: '0.0',
    },
    {
      id: '46f5667d-263a-4684-91b1-dff7fdcf64e2',
      area: 'distributedtask',
      resourceName: 'logs',
      routeTemplate: '{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/{resource}/{logId}',
      resourceVersion: 1,
      minVersion: '2.0',
      maxVersion: '7.2',
      releasedVersion: '0.0',
    },
  ];
  return { count: value.length, value };
}

export async function startAzdo(options: AzdoOptions): Promise<Azdo> {
  const listenHost = options.host ?? AZDO_IP;
  const key = newSigningKey();
  // Entra signs the Entra-issued assertions with keys of its own, not Azure DevOps'.
  const entraKey = newSigningKey();
  const connections = new Map<string, ServiceConnection>();
  const jobRuns = new Map<string, Partial<PipelineRun>>();
  const issuer = `https://vstoken.dev.azure.com/${options.organizationId}`;
  const defaultRun: PipelineRun = options.pipelineRun ?? {
    name: 'vault-deploy',
    definitionId: '42',
    repositoryId: 'c3a3e5a1-7f2b-4a43-b0e3-2f1b5e0d9a77',
    repositoryUri: `https://dev.azure.com/${options.organization}/${options.project.name}/_git/vault-deploy`,
    ref: 'refs/heads/main',
    version: 'e6b9eb29a288b27a3a82cc19c48b9d94b80aff36',
    runId: '1187',
  };
  const requests: AzdoRequest[] = [];
  const issuedTokens: string[] = [];
  const faults: Array<{ status: number; remaining: number; match?: RegExp; body?: unknown }> = [];
  const azdoServicePrincipals = new Map<string, string>();
  const org = options.organization;

  function connection(id: string): ServiceConnection {
    const c = connections.get(id.toLowerCase());
    if (!c) throw new Error(`no service connection "${id}" registered with the Azure DevOps emulator`);
    return c;
  }
  const shapeOf = (c: ServiceConnection) => c.issuerShape ?? options.issuerShape ?? 'azdo';

  function oidcIssuer(connectionId: string): string {
    const c = connection(connectionId);
    return shapeOf(c) === 'entra' ? `https://login.microsoftonline.com/${c.tenantId}/v2.0` : issuer;
  }

  const runOf = (run: Partial<PipelineRun> = {}): PipelineRun => ({ ...defaultRun, ...run });
  const pipelineSubject = (run?: Partial<PipelineRun>) => `p://${org}/${options.project.name}/${runOf(run).name}`;

  /** A pipeline token, its claims in the order of the public samples. */
  function mintPipelineToken(jobId: string): string {
    const run = runOf(jobRuns.get(jobId.toLowerCase()));
    const now = Math.floor(Date.now() / 1000);
    const lifetime = api.oidcLifetimeSec;
    const claims: JwtClaims = {
      jti: randomUUID(),
      sub: pipelineSubject(run),
      aud: TOKEN_EXCHANGE_AUDIENCE,
      org_id: options.organizationId,
      prj_id: options.project.id,
      def_id: run.definitionId,
      rpo_id: run.repositoryId,
      rpo_uri: run.repositoryUri,
      rpo_ver: run.version,
      rpo_ref: run.ref,
      run_id: run.runId,
      iss: issuer,
      nbf: lifetime > 0 ? now : now + lifetime - 60,
      exp: now + lifetime,
      iat: now,
    };
    const token = signJwt(claims, key);
    issuedTokens.push(token);
    return token;
  }

  /** The issuer's discovery document, as the Teleport RFD quotes Azure DevOps' own. */
  function discovery(): Record<string, unknown> {
    return {
      issuer,
      jwks_uri: `https://${VSTOKEN_HOST}/.well-known/jwks`,
      subject_types_supported: ['public', 'pairwise'],
      response_types_supported: ['id_token'],
      claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'nbf'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid'],
    };
  }

  function oidcSubject(connectionId: string): string {
    const c = connection(connectionId);
    return shapeOf(c) === 'entra'
      ? `/eid1/c/pub/t/${guidToBase64url(c.tenantId)}/a/${guidToBase64url(AZURE_DEVOPS_APP_ID)}/sc/${options.organizationId}/${c.id}`
      : `sc://${org}/${options.project.name}/${c.name}`;
  }

  function mintOidc(c: ServiceConnection): string {
    const now = Math.floor(Date.now() / 1000);
    const lifetime = api.oidcLifetimeSec;
    const common = {
      aud: TOKEN_EXCHANGE_AUDIENCE,
      iss: oidcIssuer(c.id),
      sub: oidcSubject(c.id),
      iat: now,
      nbf: lifetime > 0 ? now : now + lifetime - 60,
      exp: now + lifetime,
    };
    let claims: JwtClaims;
    if (shapeOf(c) === 'entra') {
      let oid = azdoServicePrincipals.get(c.tenantId);
      if (!oid) azdoServicePrincipals.set(c.tenantId, (oid = randomUUID()));
      claims = {
        ...common,
        azp: AZURE_DEVOPS_APP_ID,
        azpacr: '2',
        idtyp: 'app',
        oid,
        tid: c.tenantId,
        uti: Buffer.from(randomUUID()).toString('base64url').slice(0, 22),
        ver: '2.0',
      };
    } else {
      claims = { jti: randomUUID(), ...common };
    }
    const token = signJwt(claims, shapeOf(c) === 'entra' ? entraKey : key);
    issuedTokens.push(token);
    return token;
  }

  function apiVersion(req: IncomingMessage, query: Record<string, string>): string | undefined {
    const fromAccept = /api-version=([^;,\s]+)/i.exec(String(req.headers.accept ?? ''));
    return fromAccept?.[1] ?? query['api-version'];
  }

  function route(req: IncomingMessage, rec: AzdoRequest): [number, unknown, Record<string, string>?] {
    const segs = rec.path.split('/').filter(Boolean).map(decodeURIComponent);
    if (rec.host === VSTOKEN_HOST) {
      const wellKnown = segs.slice(-2).join('/');
      if (
        req.method === 'GET' &&
        segs.length === 3 &&
        segs[0] === options.organizationId &&
        wellKnown === '.well-known/openid-configuration'
      )
        return [200, discovery()];
      if (req.method === 'GET' && segs.length === 2 && wellKnown === '.well-known/jwks') return [200, api.vstokenJwks()];
      return [404, ''];
    }
    if (segs[0]?.toLowerCase() !== org.toLowerCase()) {
      return [
        404,
        vssErrorBody(
          `TF200016: The following project does not exist: ${segs[0] ?? ''}. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.`,
          'ProjectDoesNotExistException',
          'Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistException, Microsoft.TeamFoundation.Core.WebApi',
        ),
      ];
    }
    if (rec.auth !== 'bearer-ok') {
      if (req.headers['x-tfs-fedauthredirect'] !== 'Suppress') {
        return [
          302,
          '',
          {
            Location: `https://spsprodweu5.vssps.visualstudio.com/_signin?realm=dev.azure.com&reply_to=${encodeURIComponent(`https://${rec.host}${rec.path}`)}`,
          },
        ];
      }
      return [
        401,
        vssErrorBody(
          "TF400813: The user '' is not authorized to access this resource.",
          'UnauthorizedRequestException',
          'Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server',
        ),
        { 'WWW-Authenticate': 'Bearer authorization_uri=https://login.microsoftonline.com/common, Basic realm="https://dev.azure.com/"' },
      ];
    }
    const rest = segs.slice(1);
    if (req.method === 'OPTIONS' && rest.length === 2 && rest[0] === '_apis' && rest[1].toLowerCase() === 'distributedtask') {
      return [200, locations()];
    }
    // {projectId}/_apis/distributedtask/hubs/{hub}/plans/{planId}/jobs/{jobId}/oidctoken
    if (
      req.method === 'POST' &&
      rest.length === 10 &&
      rest[1] === '_apis' &&
      rest[2].toLowerCase() === 'distributedtask' &&
      rest[3] === 'hubs' &&
      rest[5] === 'plans' &&
      rest[7] === 'jobs' &&
      rest[9].toLowerCase() === 'oidctoken'
    ) {
      const version = apiVersion(req, rec.query);
      if (!version) {
        return [
          400,
          vssErrorBody(
            'No api-version was supplied for the "POST" request. The version must be supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. \'?api-version=1.0\').',
            'VssVersionNotSpecifiedException',
            'Microsoft.VisualStudio.Services.WebApi.VssVersionNotSpecifiedException, Microsoft.VisualStudio.Services.WebApi',
          ),
        ];
      }
      if (/^7\.[12]$/.test(version) === false && !/^7\.[12]-preview(\.1)?$/.test(version)) {
        return [
          400,
          vssErrorBody(
            `The requested version "${version}" of the resource is under preview or is not supported by the oidctoken resource (supported: 7.1, 7.2-preview.1).`,
            'VssInvalidPreviewVersionException',
            'Microsoft.VisualStudio.Services.WebApi.VssInvalidPreviewVersionException, Microsoft.VisualStudio.Services.WebApi',
          ),
        ];
      }
      const project = rest[0];
      if (project.toLowerCase() !== options.project.id.toLowerCase() && project.toLowerCase() !== options.project.name.toLowerCase()) {
        return [
          404,
          vssErrorBody(
            `VS800075: The project with id 'vstfs:///Classification/TeamProject/${project}' does not exist, or you do not have permission to access it.`,
            'ProjectDoesNotExistWithNameException',
            'Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistWithNameException, Microsoft.TeamFoundation.Core.WebApi',
          ),
        ];
      }
      const connectionId = rec.query.serviceConnectionId;
      if (!connectionId) return [200, { oidcToken: mintPipelineToken(rest[8]) }];
      const c = connections.get(connectionId.toLowerCase());
      if (!c) return [404, ''];
      if (c.referenced === false) {
        const text = `There is no explicit reference to service connection ${c.id} from current stage __default.__default.__default.`;
        return [400, { count: text.length, value: text }];
      }
      return [200, { oidcToken: mintOidc(c) }];
    }
    return [
      404,
      vssErrorBody(
        `The controller for path '${rec.path}' was not found or does not implement IController.`,
        'HttpException',
        'System.Web.HttpException, System.Web',
      ),
    ];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://placeholder');
    const authz = String(req.headers.authorization ?? '');
    const rec: AzdoRequest = {
      at: process.hrtime.bigint(),
      method: req.method ?? 'GET',
      host: String(req.headers.host ?? AZDO_HOST).replace(/:443$/, ''),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      accept: req.headers.accept,
      auth:
        authz === `Bearer ${options.systemAccessToken}`
          ? 'bearer-ok'
          : authz.startsWith('Bearer ')
            ? 'bearer-wrong'
            : authz.startsWith('Basic ')
              ? 'basic'
              : 'none',
      status: 0,
      clientPort: req.socket.remotePort ?? 0,
    };
    requests.push(rec);
    await readBody(req);
    if (api.latencyMs > 0) await delay(api.latencyMs);
    let status: number;
    let payload: unknown;
    let headers: Record<string, string> = {};
    const fault = faults.find((f) => f.remaining > 0 && (!f.match || f.match.test(rec.path)));
    if (fault) {
      fault.remaining--;
      status = fault.status;
      payload = fault.body ?? vssErrorBody('The service is temporarily unavailable.', 'ServiceUnavailableException');
    } else {
      [status, payload, headers = {}] = route(req, rec);
    }
    rec.status = status;
    const text = payload === '' ? '' : JSON.stringify(payload);
    res.writeHead(status, {
      ...(text ? { 'Content-Type': 'application/json; charset=utf-8; api-version=7.2-preview.1' } : {}),
      ActivityId: randomUUID(),
      'x-tfs-session': randomUUID(),
      'x-vss-e2eid': randomUUID(),
      'Content-Length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  const server: Server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, guarded('azdo', handle));
  const port = await listen(server, options.port ?? 443, listenHost);
  const publicHost = options.publicHost ?? (port === 443 ? AZDO_HOST : listenHost);

  const api: Azdo = {
    url: `https://${publicHost}${port === 443 ? '' : `:${port}`}/${org}/`,
    port,
    requests,
    issuedTokens,
    pipelineRun: defaultRun,
    issuer,
    setJobRun(jobId, run) {
      jobRuns.set(jobId.toLowerCase(), run);
    },
    pipelineSubject,
    oidcLifetimeSec: options.oidcLifetimeSec ?? 600,
    latencyMs: options.latencyMs ?? 0,
    addServiceConnection(c) {
      connections.set(c.id.toLowerCase(), { ...c });
    },
    oidcIssuer,
    oidcSubject,
    federatedCredential: (connectionId) => ({
      issuer: oidcIssuer(connectionId),
      subject: oidcSubject(connectionId),
      audiences: [TOKEN_EXCHANGE_AUDIENCE],
      name: `azdo-${connection(connectionId).name}`,
    }),
    jwks: () => ({ keys: [key.publicJwk, entraKey.publicJwk] }),
    vstokenJwks: () => ({ keys: [key.publicJwk] }),
    entraJwks: () => ({ keys: [entraKey.publicJwk] }),
    failNext(status, times = 1, failOptions = {}) {
      faults.push({ status, remaining: times, match: failOptions.match, body: failOptions.body });
    },
    close: () => closeServer(server),
  };
  return api;
}
