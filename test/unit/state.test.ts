import * as assert from 'node:assert/strict';
import { AzureAuthConfig, azureMethod } from '../../tasks/VaultAzureLoginV1/src/auth/azure';
import { TaskConfig } from '../../tasks/VaultAzureLoginV1/src/config';
import { run } from '../../tasks/VaultAzureLoginV1/src/run';
import { parseSecrets } from '../../tasks/VaultAzureLoginV1/src/core/secretSpec';
import { JobState, loadState, SAVED_FIELDS, SavedVault, saveState, StateStore } from '../../tasks/VaultAzureLoginV1/src/pipeline/state';
import { VaultApi } from '../../tasks/VaultAzureLoginV1/src/vault/client';
import { loc } from '../helpers/messages';

/** Task variables as the agent keeps them for the post-job step: name → value and whether secret. */
function memoryStore() {
  const vars = new Map<string, { value: string; secret: boolean }>();
  const store: StateStore = { set: (n, value, secret) => vars.set(n, { value, secret }), get: (n) => vars.get(n)?.value };
  const secretNames = () => [...vars].filter(([, v]) => v.secret).map(([n]) => n);
  const plainText = () =>
    [...vars]
      .filter(([, v]) => !v.secret)
      .map(([n, v]) => `${n}=${v.value}`)
      .join('\n');
  return { vars, store, secretNames, plainText };
}

const CA = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUca\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgclientkey\n-----END PRIVATE KEY-----\n';

const full: SavedVault = {
  address: 'https://vault.example.com:8200/gateway',
  namespace: 'admin/team',
  authNamespace: 'admin',
  tls: { verify: false, ca: [CA, CA.replace('ca', 'cb')], cert: CA.replace('ca', 'client'), key: KEY, passphrase: 'key-passphrase-7f' },
  proxy: { url: 'http://user:inurl-pw@proxy.internal:3128', username: 'build-agent', password: 'proxy-password-9c' },
  timeoutSeconds: 7,
  retries: 4,
};

/** Every setting the state keeps, as a path into the settings, and whether it is kept secret. */
function leaves(fields: object, prefix: string[] = []): Array<{ path: string[]; secret: boolean }> {
  return Object.entries(fields).flatMap(([name, field]: [string, { fields?: object; secret?: boolean }]) =>
    field.fields ? leaves(field.fields, [...prefix, name]) : [{ path: [...prefix, name], secret: field.secret === true }],
  );
}
const at = (value: unknown, path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);

describe('job state', () => {
  it('keeps every field of the Vault settings: each set in the sample, each back as it was, the secret ones in no plain variable', () => {
    const { store, plainText } = memoryStore();
    saveState(store, { vault: full });
    const loaded = loadState(store).vault;
    const all = leaves(SAVED_FIELDS);
    assert.ok(all.length >= 13, `${all.length} settings`);
    for (const { path, secret } of all) {
      const value = at(full, path);
      assert.notEqual(value, undefined, `the sample sets ${path.join('.')}`);
      assert.deepEqual(at(loaded, path), value, `${path.join('.')} comes back`);
      if (secret) assert.ok(!plainText().includes(String(value)), `${path.join('.')} is in no plain task variable`);
    }
  });

  it('round-trips through task variables, with the Vault the token came from', () => {
    const { store } = memoryStore();
    const state: JobState = { token: 'hvs.t', tokenType: 'service', revokeToken: false, vault: full, leaseIds: ['a', 'b'], files: ['/f'] };
    saveState(store, state);
    assert.deepEqual(loadState(store), state);
  });

  it('marks secret the token, the client key and its passphrase, and the proxy with its credentials', () => {
    const { store, secretNames, plainText } = memoryStore();
    saveState(store, { token: 'hvs.t', tokenType: 'service', revokeToken: true, vault: full });
    assert.deepEqual(secretNames().sort(), ['VaultAzureLogin.Token', 'VaultAzureLogin.VaultSecrets']);
    const plain = plainText();
    for (const secret of ['hvs.t', 'clientkey', 'key-passphrase-7f', 'build-agent', 'proxy-password-9c', 'inurl-pw', 'proxy.internal']) {
      assert.ok(!plain.includes(secret), `${secret} is in no plain task variable`);
    }
    assert.match(plain, /vault\.example\.com:8200\/gateway/, 'the address is plain');
  });

  it('sets no secret variable beyond the token when there is nothing secret (the agent would mask a trivial value everywhere)', () => {
    const { store, secretNames } = memoryStore();
    saveState(store, { token: 'hvs.t', vault: { address: 'https://v', tls: { verify: true, ca: [] }, timeoutSeconds: 30, retries: 2 } });
    assert.deepEqual(secretNames(), ['VaultAzureLogin.Token']);
    assert.deepEqual(loadState(store).vault, {
      address: 'https://v',
      namespace: undefined,
      authNamespace: undefined,
      tls: { verify: true, ca: [], cert: undefined, key: undefined, passphrase: undefined },
      proxy: undefined,
      timeoutSeconds: 30,
      retries: 2,
    });
  });

  it('keeps "no proxy" and a proxy without credentials apart', () => {
    for (const proxy of [undefined, { url: 'http://proxy:8080' }]) {
      const { store } = memoryStore();
      saveState(store, { vault: { ...full, proxy } });
      assert.deepEqual(loadState(store).vault?.proxy, proxy && { url: proxy.url, username: undefined, password: undefined });
    }
  });

  it('saves only the fields that reach Vault, even from the whole task configuration', () => {
    const { store, plainText } = memoryStore();
    const config = { ...full, concurrency: 64, connection: 'sc-1', role: 'ci', requests: [{ path: 'secret/ci/db' }] };
    saveState(store, { vault: config });
    assert.doesNotMatch(plainText(), /sc-1|secret\/ci\/db|concurrency/);
    assert.deepEqual(loadState(store).vault, full);
  });

  it('puts every value on one line, and splits a value too long for one environment variable', () => {
    const { vars, store } = memoryStore();
    const bundle = Array.from({ length: 60 }, (_, i) => CA.replace('ca', `c${i}`).repeat(30));
    const big: SavedVault = { ...full, tls: { ...full.tls, ca: bundle, key: KEY.repeat(400) } };
    saveState(store, { token: 'hvs.t', vault: big });
    for (const [name, { value }] of vars) {
      assert.ok(!/[\r\n]/.test(value), `${name} is one line`);
      assert.ok(value.length <= 30_000, `${name} is ${value.length} characters`);
    }
    assert.ok(vars.has('VaultAzureLogin.Vault.2') && vars.has('VaultAzureLogin.VaultSecrets.2'), 'split');
    assert.ok(
      [...vars].filter(([n]) => n.startsWith('VaultAzureLogin.VaultSecrets.')).every(([, v]) => v.secret),
      'every part of a secret is secret',
    );
    assert.deepEqual(loadState(store).vault, big);
  });

  it('has no Vault for the state of an older version, or a damaged one: never a guess', () => {
    const { store, vars } = memoryStore();
    saveState(store, { token: 'hvs.t', tokenType: 'service', revokeToken: true, leaseIds: ['a'] });
    assert.equal(loadState(store).vault, undefined, 'older version: token without a Vault');

    const damaged: Array<[string, (v: Map<string, { value: string; secret: boolean }>) => void]> = [
      ['not JSON', (v) => v.set('VaultAzureLogin.Vault', { value: '{"address":', secret: false })],
      [
        'not http(s)',
        (v) =>
          v.set('VaultAzureLogin.Vault', { value: v.get('VaultAzureLogin.Vault')!.value.replace('https://', 'file://'), secret: false }),
      ],
      [
        'timeout out of range',
        (v) =>
          v.set('VaultAzureLogin.Vault', {
            value: v.get('VaultAzureLogin.Vault')!.value.replace('"timeoutSeconds":7', '"timeoutSeconds":0'),
            secret: false,
          }),
      ],
      ['secret part missing', (v) => v.delete('VaultAzureLogin.VaultSecrets')],
      ['a part missing', (v) => v.set('VaultAzureLogin.Vault', { value: 'parts:2', secret: false })],
    ];
    for (const [what, damage] of damaged) {
      vars.clear();
      saveState(store, { token: 'hvs.t', vault: full });
      damage(vars);
      assert.equal(loadState(store).vault, undefined, what);
    }
  });

  it('is saved by the main step with the token, before any read, from the settings it used', async () => {
    const { store, vars } = memoryStore();
    const events: string[] = [];
    const config: TaskConfig = {
      ...full,
      concurrency: 8,
      auth: {
        method: 'azure',
        connection: 'sc-1',
        connectionScheme: 'WorkloadIdentityFederation',
        resource: 'https://management.azure.com/',
      },
      authMount: 'ado',
      role: 'ci',
      requests: parseSecrets('database/creds/ci * | PG_', loc),
      credentials: [],
      ignoreNotFound: false,
      isOutput: false,
      exportToken: false,
      revokeToken: true,
    };
    const vault: VaultApi = {
      login: async () => ({ token: 'hvs.t', accessor: 'a', policies: ['ci'], ttlSeconds: 60, tokenType: 'service', renewable: true }),
      mount: async () => {
        events.push(`read with ${[...vars.keys()].join(' ')}`);
        return { path: 'database/', type: 'database' };
      },
      read: async () => ({ lease_id: 'database/creds/ci/1', data: { password: 'pw' } }),
      revokeSelf: async () => undefined,
      revokeLease: async () => undefined,
      post: async () => ({}),
      write: async () => ({}),
      warmUp: () => undefined,
      protocol: () => 'HTTP/2',
      close: () => undefined,
    };
    await run(config, {
      method: azureMethod(config.auth as AzureAuthConfig, async () => ({ token: 'a.b.c', scheme: 'WorkloadIdentityFederation' })),
      createVault: () => vault,
      sink: { setSecret: () => undefined, setVariable: () => undefined },
      state: store,
      files: () => ({ write: (name: string) => `/tmp/${name}` }),
      retry: { retries: 0, sleep: async () => undefined, random: () => 0, onRetry: () => undefined },
      log: () => undefined,
      warn: () => undefined,
      onFirstRequestSent: () => ({ cancel: () => undefined }),
      inOneWrite: (fn) => fn(),
      loc,
    });
    assert.match(
      events[0],
      /VaultAzureLogin\.Vault\b.*VaultAzureLogin\.Token\b/,
      'the Vault, then the token, both before the first request after the login',
    );
    assert.deepEqual(loadState(store).vault, full);
  });

  it('reads an empty or damaged state as nothing to do', () => {
    const store: StateStore = { set: () => undefined, get: (n) => (n.endsWith('Leases') ? 'not json' : undefined) };
    assert.deepEqual(loadState(store), {
      token: undefined,
      tokenType: undefined,
      revokeToken: true,
      vault: undefined,
      leaseIds: [],
      files: [],
    });
  });
});
