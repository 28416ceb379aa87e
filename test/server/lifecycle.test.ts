// The job around the reads, against real OpenBao: service and batch tokens, the post-job step
// really revoking the token, the exported token used by the real `bao` CLI, a sealed server, and
// the server's certificate from a private CA trusted through the task input or the agent setting.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { taskVariablesFrom, vsoCommands } from '../helpers/output';
import { SECRETS } from '../emulators/seed';
import { RunOptions, TaskRun } from '../emulators/world';
import { savedToken, ServerWorld, startServerWorld } from './fixture';
import { OPENBAO_ADDRESS, OPENBAO_PRIVATE_CA_ADDRESS } from './openbao';
import { JWT_BATCH_ROLE } from './seed';

const run = promisify(execFile);

describe('server: the job lifecycle against OpenBao', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  before(async () => (s = await startServerWorld()));
  after(async () => s?.stop());

  const secrets = 'secret/ci/production/db password | DB_PASSWORD';

  /** Main step, then the post-job step in the same Agent.TempDirectory with the task variables it set. */
  async function job(inputs: Record<string, string>): Promise<{ main: TaskRun; post: TaskRun; token: string; liveBeforePost: number }> {
    const main = await s.run(inputs);
    const token = savedToken(main);
    assert.ok(token, 'the main step kept the token for the post-job step');
    const liveBeforePost = (await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status;
    const post = await s.run(inputs, { entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) });
    return { main, post, token, liveBeforePost };
  }

  it('revokes the service token in the post-job step: a later lookup with it is refused', async () => {
    const { main, post, token, liveBeforePost } = await job({ secrets });
    s.check(main, true);
    assert.match(token, /^s\./, "OpenBao's service tokens start with s.");
    assert.equal(liveBeforePost, 200, 'the token works until the post-job step');
    const p = s.check(post, true);
    assert.deepEqual(p.warnings, []);
    assert.match(post.stdout, /Revoked the Vault token\./);
    const after = await s.bao.api('GET', 'auth/token/lookup-self', undefined, token);
    assert.equal(after.status, 403);
    assert.deepEqual(after.body, { errors: ['permission denied'] });
  });

  it('keeps the token with revokeToken false', async () => {
    const { post, token } = await job({ secrets, revokeToken: 'false' });
    s.check(post, true);
    assert.equal((await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status, 200, 'still valid after the job');
    assert.equal((await s.bao.api('POST', 'auth/token/revoke', { token })).status, 204);
  });

  it('logs in with a batch token, which the post-job step leaves to expire', async () => {
    const { main, post, token, liveBeforePost } = await job({ secrets, role: JWT_BATCH_ROLE });
    const { vars } = s.check(main, true);
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.match(main.stdout, /token type batch, TTL 900s/);
    assert.match(token, /^b\./, "OpenBao's batch tokens start with b.");
    assert.equal(liveBeforePost, 200);
    const p = s.check(post, true);
    assert.deepEqual(p.warnings, [], 'no warning: a batch token cannot be revoked and is not tried');
    const revoke = await s.bao.api('POST', 'auth/token/revoke-self', undefined, token);
    assert.equal(revoke.status, 400, 'OpenBao refuses to revoke a batch token');
    assert.deepEqual(revoke.body, { errors: ['batch tokens cannot be revoked'] });
  });

  it('warns, naming both causes, when OpenBao refuses to revoke a token revoked since (it answers a bare "permission denied")', async () => {
    const main = await s.run({ secrets });
    const token = savedToken(main);
    assert.ok(token);
    assert.equal((await s.bao.api('POST', 'auth/token/revoke', { token })).status, 204);
    const post = await s.run({ secrets }, { entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) });
    const p = s.check(post, true);
    assert.equal(p.warnings.length, 1);
    assert.match(
      p.warnings[0],
      /^Vault refused to revoke the Vault token \(403 permission denied\): it has expired or been revoked already/,
    );
  });

  it('exports VAULT_ADDR and VAULT_TOKEN that the real bao CLI reads a secret with', async () => {
    const main = await s.run({ secrets: '', exportToken: 'true' });
    const { vars } = s.check(main, true);
    const token = vars.get('VAULT_TOKEN');
    assert.ok(token);
    const addr = vsoCommands(main.stdout).find((c) => c.command === 'task.setvariable' && c.properties.variable === 'VAULT_ADDR');
    assert.equal(addr?.message, OPENBAO_ADDRESS);
    assert.equal(addr?.properties.issecret, 'false');
    // As a later script step would: the vault CLI's environment variables, which bao reads too.
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: main.tempDir,
      VAULT_ADDR: addr!.message,
      VAULT_TOKEN: token!,
      VAULT_CACERT: s.world.ca.certPath,
    };
    const got = await run(s.bao.bin, ['kv', 'get', '-field=password', 'secret/ci/production/db'], { env });
    assert.equal(got.stdout.trim(), SECRETS.dbPassword);
    const denied = await run(s.bao.bin, ['kv', 'get', 'secret/other/team'], { env }).then(
      () => assert.fail('the policy allows no read there'),
      (e: { stderr: string }) => e.stderr,
    );
    assert.match(denied, /permission denied/);
    const post = await s.run(
      { secrets: '', exportToken: 'true' },
      { entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) },
    );
    s.check(post, true);
    assert.equal((await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status, 403, 'revoked when the job ends');
  });

  describe("the server's certificate from a private CA", () => {
    const trusted: Array<[string, () => Partial<RunOptions> & { inputs?: Record<string, string> }]> = [
      ["input 'caCertificate' as PEM text", () => ({ inputs: { caCertificate: s.bao.privateCa.certPem } })],
      ["input 'caCertificate' as a file path", () => ({ inputs: { caCertificate: s.bao.privateCa.certPath } })],
      [
        'the agent setting Agent.CAInfo',
        () => {
          // The agent's CA bundle: the OIDC request to Azure DevOps trusts only it, so it holds the
          // test CA too; the Azure library's Entra request still trusts it through NODE_EXTRA_CA_CERTS.
          const bundle = join(s.world.ca.dir, 'agent-ca-bundle.pem');
          writeFileSync(bundle, s.world.ca.certPem + s.bao.privateCa.certPem);
          return { variables: { 'Agent.CAInfo': bundle } };
        },
      ],
    ];
    for (const [title, options] of trusted) {
      it(`is trusted through ${title}`, async () => {
        const { inputs = {}, ...more } = options();
        const main = await s.run({ secrets, vaultAddress: OPENBAO_PRIVATE_CA_ADDRESS, ...inputs }, more);
        const { vars, warnings } = s.check(main, true);
        assert.deepEqual(warnings, []);
        assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
      });
    }

    it('is refused without its CA', async () => {
      const main = await s.run({ secrets, vaultAddress: OPENBAO_PRIVATE_CA_ADDRESS });
      const { errors, vars } = s.check(main, false);
      assert.equal(vars.size, 0);
      assert.match(
        errors,
        /The TLS certificate of https:\/\/vault\.example\.com:8301 is not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/,
      );
    });
  });

  describe('a sealed server', () => {
    before(async () => {
      const sealed = await s.bao.cli(['operator', 'seal']);
      assert.equal(sealed.code, 0, sealed.stderr);
    });

    it('fails the login with what OpenBao answers', async () => {
      const health = await s.bao.api('GET', 'sys/health', undefined, '');
      assert.equal(health.status, 503);
      assert.equal(health.body.sealed, true);
      const main = await s.run({ secrets });
      const { errors, vars } = s.check(main, false);
      assert.equal(vars.size, 0);
      assert.equal(
        errors,
        'Vault at https://vault.example.com:8300 is sealed (503 Vault is sealed). Unseal it, or point the Vault address at an unsealed node.',
      );
    });

    it('reads again once it is unsealed', async () => {
      await s.bao.unseal();
      const { vars } = s.check(await s.run({ secrets }), true);
      assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    });
  });
});
