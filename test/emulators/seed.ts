// The Vault contents most tests, the L0 runs and the demo share, in a front's namespace of real
// OpenBao: an azure auth mount as in HashiCorp's guide (the front's own check), a least-privilege
// policy, KV v1 and v2 mounts, and on request a database engine over the run's PostgreSQL.
import type { PolicyRule, VaultFront } from '../server/vaultFront';
import type { AzureAuthConfig } from './vaultAzure';

export const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const AUTH_MOUNT = 'ado';
export const ROLE = 'azure-devops-production';
export const DEFAULT_RESOURCE = 'https://management.azure.com/';

/** Values stored in Vault; tests check none of them leaks into the log. */
export const SECRETS = {
  dbPassword: 'pw-7Hq2-correct-horse',
  dbUser: 'app_user',
  apiToken: 'tok-91f2a8c4e0',
  apiUrl: 'https://api.internal.example',
  oldPassword: 'pw-old-v1-a8d7',
  pem: '-----BEGIN TEST SIGNING KEY-----\nq7VJTUt9Us8cKjMzEfYyjiWA4R4\nBKcwggSjAgEAAoIBAQCUx8pP2n0\n-----END TEST SIGNING KEY-----',
  legacyToken: 'legacy-kv1-3c1d7e',
  spaced: 'spaced-value-55aa',
} as const;

export interface SeedOptions {
  jwks: AzureAuthConfig['jwks'];
  /** Object ids bound to the role (the service principals allowed to log in). */
  boundOids: string[];
  resource?: string;
  tenantId?: string;
  tokenType?: 'service' | 'batch';
  ns?: string;
  /** A database engine at database/ with a role `ci` over the run's PostgreSQL (sharedPostgres). */
  database?: boolean;
}

/** The least-privilege policy of the role the task logs in with. */
const CI_READ: PolicyRule[] = [
  { path: 'secret/data/ci/*', capabilities: ['read'] },
  { path: 'kv1/app/*', capabilities: ['read'] },
  { path: 'database/creds/ci', capabilities: ['read'] },
  { path: 'sys/leases/revoke', capabilities: ['update'] },
];

/** The seed, in the front's namespace of real OpenBao (the azure mount is the front's own). */
export async function seedVault(vault: VaultFront, opts: SeedOptions): Promise<void> {
  seedAzureMount(vault, opts);
  await seedVaultContents(vault, opts.ns, opts.database);
}

/** The front's own part: the azure mount (a plugin OpenBao does not ship) and its role. */
export function seedAzureMount(vault: VaultFront, opts: SeedOptions): void {
  const ns = opts.ns ?? '';
  vault.enableAzureAuth(
    AUTH_MOUNT,
    { tenantId: opts.tenantId ?? TENANT_ID, resource: opts.resource ?? DEFAULT_RESOURCE, jwks: opts.jwks },
    ns,
  );
  vault.writeRole(
    AUTH_MOUNT,
    ROLE,
    { bound_service_principal_ids: opts.boundOids, token_policies: ['ci-read'], token_type: opts.tokenType ?? 'service', token_ttl: 900 },
    ns,
  );
}

/** OpenBao's part, in the front's namespace: the policy, the KV mounts and their secrets, and the database engine if asked. */
export async function seedVaultContents(vault: VaultFront, ns = '', database = false): Promise<void> {
  if (ns) await vault.createNamespace(ns);
  await vault.writePolicy('ci-read', CI_READ, ns);
  await vault.mountKv('secret', 2, ns);
  await vault.putSecret('secret/ci/production/db', { password: SECRETS.oldPassword, 'db-user': SECRETS.dbUser }, ns);
  await vault.putSecret('secret/ci/production/db', { password: SECRETS.dbPassword, 'db-user': SECRETS.dbUser }, ns);
  await vault.putSecret('secret/ci/production/api', { token: SECRETS.apiToken, url: SECRETS.apiUrl, port: 8443 }, ns);
  await vault.putSecret('secret/ci/production/tls', { key: SECRETS.pem, 'key with spaces': SECRETS.spaced }, ns);
  await vault.putSecret('secret/other/team', { password: 'not-for-ci' }, ns);
  await vault.mountKv('kv1', 1, ns);
  await vault.putSecret('kv1/app/legacy', { token: SECRETS.legacyToken }, ns);
  if (database) await vault.mountDatabase('database', ['ci'], ns);
}
