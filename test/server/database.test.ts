// A leasing engine against real OpenBao and a real PostgreSQL: the database secrets engine makes a
// LOGIN role for each read of database/creds/ci. The bundled task reads the username and password
// from one read (one lease), the values log in to PostgreSQL, the main step saves the lease for the
// post-job step, and the post-job step revokes it: OpenBao no longer knows the lease and the role is
// dropped from PostgreSQL, with the token revoked or kept, and after a main step that failed.
import * as assert from 'node:assert/strict';
import { taskVariablesFrom, vsoCommands } from '../helpers/output';
import { DEFAULT_RESOURCE } from '../emulators/seed';
import { TaskRun } from '../emulators/world';
import { savedToken, ServerWorld, startServerWorld } from './fixture';
import { loc } from '../helpers/messages';
import { FaultProxy, startFaultProxy } from './vaultFront';
import type { Answer } from './openbao';
import { Postgres, startPostgres } from './postgres';
import { JWT_MOUNT } from './seed';

/** A jwt role like the seed's service-token role, with the policy of dynamic database credentials too. */
const DB_ROLE = 'ci-database';
const CI_DATABASE_POLICY = `
path "database/creds/ci" { capabilities = ["read"] }
`;
const secrets = 'database/creds/ci username | DB_USER\ndatabase/creds/ci password | DB_PASS';

async function ok(what: string, answer: Promise<Answer>): Promise<Answer> {
  const a = await answer;
  if (a.status >= 300) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
  return a;
}

/** The lease ids the main step kept for its post-job step (a task variable holding a JSON list). */
function savedLeases(run: TaskRun): string[] {
  const saved = vsoCommands(run.stdout).filter(
    (c) => c.command === 'task.settaskvariable' && c.properties.variable === 'VaultAzureLogin.Leases',
  );
  assert.ok(saved.length, 'the main step saved the leases');
  return JSON.parse(saved[saved.length - 1].message) as string[];
}

describe('server: dynamic database credentials from OpenBao, and their lease revoked', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  let pg: Postgres;
  let proxy: FaultProxy | undefined;

  before(async () => {
    s = await startServerWorld();
    pg = await startPostgres();
    const bao = s.bao;
    await ok('enable database', bao.api('POST', 'sys/mounts/database', { type: 'database' }));
    await ok(
      'database connection',
      bao.api('POST', 'database/config/ci-postgres', {
        plugin_name: 'postgresql-database-plugin',
        connection_url: `postgresql://{{username}}:{{password}}@${pg.host}:${pg.port}/postgres?sslmode=disable`,
        username: pg.adminUser,
        password: pg.adminPassword,
        allowed_roles: ['ci'],
      }),
    );
    await ok(
      'database role',
      bao.api('POST', 'database/roles/ci', {
        db_name: 'ci-postgres',
        creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`],
        revocation_statements: ['DROP ROLE IF EXISTS "{{name}}";'],
        default_ttl: '1h',
        max_ttl: '2h',
      }),
    );
    await ok('policy', bao.api('POST', 'sys/policies/acl/ci-database', { policy: CI_DATABASE_POLICY }));
    await ok(
      'jwt role',
      bao.api('POST', `auth/${JWT_MOUNT}/role/${DB_ROLE}`, {
        role_type: 'jwt',
        bound_audiences: [DEFAULT_RESOURCE],
        bound_claims: { oid: s.world.ids.wif.objectId },
        user_claim: 'oid',
        token_policies: ['ci-read', 'ci-database'],
        token_type: 'service',
        token_ttl: 900,
      }),
    );
  });
  after(async () => {
    await proxy?.stop();
    await s?.stop();
    await pg?.stop();
  });

  const adminPassword = () => ({ what: "PostgreSQL's admin password", value: pg.adminPassword });

  /** The post-job step in the main step's Agent.TempDirectory with the task variables it set. */
  const postJob = (main: TaskRun, inputs: Record<string, string>) =>
    s.run(inputs, { entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) });

  async function leaseLookup(leaseId: string): Promise<Answer> {
    return s.bao.api('PUT', 'sys/leases/lookup', { lease_id: leaseId });
  }

  /** The roles the database engine made that still exist in PostgreSQL. */
  async function engineRoles(): Promise<string[]> {
    const r = await pg.psql("select rolname from pg_roles where rolname like 'v-%' order by rolname");
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  }

  async function assertRevoked(leaseId: string, user: string, password: string): Promise<void> {
    const lookup = await leaseLookup(leaseId);
    assert.equal(lookup.status, 400, 'OpenBao no longer knows the lease');
    assert.deepEqual(lookup.body, { errors: ['invalid lease'] });
    assert.equal(
      (await s.bao.api('GET', 'sys/leases/lookup/database/creds/ci?list=true')).status,
      404,
      'no lease left under database/creds/ci',
    );
    assert.equal(await pg.roleExists(user), false, 'the revocation dropped the role');
    const login = await pg.psql('select 1', user, password);
    assert.notEqual(login.code, 0);
    assert.match(login.stderr, new RegExp(`password authentication failed for user "${user}"`));
  }

  it('publishes a username and password from one lease that log in to PostgreSQL; the post-job step revokes the lease and the role is dropped', async () => {
    const inputs = { role: DB_ROLE, secrets };
    const main = await s.run(inputs);
    const { vars, warnings } = s.check(main, true, { extraSecrets: [adminPassword()] });
    assert.deepEqual(warnings, []);
    const user = vars.get('DB_USER')!;
    const password = vars.get('DB_PASS')!;
    assert.match(user, /^v-[\w.-]+-ci-[\w-]+$/, "the database engine's generated role name");
    assert.ok(password && password.length >= 16);
    assert.match(main.stdout, /^Read 1 path\(s\) on 1 mount\(s\)\.$/m, 'both keys come from one read');

    const leases = savedLeases(main);
    assert.equal(leases.length, 1, 'one read, one lease');
    assert.match(leases[0], /^database\/creds\/ci\/[A-Za-z0-9]+\.[A-Za-z0-9]+$/, "the lease id, with its namespace's id after a dot");
    const lookup = await leaseLookup(leases[0]);
    assert.equal(lookup.status, 200);
    assert.equal(lookup.body.data.id, leases[0]);
    assert.equal(lookup.body.data.path, 'database/creds/ci');
    assert.equal(lookup.body.data.renewable, true);
    assert.ok(lookup.body.data.ttl > 0 && lookup.body.data.ttl <= 3600);
    assert.deepEqual(
      (await s.bao.api('GET', 'sys/leases/lookup/database/creds/ci?list=true')).body.data.keys,
      [leases[0].split('/').pop()],
      'the only lease the engine handed out',
    );

    const login = await pg.psql('select current_user', user, password);
    assert.equal(login.code, 0, login.stderr);
    assert.equal(login.stdout.trim(), user, 'the published credentials log in to PostgreSQL');

    const post = await postJob(main, inputs);
    const p = s.check(post, true, { extraSecrets: [adminPassword(), { what: 'the database password', value: password }] });
    assert.deepEqual(p.warnings, []);
    assert.match(post.stdout, new RegExp(`^Revoked lease ${leases[0]}\\.$`, 'm'));
    assert.match(post.stdout, /^Revoked the Vault token\.$/m);
    await assertRevoked(leases[0], user, password);
  });

  it('revokes the lease with revokeToken false too, and keeps the token', async () => {
    const inputs = { role: DB_ROLE, secrets, revokeToken: 'false' };
    const main = await s.run(inputs);
    const { vars } = s.check(main, true, { extraSecrets: [adminPassword()] });
    const [user, password] = [vars.get('DB_USER')!, vars.get('DB_PASS')!];
    const [lease] = savedLeases(main);
    assert.equal(await pg.roleExists(user), true);
    const token = savedToken(main)!;

    const post = await postJob(main, inputs);
    const p = s.check(post, true, { extraSecrets: [adminPassword(), { what: 'the database password', value: password }] });
    assert.deepEqual(p.warnings, []);
    assert.match(post.stdout, new RegExp(`^Revoked lease ${lease}\\.$`, 'm'));
    assert.match(post.stdout, /^The Vault token was not revoked \(revokeToken: false\); it expires at the end of its TTL\.$/m);
    assert.equal((await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status, 200, 'the token is still valid');
    // The token lives on, so only the task's own lease revocation can have dropped the role.
    await assertRevoked(lease, user, password);
    assert.equal((await s.bao.api('POST', 'auth/token/revoke', { token })).status, 204);
  });

  it('keeps the lease of a main step that failed on another path, and the post-job step revokes it', async () => {
    const inputs = { role: DB_ROLE, secrets: `${secrets}\nsecret/ci/production/nope password | NOPE` };
    const main = await s.run(inputs);
    const { vars, errors } = s.check(main, false, { extraSecrets: [adminPassword()] });
    assert.equal(vars.size, 0, 'nothing published');
    assert.match(
      errors,
      /^1 secret request\(s\) failed; no variables were published:\n {2}secret\/ci\/production\/nope password: no secret at secret\/ci\/production\/nope/,
    );
    const [lease] = savedLeases(main);
    assert.match(lease, /^database\/creds\/ci\//);
    const lookup = await leaseLookup(lease);
    assert.equal(lookup.status, 200, 'the engine made credentials nobody got to use');
    assert.equal((await engineRoles()).length, 1, 'and their role in PostgreSQL');
    const token = savedToken(main)!;

    const post = await postJob(main, inputs);
    const p = s.check(post, true, { extraSecrets: [adminPassword()] });
    assert.deepEqual(p.warnings, []);
    assert.match(post.stdout, new RegExp(`^Revoked lease ${lease}\\.$`, 'm'));
    const lookupAfter = await leaseLookup(lease);
    assert.equal(lookupAfter.status, 400);
    assert.deepEqual(lookupAfter.body, { errors: ['invalid lease'] });
    assert.equal((await s.bao.api('GET', 'sys/leases/lookup/database/creds/ci?list=true')).status, 404);
    assert.deepEqual(await engineRoles(), [], 'the role is dropped');
    assert.equal((await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status, 403, 'the token is revoked');
  });

  it('fails on a role the policy does not grant, and no lease is made', async () => {
    const main = await s.run({ role: DB_ROLE, secrets: 'database/creds/admin username | DB_USER' });
    const { vars, errorList } = s.check(main, false, { extraSecrets: [adminPassword()] });
    assert.equal(vars.size, 0);
    assert.equal(errorList.length, 1);
    assert.match(
      errorList[0],
      /database\/creds\/admin username: permission denied: the Vault token's policies do not allow read on database\/creds\/admin\. Add to the role's policy: path "database\/creds\/admin" \{ capabilities = \["read"\] \}/,
    );
    assert.equal(
      vsoCommands(main.stdout).filter((c) => c.command === 'task.settaskvariable' && c.properties.variable === 'VaultAzureLogin.Leases')
        .length,
      0,
      'no lease saved',
    );
    const token = savedToken(main)!;
    assert.equal((await s.bao.api('POST', 'auth/token/revoke', { token })).status, 204);
  });

  it('reads once when the answer to database/creds is lost, however many retries: one role made, the message names the lease to end', async () => {
    proxy = await startFaultProxy(s.world.ca, 8311, s.bao);
    const rolesBefore = await engineRoles();
    const leaseKeys = async (): Promise<string[]> =>
      (await s.bao.api('GET', 'sys/leases/lookup/database/creds/ci?list=true')).body?.data?.keys ?? [];
    const leasesBefore = await leaseKeys();
    proxy.lose({ method: 'GET', path: 'database/creds/ci', mode: 'bad-gateway' });
    const main = await s.run({ role: DB_ROLE, secrets, vaultAddress: proxy.address, retries: '2' });
    const { vars, errors } = s.check(main, false, { extraSecrets: [adminPassword()] });
    assert.deepEqual(proxy.lost, ['GET database/creds/ci bad-gateway 200'], 'OpenBao made the credential, and its answer was lost');
    assert.equal(vars.size, 0, 'nothing published');
    assert.ok(errors.includes(loc('ReadAnswerLost', proxy.address, 'database/creds/ci', 'HTTP 502', 'database/creds/ci')), errors);
    assert.doesNotMatch(main.stdout, /Request GET database\/creds\/ci failed on attempt/, 'no retry of the read');
    const made = (await engineRoles()).filter((r) => !rolesBefore.includes(r));
    assert.equal(made.length, 1, 'the engine made exactly one role: the read was sent once');
    // The printed way to end it now works: the one lease under the path, revoked by prefix.
    assert.equal((await leaseKeys()).filter((k) => !leasesBefore.includes(k)).length, 1, 'and one lease, which nobody holds');
    assert.equal((await s.bao.api('PUT', 'sys/leases/revoke-prefix/database/creds/ci', {})).status, 204);
    assert.deepEqual(
      (await engineRoles()).filter((r) => !rolesBefore.includes(r)),
      [],
      'revoking the prefix dropped the role',
    );
  });
});
