// approle: a role_id and a secret_id, sent as `{role_id, secret_id}`. A secret_id given as a
// response-wrapping token is looked up first (sys/wrapping/lookup: it must have been created at the
// role's secret-id path) and unwrapped once; the secret_id it held is masked before anything is
// logged. The refusals are worded as OpenBao and Vault answer them (builtin/credential/approle).
import { DeadlineError } from '../core/deadline';
import { explainNetwork } from '../core/errors';
import { VaultBody, VaultHttpError, VaultNetworkError } from '../core/failures';
import type { AuthMethod, ProveContext } from './method';

export interface ApproleAuthConfig {
  method: 'approle';
  roleId: string;
  /** A secret_id, or a response-wrapping token that holds one. */
  secretId: string;
  /** Where each came from, worded for the log (never the values). */
  roleIdFrom: string;
  secretIdFrom: string;
  /** The Vault address, for explaining a failed unwrap. */
  address: string;
}

/**
 * A Vault token, as a wrapping token is: `hvs.` (Vault 1.10 and later) or `s.` (older Vault, and
 * OpenBao), with Vault Enterprise's `.<namespace id>` suffix. A secret_id Vault generates is a UUID.
 */
const TOKEN_SHAPE = /^(hvs|s)\.[A-Za-z0-9_-]{20,}(\.[A-Za-z0-9_-]+)?$/;

export function isWrappingToken(value: string): boolean {
  return TOKEN_SHAPE.test(value);
}

/** The path a wrapping token of the role's secret_id is created at (its `creation_path`). */
export function secretIdPath(mount: string, role: string): string {
  return `auth/${mount}/role/${role}/secret-id`;
}

/** Role names of the approle method are case-insensitive; the mount path is not. */
export function isRoleSecretIdPath(found: string, mount: string, role: string): boolean {
  const prefix = `auth/${mount}/role/`;
  return found.startsWith(prefix) && found.slice(prefix.length).toLowerCase() === `${role}/secret-id`.toLowerCase();
}

/** A request of the unwrapping failed: which one, and Vault's answer or the network error. */
export class WrapRequestError extends Error {
  constructor(
    readonly stage: 'lookup' | 'unwrap',
    readonly cause: unknown,
    /** The role's secret-id path, for the fix. */
    readonly expected: string,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'WrapRequestError';
  }
}

/** The wrapping token was not created at the role's secret-id path: it is never unwrapped. */
export class WrapPathError extends Error {
  constructor(
    readonly found: string,
    readonly expected: string,
  ) {
    super(`wrapping token created at ${found}`);
    this.name = 'WrapPathError';
  }
}

/** The unwrapped answer holds no secret_id. */
export class WrapContentError extends Error {
  constructor(
    readonly keys: string[],
    readonly expected: string,
  ) {
    super(`unwrapped data has no secret_id (keys: ${keys.join(', ')})`);
    this.name = 'WrapContentError';
  }
}

interface Unwrapped {
  secretId: string;
  creationPath: string;
  creationTime: string;
  wrapTtl: string;
  /** Of the secret_id, as the unwrapped answer gives them ('' when absent). */
  ttl: string;
  uses: string;
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/**
 * OpenBao 2.7: `source address "127.0.0.1" unauthorized through CIDR restrictions on the secret ID`
 * and `source address "127.0.0.1" unauthorized by CIDR restrictions on the role: %!w(<nil>)`;
 * Vault says `by` for both.
 */
const CIDR_REFUSAL = /source address "?([^"\s]+?)"? unauthorized (?:by|through) CIDR restrictions on the (secret ID|role)/;
const INVALID = /invalid role or secret ID|invalid secret id|invalid role id|failed to validate credentials/i;

export function approleMethod(config: ApproleAuthConfig): AuthMethod {
  const wrapped = isWrappingToken(config.secretId);
  /** Set once the unwrap request is sent: a wrapping token is good for one unwrap, so a retry reuses it. */
  let unwrapping: Promise<Unwrapped> | undefined;

  async function lookup(ctx: ProveContext): Promise<VaultBody> {
    try {
      return await ctx.vault.post('sys/wrapping/lookup', { token: config.secretId }, '');
    } catch (err) {
      throw new WrapRequestError('lookup', err, secretIdPath(ctx.mount, ctx.role));
    }
  }

  async function unwrap(ctx: ProveContext, info: VaultBody): Promise<Unwrapped> {
    let body: VaultBody;
    try {
      body = await ctx.vault.post('sys/wrapping/unwrap', {}, config.secretId);
    } catch (err) {
      throw new WrapRequestError('unwrap', err, secretIdPath(ctx.mount, ctx.role));
    }
    const data = (body?.data ?? {}) as Record<string, unknown>;
    const secretId = typeof data.secret_id === 'string' ? data.secret_id : '';
    if (!secretId) throw new WrapContentError(Object.keys(data).sort(), secretIdPath(ctx.mount, ctx.role));
    ctx.mask(secretId);
    return {
      secretId,
      creationPath: text(info.data?.creation_path),
      creationTime: text(info.data?.creation_time),
      wrapTtl: text(info.data?.creation_ttl),
      ttl: text(data.secret_id_ttl),
      uses: text(data.secret_id_num_uses),
    };
  }

  async function unwrapOnce(ctx: ProveContext): Promise<Unwrapped> {
    if (unwrapping) return unwrapping;
    const info = await lookup(ctx);
    const found = text(info?.data?.creation_path);
    if (!isRoleSecretIdPath(found, ctx.mount, ctx.role)) throw new WrapPathError(found, secretIdPath(ctx.mount, ctx.role));
    // An attempt that outran its deadline may have got here meanwhile.
    unwrapping ??= unwrap(ctx, info);
    return unwrapping;
  }

  return {
    name: 'approle',
    describe: (loc) => loc('ApproleDescribe', config.roleIdFrom, config.secretIdFrom, wrapped ? loc('ApproleWrappedNote') : ''),
    what: (loc) => loc('ApproleUnwrapStep'),
    async prove(ctx) {
      if (!wrapped) return { body: { role_id: config.roleId, secret_id: config.secretId }, secrets: [config.secretId], notes: [], facts: {} };
      const u = await unwrapOnce(ctx);
      const noLimit = ctx.loc('ApproleNoLimit');
      const ttl = Number(u.ttl) || 0;
      const uses = Number(u.uses) || 0;
      const ageSeconds = (Date.now() - Date.parse(u.creationTime)) / 1000;
      return {
        body: { role_id: config.roleId, secret_id: u.secretId },
        secrets: [u.secretId, config.secretId],
        notes: [ctx.loc('ApproleUnwrapped', u.creationPath, u.creationTime || '?', u.wrapTtl || '?', ttl ? `${ttl}s` : noLimit, uses || noLimit)],
        facts: {
          wrapped: 'yes',
          creationPath: u.creationPath,
          creationTime: u.creationTime,
          ttl: ttl ? String(ttl) : undefined,
          // The secret_id is created with the wrapping token: older than its TTL, it has expired.
          expired: ttl && ageSeconds >= ttl ? 'yes' : undefined,
        },
      };
    },
    // The Vault client retries what is worth retrying; an unwrap is never sent twice.
    isTransient: () => false,
    explainProofFailure(err, ctx, loc) {
      if (err instanceof WrapPathError) return loc('ApproleWrapPath', config.secretIdFrom, err.found || '?', err.expected, err.expected);
      if (err instanceof WrapContentError) return loc('ApproleWrapNoSecretId', config.secretIdFrom, err.keys.join(', ') || '-', err.expected);
      if (err instanceof DeadlineError) return loc('VaultTimeout', config.address, ctx.timeoutSeconds, 'sys/wrapping');
      if (!(err instanceof WrapRequestError)) return undefined;
      const cause = err.cause;
      if (cause instanceof VaultNetworkError) return explainNetwork(cause, config.address, ctx.timeoutSeconds, loc);
      if (!(cause instanceof VaultHttpError)) return loc('ApproleWrapFailed', `sys/wrapping/${err.stage}`, config.address, '-', err.message);
      const said = cause.errors.join('; ') || `HTTP ${cause.status}`;
      if (cause.status === 400 && /not valid or does not exist/.test(said)) {
        return err.stage === 'lookup'
          ? loc('ApproleWrapUnknown', config.secretIdFrom, said, err.expected, err.expected)
          : loc('ApproleWrapTaken', config.secretIdFrom, said, err.expected, err.expected);
      }
      return loc('ApproleWrapFailed', `sys/wrapping/${err.stage}`, config.address, cause.status, said);
    },
    explainRefusal(err, proof, target, loc) {
      const said = err.errors.join('; ');
      const path = secretIdPath(target.mount, target.role);
      const cidr = CIDR_REFUSAL.exec(said);
      if (cidr) {
        const ip = cidr[1];
        const role = `auth/${target.mount}/role/${target.role}`;
        return cidr[2] === 'role' ? loc('ApproleCidrRole', ip, role, role, role, ip) : loc('ApproleCidrSecretId', ip, config.secretIdFrom, path, ip);
      }
      if (!INVALID.test(said)) return undefined;
      const { wrapped: wasWrapped, expired, creationTime, ttl } = proof.facts;
      if (expired) return loc('ApproleSecretIdExpired', target.mount, said, creationTime, ttl, path);
      if (wasWrapped) return loc('ApproleRoleIdWrong', target.mount, said, config.roleIdFrom, target.role, `auth/${target.mount}/role/${target.role}/role-id`);
      return loc('ApproleInvalid', target.mount, said, config.roleIdFrom, `auth/${target.mount}/role/${target.role}/role-id`, config.secretIdFrom, path);
    },
  };
}
