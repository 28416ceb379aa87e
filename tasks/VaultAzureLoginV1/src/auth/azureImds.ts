// The Azure Instance Metadata Service of the VM the agent runs on: a managed identity's Entra
// access token and the VM's own values (subscription, resource group, name, scale set), read as
// Vault's Go client api/auth/azure reads them: plain HTTP to 169.254.169.254, `Metadata: true`, no proxy.
import { DeadlineError } from '../core/deadline';
import { ANSWER_TOO_LARGE, Answer, asTransportError, MAX_METADATA_BYTES, RequestTimeout, send, TransportError } from '../net/http';

export const IMDS_HOST = '169.254.169.254';
const TOKEN_API = '2018-02-01';
const INSTANCE_API = '2021-05-01';
/**
 * IMDS is a link-local endpoint of the host: on an Azure VM a connection is made in well under a
 * millisecond. One that is not made within this long (or is refused, or has no route) means there
 * is no IMDS: the agent is not an Azure VM, or a firewall drops the traffic. Waiting the whole
 * timeoutSeconds, three times, would tell nothing more.
 */
const CONNECT_MS = 5000;
const NOT_AN_OBJECT = 'the answer is not a JSON object';

/** IMDS could not be asked (`code` set) or did not give what was asked (`status`). */
export class ImdsError extends Error {
  constructor(
    /** 'token' or 'instance'. */
    readonly what: 'token' | 'instance',
    /** ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ETIMEDOUT (no connection), ECONNRESET, …; '' when IMDS answered. */
    readonly code: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`IMDS ${what}: ${code || `HTTP ${status}`} ${detail}`);
    this.name = 'ImdsError';
  }
}

/** The compute fields of the instance metadata a login carries. */
export interface AzureInstance {
  subscriptionId: string;
  resourceGroupName: string;
  name: string;
  /** '' outside a scale set. */
  vmScaleSetName: string;
  location: string;
}

export interface Imds {
  token(resource: string, clientId: string, timeoutSeconds: number): Promise<string>;
  instance(timeoutSeconds: number): Promise<AzureInstance>;
}

async function getJson(origin: string, what: 'token' | 'instance', path: string, timeoutSeconds: number): Promise<Record<string, unknown>> {
  const fail = (code: string, status: number, detail: string) =>
    new ImdsError(what, code, status, detail.replace(/\s+/g, ' ').trim().slice(0, 300));
  let answer: Answer;
  try {
    answer = await send(
      { method: 'GET', url: new URL(path, origin), headers: { Metadata: 'true' } },
      { timeoutMs: timeoutSeconds * 1000, maxBytes: MAX_METADATA_BYTES, connectTimeoutMs: Math.min(CONNECT_MS, timeoutSeconds * 1000) },
      { agent: false },
    );
  } catch (err) {
    const e = err instanceof TransportError ? err : asTransportError(err);
    // An answer larger than the VM's values or a token is neither.
    if (e.code === ANSWER_TOO_LARGE) throw fail('', e.status ?? 0, e.status === 200 ? NOT_AN_OBJECT : e.message);
    // Out of time once connected: IMDS is there, and slow; the attempt's deadline, which the step
    // explains and retries. Not connected in time: there is no IMDS (ETIMEDOUT).
    if (e instanceof RequestTimeout && e.sent) throw new DeadlineError(timeoutSeconds * 1000);
    throw fail(e.code, 0, e.message);
  }
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(answer.text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // not JSON: told below
  }
  if (answer.status !== 200) {
    const described = body ? [body.error, body.error_description].filter((v) => typeof v === 'string').join(': ') : answer.text;
    throw fail('', answer.status, described || '-');
  }
  if (!body) throw fail('', 200, NOT_AN_OBJECT);
  return body;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** IMDS at `origin` (http://169.254.169.254 on a VM). */
export const imdsAt = (origin: string): Imds => ({
  async token(resource, clientId, timeoutSeconds) {
    const query = new URLSearchParams({ 'api-version': TOKEN_API, resource });
    if (clientId) query.set('client_id', clientId);
    const body = await getJson(origin, 'token', `/metadata/identity/oauth2/token?${query}`, timeoutSeconds);
    const token = text(body.access_token);
    if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new ImdsError('token', '', 200, 'the answer holds no access token');
    return token;
  },
  async instance(timeoutSeconds) {
    const body = await getJson(origin, 'instance', `/metadata/instance?api-version=${INSTANCE_API}`, timeoutSeconds);
    const c = (body.compute ?? {}) as Record<string, unknown>;
    const instance = {
      subscriptionId: text(c.subscriptionId),
      resourceGroupName: text(c.resourceGroupName),
      name: text(c.name),
      vmScaleSetName: text(c.vmScaleSetName),
      location: text(c.location),
    };
    if (!instance.subscriptionId || !instance.resourceGroupName || !instance.name)
      throw new ImdsError('instance', '', 200, 'compute.subscriptionId, resourceGroupName or name is missing');
    return instance;
  },
});

export const imds = imdsAt(`http://${IMDS_HOST}`);

/** No IMDS at all: no connection could be made. */
export function isNoImds(err: unknown): boolean {
  return err instanceof ImdsError && /^(ECONNREFUSED|ENETUNREACH|EHOSTUNREACH|EHOSTDOWN|EADDRNOTAVAIL|ETIMEDOUT)$/.test(err.code);
}

/** Worth another attempt: IMDS throttling (429), a server error, or an answer cut off. */
export function isTransientImds(err: unknown): boolean {
  if (!(err instanceof ImdsError) || isNoImds(err)) return false;
  if (err.code) return /ECONNRESET|EPIPE/.test(err.code);
  return err.status === 429 || err.status >= 500;
}
