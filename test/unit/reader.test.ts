import * as assert from 'node:assert/strict';
import { parse as parseJson } from 'lossless-json';
import {
  apiPathBeforeLookup,
  describeRequest,
  readCreates,
  readSecrets,
  SecretSource,
} from '../../tasks/VaultAzureLoginV1/src/vault/reader';
import { parseSecrets } from '../../tasks/VaultAzureLoginV1/src/core/secretSpec';
import { MountInfo, VaultBody, VaultHttpError, VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/vault/client';
import { loc } from '../helpers/messages';

/** Waits `n` turns of the event loop. */
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

interface FakeOptions {
  /** Turns of the event loop a mount lookup takes. */
  mountTurns?: number;
  /** Lookup failures by path prefix ("sso/"). */
  mountFailures?: Record<string, Error>;
}

/** A hand-made Vault: mounts by path prefix, answers by API path (an absent path is a 404), and a log of calls. */
class FakeVault implements SecretSource {
  readonly calls: string[] = [];
  /** The API paths read with `once` (never sent again after they may have reached Vault). */
  readonly once: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** Lookups and reads in flight together, at most. */
  maxRequests = 0;
  private lookups = 0;
  /** The API paths read while a mount lookup was on its way. */
  readonly beforeLookup: string[] = [];
  constructor(
    private readonly mounts: MountInfo[],
    private readonly answers: Record<string, VaultBody | VaultHttpError | VaultNetworkError | undefined>,
    private readonly options: FakeOptions = {},
  ) {}
  async mount(p: string): Promise<MountInfo> {
    this.calls.push(`mount ${p}`);
    this.lookups++;
    this.maxRequests = Math.max(this.maxRequests, this.lookups + this.inFlight);
    await turns(this.options.mountTurns ?? 0);
    this.lookups--;
    const failure = Object.entries(this.options.mountFailures ?? {}).find(([prefix]) => `${p}/`.startsWith(prefix));
    if (failure) throw failure[1];
    const m = this.mounts.find((x) => `${p}/`.startsWith(x.path));
    if (!m) throw new VaultHttpError(400, `sys/internal/ui/mounts/${p}`, ['no mount'], undefined);
    return m;
  }
  async read(apiPath: string, once = false): Promise<VaultBody> {
    this.calls.push(`read ${apiPath}`);
    if (once) this.once.push(apiPath);
    if (this.lookups) this.beforeLookup.push(apiPath);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.maxRequests = Math.max(this.maxRequests, this.lookups + this.inFlight);
    await new Promise((r) => setImmediate(r));
    this.inFlight--;
    if (!Object.hasOwn(this.answers, apiPath)) throw new VaultHttpError(404, apiPath, [], { errors: [] });
    const a = this.answers[apiPath];
    if (a instanceof Error) throw a;
    return a as VaultBody;
  }
}

const kv2: MountInfo = { path: 'secret/', type: 'kv', kvVersion: 2 };
const kv1: MountInfo = { path: 'kv1/', type: 'kv', kvVersion: 1 };
const db: MountInfo = { path: 'database/', type: 'database' };
const opts = { address: 'https://vault.example.com', concurrency: 8, timeoutSeconds: 30, loc };
/** A KV version 2 answer as Vault sends it: with an empty lease_id, as on every KV read. */
const v2 = (data: Record<string, unknown>) => ({
  request_id: 'r',
  lease_id: '',
  renewable: false,
  lease_duration: 0,
  data: { data, metadata: { version: 1 } },
});
/** A KV version 1 answer as Vault sends it. */
const v1 = (data: unknown) => ({ request_id: 'r', lease_id: '', renewable: false, lease_duration: 2764800, data });

describe('readSecrets', () => {
  it('reads KV v2 through data/ and names values by target or normalized key', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/ci/db': v2({ password: 'p1', 'db-user': 'u1' }) });
    const out = await readSecrets(vault, parseSecrets('secret/ci/db password | DB_PASSWORD\nsecret/ci/db db-user', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.deepEqual(
      out.values.map((v) => [v.name, v.value]),
      [
        ['DB_PASSWORD', 'p1'],
        ['DB_USER', 'u1'],
      ],
    );
    assert.equal(out.reads, 1, 'two keys of one path are one read');
    assert.deepEqual(
      vault.calls.filter((c) => c.startsWith('mount')),
      ['mount secret/ci/db'],
    );
  });

  it('accepts an explicit data/ path on a v2 mount and passes @version as ?version=', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/app?version=3': v2({ k: 'old' }) });
    const out = await readSecrets(vault, parseSecrets('secret/data/app@3 k | K', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.equal(out.values[0].value, 'old');
  });

  it('reads KV v1 and non-KV engines with a plain GET and keeps lease ids', async () => {
    const vault = new FakeVault([kv1, db], {
      'kv1/app': v1({ token: 't1' }),
      'database/creds/ci': { lease_id: 'database/creds/ci/abc', lease_duration: 3600, data: { username: 'v-u', password: 'v-p' } },
    });
    const out = await readSecrets(vault, parseSecrets('kv1/app token\ndatabase/creds/ci * | DB_', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.deepEqual(out.values.map((v) => v.name).sort(), ['DB_PASSWORD', 'DB_USERNAME', 'TOKEN']);
    assert.deepEqual(out.leaseIds, ['database/creds/ci/abc'], 'the empty lease_id of a KV answer is no lease');
    assert.deepEqual(out.mounts, [kv1, db]);
    assert.deepEqual(vault.once, ['database/creds/ci'], 'the database read creates a user: sent once; the KV read keeps its retries');
  });

  it('sends once every read of an engine that may create what it returns, and retries only reads of stored data', () => {
    for (const type of ['kv', 'generic', 'cubbyhole', 'system', 'identity']) assert.equal(readCreates({ path: 'm/', type }), false, type);
    for (const type of ['database', 'aws', 'azure', 'gcp', 'consul', 'rabbitmq', 'ldap', 'totp', 'some-plugin', ''])
      assert.equal(readCreates({ path: 'm/', type }), true, type);
  });

  it('explains a lost answer to a read that creates: not read again, the lease to revoke; a lost KV answer is only unreachable', async () => {
    const vault = new FakeVault([kv2, db], {
      'database/creds/ci': new VaultNetworkError('ECONNRESET', 'database/creds/ci', 'socket hang up'),
      'secret/data/app': new VaultNetworkError('ECONNRESET', 'secret/data/app', 'socket hang up'),
    });
    const out = await readSecrets(vault, parseSecrets('database/creds/ci password | DB_PASS\nsecret/app token', loc), opts);
    assert.deepEqual(
      out.failures.map((f) => f.reason),
      [
        loc('ReadAnswerLost', opts.address, 'database/creds/ci', 'ECONNRESET', 'database/creds/ci'),
        loc('VaultUnreachable', opts.address, 'ECONNRESET'),
      ],
    );
  });

  it('publishes the whole secret as compact JSON with "."', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/cfg': v2({ a: 1, b: { c: 'x' } }) });
    const out = await readSecrets(vault, parseSecrets('secret/cfg . | CFG', loc), opts);
    assert.equal(out.values[0].value, '{"a":1,"b":{"c":"x"}}');
  });

  it('turns non-string values into JSON', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/n': v2({ port: 5432, on: true }) });
    const out = await readSecrets(vault, parseSecrets('secret/n *', loc), opts);
    assert.deepEqual(
      out.values.map((v) => v.value),
      ['5432', 'true'],
    );
  });

  it("gives every value exactly as Vault's JSON has it: big and decimal numbers, nested JSON, strings", async () => {
    // As the transport parses Vault's answers: numbers keep their text.
    const body = parseJson(
      '{"data":{"data":{"big":12345678901234567890,"dec":0.10,"exp":1E+2,"nested":{"n":1.50,"s":"\\u00e9"},"pem":"-----BEGIN-----\\nAAA\\n-----END-----\\n","json":"{\\n  \\"a\\": 1.0\\n}"},"metadata":{"version":1}}}',
    ) as VaultBody;
    const vault = new FakeVault([kv2], { 'secret/data/n': body });
    const keys = await readSecrets(vault, parseSecrets('secret/n *', loc), opts);
    assert.deepEqual(Object.fromEntries(keys.values.map((v) => [v.name, v.value])), {
      BIG: '12345678901234567890',
      DEC: '0.10',
      EXP: '1E+2',
      NESTED: '{"n":1.50,"s":"é"}',
      PEM: '-----BEGIN-----\nAAA\n-----END-----\n',
      JSON: '{\n  "a": 1.0\n}',
    });
    const whole = await readSecrets(vault, parseSecrets('secret/n . | ALL', loc), opts);
    assert.equal(
      whole.values[0].value,
      '{"big":12345678901234567890,"dec":0.10,"exp":1E+2,"nested":{"n":1.50,"s":"é"},"pem":"-----BEGIN-----\\nAAA\\n-----END-----\\n","json":"{\\n  \\"a\\": 1.0\\n}"}',
    );
  });

  it("looks keys up among the secret's own keys only: constructor, toString and __proto__ are missing unless the secret has them", async () => {
    const vault = new FakeVault([kv2], {
      'secret/data/plain': v2({ a: 'x' }),
      'secret/data/odd': parseJson('{"data":{"data":{"__proto__":"p","constructor":"c"},"metadata":{"version":1}}}') as VaultBody,
    });
    const missing = await readSecrets(
      vault,
      parseSecrets(
        'secret/plain constructor | C\nsecret/plain toString | T\nsecret/plain __proto__ | P\nsecret/plain hasOwnProperty | H',
        loc,
      ),
      opts,
    );
    assert.deepEqual(missing.values, []);
    assert.deepEqual(
      missing.failures.map((f) => f.reason),
      ['constructor', 'toString', '__proto__', 'hasOwnProperty'].map((k) => `key '${k}' not found at secret/plain; its keys are: a`),
    );
    const present = await readSecrets(vault, parseSecrets('secret/odd __proto__ | P\nsecret/odd constructor | C', loc), opts);
    assert.deepEqual(present.failures, []);
    assert.deepEqual(
      present.values.map((v) => [v.name, v.value]),
      [
        ['P', 'p'],
        ['C', 'c'],
      ],
    );
  });

  it('hands each lease id on as soon as its answer arrives, before the other reads end', async () => {
    const vault = new FakeVault([db, kv2], {
      'database/creds/ci': { lease_id: 'database/creds/ci/1', data: { username: 'u', password: 'p' } },
      'secret/data/slow': v2({ k: 'v' }),
      'secret/data/other': v2({ k: 'w' }),
    });
    const seen: Array<[string, string[]]> = [];
    const out = await readSecrets(vault, parseSecrets('database/creds/ci * | DB_\nsecret/slow k | K\nsecret/other k | O', loc), {
      ...opts,
      concurrency: 1,
      onLease: (id) => seen.push([id, [...vault.calls]]),
    });
    assert.deepEqual(out.leaseIds, ['database/creds/ci/1']);
    assert.equal(seen.length, 1, 'KV answers, with their empty lease_id, hand on nothing');
    assert.equal(seen[0][0], 'database/creds/ci/1');
    assert.deepEqual(
      seen[0][1].filter((c) => c.startsWith('read')),
      ['read database/creds/ci'],
      'handed on before the next read began',
    );
  });

  it('rejects @version on KV v1 and on other engines, naming the mount', async () => {
    const vault = new FakeVault([kv1, db], {});
    const out = await readSecrets(vault, parseSecrets('kv1/app@2 k | A\ndatabase/creds/ci@2 username | B', loc), opts);
    assert.equal(out.values.length, 0);
    assert.equal(out.failures.length, 2);
    assert.match(out.failures[0].reason, /needs a KV version 2 mount, but kv1\/ is KV version 1/);
    assert.match(out.failures[1].reason, /database\/ is database/);
    assert.ok(!vault.calls.some((c) => c.startsWith('read')), 'nothing is read for an invalid request');
  });

  it('collects every failure: missing key with the keys present, 404, 403 with the ACL path', async () => {
    const vault = new FakeVault([kv2], {
      'secret/data/a': v2({ user: 'x' }),
      'secret/data/denied': new VaultHttpError(403, 'secret/data/denied', ['1 error occurred:\n\t* permission denied\n\n'], undefined),
    });
    const out = await readSecrets(vault, parseSecrets('secret/a password\nsecret/missing k | M\nsecret/denied k | D', loc), opts);
    assert.equal(out.failures.length, 3);
    assert.match(out.failures[0].reason, /key 'password' not found at secret\/a; its keys are: user/);
    assert.deepEqual(
      out.failures.map((f) => Boolean(f.notFound)),
      [true, true, false],
      'missing key and path are "not found"; 403 is not',
    );
    assert.match(out.failures[1].reason, /no secret at secret\/missing .*secret\/data\/missing/);
    assert.match(out.failures[2].reason, /path "secret\/data\/denied" \{ capabilities = \["read"\] \}/);
  });

  it('explains deleted and destroyed versions', async () => {
    const deleted = { data: { data: null, metadata: { version: 2, deletion_time: '2026-01-01T00:00:00Z', destroyed: false } } };
    const destroyed = { data: { data: null, metadata: { version: 1, deletion_time: '', destroyed: true } } };
    const vault = new FakeVault([kv2], {
      'secret/data/x?version=2': new VaultHttpError(404, 'secret/data/x', [], deleted),
      'secret/data/x?version=1': new VaultHttpError(404, 'secret/data/x', [], destroyed),
    });
    const out = await readSecrets(vault, parseSecrets('secret/x@2 k | A\nsecret/x@1 k | B', loc), opts);
    assert.match(
      out.failures[0].reason,
      /version 2 of secret\/x was deleted at 2026-01-01T00:00:00Z; undelete it \(vault kv undelete -versions=2 secret\/x\)/,
    );
    assert.match(out.failures[1].reason, /version 1 of secret\/x is destroyed/);
  });

  it('reports names produced by * that are invalid or collide', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/a': v2({ 'secret-key': 'x', token: 'y' }), 'secret/data/b': v2({ token: 'z' }) });
    const out = await readSecrets(vault, parseSecrets('secret/a *\nsecret/b *', loc), opts);
    assert.ok(
      out.failures.some((f) => /SECRET_KEY/.test(f.reason)),
      'reserved prefix from a derived name',
    );
    assert.ok(
      out.failures.some((f) => /TOKEN/.test(f.reason) && f.source === 'variable names'),
      'duplicate TOKEN',
    );
  });

  it('looks up each mount once and keeps reads within the concurrency bound', async () => {
    const answers: Record<string, VaultBody> = {};
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      answers[`secret/data/p${i}`] = v2({ k: `v${i}` });
      lines.push(`secret/p${i} k | V${i}`);
    }
    const vault = new FakeVault([kv2], answers);
    const out = await readSecrets(vault, parseSecrets(lines.join('\n'), loc), { ...opts, concurrency: 3 });
    assert.equal(out.values.length, 40);
    assert.equal(vault.calls.filter((c) => c.startsWith('mount')).length, 1);
    assert.equal(vault.maxInFlight, 3);
  });
});

describe('readSecrets: a path that names its API path', () => {
  it('reads secret/data/... beside its mount lookup, and a path without data/ only after it', async () => {
    const vault = new FakeVault(
      [kv2],
      { 'secret/data/ci/db': v2({ password: 'p1' }), 'secret/data/ci/api': v2({ key: 'k1' }) },
      { mountTurns: 3 },
    );
    const out = await readSecrets(vault, parseSecrets('secret/data/ci/db password | DB\nsecret/ci/api key | API', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.deepEqual(
      out.values.map((v) => [v.name, v.value]),
      [
        ['DB', 'p1'],
        ['API', 'k1'],
      ],
    );
    assert.deepEqual(vault.beforeLookup, ['secret/data/ci/db']);
    assert.deepEqual(
      vault.calls,
      ['mount secret/data/ci/db', 'read secret/data/ci/db', 'read secret/data/ci/api'],
      'one lookup, one read per path',
    );
    assert.equal(out.reads, 2);
  });

  it('reads a version of it beside the lookup too, and takes the answer by the KV version the lookup gives', async () => {
    const answers = { 'kv1/data/app': v1({ data: { k: 'inner' }, k: 'outer' }), 'secret/data/app?version=3': v2({ k: 'old' }) };
    const vault = new FakeVault([kv2, kv1], answers, { mountTurns: 3 });
    const out = await readSecrets(vault, parseSecrets('secret/data/app@3 k | OLD\nkv1/data/app k | V1', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.deepEqual(
      out.values.map((v) => [v.name, v.value]),
      [
        ['OLD', 'old'],
        ['V1', 'outer'],
      ],
      'on KV version 1, data/ is part of the path and the answer is the secret itself',
    );
    assert.deepEqual(vault.beforeLookup.sort(), ['kv1/data/app', 'secret/data/app?version=3']);
  });

  it('reads again where the lookup shows a mount at <first>/data/, and saves a lease the early read brought', async () => {
    const odd: MountInfo = { path: 'secret/data/', type: 'kv', kvVersion: 2 };
    const vault = new FakeVault([odd], {
      'secret/data/app': { lease_id: 'x/early', lease_duration: 60, data: { k: 'wrong' } },
      'secret/data/data/app': v2({ k: 'right' }),
    });
    const saved: string[] = [];
    const out = await readSecrets(vault, parseSecrets('secret/data/app k | K', loc), { ...opts, onLease: (id) => saved.push(id) });
    assert.deepEqual(out.failures, []);
    assert.deepEqual(
      out.values.map((v) => v.value),
      ['right'],
    );
    assert.deepEqual(saved, ['x/early']);
    assert.deepEqual(out.leaseIds, ['x/early']);
  });

  it('fails the path whose lookup failed, and has its early read answered before it returns', async () => {
    const vault = new FakeVault(
      [kv2],
      { 'secret/data/app': { lease_id: 'x/lease', data: { data: { k: 'v' } } } },
      {
        mountFailures: { 'secret/': new VaultHttpError(403, 'sys/internal/ui/mounts/secret/data/app', ['permission denied'], undefined) },
      },
    );
    const saved: string[] = [];
    const out = await readSecrets(vault, parseSecrets('secret/data/app k | K', loc), { ...opts, onLease: (id) => saved.push(id) });
    assert.equal(out.values.length, 0);
    assert.equal(out.failures.length, 1);
    assert.equal(vault.inFlight, 0, 'no read left on its way');
    assert.deepEqual(saved, ['x/lease']);
  });

  it('sends the early read once; a KV read whose answer was lost is sent again with its retries, a read that creates is not', async () => {
    const lost = (p: string) => new VaultNetworkError('ECONNRESET', p, 'socket hang up');
    const vault = new FakeVault([kv2, db], { 'secret/data/app': lost('secret/data/app'), 'database/data/x': lost('database/data/x') });
    const out = await readSecrets(vault, parseSecrets('secret/data/app k | A\ndatabase/data/x k | B', loc), opts);
    assert.deepEqual(vault.once.sort(), ['database/data/x', 'secret/data/app']);
    assert.deepEqual(vault.calls.filter((c) => c.startsWith('read')).sort(), [
      'read database/data/x',
      'read secret/data/app',
      'read secret/data/app',
    ]);
    assert.deepEqual(
      out.failures.map((f) => f.reason),
      [
        loc('VaultUnreachable', opts.address, 'ECONNRESET'),
        loc('ReadAnswerLost', opts.address, 'database/data/x', 'ECONNRESET', 'database/data/x'),
      ],
    );
  });

  it('sends a denied early read once: no second request for a refusal', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/app': new VaultHttpError(403, 'secret/data/app', ['permission denied'], undefined) });
    const out = await readSecrets(vault, parseSecrets('secret/data/app k | A', loc), opts);
    assert.deepEqual(vault.calls, ['mount secret/data/app', 'read secret/data/app']);
    assert.equal(out.failures.length, 1);
  });

  it('keeps lookups and reads within one concurrency bound, and looks a later mount up ahead of the reads that wait', async () => {
    const answers: Record<string, VaultBody> = { 'kv1/app': v1({ k: 'v1' }) };
    const lines: string[] = [];
    for (let i = 0; i < 20; i++) {
      answers[`secret/data/p${i}`] = v2({ k: `v${i}` });
      lines.push(`secret/data/p${i} k | V${i}`);
    }
    lines.push('kv1/app k | K1');
    const vault = new FakeVault([kv2, kv1], answers, { mountTurns: 2 });
    const out = await readSecrets(vault, parseSecrets(lines.join('\n'), loc), { ...opts, concurrency: 3 });
    assert.deepEqual(out.failures, []);
    assert.equal(out.values.length, 21);
    assert.equal(vault.maxRequests, 3);
    const kv1Lookup = vault.calls.indexOf('mount kv1/app');
    const lastRead = vault.calls.lastIndexOf('read secret/data/p19');
    assert.ok(
      kv1Lookup >= 0 && kv1Lookup < lastRead,
      `the lookup of kv1/ at ${kv1Lookup} waits for no more than the reads in flight, not for all 20 (${vault.calls.join(', ')})`,
    );
  });

  const named: Array<[string, string | undefined]> = [
    ['secret/data/ci/db k', 'secret/data/ci/db'],
    ['secret/data/ci/db@2 k', 'secret/data/ci/db?version=2'],
    ['secret/ci/db k', undefined],
    ['secret/ci/data/db k', undefined],
    ['secret/data k', undefined],
    ['data/x k', undefined],
  ];
  for (const [line, apiPath] of named) {
    it(`names its API path before the lookup: ${line} → ${apiPath ?? 'none'}`, () => {
      assert.equal(apiPathBeforeLookup(parseSecrets(line, loc)[0]), apiPath);
    });
  }
});

describe('readSecrets: data/ on a KV version 1 mount', () => {
  it('says the path has no data/ part there', async () => {
    const vault = new FakeVault([kv1], { 'kv1/app': v1({ token: 't' }) });
    const out = await readSecrets(vault, parseSecrets('kv1/data/app token', loc), opts);
    assert.match(out.failures[0].reason, /no secret at kv1\/data\/app .*KV version 1, where paths have no data\/ part: use kv1\/app\./);
  });
});

describe('describeRequest', () => {
  const cases: Array<[string, string]> = [
    ['secret/ci/db password | DB_PASSWORD', 'secret/ci/db password'],
    ['secret/ci/db "key with spaces" | K', 'secret/ci/db key with spaces'],
    ['secret/ci/db@3 password', 'secret/ci/db@3 password'],
    ['secret/ci/api * | API_', 'secret/ci/api *'],
    ['secret/ci/cfg@2 . | CFG', 'secret/ci/cfg@2 .'],
  ];
  for (const [entry, shown] of cases) {
    it(`shows ${JSON.stringify(entry)} as ${JSON.stringify(shown)}`, () =>
      assert.equal(describeRequest(parseSecrets(entry, loc)[0]), shown));
  }
});

describe('readSecrets: finding mounts', () => {
  it('looks a first segment up once while its first lookup is still on its way', async () => {
    const vault = new FakeVault(
      [kv2],
      { 'secret/data/a': v2({ k: 'a' }), 'secret/data/b': v2({ k: 'b' }), 'secret/data/c': v2({ k: 'c' }) },
      { mountTurns: 5 },
    );
    const out = await readSecrets(vault, parseSecrets('secret/a k | A\nsecret/b k | B\nsecret/c k | C', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.deepEqual(
      out.values.map((v) => [v.name, v.value]),
      [
        ['A', 'a'],
        ['B', 'b'],
        ['C', 'c'],
      ],
    );
    assert.deepEqual(
      vault.calls.filter((c) => c.startsWith('mount')),
      ['mount secret/a'],
    );
    assert.deepEqual(out.mounts, [kv2]);
  });

  it('looks a new first segment up once when the calls that reach it start together', async () => {
    // Both calls wait for the lookup of secret/, then take up kv/c and kv/d in the same turn.
    const kv: MountInfo = { path: 'kv/', type: 'kv', kvVersion: 2 };
    const vault = new FakeVault(
      [kv2, kv],
      { 'secret/data/a': v2({ k: 'a' }), 'secret/data/b': v2({ k: 'b' }), 'kv/data/c': v2({ k: 'c' }), 'kv/data/d': v2({ k: 'd' }) },
      { mountTurns: 3 },
    );
    const out = await readSecrets(vault, parseSecrets('secret/a k | A\nsecret/b k | B\nkv/c k | C\nkv/d k | D', loc), {
      ...opts,
      concurrency: 2,
    });
    assert.deepEqual(out.failures, []);
    assert.deepEqual(
      vault.calls.filter((c) => c.startsWith('mount')),
      ['mount secret/a', 'mount kv/c'],
    );
    assert.deepEqual(out.mounts, [kv2, kv]);
  });

  it('finds each of several mounts under one first segment, and lists each once', async () => {
    const teamA: MountInfo = { path: 'teams/a/', type: 'kv', kvVersion: 2 };
    const teamB: MountInfo = { path: 'teams/b/', type: 'kv', kvVersion: 1 };
    const vault = new FakeVault(
      [teamA, teamB],
      { 'teams/a/data/x': v2({ k: 'x' }), 'teams/b/y': v1({ k: 'y' }), 'teams/b/z': v1({ k: 'z' }) },
      { mountTurns: 5 },
    );
    const out = await readSecrets(vault, parseSecrets('teams/a/x k | X\nteams/b/y k | Y\nteams/b/z k | Z', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.deepEqual(
      out.values.map((v) => [v.name, v.value]),
      [
        ['X', 'x'],
        ['Y', 'y'],
        ['Z', 'z'],
      ],
    );
    assert.deepEqual(out.mounts, [teamA, teamB]);
  });

  it('fails every path of a segment whose lookup failed, with the cause, and no other path', async () => {
    const vault = new FakeVault(
      [kv2],
      { 'secret/data/a': v2({ k: 'a' }) },
      {
        mountTurns: 3,
        mountFailures: { 'sso/': new VaultHttpError(403, 'sys/internal/ui/mounts/sso/app', ['permission denied'], undefined) },
      },
    );
    const out = await readSecrets(vault, parseSecrets('sso/app k | S\nsso/web k | W\nsecret/a k | A', loc), opts);
    assert.deepEqual(out.failures, [
      { source: 'sso/app k', reason: loc('MountDenied', 'sso/app') },
      { source: 'sso/web k', reason: loc('MountDenied', 'sso/web') },
    ]);
    assert.deepEqual(
      out.values.map((v) => [v.name, v.value]),
      [['A', 'a']],
    );
    assert.deepEqual(
      vault.calls.filter((c) => c.startsWith('mount')),
      ['mount sso/app', 'mount secret/a'],
    );
  });

  it('keeps looking up after a failed lookup of another mount under the same first segment', async () => {
    const teamA: MountInfo = { path: 'teams/a/', type: 'kv', kvVersion: 2 };
    const teamC: MountInfo = { path: 'teams/c/', type: 'kv', kvVersion: 2 };
    const denied = new VaultHttpError(403, 'sys/internal/ui/mounts/teams/b/y', ['permission denied'], undefined);
    const vault = new FakeVault(
      [teamA, teamC],
      { 'teams/a/data/x': v2({ k: 'x' }), 'teams/c/data/z': v2({ k: 'z' }) },
      { mountFailures: { 'teams/b/': denied } },
    );
    const out = await readSecrets(vault, parseSecrets('teams/a/x k | X\nteams/b/y k | Y\nteams/c/z k | Z', loc), {
      ...opts,
      concurrency: 1,
    });
    assert.deepEqual(out.failures, [{ source: 'teams/b/y k', reason: loc('MountDenied', 'teams/b/y') }]);
    assert.deepEqual(
      out.values.map((v) => [v.name, v.value]),
      [
        ['X', 'x'],
        ['Z', 'z'],
      ],
    );
    assert.deepEqual(out.mounts, [teamA, teamC]);
  });

  it('calls an engine whose type the lookup does not give "not KV" when a version is asked for', async () => {
    const untyped: MountInfo = { path: 'legacy/', type: '' };
    const vault = new FakeVault([untyped], {});
    const out = await readSecrets(vault, parseSecrets('legacy/app@2 k', loc), opts);
    assert.deepEqual(out.failures, [{ source: 'legacy/app@2 k', reason: loc('VersionNeedsKv2', 2, 'legacy/', 'not KV', 2) }]);
  });

  const lookupFailures: Array<[string, Error, string]> = [
    [
      'no mount',
      new VaultHttpError(400, 'sys/internal/ui/mounts/nope/app', ['no mount'], undefined),
      loc('MountLookupFailed', 'nope/app', 400, 'no mount'),
    ],
    [
      'a refused connection',
      new VaultNetworkError('ECONNREFUSED', 'sys/internal/ui/mounts/nope/app', 'connect ECONNREFUSED'),
      loc('VaultUnreachable', opts.address, 'ECONNREFUSED'),
    ],
  ];
  for (const [what, err, reason] of lookupFailures) {
    it(`explains a failed mount lookup: ${what}`, async () => {
      const vault = new FakeVault([], {}, { mountFailures: { 'nope/': err } });
      const out = await readSecrets(vault, parseSecrets('nope/app k', loc), opts);
      assert.deepEqual(out.failures, [{ source: 'nope/app k', reason }]);
      assert.deepEqual(out.mounts, []);
      assert.equal(out.reads, 0);
    });
  }

  it('refuses a path that is a mount itself', async () => {
    const team: MountInfo = { path: 'kv/team/', type: 'kv', kvVersion: 2 };
    const vault = new FakeVault([team], {});
    const out = await readSecrets(vault, parseSecrets('kv/team key', loc), opts);
    assert.deepEqual(out.failures, [{ source: 'kv/team key', reason: loc('PathIsMount', 'kv/team', 'kv/team/', 'kv/team/') }]);
    assert.ok(!vault.calls.some((c) => c.startsWith('read')));
  });
});

describe('readSecrets: answers without the value asked for', () => {
  const empty: Array<[string, MountInfo, string, VaultBody | undefined]> = [
    ['no body (204)', kv2, 'secret/data/x', undefined],
    ['a KV version 2 answer without data', kv2, 'secret/data/x', { lease_id: '' }],
    ['a KV version 2 answer without its inner data', kv2, 'secret/data/x', { lease_id: '', data: { metadata: { version: 1 } } }],
    ['a KV version 2 answer whose data is null', kv2, 'secret/data/x', { lease_id: '', data: { data: null, metadata: { version: 1 } } }],
    ['a KV version 1 answer without a body', kv1, 'kv1/x', undefined],
    ['a KV version 1 answer without data', kv1, 'kv1/x', { lease_id: '' }],
    ['a KV version 1 answer whose data is text', kv1, 'kv1/x', v1('text')],
    ['a KV version 1 answer whose data is a list', kv1, 'kv1/x', v1([1, 2])],
  ];
  for (const [what, mount, apiPath, body] of empty) {
    it(`says the path returned no data: ${what}`, async () => {
      const path = mount === kv2 ? 'secret/x' : 'kv1/x';
      const vault = new FakeVault([mount], { [apiPath]: body });
      const out = await readSecrets(vault, parseSecrets(`${path} k | K`, loc), opts);
      assert.deepEqual(out.values, []);
      assert.deepEqual(out.failures, [{ source: `${path} k`, reason: loc('NoData', path) }]);
    });
  }

  it('names the keys a secret has when the key asked for is missing, or "-" when it has none', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/two': v2({ user: 'u', host: 'h' }), 'secret/data/none': v2({}) });
    const out = await readSecrets(vault, parseSecrets('secret/two pw | A\nsecret/none pw | B', loc), opts);
    assert.deepEqual(out.failures, [
      { source: 'secret/two pw', reason: loc('KeyNotFound', 'pw', 'secret/two', 'user, host'), notFound: true },
      { source: 'secret/none pw', reason: loc('KeyNotFound', 'pw', 'secret/none', '-'), notFound: true },
    ]);
  });

  it('says a secret read with "*" has no keys', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/none': v2({}) });
    const out = await readSecrets(vault, parseSecrets('secret/none *', loc), opts);
    assert.deepEqual(out.failures, [{ source: 'secret/none *', reason: loc('NoKeys', 'secret/none') }]);
  });

  it('names each value of "*" by its path and key, and refuses a key that holds control characters', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/app': v2({ user: 'u', 'bad\nkey': 'x', 'rtl\u202ekey': 'y' }) });
    const out = await readSecrets(vault, parseSecrets('secret/app * | APP_', loc), opts);
    assert.deepEqual(out.values, [{ name: 'APP_USER', value: 'u', source: 'secret/app user' }]);
    assert.deepEqual(out.failures, [
      { source: 'secret/app bad\nkey', reason: loc('KeyNameUnsafe', 'bad\nkey', 'secret/app') },
      { source: 'secret/app rtl\u202ekey', reason: loc('KeyNameUnsafe', 'rtl\u202ekey', 'secret/app') },
    ]);
  });

  it('names the value of "*" whose derived name is invalid', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/app': v2({ 'secret-key': 'x' }) });
    const out = await readSecrets(vault, parseSecrets('secret/app *', loc), opts);
    assert.deepEqual(out.failures, [
      {
        source: 'secret/app secret-key',
        reason: loc(
          'DerivedNameInvalid',
          'SECRET_KEY',
          loc('SpecNameInvalid', 'SECRET_KEY', loc('SpecNameReserved', 'secret', 'endpoint, input, secret, path, securefile')),
        ),
      },
    ]);
  });

  it('adds the data/ hint only to a data/ path on a KV version 1 mount', async () => {
    const vault = new FakeVault([kv1, db], {});
    const out = await readSecrets(vault, parseSecrets('kv1/app k | A\ndatabase/data/x k | B', loc), opts);
    assert.deepEqual(out.failures, [
      { source: 'kv1/app k', reason: loc('ReadNotFound', 'kv1/app', '', 'kv1/app'), notFound: true },
      { source: 'database/data/x k', reason: loc('ReadNotFound', 'database/data/x', '', 'database/data/x'), notFound: true },
    ]);
  });

  const readFailures: Array<[string, Error, string]> = [
    [
      'a server error is not "not found"',
      new VaultHttpError(500, 'secret/data/x', ['internal error'], undefined),
      loc('ReadHttp', 500, 'internal error'),
    ],
    [
      'a timeout is not "not found"',
      new VaultNetworkError('ETIMEDOUT', 'secret/data/x', 'timeout'),
      loc('VaultTimeout', opts.address, 30, 'secret/data/x'),
    ],
  ];
  for (const [what, err, reason] of readFailures) {
    it(what, async () => {
      const vault = new FakeVault([kv2], { 'secret/data/x': err });
      const out = await readSecrets(vault, parseSecrets('secret/x k | K', loc), opts);
      assert.deepEqual(out.failures, [{ source: 'secret/x k', reason, notFound: false }]);
    });
  }
});
