// Requests that spend or create something, sent once: between the task and real OpenBao a fault
// proxy lets OpenBao perform the unwrap or the login (approle, and jwt standing for every method)
// and then loses the answer (a reset, a gateway's 502, an answer later than timeoutSeconds).
// OpenBao's audit log counts what it received:
// one unwrap, one login, however many retries the step is allowed; the message says what may have
// happened and never speaks of theft; the printed fix works. Reads keep their retries.
import * as assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { SECRETS } from '../emulators/seed';
import { masks } from '../helpers/output';
import { FaultProxy, LossMode, startFaultProxy } from './vaultFront';
import { ServerWorld, startServerWorld } from './fixture';
import { JWT_MOUNT } from './seed';
import { runShell } from './pageRecipe';

const MOUNT = 'approle-lost';
const PROXY_PORT = 8310;
const SECRETS_LINE = 'secret/ci/production/db password | DB_PASSWORD';
const UNWRAP = 'sys/wrapping/unwrap';
const LOGIN = `auth/${MOUNT}/login`;
/** timeoutSeconds of these runs; a late answer comes 2 s after it. */
const TIMEOUT_SECONDS = 2;

describe('server: an unwrap or a login whose answer is lost is sent once (a fault proxy in front of OpenBao)', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  let proxy: FaultProxy;
  const roleIds: Record<string, string> = {};

  before(async () => {
    s = await startServerWorld();
    proxy = await startFaultProxy(s.world.ca, PROXY_PORT, s.bao);
    assert.ok((await s.bao.api('POST', `sys/auth/${MOUNT}`, { type: 'approle' })).status < 300);
    for (const [name, settings] of Object.entries({ ci: {}, 'ci-once': { secret_id_num_uses: 1 } })) {
      const a = await s.bao.api('POST', `auth/${MOUNT}/role/${name}`, { token_policies: ['ci-read'], token_ttl: '10m', ...settings });
      assert.ok(a.status < 300, JSON.stringify(a.body));
      roleIds[name] = (await s.bao.api('GET', `auth/${MOUNT}/role/${name}/role-id`)).body.data.role_id;
    }
  });
  after(async () => {
    await proxy?.stop();
    await s?.stop();
  });

  const secretId = async (role: string): Promise<string> =>
    (await s.bao.api('POST', `auth/${MOUNT}/role/${role}/secret-id`, {})).body.data.secret_id;
  const wrapped = async (role: string): Promise<string> => {
    const r = await s.bao.cli(['write', '-wrap-ttl=300s', '-field=wrapping_token', '-f', `auth/${MOUNT}/role/${role}/secret-id`]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  /** How many requests to `path` OpenBao's audit log holds. */
  const audited = (path: string) => s.bao.auditedRequests().filter((r) => r.path === path).length;

  /** The main step through the proxy, with two retries allowed; role_id and secret_id from secret variables. */
  async function run(role: string, roleId: string, secret: string, address = proxy.address) {
    const masked = [roleId, secret];
    const r = await s.run(
      {
        authMethod: 'approle',
        authMount: MOUNT,
        role,
        secrets: SECRETS_LINE,
        vaultAddress: address,
        retries: '2',
        timeoutSeconds: String(TIMEOUT_SECONDS),
        approleRoleId: roleId,
        approleSecretId: secret,
      },
      { secretVariables: { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secret } },
    );
    const check = (ok: boolean) =>
      s.check(r, ok, {
        agentMasked: masked,
        extraSecrets: [...masks(r.stdout)].filter((m) => !masked.includes(m)).map((value) => ({ what: 'a value the step masked', value })),
      });
    return { run: r, check };
  }

  const modes: Array<[LossMode, string, RegExp]> = [
    ['reset', 'the connection reset after OpenBao answered', /\((ECONNRESET|EPIPE)\)|closed the connection without answering/],
    ['bad-gateway', "a gateway's 502 in place of OpenBao's answer", /\(HTTP 502\)/],
    ['late', 'the answer later than timeoutSeconds', new RegExp(`\\(no answer within ${TIMEOUT_SECONDS} s\\)`)],
  ];

  for (const [mode, title, cause] of modes) {
    it(`unwraps once when ${title}, says the token may be spent by this request, and names no theft`, async () => {
      const token = await wrapped('ci');
      const before = { unwraps: audited(UNWRAP), logins: audited(LOGIN) };
      proxy.lose({ method: 'POST', path: UNWRAP, mode, lateMs: (TIMEOUT_SECONDS + 2) * 1000 });
      const { check } = await run('ci', roleIds.ci, token);
      const { errors, vars } = check(false);
      assert.deepEqual(
        proxy.lost.at(-1)?.split(' '),
        ['POST', UNWRAP, mode, '200'],
        'OpenBao performed the unwrap, and its answer was lost',
      );
      assert.equal(audited(UNWRAP) - before.unwraps, 1, 'OpenBao received exactly one unwrap');
      assert.equal(audited(LOGIN) - before.logins, 0, 'and no login');
      assert.equal(vars.size, 0);
      assert.doesNotMatch(errors, /stolen|intercept|something else unwrapped/i);
      assert.match(
        errors,
        new RegExp(
          `^Vault at ${proxy.address.replace(/\./g, '\\.')} gave no answer to the unwrap of the wrapping token from input 'approleSecretId' `,
        ),
      );
      assert.match(errors, cause);
      assert.match(errors, /this very request spent the wrapping token, and the secret_id it held reached no one/);
      assert.match(errors, new RegExp(`vault list auth/${MOUNT}/role/ci/secret-id\\)`));
      // The wrapping token is spent indeed: the message's "may have" was the truth.
      const spent = await s.bao.api('POST', 'sys/wrapping/lookup', { token }, '');
      assert.equal(spent.status, 400);

      // The printed fix makes a wrapping token that works, through the same proxy.
      const fix = /vault write -f -wrap-ttl=1h auth\/\S+\/secret-id$/.exec(errors)?.[0];
      assert.ok(fix, errors);
      const made = await runShell(s.bao, s.world.ca.certPath, fix, tmpdir(), { BAO_FORMAT: 'json' });
      assert.equal(made.code, 0, made.output);
      const again = await run('ci', roleIds.ci, JSON.parse(made.stdout).wrap_info.token);
      assert.deepEqual(Object.fromEntries(again.check(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
    });

    it(`logs in once when ${title}, saying a token may have been issued and the secret_id used up, not blaming the role_id`, async () => {
      const secret = await secretId('ci-once');
      const before = audited(LOGIN);
      proxy.lose({ method: 'POST', path: LOGIN, mode, lateMs: (TIMEOUT_SECONDS + 2) * 1000 });
      const { check } = await run('ci-once', roleIds['ci-once'], secret);
      const { errors } = check(false);
      assert.deepEqual(proxy.lost.at(-1)?.split(' '), ['POST', LOGIN, mode, '200'], 'OpenBao performed the login, and its answer was lost');
      assert.equal(audited(LOGIN) - before, 1, 'OpenBao received exactly one login');
      assert.doesNotMatch(errors, /stolen|role_id from input 'approleRoleId' is not|Compare the role_id/i);
      assert.match(errors, cause);
      assert.match(
        errors,
        new RegExp(
          `The step does not send a login twice, as each one creates a token: if Vault performed this one, it issued a token that no one holds, which expires at its TTL \\(Vault's audit log shows whether ${LOGIN} arrived\\)\\.`,
        ),
      );
      assert.match(
        errors,
        new RegExp(
          `The secret_id from input 'approleSecretId' may have been used by this very request: .*vault write -f -wrap-ttl=1h auth/${MOUNT}/role/ci-once/secret-id`,
        ),
      );
      // OpenBao did use the single-use secret_id up.
      const reuse = await s.bao.api('POST', LOGIN, { role_id: roleIds['ci-once'], secret_id: secret }, '');
      assert.equal(reuse.status, 400);
    });
  }

  it("any method's login is sent once: a jwt login (an Entra token) whose answer a gateway replaced with 502", async () => {
    const path = `auth/${JWT_MOUNT}/login`;
    const before = audited(path);
    proxy.lose({ method: 'POST', path, mode: 'bad-gateway' });
    const r = await s.run({ vaultAddress: proxy.address, retries: '2', secrets: SECRETS_LINE });
    const { errors } = s.check(r, false);
    assert.deepEqual(
      proxy.lost.at(-1)?.split(' '),
      ['POST', path, 'bad-gateway', '200'],
      'OpenBao performed the login, and its answer was lost',
    );
    assert.equal(audited(path) - before, 1, 'OpenBao received exactly one login');
    assert.equal(
      errors,
      `Vault at ${proxy.address} gave no answer to the login at ${path} (HTTP 502) after the request may have reached it: check the proxy, load balancer or firewall between the agent and Vault, and that 'timeoutSeconds' gives Vault time to answer. The step does not send a login twice, as each one creates a token: if Vault performed this one, it issued a token that no one holds, which expires at its TTL (Vault's audit log shows whether ${path} arrived).`,
    );
  });

  it('still retries what provably did not reach Vault (connection refused), and reads after a lost answer', async () => {
    // Nothing listens on the port: every attempt is refused before a byte is written, and each is retried.
    const refused = await run('ci', roleIds.ci, await secretId('ci'), 'https://vault.example.com:8319');
    const { errors } = refused.check(false);
    assert.equal(
      refused.run.stdout
        .split('\n')
        .filter((l) => /^Request POST auth\/approle-lost\/login failed on attempt \d of 3 \(ECONNREFUSED\)/.test(l)).length,
      2,
    );
    assert.match(errors, /Cannot reach Vault at https:\/\/vault\.example\.com:8319 \(ECONNREFUSED\)/);

    // A read whose answer is lost is read again.
    const before = s.bao.auditedRequests().filter((r) => r.path === 'secret/data/ci/production/db').length;
    proxy.lose({ method: 'GET', path: 'secret/data/ci/production/db', mode: 'bad-gateway' });
    const read = await run('ci', roleIds.ci, await secretId('ci'));
    assert.deepEqual(Object.fromEntries(read.check(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.equal(s.bao.auditedRequests().filter((r) => r.path === 'secret/data/ci/production/db').length - before, 2);
  });
});
