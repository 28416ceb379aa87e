// Azure Instance Metadata Service emulator: the managed identity token endpoint
// (GET /metadata/identity/oauth2/token) and the instance metadata (GET /metadata/instance) of the
// VM or scale-set instance it runs on, over plain HTTP, by default on 169.254.169.254:80 inside
// the private network namespace. Tokens are minted by the Entra emulator for the identity's
// object id and client id, with `aud` = the requested resource and the resource claims Entra
// gives a managed identity: `xms_mirid` the resource of the VM's system-assigned identity (the VM,
// or a uniform scale set) or the user-assigned identity, `xms_az_rid` the VM's for a user-assigned
// one. AWS's instance metadata
// (/latest/…, aws.ts) and Google's metadata server (/computeMetadata/…, gcp.ts) live at the same
// address on their clouds: a test routes their paths to them with `route`.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { Entra, ManagedIdentity } from './entra';
import { IMDS_IP, IMDS_PORT } from './hosts';
import { closeServer, delay, listen } from './serve';

/** What GET /metadata/instance tells of the compute resource (the `compute` fields a login reads). */
export interface AzureInstance {
  subscriptionId: string;
  resourceGroupName: string;
  /** The VM's name; a scale-set instance's is `<scale set>_<instance id>` (uniform) or `<scale set>_<8 hex>` (flexible). */
  name: string;
  /** '' outside a scale set. */
  vmScaleSetName: string;
  location: string;
  /** compute.resourceId, as IMDS spells it (resourceGroups). */
  resourceId: string;
  /** The resource a managed identity token of this VM names: the VM, or a uniform instance's scale set. */
  identityResource: string;
}

interface ComputeName {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
}

const tokenResource = (c: ComputeName, type: string, name: string) =>
  `/subscriptions/${c.subscriptionId}/resourcegroups/${c.resourceGroup}/providers/Microsoft.Compute/${type}/${name}`;

/** A standalone VM. */
export function vmInstance(vm: ComputeName): AzureInstance {
  return {
    subscriptionId: vm.subscriptionId,
    resourceGroupName: vm.resourceGroup,
    name: vm.name,
    vmScaleSetName: '',
    location: vm.location,
    resourceId: `/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${vm.name}`,
    identityResource: tokenResource(vm, 'virtualMachines', vm.name),
  };
}

/** An instance of a scale set: uniform (`<name>_<n>`, a VM ARM knows only under the scale set) or flexible (`<name>_<8 hex>`, a VM of its own). */
export function scaleSetInstance(vmss: ComputeName, mode: 'uniform' | 'flexible', instance: string): AzureInstance {
  const name = `${vmss.name}_${instance}`;
  const base = `/subscriptions/${vmss.subscriptionId}/resourceGroups/${vmss.resourceGroup}/providers/Microsoft.Compute`;
  return {
    subscriptionId: vmss.subscriptionId,
    resourceGroupName: vmss.resourceGroup,
    name,
    vmScaleSetName: vmss.name,
    location: vmss.location,
    resourceId:
      mode === 'uniform' ? `${base}/virtualMachineScaleSets/${vmss.name}/virtualMachines/${instance}` : `${base}/virtualMachines/${name}`,
    identityResource:
      mode === 'uniform' ? tokenResource(vmss, 'virtualMachineScaleSets', vmss.name) : tokenResource(vmss, 'virtualMachines', name),
  };
}

/** The VM the emulator answers for unless a test names another. */
export const DEFAULT_INSTANCE = vmInstance({
  subscriptionId: '0b1f6471-1bf0-4dda-aec3-cb9272f09590',
  resourceGroup: 'rg-agents',
  name: 'vm-agent-01',
  location: 'westeurope',
});

export interface ImdsOptions {
  entra: Entra;
  /** The compute resource it runs on; default DEFAULT_INSTANCE. */
  instance?: AzureInstance;
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
  /** The compute resource it answers for; can be changed at run time. */
  instance: AzureInstance;
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
      if (all.length > 1)
        return 'Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request';
      found = all[0];
    }
  }
  return found ?? 'Identity not found';
}

export async function startImds(options: ImdsOptions): Promise<Imds> {
  const requests: ImdsRequest[] = [];
  const faults: Array<{ status: number; remaining: number }> = [];

  function instanceMetadata(req: IncomingMessage, rec: ImdsRequest): [number, unknown] {
    if (req.method !== 'GET') return [405, { error: `Bad request. The request method ${req.method} is not allowed.` }];
    if (rec.metadataHeader !== 'true') return [400, { error: 'Bad request. Required metadata header not specified' }];
    if (!rec.query['api-version'])
      return [
        400,
        {
          error: 'Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds',
          newest_versions: ['2023-07-01', '2021-05-01'],
        },
      ];
    const i = api.instance;
    return [
      200,
      {
        compute: {
          azEnvironment: 'AzurePublicCloud',
          location: i.location,
          name: i.name,
          osType: 'Linux',
          resourceGroupName: i.resourceGroupName,
          resourceId: i.resourceId,
          subscriptionId: i.subscriptionId,
          vmId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6',
          vmScaleSetName: i.vmScaleSetName,
          vmSize: 'Standard_D2s_v5',
        },
        network: { interface: [] },
      },
    ];
  }

  function route(req: IncomingMessage, rec: ImdsRequest): [number, unknown] {
    if (rec.path === '/metadata/instance') return instanceMetadata(req, rec);
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
      return [400, { error: 'invalid_request', error_description: "Required query variable 'api-version' is missing" }];
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
      extraClaims: identity.resourceId
        ? { xms_az_rid: api.instance.identityResource, xms_mirid: identity.resourceId }
        : { xms_mirid: api.instance.identityResource },
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
    if (routed) {
      routed.handler(req, res, url.pathname);
      return;
    }
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
      res.writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        Server: 'IMDS/150.870.65.1414',
        'Content-Length': Buffer.byteLength(text),
      });
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
    instance: options.instance ?? DEFAULT_INSTANCE,
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
