// Resolves each requested path to its mount and KV version, reads every distinct path once
// (bounded in parallel) and turns the answers into named values, or into failures. Publishes nothing.
import { stringify as stringifyJson } from 'lossless-json';
import { limiter, mapLimit } from '../core/concurrency';
import { hasUnsafeCharacters } from '../core/logText';
import { explainMount, explainRead } from '../core/errors';
import { findDuplicateNames, SecretRequest, variableNameFor, variableNameProblem } from '../core/secretSpec';
import type { Text } from '../core/text';
import { notPerformed } from '../core/failures';
import { MountInfo, VaultApi, VaultBody, VaultHttpError } from './client';
import { isRetryable } from './retry';

export interface SecretValue {
  name: string;
  value: string;
  /** "path key" as the log shows it. */
  source: string;
  /** Goes to a file whose path `name` holds. */
  toFile?: boolean;
}

export interface ReadFailure {
  source: string;
  reason: string;
  /** A missing path, version or key: what `ignoreNotFound` turns into a warning. */
  notFound?: boolean;
}

/** What reading needs of Vault. */
export type SecretSource = Pick<VaultApi, 'mount' | 'read'>;

export interface ReadOutcome {
  values: SecretValue[];
  failures: ReadFailure[];
  /** Leases handed out by non-KV engines (e.g. database/creds/x). */
  leaseIds: string[];
  mounts: MountInfo[];
  reads: number;
}

export interface ReadOptions {
  address: string;
  concurrency: number;
  timeoutSeconds: number;
  /** The task's messages (task.json), for failures and variable names. */
  loc: Text;
  /**
   * Called with every lease id an answer carries, as soon as the answer arrives: a job cancelled
   * while other reads are still on their way must already have saved it for the post-job step.
   */
  onLease?: (leaseId: string) => void;
  /**
   * Where the read namespace lies below the namespace of the login ('team/' for reads in ci/team
   * with a token of ci), for the policy path a denial suggests: a policy names paths from its own
   * namespace. '' when both are the same.
   */
  policyPrefix?: string;
}

interface Plan {
  request: SecretRequest;
  apiPath: string;
  aclPath: string;
  mount: MountInfo;
  withoutData?: string;
}

type Planned = { plan: Plan } | { failure: ReadFailure };

/**
 * Engines whose reads only return what is stored. A read from any other engine may create what it
 * returns (database/creds/<role> makes a database user and its lease, aws/creds an IAM key): it is
 * sent once, as a login is.
 */
const STORED_ONLY = new Set(['kv', 'generic', 'cubbyhole', 'system', 'identity']);

export function readCreates(mount: MountInfo): boolean {
  return !STORED_ONLY.has(mount.type);
}

export function describeRequest(r: SecretRequest): string {
  const selector = r.selector.kind === 'key' ? r.selector.key : r.selector.kind === 'all' ? '*' : '.';
  return `${r.path}${r.version ? `@${r.version}` : ''} ${selector}`;
}

/**
 * Finds the mount of each path with as few lookups as possible: Vault forbids nested mounts, so
 * once a mount is known every path under it is settled, and paths sharing a first segment wait for
 * the first lookup of that segment instead of asking again.
 */
class MountResolver {
  private readonly known: MountInfo[] = [];
  private readonly bySegment = new Map<string, Promise<MountInfo>>();

  constructor(private readonly vault: Pick<SecretSource, 'mount'>) {}

  get mounts(): MountInfo[] {
    return [...this.known];
  }

  private cached(path: string): MountInfo | undefined {
    return this.known.find((m) => m.path && `${path}/`.startsWith(m.path));
  }

  async resolve(path: string): Promise<MountInfo> {
    const hit = this.cached(path);
    if (hit) return hit;
    const segment = path.split('/')[0];
    const first = this.bySegment.get(segment);
    if (first) {
      const mount = await first; // a failed lookup fails every path of that segment the same way
      const again = this.cached(path);
      if (again) return again;
      void mount;
    }
    const lookup = this.vault.mount(path).then((m) => {
      if (!this.known.some((k) => k.path === m.path)) this.known.push(m);
      return m;
    });
    if (!first) this.bySegment.set(segment, lookup);
    return lookup;
  }
}

function planFor(request: SecretRequest, mount: MountInfo, loc: Text): Planned {
  const source = describeRequest(request);
  let rest = request.path.slice(mount.path.length);
  if (!rest) return { failure: { source, reason: loc('PathIsMount', request.path, mount.path, mount.path) } };
  if (mount.kvVersion === 2) {
    if (rest.startsWith('data/')) rest = rest.slice('data/'.length);
    const aclPath = `${mount.path}data/${rest}`;
    const apiPath = request.version ? `${aclPath}?version=${request.version}` : aclPath;
    return { plan: { request, apiPath, aclPath, mount } };
  }
  if (request.version) {
    const kind = mount.kvVersion === 1 ? 'KV version 1' : mount.type || 'not KV';
    return {
      failure: {
        source,
        reason: loc('VersionNeedsKv2', request.version, mount.path, kind, request.version),
      },
    };
  }
  const withoutData = mount.kvVersion === 1 && rest.startsWith('data/') ? `${mount.path}${rest.slice('data/'.length)}` : undefined;
  return { plan: { request, apiPath: request.path, aclPath: request.path, mount, withoutData } };
}

function secretData(body: VaultBody, mount: MountInfo): Record<string, unknown> | undefined {
  const data = mount.kvVersion === 2 ? body?.data?.data : body?.data;
  return data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
}

/** A value as Vault holds it: a string byte for byte, anything else as its JSON, numbers as sent. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (stringifyJson(value) ?? 'null');
}

function extract(plan: Plan, data: Record<string, unknown>, loc: Text): { values: SecretValue[]; failures: ReadFailure[] } {
  const r = plan.request;
  const source = describeRequest(r);
  const values: SecretValue[] = [];
  const failures: ReadFailure[] = [];
  switch (r.selector.kind) {
    case 'json':
      values.push({ name: variableNameFor(r, undefined, loc), value: asText(data), source, toFile: r.toFile });
      break;
    case 'key': {
      const key = r.selector.key;
      if (!Object.hasOwn(data, key)) {
        const keys = Object.keys(data);
        failures.push({ source, reason: loc('KeyNotFound', key, r.path, keys.length ? keys.join(', ') : '-'), notFound: true });
      } else {
        values.push({ name: variableNameFor(r, key, loc), value: asText(data[key]), source, toFile: r.toFile });
      }
      break;
    }
    case 'all': {
      const keys = Object.keys(data);
      if (!keys.length) failures.push({ source, reason: loc('NoKeys', r.path) });
      for (const key of keys) {
        if (hasUnsafeCharacters(key)) {
          failures.push({ source: `${r.path} ${key}`, reason: loc('KeyNameUnsafe', key, r.path) });
          continue;
        }
        const name = variableNameFor(r, key, loc);
        const problem = variableNameProblem(name, loc);
        if (problem) failures.push({ source: `${r.path} ${key}`, reason: loc('DerivedNameInvalid', name, problem) });
        else values.push({ name, value: asText(data[key]), source: `${r.path} ${key}` });
      }
      break;
    }
  }
  return { values, failures };
}

/**
 * The API path a request names whatever its mount turns out to be, or undefined. `<mount>/data/<path>`
 * is read as written on a KV version 2 mount at `<mount>/` (`data/` is its API prefix), on a KV
 * version 1 mount there and on any other engine: its read need not wait for the mount's lookup. Only
 * a mount of its own at `<mount>/data/` would read it elsewhere, and the lookup still decides.
 */
export function apiPathBeforeLookup(r: SecretRequest): string | undefined {
  const [first, second, ...rest] = r.path.split('/');
  if (!first || second !== 'data' || !rest.length) return undefined;
  return r.version ? `${r.path}?version=${r.version}` : r.path;
}

type Answer = { body: VaultBody } | { err: unknown };

export async function readSecrets(vault: SecretSource, requests: SecretRequest[], opts: ReadOptions): Promise<ReadOutcome> {
  // Lookups and reads share one bound: at most `concurrency` requests in flight.
  const gate = limiter(opts.concurrency);
  const leaseIds = new Set<string>();
  const reads = new Map<string, Promise<Answer>>();
  const send = (apiPath: string, once: boolean): Promise<Answer> =>
    gate(() => vault.read(apiPath, once)).then(
      (body) => {
        const leaseId = body?.lease_id;
        if (typeof leaseId === 'string' && leaseId && !leaseIds.has(leaseId)) {
          leaseIds.add(leaseId);
          opts.onLease?.(leaseId);
        }
        return { body };
      },
      (err: unknown) => ({ err }),
    );
  /** One read per API path, however many requests name it. */
  const read = (apiPath: string, once: boolean): Promise<Answer> => {
    let answer = reads.get(apiPath);
    if (!answer) reads.set(apiPath, (answer = send(apiPath, once)));
    return answer;
  };

  // A lookup goes ahead of the reads that wait: more reads may wait on it.
  const resolver = new MountResolver({ mount: (path) => gate(() => vault.mount(path), true) });
  const planned = await mapLimit(requests, opts.concurrency, async (request): Promise<Planned> => {
    try {
      const lookup = resolver.resolve(request.path);
      // A path that names its API path is read beside the lookup, one round trip sooner. Its
      // engine is not known yet, so the read is sent once, as a read that may create is.
      const apiPath = apiPathBeforeLookup(request);
      if (apiPath) void read(apiPath, true);
      return planFor(request, await lookup, opts.loc);
    } catch (err) {
      return {
        failure: { source: describeRequest(request), reason: explainMount(err, request.path, opts.address, opts.timeoutSeconds, opts.loc) },
      };
    }
  });

  const failures: ReadFailure[] = [];
  const plans: Plan[] = [];
  for (const p of planned) {
    if ('failure' in p) failures.push(p.failure);
    else plans.push(p.plan);
  }

  // The reads sent so far are the early ones.
  const early = new Set(reads.keys());
  // One read per distinct API path, however many keys are taken from it.
  const distinct = [...new Map(plans.map((p) => [p.apiPath, p])).values()];
  const answers = new Map<string, { body: VaultBody } | { error: string; notFound: boolean }>();
  await mapLimit(distinct, opts.concurrency, async (plan) => {
    const creates = readCreates(plan.mount);
    let answer = await read(plan.apiPath, creates);
    // A read of stored data sent early, once, whose answer was lost: sent again, as it would have
    // been retried had it waited for the lookup.
    if ('err' in answer && early.has(plan.apiPath) && !creates && isRetryable(answer.err) && !notPerformed(answer.err)) {
      answer = await send(plan.apiPath, false);
    }
    if ('body' in answer) {
      answers.set(plan.apiPath, answer);
      return;
    }
    const err = answer.err;
    const ctx = {
      address: opts.address,
      path: plan.request.path,
      aclPath: plan.aclPath,
      policyPath: `${opts.policyPrefix ?? ''}${plan.aclPath}`,
      version: plan.request.version,
      withoutData: plan.withoutData,
      creates,
    };
    answers.set(plan.apiPath, {
      error: explainRead(err, ctx, opts.timeoutSeconds, opts.loc),
      notFound: err instanceof VaultHttpError && err.status === 404,
    });
  });
  // An early read the lookup showed to be another path, or whose lookup failed: none is left on
  // its way, and any lease it brought is saved for revocation.
  await Promise.all(reads.values());

  const values: SecretValue[] = [];
  for (const plan of plans) {
    const answer = answers.get(plan.apiPath)!;
    const source = describeRequest(plan.request);
    if ('error' in answer) {
      failures.push({ source, reason: answer.error, notFound: answer.notFound });
      continue;
    }
    const data = secretData(answer.body, plan.mount);
    if (!data) {
      failures.push({ source, reason: opts.loc('NoData', plan.request.path) });
      continue;
    }
    const out = extract(plan, data, opts.loc);
    values.push(...out.values);
    failures.push(...out.failures);
  }

  for (const message of findDuplicateNames(
    values.map((v) => ({ name: v.name, source: v.source })),
    opts.loc,
  )) {
    failures.push({ source: opts.loc('VariableNames'), reason: message });
  }

  return { values, failures, leaseIds: [...leaseIds], mounts: resolver.mounts, reads: distinct.length };
}
