// What the main step leaves for the post-job step, as task variables: the token (secret), the Vault
// that issued it as the main step reached it (address, namespaces, TLS trust and client
// certificate, proxy, limits; the client key and the proxy secret), the leases of dynamic
// secrets and the files written. Saved as soon as each exists, so the post-job step cleans up after
// a failed main step too. The post-job step reads nothing else: inputs and variables a later step
// changed cannot send the token to another server.
import type { VaultTarget } from '../vault/settings';

/**
 * The Vault that issued the token, exactly as the main step reached it: its settings but the
 * number of reads in flight. TLS trust and client certificate as PEM text, not the paths or inputs
 * they came from; no proxy when `proxy` is undefined.
 */
export type SavedVault = VaultTarget;

export interface JobState {
  token?: string;
  tokenType?: string;
  revokeToken: boolean;
  /** Undefined when the main step saved none (an older version of the task) or it is unreadable. */
  vault?: SavedVault;
  leaseIds: string[];
  files: string[];
}

export interface StateStore {
  set(name: string, value: string, secret: boolean): void;
  get(name: string): string | undefined;
}

const names = {
  token: 'VaultAzureLogin.Token',
  tokenType: 'VaultAzureLogin.TokenType',
  revokeToken: 'VaultAzureLogin.RevokeToken',
  vault: 'VaultAzureLogin.Vault',
  vaultSecrets: 'VaultAzureLogin.VaultSecrets',
  leaseIds: 'VaultAzureLogin.Leases',
  files: 'VaultAzureLogin.Files',
};

/**
 * Longest value put in one task variable. The agent hands task variables to the post-job step as
 * environment variables, and Windows allows 32,767 characters in one; a CA bundle from
 * Agent.CAInfo can be longer, so a longer value is split over numbered variables.
 */
const PART = 30_000;

function putText(store: StateStore, name: string, text: string, secret: boolean): void {
  if (text.length <= PART) {
    store.set(name, text, secret);
    return;
  }
  const parts = Math.ceil(text.length / PART);
  for (let i = 0; i < parts; i++) store.set(`${name}.${i + 1}`, text.slice(i * PART, (i + 1) * PART), secret);
  // JSON starts with '{', so the count cannot be taken for a value; set last, once the parts are.
  store.set(name, `parts:${parts}`, false);
}

function getText(store: StateStore, name: string): string | undefined {
  const head = store.get(name);
  const m = /^parts:(\d+)$/.exec(head ?? '');
  if (!m) return head || undefined;
  let text = '';
  for (let i = 1; i <= Number(m[1]); i++) {
    const part = store.get(`${name}.${i}`);
    if (!part) return undefined;
    text += part;
  }
  return text;
}

type Json = Record<string, unknown>;
type Check = (v: unknown) => boolean;

/** A setting kept as one value: in the secret part or the plain one, checked when read back. */
interface Leaf {
  secret?: true;
  valid: Check;
}

/** A setting made of settings (tls, proxy); an optional one may be absent as a whole. */
interface Group<T> {
  optional?: true;
  fields: Fields<T>;
}

/** One entry for every field of T, none left out: a setting added to VaultSettings does not compile until it is placed here. */
type Fields<T> = { [K in keyof T]-?: NonNullable<T[K]> extends string | number | boolean | string[] ? Leaf : Group<NonNullable<T[K]>> };

const isString = (v: unknown): v is string => typeof v === 'string';
const optionalString: Check = (v) => v === undefined || isString(v);
const whole =
  (min: number, max: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/**
 * How each setting of the saved Vault is kept. Secret: the client key and its passphrase, the proxy
 * and its credentials (the agent's proxy URL may carry a user name and password of its own).
 */
export const SAVED_FIELDS: Fields<SavedVault> = {
  address: { valid: (v) => isString(v) && /^https?:\/\//.test(v) },
  namespace: { valid: optionalString },
  authNamespace: { valid: optionalString },
  tls: {
    fields: {
      verify: { valid: (v) => typeof v === 'boolean' },
      ca: { valid: (v) => Array.isArray(v) && v.every(isString) },
      cert: { valid: optionalString },
      key: { secret: true, valid: optionalString },
      passphrase: { secret: true, valid: optionalString },
    },
  },
  proxy: {
    optional: true,
    fields: {
      url: { secret: true, valid: isString },
      username: { secret: true, valid: optionalString },
      password: { secret: true, valid: optionalString },
    },
  },
  timeoutSeconds: { valid: whole(1, 600) },
  retries: { valid: whole(0, 10) },
};

/** The table as the code walking it sees it, whatever the type it was checked against. */
type AnyFields = Record<string, Leaf | { optional?: true; fields: AnyFields }>;
const SAVED = SAVED_FIELDS as unknown as AnyFields;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The plain and the secret part of `value`, field by field as `fields` names them: a wider object
 * (the task's whole configuration) passed here leaves nothing else in the state. A group present
 * is present in the plain part, even when all its fields are secret.
 */
function split(value: Json, fields: AnyFields): { plain: Json; secret: Json } {
  const plain: Json = {};
  const secret: Json = {};
  for (const [name, field] of Object.entries(fields)) {
    const v = value[name];
    if (v === undefined) continue;
    if ('fields' in field) {
      const parts = split(v as Json, field.fields);
      plain[name] = parts.plain;
      if (Object.keys(parts.secret).length) secret[name] = parts.secret;
    } else (field.secret ? secret : plain)[name] = v;
  }
  return { plain, secret };
}

/** The value the two parts make, every field named (undefined when absent); undefined when any field is missing or malformed. */
function join(plain: Json, secret: Json, fields: AnyFields): Json | undefined {
  const value: Json = {};
  for (const [name, field] of Object.entries(fields)) {
    if ('fields' in field) {
      const p = plain[name];
      if (p === undefined && field.optional && secret[name] === undefined) {
        value[name] = undefined;
        continue;
      }
      const s = secret[name] ?? {};
      if (!isObject(p) || !isObject(s)) return undefined;
      const inner = join(p, s, field.fields);
      if (!inner) return undefined;
      value[name] = inner;
    } else {
      const v = (field.secret ? secret : plain)[name];
      if (!field.valid(v)) return undefined;
      value[name] = v;
    }
  }
  return value;
}

/** Marks in the plain part whether a secret part was saved beside it. */
const HAS_SECRETS = '$secrets';

function saveVault(store: StateStore, vault: SavedVault): void {
  const { plain, secret } = split(vault as unknown as Json, SAVED);
  const hasSecrets = Object.keys(secret).length > 0;
  // The secret part first: the plain part is what says the whole was saved.
  if (hasSecrets) putText(store, names.vaultSecrets, JSON.stringify(secret), true);
  putText(store, names.vault, JSON.stringify({ ...plain, [HAS_SECRETS]: hasSecrets }), false);
}

function parseObject(text: string | undefined): Json | undefined {
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The saved Vault, or undefined when there is none or any part of it is missing or malformed. */
function loadVault(store: StateStore): SavedVault | undefined {
  const plain = parseObject(getText(store, names.vault));
  if (!plain || typeof plain[HAS_SECRETS] !== 'boolean') return undefined;
  const secret = plain[HAS_SECRETS] ? parseObject(getText(store, names.vaultSecrets)) : {};
  if (!secret) return undefined;
  const vault = join(plain, secret, SAVED) as SavedVault | undefined;
  // A certificate without its key (or the reverse) would not be the client the main step was.
  if (!vault || Boolean(vault.tls.cert) !== Boolean(vault.tls.key)) return undefined;
  return vault;
}

export function saveState(store: StateStore, state: Partial<JobState>): void {
  // The Vault before the token: a post-job step that finds the token finds where it came from.
  if (state.vault !== undefined) saveVault(store, state.vault);
  if (state.token !== undefined) store.set(names.token, state.token, true);
  if (state.tokenType !== undefined) store.set(names.tokenType, state.tokenType, false);
  if (state.revokeToken !== undefined) store.set(names.revokeToken, String(state.revokeToken), false);
  if (state.leaseIds !== undefined) store.set(names.leaseIds, JSON.stringify(state.leaseIds), false);
  if (state.files !== undefined) store.set(names.files, JSON.stringify(state.files), false);
}

function list(raw: string | undefined): string[] {
  if (!raw) return [];
  try {
    const parsed = JSON.parse(raw);
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function loadState(store: StateStore): JobState {
  return {
    token: store.get(names.token) || undefined,
    tokenType: store.get(names.tokenType) || undefined,
    revokeToken: store.get(names.revokeToken) !== 'false',
    vault: loadVault(store),
    leaseIds: list(store.get(names.leaseIds)),
    files: list(store.get(names.files)),
  };
}
