// Azure Resource Manager as Vault's azure auth plugin reads it when a role binds subscriptions,
// resource groups, locations or scale sets: virtual machines, scale sets and user-assigned
// identities, and which credential may read which subscription (Reader). The plugin reaches it
// with its own credential, the mount's client_id/client_secret (a client-credentials grant at
// Entra, fetched at every login); each lookup answers or fails with the text Go's azidentity and
// azcore give (openbao-plugins auth/azure azure.go, path_login.go verifyResource; armcompute
// VirtualMachinesClient.Get with $expand=instanceView, VirtualMachineScaleSetsClient.Get, armmsi
// UserAssignedIdentitiesClient.NewListByResourceGroupPager). In process: the azure login check (vaultAzure.ts) calls it.
// Over HTTPS (startArmServer), what `az login` asks of it: subscriptions and tenants.
import type { ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { closeServer, guarded, listen } from './serve';

export const ARM_HOST = 'https://management.azure.com';
const COMPUTE_API = '2022-11-01';
const MSI_API = '2023-01-31';
const RULE = '-'.repeat(80);

/** A user-assigned managed identity: its ARM resource and its Entra service principal. */
export interface ArmUserIdentity {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  clientId: string;
  principalId: string;
}

/** A VM, or a scale set (its instances share its identities). */
export interface ArmCompute {
  kind: 'vm' | 'vmss';
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  /** The system-assigned identity's principal (object) id; none without one. */
  systemPrincipalId?: string;
  userAssigned?: ArmUserIdentity[];
}

/** The mount's own credential: an app registration with a secret. */
export interface ArmCredential {
  tenantId: string;
  clientId: string;
  objectId: string;
  secret: string;
}

/** What the plugin gets back from a VM or scale-set GET. */
export interface ArmComputeView {
  location: string;
  identity?: { principalId?: string; userAssignedIdentities: Record<string, { principalId: string; clientId: string }> };
}

/** The plugin's clients for one login; every method rejects with Go's error text. */
export interface ArmClient {
  getVm(subscriptionId: string, resourceGroup: string, name: string): Promise<ArmComputeView>;
  getScaleSet(subscriptionId: string, resourceGroup: string, name: string): Promise<ArmComputeView>;
  /** Client ids of the user-assigned identities of a resource group (a failed page is skipped, as the plugin does). */
  listIdentityClientIds(subscriptionId: string, resourceGroup: string): Promise<string[]>;
}

const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The resource id ARM gives a compute resource, as IMDS reports it (resourceGroups in camel case). */
export function computeResourceId(c: Pick<ArmCompute, 'kind' | 'subscriptionId' | 'resourceGroup' | 'name'>): string {
  const type = c.kind === 'vm' ? 'virtualMachines' : 'virtualMachineScaleSets';
  return `/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroup}/providers/Microsoft.Compute/${type}/${c.name}`;
}

export function identityResourceId(i: ArmUserIdentity): string {
  return `/subscriptions/${i.subscriptionId}/resourcegroups/${i.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${i.name}`;
}

/** azcore's *ResponseError text: method, URL without its query, status, code and body. */
function responseError(method: string, path: string, status: string, code: string, body: unknown): Error {
  return new Error(
    `${method} ${ARM_HOST}${path}\n${RULE}\nRESPONSE ${status}\nERROR CODE: ${code}\n${RULE}\n${JSON.stringify(body, null, 2)}\n${RULE}\n`,
  );
}

export class Arm {
  private readonly compute: ArmCompute[] = [];
  private readonly identities: ArmUserIdentity[] = [];
  private readonly credentials: ArmCredential[] = [];
  private readonly readers = new Map<string, Set<string>>();
  /** Every request the plugin made, as `GET <path>?api-version=…` or `TOKEN <client id>`. */
  readonly requests: string[] = [];

  addCompute(c: ArmCompute): void {
    this.compute.push({ ...c });
    for (const i of c.userAssigned ?? []) if (!this.identities.includes(i)) this.identities.push(i);
  }

  addCredential(c: ArmCredential): void {
    this.credentials.push({ ...c });
  }

  /** A Reader role assignment for the credential `clientId` on a subscription. */
  grantReader(clientId: string, subscriptionId: string): void {
    const set = this.readers.get(clientId.toLowerCase()) ?? new Set<string>();
    set.add(subscriptionId.toLowerCase());
    this.readers.set(clientId.toLowerCase(), set);
  }

  revokeReader(clientId: string, subscriptionId: string): void {
    this.readers.get(clientId.toLowerCase())?.delete(subscriptionId.toLowerCase());
  }

  /** The plugin's clients for a login with the mount's tenant, client_id and client_secret. */
  client(tenantId: string, clientId: string, clientSecret: string): ArmClient {
    const authenticate = (): ArmCredential => {
      this.requests.push(`TOKEN ${clientId}`);
      if (!clientSecret) {
        // No secret: the plugin falls back to its own managed identity, which a Vault off Azure lacks.
        throw new Error('ManagedIdentityCredential: no default identity is assigned to this resource');
      }
      const cred = this.credentials.find((c) => eq(c.clientId, clientId) && eq(c.tenantId, tenantId));
      if (!cred)
        return this.fail(
          tenantId,
          'ClientSecretCredential',
          400,
          'Bad Request',
          'unauthorized_client',
          700016,
          `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
        );
      if (cred.secret !== clientSecret) {
        return this.fail(
          tenantId,
          'ClientSecretCredential',
          401,
          'Unauthorized',
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        );
      }
      return cred;
    };
    const read = (cred: ArmCredential, subscriptionId: string, scope: string, action: string, path: string) => {
      if (!this.readers.get(cred.clientId.toLowerCase())?.has(subscriptionId.toLowerCase())) {
        throw responseError('GET', path, '403: 403 Forbidden', 'AuthorizationFailed', {
          error: {
            code: 'AuthorizationFailed',
            message: `The client '${cred.clientId}' with object id '${cred.objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
          },
        });
      }
    };
    const get = async (kind: 'vm' | 'vmss', subscriptionId: string, resourceGroup: string, name: string): Promise<ArmComputeView> => {
      const cred = authenticate();
      const scope = computeResourceId({ kind, subscriptionId, resourceGroup, name });
      const query = kind === 'vm' ? `?$expand=instanceView&api-version=${COMPUTE_API}` : `?api-version=${COMPUTE_API}`;
      this.requests.push(`GET ${scope}${query}`);
      const type = kind === 'vm' ? 'virtualMachines' : 'virtualMachineScaleSets';
      read(cred, subscriptionId, scope, `Microsoft.Compute/${type}/read`, scope);
      const found = this.compute.find(
        (c) => c.kind === kind && eq(c.subscriptionId, subscriptionId) && eq(c.resourceGroup, resourceGroup) && eq(c.name, name),
      );
      if (!found) {
        throw responseError('GET', scope, '404: 404 Not Found', 'ResourceNotFound', {
          error: {
            code: 'ResourceNotFound',
            message: `The Resource 'Microsoft.Compute/${type}/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
          },
        });
      }
      const users = found.userAssigned ?? [];
      const hasIdentity = found.systemPrincipalId !== undefined || users.length > 0;
      return {
        location: found.location,
        identity: hasIdentity
          ? {
              principalId: found.systemPrincipalId,
              userAssignedIdentities: Object.fromEntries(
                users.map((u) => [identityResourceId(u), { principalId: u.principalId, clientId: u.clientId }]),
              ),
            }
          : undefined,
      };
    };
    return {
      getVm: (s, rg, n) => get('vm', s, rg, n),
      getScaleSet: (s, rg, n) => get('vmss', s, rg, n),
      listIdentityClientIds: async (subscriptionId, resourceGroup) => {
        const cred = authenticate();
        const scope = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
        const path = `${scope}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`;
        this.requests.push(`GET ${path}?api-version=${MSI_API}`);
        try {
          read(cred, subscriptionId, scope, 'Microsoft.ManagedIdentity/userAssignedIdentities/read', path);
        } catch {
          return [];
        }
        return this.identities
          .filter((i) => eq(i.subscriptionId, subscriptionId) && eq(i.resourceGroup, resourceGroup))
          .map((i) => i.clientId);
      },
    };
  }

  /** azidentity's AuthenticationFailedError for an Entra refusal of the client-credentials grant. */
  private fail(
    tenantId: string,
    credential: string,
    status: number,
    statusText: string,
    error: string,
    code: number,
    description: string,
  ): never {
    const body = {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: 0c4c5a8e-6e0e-4a4b-9f3e-2b1d7c9e0a00 Correlation ID: 5d0f3c1a-2b4e-4c6d-8e9f-0a1b2c3d4e5f Timestamp: 2026-01-01 00:00:00Z`,
      error_codes: [code],
    };
    throw new Error(
      `${credential}: authenticate failed:\nPOST https://login.microsoftonline.com/${tenantId}/oauth2/v2.0/token\n${RULE}\nRESPONSE ${status} ${statusText}\n${RULE}\n${JSON.stringify(body, null, 2)}\n${RULE}\nTo troubleshoot, visit https://aka.ms/azsdk/go/identity/troubleshoot#client-secret`,
    );
  }
}

/** A subscription as ARM lists it, and the service principals (object ids) with a role on it. */
export interface ArmSubscription {
  subscriptionId: string;
  tenantId: string;
  displayName: string;
  principals: string[];
}

export interface ArmServerOptions {
  tls: { certPem: string; keyPem: string };
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Listen port; 0 picks a free one. */
  port: number;
  /** The URL clients use (the resource manager endpoint of their cloud); default https://<host>:<port>/. */
  publicUrl?: string;
  /** Checks an Entra access token's signature and time; returns its claims or throws. */
  verifyToken: (token: string) => Record<string, unknown>;
  subscriptions?: ArmSubscription[];
}

export interface ArmServer {
  url: string;
  /** Every request, as `GET <path>?<query>`. */
  requests: string[];
  close(): Promise<void>;
}

/** The audiences ARM accepts in an access token (its InvalidAuthenticationTokenAudience message lists them). */
const ARM_AUDIENCES = [
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
  'https://management.azure.com/',
  'https://management.azure.com',
];

/**
 * Azure Resource Manager over HTTPS for what `az login` asks of it: the subscriptions the caller
 * has a role on (GET /subscriptions, Microsoft's REST reference "Subscriptions - List") and the
 * tenants (GET /tenants, "Tenants - List"), authorised with an Entra access token for ARM; errors
 * in ARM's `{"error": {"code", "message"}}` shape.
 */
export async function startArmServer(options: ArmServerOptions): Promise<ArmServer> {
  const requests: string[] = [];
  const host = options.host ?? '127.0.0.1';
  const fail = (res: ServerResponse, status: number, code: string, message: string) => {
    const text = JSON.stringify({ error: { code, message } });
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer(
    { cert: options.tls.certPem, key: options.tls.keyPem },
    guarded('arm', async (req, res) => {
      const url = new URL(req.url ?? '/', 'https://placeholder');
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      const auth = String(req.headers.authorization ?? '');
      if (!auth) return fail(res, 401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
      const bearer = /^Bearer (.+)$/i.exec(auth)?.[1];
      let claims: Record<string, unknown>;
      try {
        if (!bearer) throw new Error('not a bearer token');
        claims = options.verifyToken(bearer);
      } catch {
        return fail(res, 401, 'InvalidAuthenticationToken', 'The access token is invalid.');
      }
      const aud = String(claims.aud ?? '');
      if (!ARM_AUDIENCES.includes(aud)) {
        return fail(
          res,
          401,
          'InvalidAuthenticationTokenAudience',
          `The access token has been obtained for wrong audience or resource '${aud}'. It should exactly match with one of the allowed audiences ${ARM_AUDIENCES.map((a) => `'${a}'`).join(',')}.`,
        );
      }
      if (!url.searchParams.get('api-version')) {
        return fail(
          res,
          400,
          'MissingApiVersionParameter',
          'The api-version query parameter (?api-version=) is required for all requests.',
        );
      }
      const tid = String(claims.tid ?? '');
      const oid = String(claims.oid ?? '');
      let body: unknown;
      if (req.method === 'GET' && url.pathname === '/subscriptions') {
        const value = (options.subscriptions ?? [])
          .filter((s) => eq(s.tenantId, tid) && s.principals.some((p) => eq(p, oid)))
          .map((s) => ({
            id: `/subscriptions/${s.subscriptionId}`,
            authorizationSource: 'RoleBased',
            managedByTenants: [],
            subscriptionId: s.subscriptionId,
            tenantId: s.tenantId,
            displayName: s.displayName,
            state: 'Enabled',
            subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
          }));
        body = { value, count: { type: 'Total', value: value.length } };
      } else if (req.method === 'GET' && url.pathname === '/tenants') {
        body = { value: [{ id: `/tenants/${tid}`, tenantId: tid, tenantCategory: 'Home' }] };
      } else {
        return fail(
          res,
          404,
          'InvalidResourceType',
          `The resource type '${url.pathname.split('/')[1] ?? ''}' could not be found in the namespace 'Microsoft.Resources'.`,
        );
      }
      const text = JSON.stringify(body);
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    }),
  );
  const port = await listen(server, options.port, host);
  return { url: options.publicUrl ?? `https://${host}:${port}/`, requests, close: () => closeServer(server) };
}
