// Google Cloud emulator: the Compute Engine metadata server of one VM (imds.ts routes
// /computeMetadata/ at 169.254.169.254, which metadata.google.internal resolves to) issuing RS256
// instance identity tokens as Google does (iss https://accounts.google.com, aud, azp, sub = the
// service account's unique id, email, and with format=full the google.compute_engine claims
// project_id, project_number, zone, instance_id, instance_name, instance_creation_timestamp), and
// what Vault's gcp method asks Google about: the OAuth2 signing keys, service accounts, instances.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Jwks, newSigningKey, signJwt } from './jwt';

export interface GceServiceAccount {
  email: string;
  /** The numeric unique id (the token's sub and azp). */
  uniqueId: string;
  projectId: string;
}

export interface GceInstance {
  projectId: string;
  projectNumber: number;
  zone: string;
  name: string;
  id: string;
  createdAt: number;
  /** Emails of the attached service accounts; the first is `default`. */
  serviceAccounts: string[];
  /** The instance's labels (gcloud compute instances add-labels), as compute.instances.get returns them. */
  labels: Record<string, string>;
}

export interface GceRequest {
  path: string;
  query: Record<string, string>;
  flavor?: string;
  status: number;
}

export interface Gce {
  readonly instance: GceInstance;
  /** iam.serviceAccounts.get: every service account by email and by unique id. */
  serviceAccount(emailOrId: string): GceServiceAccount | undefined;
  /** compute.instances.get, as Vault verifies the token's instance. */
  instanceExists(projectId: string, zone: string, name: string): boolean;
  /** A service account of the instance's project (attached to the VM when `attach`). */
  addServiceAccount(name: string, attach?: boolean): GceServiceAccount;
  /** Google's OAuth2 signing keys (https://www.googleapis.com/oauth2/v3/certs). */
  jwks(): Jwks;
  /** Every token the metadata server issued (for the leak scan). */
  readonly issuedTokens: string[];
  readonly requests: GceRequest[];
  /** Answers the next `times` identity requests with `status`. */
  failNext(status: number, times?: number): void;
  /** The metadata server's answer for paths under /computeMetadata/ (imds.ts routes them here). */
  handle(req: IncomingMessage, res: ServerResponse, path: string): void;
}

export interface GceOptions {
  projectId?: string;
  zone?: string;
  instanceName?: string;
}

const numericId = (digits: number) => {
  let s = String(1 + (randomBytes(1)[0] % 9));
  while (s.length < digits) s += String(randomBytes(1)[0] % 10);
  return s;
};

export function createGce(options: GceOptions = {}): Gce {
  const projectId = options.projectId ?? 'ci-platform-prod';
  const projectNumber = Number(numericId(12));
  const key = newSigningKey(randomBytes(20).toString('hex'));
  const accounts = new Map<string, GceServiceAccount>();
  const issuedTokens: string[] = [];
  const requests: GceRequest[] = [];
  const faults: Array<{ status: number; remaining: number }> = [];

  function addServiceAccount(name: string, attach = false): GceServiceAccount {
    const email = name.includes('@') ? name : `${name}@${projectId}.iam.gserviceaccount.com`;
    const sa = accounts.get(email) ?? { email, uniqueId: numericId(21), projectId };
    accounts.set(email, sa);
    if (attach && !instance.serviceAccounts.includes(email)) instance.serviceAccounts.push(email);
    return sa;
  }

  const instance: GceInstance = {
    projectId,
    projectNumber,
    zone: options.zone ?? 'europe-west1-b',
    name: options.instanceName ?? 'azp-agent-1',
    id: numericId(19),
    createdAt: Math.floor(Date.now() / 1000) - 86400,
    serviceAccounts: [],
    labels: {},
  };
  // The Compute Engine default service account, attached as `default`.
  addServiceAccount(`${projectNumber}-compute@developer.gserviceaccount.com`, true);

  function identityToken(sa: GceServiceAccount, audience: string, full: boolean): string {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      aud: audience,
      azp: sa.uniqueId,
      email: sa.email,
      email_verified: true,
      exp: now + 3600,
      iat: now,
      iss: 'https://accounts.google.com',
      sub: sa.uniqueId,
    };
    if (full) {
      claims.google = {
        compute_engine: {
          instance_creation_timestamp: instance.createdAt,
          instance_id: instance.id,
          instance_name: instance.name,
          project_id: instance.projectId,
          project_number: instance.projectNumber,
          zone: instance.zone,
        },
      };
    }
    const token = signJwt(claims, key, { typ: 'JWT', x5t: undefined });
    issuedTokens.push(token);
    return token;
  }

  function handle(req: IncomingMessage, res: ServerResponse, path: string): void {
    const url = new URL(req.url ?? '/', 'http://metadata.google.internal');
    const flavor = req.headers['metadata-flavor'];
    const rec: GceRequest = {
      path,
      query: Object.fromEntries(url.searchParams),
      flavor: Array.isArray(flavor) ? flavor.join(',') : flavor,
      status: 0,
    };
    requests.push(rec);
    const send = (status: number, text: string) => {
      rec.status = status;
      res.writeHead(status, {
        'Metadata-Flavor': 'Google',
        'Content-Type': 'application/text',
        'Content-Length': Buffer.byteLength(text),
        Server: 'Metadata Server for VM',
      });
      res.end(text);
    };
    req.resume();
    req.on('end', () => {
      if (rec.flavor !== 'Google') return send(403, 'Missing required header: Metadata-Flavor: Google\n');
      const m = /^\/computeMetadata\/v1\/instance\/service-accounts\/([^/]+)\/identity$/.exec(path);
      if (!m) {
        if (path === '/computeMetadata/v1/project/project-id') return send(200, projectId);
        return send(404, 'Not Found\n');
      }
      const fault = faults.find((f) => f.remaining > 0);
      if (fault) {
        fault.remaining--;
        return send(fault.status, 'The metadata server is temporarily unavailable.\n');
      }
      const name = decodeURIComponent(m[1]);
      const email = name === 'default' ? instance.serviceAccounts[0] : name;
      if (!instance.serviceAccounts.includes(email))
        return send(404, `The requested URL ${path} was not found on this server (no service account ${name} on this instance).\n`);
      const audience = url.searchParams.get('audience');
      if (!audience) return send(400, 'non-empty audience parameter required\n');
      send(200, identityToken(accounts.get(email) as GceServiceAccount, audience, url.searchParams.get('format') === 'full'));
    });
  }

  return {
    instance,
    serviceAccount: (emailOrId) => accounts.get(emailOrId) ?? [...accounts.values()].find((a) => a.uniqueId === emailOrId),
    instanceExists: (p, z, n) => p === instance.projectId && z === instance.zone && n === instance.name,
    addServiceAccount,
    jwks: () => ({ keys: [{ ...key.publicJwk, x5t: undefined }] }) as Jwks,
    issuedTokens,
    requests,
    failNext(status, times = 1) {
      faults.push({ status, remaining: times });
    },
    handle,
  };
}
