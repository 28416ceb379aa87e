// What the main step leaves for the post-job step, as task variables: the token (secret), the
// leases of dynamic secrets and the files written. Saved as soon as each exists, so the post-job
// step cleans up after a failed main step too.

export interface JobState {
  token?: string;
  tokenType?: string;
  revokeToken: boolean;
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
  leaseIds: 'VaultAzureLogin.Leases',
  files: 'VaultAzureLogin.Files',
};

export function saveState(store: StateStore, state: Partial<JobState>): void {
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
    leaseIds: list(store.get(names.leaseIds)),
    files: list(store.get(names.files)),
  };
}
