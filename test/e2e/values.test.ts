// The bundled task publishes what Vault holds, exactly, under names that are the user's own, and
// requests exactly the path it checked and logged: numbers as Vault's JSON has them, strings byte
// for byte, keys only the secret's own, no name of the agent's, and no path that a URL or Vault
// would turn into another.
import * as assert from 'node:assert/strict';
import { AUTH_MOUNT, ROLE, SECRETS } from '../emulators/seed';
import { startWorld, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';
import { masks, vsoCommands } from '../helpers/output';

describe('e2e: values, names and paths exactly as meant', function () {
  this.timeout(120_000);
  let world: World;
  before(async () => {
    world = await startWorld();
  });
  afterEach(() => world.vault.clearFaults());
  after(async () => world?.stop());

  const base = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, retries: '0' };
  /** Requests the runs since `mark` made to Vault, as `METHOD /v1/path?query`. */
  const vaultRequestsSince = (mark: number) =>
    world.vault.requests.slice(mark).map((r) => `${r.method} /v1/${r.path}${r.query ? `?${r.query}` : ''}`);

  it("publishes numbers as Vault's JSON has them and strings byte for byte, multi-line ones unchanged", async () => {
    const pretty = '{\n  "amount": 1.50,\n  "id": 12345678901234567890\n}';
    const raw = `{"request_id":"r1","lease_id":"","renewable":false,"lease_duration":0,"data":{"data":{"big":12345678901234567890,"decimal":0.10,"exponent":1E+2,"pretty":${JSON.stringify(pretty)},"pem":${JSON.stringify(SECRETS.pem)},"nested":{"n":2.50,"s":"x"}},"metadata":{"version":1,"created_time":"2026-01-01T00:00:00Z","deletion_time":"","destroyed":false,"custom_metadata":null}},"wrap_info":null,"warnings":null,"auth":null}`;
    world.vault.inject({
      path: 'secret/data/ci/production/numbers',
      status: 200,
      body: raw,
      headers: { 'Content-Type': 'application/json' },
      times: 2,
    });
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, secrets: 'secret/ci/production/numbers *\nsecret/ci/production/numbers . | ALL' },
    });
    const { vars } = checkRun(world, run, true);
    assert.equal(vars.get('BIG'), '12345678901234567890');
    assert.equal(vars.get('DECIMAL'), '0.10');
    assert.equal(vars.get('EXPONENT'), '1E+2');
    assert.equal(vars.get('PRETTY'), pretty, 'a string holding JSON is published as it is');
    assert.equal(vars.get('PEM'), SECRETS.pem);
    assert.equal(vars.get('NESTED'), '{"n":2.50,"s":"x"}');
    assert.equal(
      vars.get('ALL'),
      `{"big":12345678901234567890,"decimal":0.10,"exponent":1E+2,"pretty":${JSON.stringify(pretty)},"pem":${JSON.stringify(SECRETS.pem)},"nested":{"n":2.50,"s":"x"}}`,
    );
    const masked = masks(run.stdout);
    for (const line of ['"amount": 1.50,', '"id": 12345678901234567890']) assert.ok(masked.has(line), `the line ${line} is masked`);
    for (const structure of ['{', '}']) assert.ok(!masked.has(structure), `"${structure}" alone is no mask`);
  });

  it('finds only keys the secret has: constructor, toString and __proto__ are missing keys, not values', async () => {
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: {
        ...base,
        secrets: 'secret/ci/production/db constructor | C\nsecret/ci/production/db toString | T\nsecret/ci/production/db __proto__ | P',
      },
    });
    const { errors, vars } = checkRun(world, run, false);
    assert.equal(vars.size, 0);
    for (const key of ['constructor', 'toString', '__proto__'])
      assert.match(errors, new RegExp(`key '${key}' not found at secret/ci/production/db; its keys are: db-user, password`));
  });

  it('warns about a value of one or two characters, and registers no mask of white space alone', async () => {
    await world.vault.putSecret('secret/ci/production/short', { pin: 'Ω~', blank: '   ', fine: 'long-enough-value' });
    const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, secrets: 'secret/ci/production/short *' } });
    const { vars, warnings } = checkRun(world, run, true);
    assert.equal(vars.get('PIN'), 'Ω~');
    assert.equal(vars.get('BLANK'), '   ');
    assert.deepEqual(warnings.filter((w) => /one or two characters/.test(w)).length, 1);
    assert.match(warnings.join('\n'), /secret\/ci\/production\/short pin → PIN is one or two characters long/);
    assert.ok(!masks(run.stdout).has('   '), 'white space is no mask');
    assert.ok(masks(run.stdout).has('Ω~'));
  });

  const refusedPaths: Array<[string, string]> = [
    ['secret/%2e%2e/database/creds/ci', '%'],
    ['secret/.%2e/database/creds/ci', '%'],
    ['secret/%2E./database/creds/ci', '%'],
    ['secret/ci/production%2Fdb', '%'],
    ['secret\\ci\\..\\..\\database\\creds\\ci', '\\'],
  ];
  for (const [path, shown] of refusedPaths) {
    it(`refuses ${path} before any request: a URL or Vault would make it another path`, async () => {
      const mark = world.vault.requests.length;
      const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, secrets: `${path} password | X` } });
      const { errors } = checkRun(world, run, false);
      assert.ok(errors.includes(`the path "${path}" contains "${shown}", which a URL or Vault would turn into another path`), errors);
      assert.deepEqual(vaultRequestsSince(mark), []);
      assert.equal(world.vault.leases().length, 0, 'no lease was issued');
    });
  }

  it('requests exactly the path it checked and logged', async () => {
    await world.vault.putSecret('secret/ci/production/odd+chars:ok~é', { key: 'odd-path-value' });
    const mark = world.vault.requests.length;
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: {
        ...base,
        secrets:
          'secret/ci/production/db password | DB_PASSWORD\nsecret/ci/production/db@1 password | OLD\nsecret/ci/production/odd+chars:ok~é key | ODD',
      },
    });
    const { vars } = checkRun(world, run, true);
    assert.equal(vars.get('ODD'), 'odd-path-value');
    const reads = vaultRequestsSince(mark).filter((r) => r.startsWith('GET /v1/secret/data/'));
    assert.deepEqual(
      reads.sort(),
      [
        'GET /v1/secret/data/ci/production/db',
        'GET /v1/secret/data/ci/production/db?version=1',
        'GET /v1/secret/data/ci/production/odd+chars:ok~é',
      ].sort(),
    );
  });

  const agentNames = ['Agent.TempDirectory', 'AGENT_TEMPDIRECTORY', 'System.AccessToken', 'build.sourcesdirectory', 'TASK_DISPLAYNAME'];
  it(`refuses names in the agent's own namespaces before login: ${agentNames.join(', ')}, and a * prefix there`, async () => {
    const mark = world.vault.requests.length;
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: {
        ...base,
        secrets: [...agentNames.map((n) => `secret/ci/production/db password | ${n}`), 'secret/ci/production/api * | SYSTEM_'].join('\n'),
      },
    });
    const { errors } = checkRun(world, run, false);
    for (const n of [...agentNames, 'SYSTEM_'])
      assert.match(errors, new RegExp(`"${n.replace('.', '\\.')}" is in the agent's own namespace`));
    assert.deepEqual(vaultRequestsSince(mark), []);
  });

  it("refuses two targets that are one variable in a step's environment, before login", async () => {
    const mark = world.vault.requests.length;
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, secrets: 'secret/ci/production/db password | db.pw\nsecret/ci/production/api token | DB_PW' },
    });
    const { errors } = checkRun(world, run, false);
    assert.match(errors, /"DB_PW" is already published as "db.pw" by secrets line 1/);
    assert.deepEqual(vaultRequestsSince(mark), []);
    assert.equal(vsoCommands(run.stdout).filter((c) => c.command === 'task.setvariable').length, 0);
  });
});
