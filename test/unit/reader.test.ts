import * as assert from 'node:assert/strict';
import { parse as parseJson } from 'lossless-json';
import { readSecrets, SecretSource } from '../../tasks/VaultAzureLoginV1/src/reader';
import { parseSecrets, Text } from '../../tasks/VaultAzureLoginV1/src/secretSpec';
import { MountInfo, VaultBody, VaultHttpError } from '../../tasks/VaultAzureLoginV1/src/vault';
import { loc } from '../helpers/messages';


/** A hand-made Vault: mounts by path prefix, answers by API path, and a log of calls. */
class FakeVault implements SecretSource {
  readonly calls: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    private readonly mounts: MountInfo[],
    private readonly answers: Record<string, VaultBody | VaultHttpError>,
  ) {}
  async mount(p: string): Promise<MountInfo> {
    this.calls.push(`mount ${p}`);
    const m = this.mounts.find((x) => `${p}/`.startsWith(x.path));
    if (!m) throw new VaultHttpError(400, `sys/internal/ui/mounts/${p}`, ['no mount'], undefined);
    return m;
  }
  async read(apiPath: string): Promise<VaultBody> {
    this.calls.push(`read ${apiPath}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setImmediate(r));
    this.inFlight--;
    const a = this.answers[apiPath];
    if (a instanceof VaultHttpError) throw a;
    if (!a) throw new VaultHttpError(404, apiPath, [], { errors: [] });
    return a;
  }
}

const kv2: MountInfo = { path: 'secret/', type: 'kv', kvVersion: 2 };
const kv1: MountInfo = { path: 'kv1/', type: 'kv', kvVersion: 1 };
const db: MountInfo = { path: 'database/', type: 'database' };
const opts = { address: 'https://vault.example.com', concurrency: 8, timeoutSeconds: 30, loc };
const v2 = (data: Record<string, unknown>) => ({ data: { data, metadata: { version: 1 } } });

describe('readSecrets', () => {
  it('reads KV v2 through data/ and names values by target or normalized key', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/ci/db': v2({ password: 'p1', 'db-user': 'u1' }) });
    const out = await readSecrets(vault, parseSecrets('secret/ci/db password | DB_PASSWORD\nsecret/ci/db db-user', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.deepEqual(out.values.map((v) => [v.name, v.value]), [['DB_PASSWORD', 'p1'], ['DB_USER', 'u1']]);
    assert.equal(out.reads, 1, 'two keys of one path are one read');
    assert.deepEqual(vault.calls.filter((c) => c.startsWith('mount')), ['mount secret/ci/db']);
  });

  it('accepts an explicit data/ path on a v2 mount and passes @version as ?version=', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/app?version=3': v2({ k: 'old' }) });
    const out = await readSecrets(vault, parseSecrets('secret/data/app@3 k | K', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.equal(out.values[0].value, 'old');
  });

  it('reads KV v1 and non-KV engines with a plain GET and keeps lease ids', async () => {
    const vault = new FakeVault([kv1, db], {
      'kv1/app': { data: { token: 't1' }, lease_duration: 2764800 },
      'database/creds/ci': { lease_id: 'database/creds/ci/abc', lease_duration: 3600, data: { username: 'v-u', password: 'v-p' } },
    });
    const out = await readSecrets(vault, parseSecrets('kv1/app token\ndatabase/creds/ci * | DB_', loc), opts);
    assert.deepEqual(out.failures, []);
    assert.deepEqual(out.values.map((v) => v.name).sort(), ['DB_PASSWORD', 'DB_USERNAME', 'TOKEN']);
    assert.deepEqual(out.leaseIds, ['database/creds/ci/abc']);
  });

  it('publishes the whole secret as compact JSON with "."', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/cfg': v2({ a: 1, b: { c: 'x' } }) });
    const out = await readSecrets(vault, parseSecrets('secret/cfg . | CFG', loc), opts);
    assert.equal(out.values[0].value, '{"a":1,"b":{"c":"x"}}');
  });

  it('turns non-string values into JSON', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/n': v2({ port: 5432, on: true }) });
    const out = await readSecrets(vault, parseSecrets('secret/n *', loc), opts);
    assert.deepEqual(out.values.map((v) => v.value), ['5432', 'true']);
  });

  it("gives every value exactly as Vault's JSON has it: big and decimal numbers, nested JSON, strings", async () => {
    // As the transport parses Vault's answers: numbers keep their text.
    const body = parseJson(
      '{"data":{"data":{"big":12345678901234567890,"dec":0.10,"exp":1E+2,"nested":{"n":1.50,"s":"\\u00e9"},"pem":"-----BEGIN-----\\nAAA\\n-----END-----\\n","json":"{\\n  \\"a\\": 1.0\\n}"},"metadata":{"version":1}}}',
    ) as VaultBody;
    const vault = new FakeVault([kv2], { 'secret/data/n': body });
    const keys = await readSecrets(vault, parseSecrets('secret/n *', loc), opts);
    assert.deepEqual(
      Object.fromEntries(keys.values.map((v) => [v.name, v.value])),
      { BIG: '12345678901234567890', DEC: '0.10', EXP: '1E+2', NESTED: '{"n":1.50,"s":"é"}', PEM: '-----BEGIN-----\nAAA\n-----END-----\n', JSON: '{\n  "a": 1.0\n}' },
    );
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
    const missing = await readSecrets(vault, parseSecrets('secret/plain constructor | C\nsecret/plain toString | T\nsecret/plain __proto__ | P\nsecret/plain hasOwnProperty | H', loc), opts);
    assert.deepEqual(missing.values, []);
    assert.deepEqual(
      missing.failures.map((f) => f.reason),
      ['constructor', 'toString', '__proto__', 'hasOwnProperty'].map((k) => `key '${k}' not found at secret/plain; its keys are: a`),
    );
    const present = await readSecrets(vault, parseSecrets('secret/odd __proto__ | P\nsecret/odd constructor | C', loc), opts);
    assert.deepEqual(present.failures, []);
    assert.deepEqual(present.values.map((v) => [v.name, v.value]), [['P', 'p'], ['C', 'c']]);
  });

  it('hands each lease id on as soon as its answer arrives, before the other reads end', async () => {
    const vault = new FakeVault([db, kv2], {
      'database/creds/ci': { lease_id: 'database/creds/ci/1', data: { username: 'u', password: 'p' } },
      'secret/data/slow': v2({ k: 'v' }),
    });
    const seen: Array<[string, string[]]> = [];
    const out = await readSecrets(vault, parseSecrets('database/creds/ci * | DB_\nsecret/slow k | K', loc), {
      ...opts,
      onLease: (id) => seen.push([id, [...vault.calls]]),
    });
    assert.deepEqual(out.leaseIds, ['database/creds/ci/1']);
    assert.equal(seen.length, 1);
    assert.equal(seen[0][0], 'database/creds/ci/1');
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
    assert.deepEqual(out.failures.map((f) => Boolean(f.notFound)), [true, true, false], 'missing key and path are "not found"; 403 is not');
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
    assert.match(out.failures[0].reason, /version 2 of secret\/x was deleted at 2026-01-01T00:00:00Z; undelete it \(vault kv undelete -versions=2 secret\/x\)/);
    assert.match(out.failures[1].reason, /version 1 of secret\/x is destroyed/);
  });

  it('reports names produced by * that are invalid or collide', async () => {
    const vault = new FakeVault([kv2], { 'secret/data/a': v2({ 'secret-key': 'x', token: 'y' }), 'secret/data/b': v2({ token: 'z' }) });
    const out = await readSecrets(vault, parseSecrets('secret/a *\nsecret/b *', loc), opts);
    assert.ok(out.failures.some((f) => /SECRET_KEY/.test(f.reason)), 'reserved prefix from a derived name');
    assert.ok(out.failures.some((f) => /TOKEN/.test(f.reason) && f.source === 'variable names'), 'duplicate TOKEN');
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

describe('readSecrets: data/ on a KV version 1 mount', () => {
  it('says the path has no data/ part there', async () => {
    const vault = new FakeVault([kv1], { 'kv1/app': { data: { token: 't' } } });
    const out = await readSecrets(vault, parseSecrets('kv1/data/app token', loc), opts);
    assert.match(out.failures[0].reason, /no secret at kv1\/data\/app .*KV version 1, where paths have no data\/ part: use kv1\/app\./);
  });
});
