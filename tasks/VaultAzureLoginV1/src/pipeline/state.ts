// What the main step leaves for the post-job step, as task variables: the token (secret), the Vault
// that issued it as the main step reached it (address, namespaces, TLS trust and client
// certificate, proxy, limits; the client key and the proxy secret), the leases of dynamic
// secrets and the files written. Saved as soon as each exists, so the post-job step cleans up after
// a failed main step too. The post-job step reads nothing else: inputs and variables a later step
// changed cannot send the token to another server.
import type { VaultSettings } from '../vault/settings';

/**
 * The Vault that issued the token, exactly as the main step reached it: its settings but the
 * number of reads in flight. TLS trust and client certificate as PEM text, not the paths or inputs
 * they came from; no proxy when `proxy` is undefined.
 */
export type SavedVault = Omit<VaultSettings, 'concurrency'>;

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

/** The plain part of a SavedVault; `secrets` says whether the secret part was saved beside it. */
interface VaultRecord {
  address: string;
  namespace?: string;
  authNamespace?: string;
  verify: boolean;
  ca: string[];
  cert?: string;
  /** Whether a proxy was used; its URL is in the secret part. */
  proxy: boolean;
  timeoutSeconds: number;
  retries: number;
  secrets: boolean;
}

/**
 * The secret part: the client key and its passphrase, the proxy and its credentials (the agent's
 * proxy URL may carry a user name and password of its own).
 */
interface VaultSecretsRecord {
  key?: string;
  passphrase?: string;
  proxyUrl?: string;
  proxyUsername?: string;
  proxyPassword?: string;
}

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

function saveVault(store: StateStore, vault: SavedVault): void {
  // Fields named one by one: a wider settings object (the task's whole configuration) passed here
  // leaves nothing else in the state.
  const secrets: VaultSecretsRecord = {
    key: vault.tls.key,
    passphrase: vault.tls.passphrase,
    proxyUrl: vault.proxy?.url,
    proxyUsername: vault.proxy?.username,
    proxyPassword: vault.proxy?.password,
  };
  const hasSecrets = Object.values(secrets).some((v) => v !== undefined);
  const record: VaultRecord = {
    address: vault.address,
    namespace: vault.namespace,
    authNamespace: vault.authNamespace,
    verify: vault.tls.verify,
    ca: vault.tls.ca,
    cert: vault.tls.cert,
    proxy: vault.proxy !== undefined,
    timeoutSeconds: vault.timeoutSeconds,
    retries: vault.retries,
    secrets: hasSecrets,
  };
  // The secret part first: the plain part is what says the whole was saved.
  if (hasSecrets) putText(store, names.vaultSecrets, JSON.stringify(secrets), true);
  putText(store, names.vault, JSON.stringify(record), false);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const optionalString = (v: unknown): boolean => v === undefined || isString(v);
const isWhole = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The saved Vault, or undefined when there is none or any part of it is missing or malformed. */
function loadVault(store: StateStore): SavedVault | undefined {
  const r = parseObject(getText(store, names.vault));
  if (!r) return undefined;
  const plainOk =
    isString(r.address) &&
    /^https?:\/\//.test(r.address) &&
    optionalString(r.namespace) &&
    optionalString(r.authNamespace) &&
    typeof r.verify === 'boolean' &&
    Array.isArray(r.ca) &&
    r.ca.every(isString) &&
    optionalString(r.cert) &&
    typeof r.proxy === 'boolean' &&
    isWhole(r.timeoutSeconds, 1, 600) &&
    isWhole(r.retries, 0, 10) &&
    typeof r.secrets === 'boolean';
  if (!plainOk) return undefined;
  const record = r as unknown as VaultRecord;
  let secrets: VaultSecretsRecord = {};
  if (record.secrets) {
    const s = parseObject(getText(store, names.vaultSecrets));
    if (!s || ![s.key, s.passphrase, s.proxyUrl, s.proxyUsername, s.proxyPassword].every(optionalString)) return undefined;
    secrets = s as VaultSecretsRecord;
  }
  // A certificate without its key (or the reverse) would not be the client the main step was.
  if (Boolean(record.cert) !== Boolean(secrets.key)) return undefined;
  if (record.proxy !== Boolean(secrets.proxyUrl)) return undefined;
  return {
    address: record.address,
    namespace: record.namespace || undefined,
    authNamespace: record.authNamespace || undefined,
    tls: { verify: record.verify, ca: record.ca, cert: record.cert, key: secrets.key, passphrase: secrets.passphrase },
    proxy: secrets.proxyUrl ? { url: secrets.proxyUrl, username: secrets.proxyUsername, password: secrets.proxyPassword } : undefined,
    timeoutSeconds: record.timeoutSeconds,
    retries: record.retries,
  };
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
