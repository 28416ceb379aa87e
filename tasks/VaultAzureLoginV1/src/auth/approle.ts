// approle: a role_id and a secret_id, sent as `{role_id, secret_id}`. A secret_id shaped like a
// token is looked up first (sys/wrapping/lookup): a response-wrapping token must have been created
// at the role's secret-id or custom-secret-id path, and is unwrapped once (never sent again after
// the unwrap may have reached Vault); the secret_id it held is masked before anything is logged.
// A value Vault knows no wrapping token of is a secret_id (a custom one may look like a token).
// The refusals are worded as OpenBao and Vault answer them (builtin/credential/approle).
import { DeadlineError } from '../core/deadline';
import { explainNetwork, lostCause } from '../core/errors';
import { answerLost, VaultBody, VaultHttpError, VaultNetworkError } from '../core/failures';
import type { AuthMethod, AuthMethodDescriptor, ProveContext, ReadContext } from './method';

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
 * OpenBao), with Vault Enterprise's `.<namespace id>` suffix. A secret_id Vault generates is a UUID;
 * a custom one (custom-secret-id) can be anything, a token's shape included, so the shape only
 * decides whether to ask Vault (sys/wrapping/lookup), never what the value is.
 */
const TOKEN_SHAPE = /^(hvs|s)\.[A-Za-z0-9_-]{20,}(\.[A-Za-z0-9_-]+)?$/;

export function isWrappingToken(value: string): boolean {
  return TOKEN_SHAPE.test(value);
}

/** The path a wrapping token of the role's secret_id is created at (its `creation_path`). */
export function secretIdPath(mount: string, role: string): string {
  return `auth/${mount}/role/${role}/secret-id`;
}

/**
 * Whether a wrapping token was created where the role issues secret_ids: its secret-id path, or its
 * custom-secret-id path (a secret_id chosen by the caller). Role names of the approle method are
 * case-insensitive; the mount path is not.
 */
export function isRoleSecretIdPath(found: string, mount: string, role: string): boolean {
  const prefix = `auth/${mount}/role/`;
  const rest = found.startsWith(prefix) ? found.slice(prefix.length).toLowerCase() : '';
  return [`${role}/secret-id`, `${role}/custom-secret-id`].some((p) => rest === p.toLowerCase());
}

/** OpenBao's and Vault's answer to a lookup of a value that is no live wrapping token (spent, expired, or never one). */
const NO_WRAPPING_TOKEN = /wrapping token is not valid or does not exist/;

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
  /** Shaped like a token: Vault is asked whether it is a wrapping token. */
  const shaped = isWrappingToken(config.secretId);
  /** The lookup's answer once it came (undefined: Vault knows no wrapping token of the value), so it is asked once. */
  let looked: { info: VaultBody | undefined } | undefined;
  /** Set once the unwrap request is sent: a wrapping token is good for one unwrap, so a retry reuses it. */
  let unwrapping: Promise<Unwrapped> | undefined;
  /** The role's secret-id path, once the unwrap is sent. */
  let unwrapPath: string | undefined;

  async function lookup(ctx: ProveContext): Promise<VaultBody | undefined> {
    if (looked) return looked.info;
    try {
      const info = await ctx.vault.post('sys/wrapping/lookup', { token: config.secretId }, '');
      looked = { info };
    } catch (err) {
      // Vault gives one answer for a spent or expired wrapping token and for a value that never was
      // one (a custom secret_id shaped like a token): either way there is nothing to unwrap.
      if (!(err instanceof VaultHttpError && err.status === 400 && err.errors.some((e) => NO_WRAPPING_TOKEN.test(e)))) {
        throw new WrapRequestError('lookup', err, secretIdPath(ctx.mount, ctx.role));
      }
      looked = { info: undefined };
    }
    return looked.info;
  }

  async function unwrap(ctx: ProveContext, info: VaultBody): Promise<Unwrapped> {
    let body: VaultBody;
    try {
      body = await ctx.vault.post('sys/wrapping/unwrap', {}, config.secretId, true);
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

  /** The unwrapped secret_id, or undefined when Vault knows no wrapping token of the value. */
  async function unwrapOnce(ctx: ProveContext): Promise<Unwrapped | undefined> {
    if (unwrapping) return unwrapping;
    const info = await lookup(ctx);
    if (!info) return undefined;
    const found = text(info?.data?.creation_path);
    if (!isRoleSecretIdPath(found, ctx.mount, ctx.role)) throw new WrapPathError(found, secretIdPath(ctx.mount, ctx.role));
    // An attempt that outran its deadline may have got here meanwhile.
    unwrapPath = secretIdPath(ctx.mount, ctx.role);
    unwrapping ??= unwrap(ctx, info);
    return unwrapping;
  }

  const plain = (facts: Record<string, string | undefined>, notes: string[]) => ({
    body: { role_id: config.roleId, secret_id: config.secretId },
    secrets: [config.secretId],
    notes,
    facts,
    spends: true,
  });

  return {
    name: 'approle',
    describe: (loc) => loc('ApproleDescribe', config.roleIdFrom, config.secretIdFrom, shaped ? loc('ApproleWrappedNote') : ''),
    what: (loc) => loc('ApproleUnwrapStep'),
    async prove(ctx) {
      if (!shaped) return plain({}, []);
      const u = await unwrapOnce(ctx);
      if (!u) return plain({ notWrapped: 'yes' }, [ctx.loc('ApproleNotWrapped', config.secretIdFrom)]);
      const noLimit = ctx.loc('ApproleNoLimit');
      const ttl = Number(u.ttl) || 0;
      const uses = Number(u.uses) || 0;
      const ageSeconds = (Date.now() - Date.parse(u.creationTime)) / 1000;
      return {
        body: { role_id: config.roleId, secret_id: u.secretId },
        secrets: [u.secretId, config.secretId],
        spends: true,
        notes: [
          ctx.loc('ApproleUnwrapped', u.creationPath, u.creationTime || '?', u.wrapTtl || '?', ttl ? `${ttl}s` : noLimit, uses || noLimit),
        ],
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
      if (err instanceof WrapContentError)
        return loc('ApproleWrapNoSecretId', config.secretIdFrom, err.keys.join(', ') || '-', err.expected);
      // The unwrap was sent and no answer came in time: it may have been performed.
      if (err instanceof DeadlineError && unwrapping && unwrapPath) {
        return loc(
          'ApproleUnwrapLost',
          config.address,
          config.secretIdFrom,
          `no answer within ${ctx.timeoutSeconds} s`,
          unwrapPath,
          unwrapPath,
          unwrapPath,
        );
      }
      if (err instanceof DeadlineError) return loc('VaultTimeout', config.address, ctx.timeoutSeconds, 'sys/wrapping');
      if (!(err instanceof WrapRequestError)) return undefined;
      const cause = err.cause;
      if (err.stage === 'unwrap' && answerLost(cause)) {
        return loc(
          'ApproleUnwrapLost',
          config.address,
          config.secretIdFrom,
          lostCause(cause, ctx.timeoutSeconds),
          err.expected,
          err.expected,
          err.expected,
        );
      }
      if (cause instanceof VaultNetworkError) return explainNetwork(cause, config.address, ctx.timeoutSeconds, loc);
      if (!(cause instanceof VaultHttpError))
        return loc('ApproleWrapFailed', `sys/wrapping/${err.stage}`, config.address, '-', err.message);
      const said = cause.errors.join('; ') || `HTTP ${cause.status}`;
      // Only here, after a lookup that found the wrapping token unspent, does a refusal mean that
      // something else unwrapped it: the unwrap is sent once, so it cannot be this step's own.
      if (err.stage === 'unwrap' && cause.status === 400 && NO_WRAPPING_TOKEN.test(said))
        return loc('ApproleWrapTaken', config.secretIdFrom, said, err.expected, err.expected);
      return loc('ApproleWrapFailed', `sys/wrapping/${err.stage}`, config.address, cause.status, said);
    },
    lostLoginNote(target, loc) {
      const path = secretIdPath(target.mount, target.role);
      return loc('ApproleLoginLost', config.secretIdFrom, path, path);
    },
    explainRefusal(err, proof, target, loc) {
      const said = err.errors.join('; ');
      const path = secretIdPath(target.mount, target.role);
      const cidr = CIDR_REFUSAL.exec(said);
      if (cidr) {
        const ip = cidr[1];
        const role = `auth/${target.mount}/role/${target.role}`;
        return cidr[2] === 'role'
          ? loc('ApproleCidrRole', ip, role, role, role, ip)
          : loc('ApproleCidrSecretId', ip, config.secretIdFrom, path, ip);
      }
      if (!INVALID.test(said)) return undefined;
      const { wrapped: wasWrapped, expired, creationTime, ttl, notWrapped } = proof.facts;
      if (expired) return loc('ApproleSecretIdExpired', target.mount, said, creationTime, ttl, path);
      if (notWrapped)
        return loc(
          'ApproleNotWrappedRefused',
          target.mount,
          said,
          config.secretIdFrom,
          config.roleIdFrom,
          `auth/${target.mount}/role/${target.role}/role-id`,
          path,
        );
      if (wasWrapped)
        return loc(
          'ApproleRoleIdWrong',
          target.mount,
          said,
          config.roleIdFrom,
          target.role,
          `auth/${target.mount}/role/${target.role}/role-id`,
        );
      return loc(
        'ApproleInvalid',
        target.mount,
        said,
        config.roleIdFrom,
        `auth/${target.mount}/role/${target.role}/role-id`,
        config.secretIdFrom,
        path,
      );
    },
  };
}

/** The scheme name of ms.vss-endpoint.endpoint-auth-scheme-basic, as the agent passes it. */
export const APPROLE_SCHEME = 'UsernamePassword';

/**
 * The role_id and secret_id from the inputs approleRoleId and approleSecretId (fed by secret
 * variables), else from the HashiCorp Vault service connection in 'vaultConnection' when its
 * authentication is AppRole. That scheme is Azure DevOps' built-in basic scheme with its two fields
 * renamed (vss-extension.json): the agent passes it as UsernamePassword, the role_id as the
 * parameter `username` and the secret_id as `password` (both masked by the agent).
 */
export function readApproleInputs({ port, loc, problems, vaultAddress, vaultConnection }: ReadContext): ApproleAuthConfig {
  const endpoint = vaultConnection ? port.endpoint(vaultConnection) : undefined;
  const scheme = endpoint?.scheme ?? '';
  const fromConnection = scheme.toLowerCase() === APPROLE_SCHEME.toLowerCase();
  // The basic scheme's two fields: username holds the role_id, password the secret_id.
  const stored = {
    username: fromConnection ? (endpoint?.auth('username').trim() ?? '') : '',
    password: fromConnection ? (endpoint?.auth('password').trim() ?? '') : '',
  };

  // An input wins over the connection: a role_id kept in the connection, a secret_id wrapped for this run.
  const pick = (inputName: string, key: keyof typeof stored, what: string, variable: string): { value: string; from: string } => {
    const own = port.input(inputName);
    if (own) return { value: own, from: loc('FromInput', inputName) };
    if (stored[key]) return { value: stored[key], from: loc('FromVaultConnection', vaultConnection) };
    problems.push(
      loc(
        'ApproleMissing',
        what,
        inputName,
        inputName,
        variable,
        vaultConnection ? loc('VaultConnectionScheme', vaultConnection, scheme || 'None') : '',
      ),
    );
    return { value: '', from: '' };
  };
  const roleId = pick('approleRoleId', 'username', 'role_id', 'VAULT_ROLE_ID');
  const secretId = pick('approleSecretId', 'password', 'secret_id', 'VAULT_SECRET_ID');
  for (const [name, v] of [
    ['role_id', roleId],
    ['secret_id', secretId],
  ] as const) {
    if (/[\r\n]/.test(v.value)) problems.push(loc('ApproleMultiline', name, v.from));
  }
  return {
    method: 'approle',
    roleId: roleId.value,
    secretId: secretId.value,
    roleIdFrom: roleId.from,
    secretIdFrom: secretId.from,
    address: vaultAddress,
  };
}

export const approle: AuthMethodDescriptor<ApproleAuthConfig> = {
  needsRole: true,
  readInputs: readApproleInputs,
  create: (config) => approleMethod(config),
};
