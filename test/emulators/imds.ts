// Azure Instance Metadata Service emulator: the managed identity token endpoint
// (GET /metadata/identity/oauth2/token) over plain HTTP, by default on 169.254.169.254:80 inside
// the private network namespace. Tokens are minted by the Entra emulator for the identity's
// object id and client id, with `aud` = the requested resource. AWS's instance metadata
// (/latest/…, aws.ts) and Google's metadata server (/computeMetadata/…, gcp.ts) live at the same
// address on their clouds: a test routes their paths to them with `route`.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { Entra, ManagedIdentity } from './entra';
import { IMDS_IP, IMDS_PORT } from './hosts';
import { closeServer, delay, listen } from './serve';

export interface ImdsOptions {
  entra: Entra;
  /** Listen address; default 169.254.169.254. */
  host?: string;
  /** Listen port; default 80, 0 picks a free one. */
  port?: number;
}

export interface ImdsRequest {
  at: bigint;
  method: string;
  path: string;
  query: Record<string, string>;
  metadataHeader?: string;
  status: number;
}

export interface Imds {
  /** Base URL, e.g. http://169.254.169.254/ */
  readonly url: string;
  readonly port: number;
  readonly requests: ImdsRequest[];
  /** Answers the next `times` token requests with `status`. */
  failNext(status: number, times?: number): void;
  /** Delay added before answering each request; can be changed at run time. */
  latencyMs: number;
  /** Hands every request whose path starts with `prefix` to `handler` (another cloud's metadata service). */
  route(prefix: string, handler: MetadataHandler): void;
  close(): Promise<void>;
}

export type MetadataHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

function pickIdentity(all: ManagedIdentity[], query: Record<string, string>): ManagedIdentity | string {
  const { client_id: clientId, object_id: objectId, principal_id: principalId, msi_res_id: resId, mi_res_id: miResId } = query;
  const eq = (a?: string, b?: string) => !!a && !!b && a.toLowerCase() === b.toLowerCase();
  let found: ManagedIdentity | undefined;
  if (clientId) found = all.find((i) => eq(i.clientId, clientId));
  else if (objectId || principalId) found = all.find((i) => eq(i.objectId, objectId ?? principalId));
  else if (resId || miResId) found = all.find((i) => eq(i.resourceId, resId ?? miResId));
  else {
    found = all.find((i) => i.systemAssigned);
    if (!found) {
      if (all.length > 1) return 'Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request';
      found = all[0];
    }
  }
  return found ?? 'Identity not found';
}

export async function startImds(options: ImdsOptions): Promise<Imds> {
  const requests: ImdsRequest[] = [];
  const faults: Array<{ status: number; remaining: number }> = [];

  function route(req: IncomingMessage, rec: ImdsRequest): [number, unknown] {
    if (rec.path !== '/metadata/identity/oauth2/token') {
      return [404, { error: 'not_found', error_description: `The requested path ${rec.path} was not found.` }];
    }
    if (req.method !== 'GET') {
      return [405, { error: 'invalid_request', error_description: `The request method ${req.method} is not allowed.` }];
    }
    if (rec.metadataHeader !== 'true') {
      return [400, { error: 'invalid_request', error_description: 'Required metadata header not specified' }];
    }
    if (!rec.query['api-version']) {
      return [400, { error: 'invalid_request', error_description: 'Required query variable \'api-version\' is missing' }];
    }
    const resource = rec.query.resource;
    if (!resource) {
      return [400, { error: 'invalid_request', error_description: 'Required audience parameter not specified' }];
    }
    const identity = pickIdentity(options.entra.managedIdentities(), rec.query);
    if (typeof identity === 'string') return [400, { error: 'invalid_request', error_description: identity }];
    const minted = options.entra.mintAccessToken({
      tenantId: identity.tenantId,
      objectId: identity.objectId,
      appId: identity.clientId,
      audience: resource,
      appidacr: '2',
      extraClaims: identity.resourceId ? { xms_mirid: identity.resourceId } : {},
    });
    return [
      200,
      {
        access_token: minted.token,
        client_id: identity.clientId,
        expires_in: String(minted.expiresIn),
        expires_on: String(minted.claims.exp),
        ext_expires_in: String(minted.expiresIn),
        not_before: String(minted.claims.nbf),
        resource,
        token_type: 'Bearer',
      },
    ];
  }

  const routes: Array<{ prefix: string; handler: MetadataHandler }> = [];

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const routed = routes.find((r) => url.pathname.startsWith(r.prefix));
    if (routed) return routed.handler(req, res, url.pathname);
    const header = req.headers.metadata;
    const rec: ImdsRequest = {
      at: process.hrtime.bigint(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      metadataHeader: Array.isArray(header) ? header.join(',') : header,
      status: 0,
    };
    requests.push(rec);
    req.resume();
    req.on('end', async () => {
      if (api.latencyMs > 0) await delay(api.latencyMs);
      if (res.destroyed) return;
      let status: number;
      let payload: unknown;
      const fault = faults.find((f) => f.remaining > 0);
      if (fault) {
        fault.remaining--;
        status = fault.status;
        payload = { error: 'service_unavailable', error_description: 'The managed identity endpoint is temporarily unavailable.' };
      } else {
        [status, payload] = route(req, rec);
      }
      rec.status = status;
      const text = JSON.stringify(payload);
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', Server: 'IMDS/150.870.65.1414', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    });
  }

  const host = options.host ?? IMDS_IP;
  const server: Server = createServer(handle);
  const port = await listen(server, options.port ?? IMDS_PORT, host);
  const api: Imds = {
    url: port === 80 ? `http://${host}/` : `http://${host}:${port}/`,
    port,
    requests,
    latencyMs: 0,
    failNext(status, times = 1) {
      faults.push({ status, remaining: times });
    },
    route(prefix, handler) {
      routes.push({ prefix, handler });
    },
    close: () => closeServer(server),
  };
  return api;
}
