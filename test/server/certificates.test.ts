// Certificates OpenBao's PKI and SSH engines make for the job, set up as docs/certificates.md
// writes it: a TLS certificate with the requested names and TTL that `openssl verify` accepts
// against the mount's CA and whose key matches it, published as secret variables or files; an SSH
// certificate for a key pair the task made, which `ssh-keygen -L` shows with the requested
// principals and validity, signed by the mount's CA key; the post-job step deleting the files and
// revoking a PKI lease; denied paths, unknown roles and refused parameters explained with the fix,
// the fix run as printed, and nothing published when any request fails.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RESOURCE } from '../emulators/seed';
import { TaskRun } from '../emulators/world';
import { taskVariablesFrom, vsoCommands } from '../helpers/output';
import { savedToken, ServerWorld, startServerWorld } from './fixture';
import { docsPage, recipeBlocks, runShell, taskInputs } from './pageRecipe';
import { FaultProxy, LossMode, startFaultProxy } from './vaultFront';
import { JWT_MOUNT } from './seed';
import { SSH_USER, startSshd } from './sshd';

/** The role of docs/certificates.md's policies; and one allowed every role of both mounts. */
const DOCS_ROLE = 'ci-certificates';
const ANY_ROLE = 'ci-any-certificate';
const ANY_POLICY = 'path "pki/issue/*" { capabilities = ["update"] }\npath "ssh-client-signer/sign/*" { capabilities = ["update"] }\n';

function published(run: TaskRun): Map<string, { value: string; secret: boolean }> {
  const vars = new Map<string, { value: string; secret: boolean }>();
  for (const c of vsoCommands(run.stdout))
    if (c.command === 'task.setvariable') vars.set(c.properties.variable, { value: c.message, secret: c.properties.issecret === 'true' });
  return vars;
}

describe('server: certificates from the PKI and SSH engines (docs/certificates.md)', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  let cwd: string;
  let proxy: FaultProxy;
  const page = docsPage('certificates.md');

  const jwtRole = (name: string, policies: string[]) =>
    s.bao.api('POST', `auth/${JWT_MOUNT}/role/${name}`, {
      role_type: 'jwt',
      bound_audiences: [DEFAULT_RESOURCE],
      bound_claims: { oid: s.world.ids.wif.objectId },
      user_claim: 'oid',
      token_policies: policies,
      token_type: 'service',
      token_ttl: 900,
    });

  before(async () => {
    s = await startServerWorld();
    proxy = await startFaultProxy(s.world.ca, 8311, s.bao);
    cwd = mkdtempSync(join(tmpdir(), 'val-certificates-'));
    for (const name of ['pki-setup', 'ssh-setup']) {
      const blocks = recipeBlocks(page, name);
      assert.equal(blocks.length, 1, `one ${name} block`);
      const r = await runShell(s.bao, s.world.ca.certPath, blocks[0].text, cwd);
      assert.equal(r.code, 0, `${name} as the page writes it:\n${r.output}`);
    }
    assert.equal((await jwtRole(DOCS_ROLE, ['ci-read', 'ci-certificates', 'ci-ssh'])).status, 204);
    assert.equal((await s.bao.api('POST', 'sys/policies/acl/ci-any-certificate', { policy: ANY_POLICY })).status, 204);
    assert.equal((await jwtRole(ANY_ROLE, ['ci-read', 'ci-any-certificate'])).status, 204);
  });
  after(async () => {
    await proxy?.stop();
    await s?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  /** The post-job step in the main step's Agent.TempDirectory with the task variables it set. */
  const postJob = (main: TaskRun, inputs: Record<string, string>) =>
    s.run(inputs, { entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) });
  const revokeToken = async (run: TaskRun) =>
    assert.equal((await s.bao.api('POST', 'auth/token/revoke', { token: savedToken(run) })).status, 204);
  const secretsOf = (vars: Map<string, { value: string }>) =>
    [...vars.entries()].filter(([n]) => /PRIVATE_KEY$/.test(n)).map(([n, v]) => ({ what: n, value: v.value }));

  function openssl(args: string[]): string {
    return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  describe('PKI', () => {
    it("issues the page's certificate as secret variables: the requested names and TTL, verified by openssl against the mount's CA, its key matching", async () => {
      const inputs = {
        role: DOCS_ROLE,
        secrets: '',
        certificates: 'pki/issue/web common_name=app.example.com alt_names=api.example.com ttl=1h | WEB_',
      };
      const main = await s.run(inputs);
      const vars = published(main);
      const { warnings } = s.check(main, true, { extraSecrets: secretsOf(vars) });
      assert.deepEqual(warnings, []);
      assert.deepEqual([...vars.keys()].sort(), ['WEB_CA_CHAIN', 'WEB_CERTIFICATE', 'WEB_ISSUING_CA', 'WEB_PRIVATE_KEY']);
      assert.ok(
        [...vars.values()].every((v) => v.secret),
        'all four are secret variables',
      );

      const pem = vars.get('WEB_CERTIFICATE')!.value;
      writeFileSync(join(cwd, 'web.pem'), pem);
      assert.equal(openssl(['verify', '-CAfile', 'ca.pem', 'web.pem']).trim(), 'web.pem: OK');
      const cert = new X509Certificate(pem);
      assert.equal(cert.subject, 'CN=app.example.com');
      assert.equal(cert.subjectAltName, 'DNS:app.example.com, DNS:api.example.com');
      const lifetime = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 1000;
      assert.ok(
        lifetime >= 3600 && lifetime <= 3600 + 60,
        `valid for the requested hour (OpenBao backdates notBefore by 30 s): ${lifetime} s`,
      );
      assert.ok(cert.checkPrivateKey(createPrivateKey(vars.get('WEB_PRIVATE_KEY')!.value)), 'the private key is the certificate key');
      assert.equal(vars.get('WEB_ISSUING_CA')!.value.trim(), readFileSync(join(cwd, 'ca.pem'), 'utf8').trim());

      const serial = cert.serialNumber.toLowerCase().match(/../g)!.join(':');
      const expires = new Date(cert.validTo).toISOString().replace(/\.000Z$/, 'Z');
      assert.match(
        main.stdout,
        new RegExp(`^pki/issue/web: certificate serial ${serial}, expires ${expires} \\(no lease: its TTL bounds it\\)\\.$`, 'm'),
      );
      assert.match(main.stdout, /^Requesting 1 certificate\(s\) from Vault, each request sent once\.$/m);
      assert.ok(
        vsoCommands(main.stdout).some(
          (c) => c.command === 'task.setsecret' && c.message === vars.get('WEB_PRIVATE_KEY')!.value.split('\n')[1],
        ),
        'the key is masked line by line',
      );
      await revokeToken(main);
    });

    it('writes file: targets with mode 0600, logs unknown parameter names, and the post-job step deletes the files', async () => {
      const inputs = {
        role: DOCS_ROLE,
        secrets: '',
        certificates:
          'pki/issue/web {"common_name": "db-client.example.com", "ttl": 1800, "private_key_format": "pkcs8", "colour": "blue"} | file:DB_CLIENT_',
      };
      const main = await s.run(inputs);
      const vars = published(main);
      const paths = [...vars.entries()].map(([name, v]) => ({ name, ...v }));
      const key = readFileSync(vars.get('DB_CLIENT_PRIVATE_KEY')!.value, 'utf8');
      s.check(main, true, { extraSecrets: [{ what: 'the private key', value: key }] });
      assert.deepEqual(paths.map((p) => p.name).sort(), [
        'DB_CLIENT_CA_CHAIN',
        'DB_CLIENT_CERTIFICATE',
        'DB_CLIENT_ISSUING_CA',
        'DB_CLIENT_PRIVATE_KEY',
      ]);
      for (const p of paths) {
        assert.equal(p.secret, false, 'a path is not secret');
        assert.ok(p.value.startsWith(main.tempDir), 'under Agent.TempDirectory');
        assert.equal(statSync(p.value).mode & 0o777, 0o600, `${p.name} is 0600`);
      }
      const cert = new X509Certificate(readFileSync(vars.get('DB_CLIENT_CERTIFICATE')!.value));
      assert.match(key, /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8, as asked');
      assert.ok(cert.checkPrivateKey(createPrivateKey(key)));
      const lifetime = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 1000 - 30;
      // OpenBao takes notBefore and notAfter from two readings of the clock, each cut to the second:
      // a second may pass between them.
      assert.ok(lifetime >= 1799 && lifetime <= 1801, `ttl 1800 (OpenBao backdates notBefore by 30 s): ${lifetime}`);
      assert.equal(
        openssl(['verify', '-CAfile', vars.get('DB_CLIENT_ISSUING_CA')!.value, vars.get('DB_CLIENT_CERTIFICATE')!.value]).trim(),
        `${vars.get('DB_CLIENT_CERTIFICATE')!.value}: OK`,
      );
      assert.match(
        main.stdout,
        /^pki\/issue\/web: parameter\(s\) colour are not in Vault's documentation of this endpoint; sent as written\.$/m,
      );

      const post = await postJob(main, inputs);
      s.check(post, true, { extraSecrets: [{ what: 'the private key', value: key }] });
      for (const p of paths) assert.equal(existsSync(p.value), false, `${p.name} deleted`);
    });

    it('a role with generate_lease: the lease is saved, and the post-job step revokes it, which revokes the certificate', async () => {
      assert.equal(
        (
          await s.bao.api('POST', 'pki/roles/web-leased', {
            allowed_domains: 'example.com',
            allow_subdomains: true,
            max_ttl: '72h',
            generate_lease: true,
          })
        ).status,
        200,
      );
      const inputs = { role: ANY_ROLE, secrets: '', certificates: 'pki/issue/web-leased common_name=leased.example.com ttl=10m | LEASED_' };
      const main = await s.run(inputs);
      const vars = published(main);
      s.check(main, true, { extraSecrets: secretsOf(vars) });
      const serial = new X509Certificate(vars.get('LEASED_CERTIFICATE')!.value).serialNumber.toLowerCase().match(/../g)!.join(':');
      const lease = new RegExp(
        `^pki/issue/web-leased: certificate serial ${serial}, expires \\S+, lease (pki/issue/web-leased/\\S+) \\(revoked by the post-job step\\)\\.$`,
        'm',
      ).exec(main.stdout)?.[1];
      assert.ok(lease, main.stdout);
      const saved = vsoCommands(main.stdout).filter(
        (c) => c.command === 'task.settaskvariable' && c.properties.variable === 'VaultAzureLogin.Leases',
      );
      assert.deepEqual(JSON.parse(saved[saved.length - 1].message), [lease]);
      assert.equal((await s.bao.api('GET', `pki/cert/${serial}`)).body.data.revocation_time, 0);

      const post = await postJob(main, inputs);
      s.check(post, true, { extraSecrets: secretsOf(vars) });
      assert.match(post.stdout, new RegExp(`^Revoked lease ${lease}\\.$`, 'm'));
      assert.ok((await s.bao.api('GET', `pki/cert/${serial}`)).body.data.revocation_time > 0, 'the certificate is revoked');
    });

    it('a path the policy does not allow: the rule to add, nothing published although another certificate was issued; the rule added, it issues', async () => {
      assert.equal((await s.bao.api('POST', 'pki/roles/admin', { allowed_domains: 'example.com', allow_subdomains: true })).status, 200);
      const inputs = {
        role: DOCS_ROLE,
        secrets: 'secret/ci/production/db password | DB_PASSWORD',
        certificates: 'pki/issue/web common_name=app.example.com ttl=5m | WEB_\npki/issue/admin common_name=admin.example.com | ADMIN_',
      };
      const main = await s.run(inputs);
      const { errors } = s.check(main, false);
      assert.equal(published(main).size, 0, 'nothing published');
      assert.equal(
        errors,
        '1 of 2 certificate request(s) failed; no variables were published.\n' +
          '  pki/issue/admin: permission denied: the Vault token\'s policies do not allow update on pki/issue/admin. Add to the role\'s policy: path "pki/issue/admin" { capabilities = ["update"] }',
      );
      await revokeToken(main);
      const rule = /Add to the role's policy: (path .*)$/.exec(errors)![1];
      const policy = (await s.bao.api('GET', 'sys/policies/acl/ci-certificates')).body.data.policy as string;
      assert.equal((await s.bao.api('POST', 'sys/policies/acl/ci-certificates', { policy: `${policy}\n${rule}\n` })).status, 204);
      const again = await s.run(inputs);
      const vars = published(again);
      s.check(again, true, { extraSecrets: secretsOf(vars) });
      assert.equal(new X509Certificate(vars.get('ADMIN_CERTIFICATE')!.value).subject, 'CN=admin.example.com');
      assert.ok(vars.has('DB_PASSWORD') && vars.has('WEB_CERTIFICATE'));
      await revokeToken(again);
    });

    it('a token with no rule under the mount at all: the same rule to add', async () => {
      const main = await s.run({ secrets: '', certificates: 'pki/issue/web common_name=app.example.com | WEB_' });
      const { errors } = s.check(main, false);
      assert.equal(
        errors,
        '1 of 1 certificate request(s) failed; no variables were published.\n' +
          '  pki/issue/web: permission denied: the Vault token\'s policies do not allow update on pki/issue/web. Add to the role\'s policy: path "pki/issue/web" { capabilities = ["update"] }',
      );
      await revokeToken(main);
    });

    it('an unknown role: the command that creates it, which run as printed lets the job issue', async () => {
      const inputs = { role: ANY_ROLE, secrets: '', certificates: 'pki/issue/api common_name=api.example.com ttl=5m | API_' };
      const main = await s.run(inputs);
      const { errorList } = s.check(main, false);
      assert.equal(errorList.length, 1);
      const m =
        /^ {2}pki\/issue\/api: Vault has no role api on the mount pki\. Create it, with your own names and limits, e\.g\.: (vault write pki\/roles\/api .*)$/m.exec(
          errorList[0],
        );
      assert.ok(m, errorList[0]);
      await revokeToken(main);
      const r = await runShell(s.bao, s.world.ca.certPath, m[1], cwd);
      assert.equal(r.code, 0, r.output);
      const again = await s.run(inputs);
      const vars = published(again);
      s.check(again, true, { extraSecrets: secretsOf(vars) });
      assert.equal(new X509Certificate(vars.get('API_CERTIFICATE')!.value).subject, 'CN=api.example.com');
      await revokeToken(again);
    });

    it("a name or TTL the role does not allow: Vault's reason and where the role's limits are", async () => {
      const main = await s.run({ role: DOCS_ROLE, secrets: '', certificates: 'pki/issue/web common_name=evil.example.org | EVIL_' });
      const { errorList } = s.check(main, false);
      assert.equal(published(main).size, 0);
      assert.match(
        errorList[0],
        /^ {2}pki\/issue\/web: Vault refused pki\/issue\/web: common name evil\.example\.org not allowed by this role\. The role decides which names, principals and TTLs are allowed: see `vault read pki\/roles\/web`, and change the request or the role\.$/m,
      );
      await revokeToken(main);
    });

    it('a path in a mount of another engine (KV version 1): the engine is checked first, and nothing is written there', async () => {
      const main = await s.run({ role: DOCS_ROLE, secrets: '', certificates: 'kv1/app/issue/web common_name=a.example.com | KV_' });
      const { errors } = s.check(main, false);
      assert.equal(
        errors,
        '1 of 1 certificate request(s) failed; no variables were published.\n' +
          '  kv1/app/issue/web: kv1/app/issue/web lies in the mount kv1/, a kv secrets engine, where no pki certificate can be asked for (a write there could store the parameters instead); nothing was sent. Name a path of a pki mount: `vault secrets list` shows them.',
      );
      assert.equal((await s.bao.api('GET', 'kv1/app/issue/web')).status, 404, 'no secret written');
      await revokeToken(main);
    });

    it("a ttl above the role's max_ttl: OpenBao shortens it without an error, and the task warns", async () => {
      const main = await s.run({ role: DOCS_ROLE, secrets: '', certificates: 'pki/issue/web common_name=app.example.com ttl=100h | WEB_' });
      const vars = published(main);
      const { warnings } = s.check(main, true, { extraSecrets: secretsOf(vars) });
      const cert = new X509Certificate(vars.get('WEB_CERTIFICATE')!.value);
      const lifetime = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 1000;
      assert.ok(lifetime <= 72 * 3600 + 60, `the role's max_ttl of 72h: ${lifetime} s`);
      const expires = new Date(cert.validTo).toISOString().replace(/\.000Z$/, 'Z');
      assert.deepEqual(warnings, [
        `pki/issue/web: asked for ttl 100h, but the certificate expires ${expires}: Vault shortened it to the role's max_ttl (or the mount's max lease TTL) without an error. Ask for less, or raise max_ttl (\`vault write <mount>/roles/<role> max_ttl=…\`).`,
      ]);
      await revokeToken(main);
    });

    it('bad parameters are refused before any request, quoting the line', async () => {
      const main = await s.run({
        role: DOCS_ROLE,
        secrets: '',
        certificates: 'pki/issue/web {"common_name": app} | WEB_\npki/issue/web common_name=a.example.com ttl=soon',
      });
      const { errors } = s.check(main, false);
      assert.match(
        errors,
        /^The 'certificates' input has 2 problem\(s\):\n {2}certificates line 1: "pki\/issue\/web \{"common_name": app\} \| WEB_": the parameters are not a JSON object \(.+\): write/,
      );
      assert.match(
        errors,
        /\n {2}certificates line 2: "pki\/issue\/web common_name=a\.example\.com ttl=soon": ttl 'soon' is not a duration/,
      );
      assert.equal(savedToken(main), undefined, 'no login either');
    });
  });

  describe('SSH', () => {
    const caKey = () => readFileSync(join(cwd, 'trusted-user-ca-keys.pem'), 'utf8').trim();

    function keygenList(certFile: string): string {
      return execFileSync('ssh-keygen', ['-L', '-f', certFile], { encoding: 'utf8' });
    }

    it("signs a key pair made for the job: files of mode 0600 that ssh-keygen reads, with the requested principals and validity, signed by the mount's CA; the post-job step deletes them", async () => {
      const inputs = {
        role: DOCS_ROLE,
        secrets: '',
        sshCertificates: 'ssh-client-signer/sign/deploy valid_principals=deploy ttl=10m | SSH_',
      };
      const main = await s.run(inputs);
      const vars = published(main);
      const keyFile = vars.get('SSH_KEY')!.value;
      const certFile = vars.get('SSH_CERT')!.value;
      const key = readFileSync(keyFile, 'utf8');
      const { warnings } = s.check(main, true, { extraSecrets: [{ what: 'the SSH private key', value: key }] });
      assert.deepEqual(warnings, []);
      assert.deepEqual([...vars.keys()].sort(), ['SSH_CERT', 'SSH_KEY']);
      for (const file of [keyFile, certFile]) {
        assert.ok(file.startsWith(main.tempDir));
        assert.equal(statSync(file).mode & 0o777, 0o600);
      }
      assert.match(key, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
      const pub = execFileSync('ssh-keygen', ['-y', '-f', keyFile], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' ');

      const listed = keygenList(certFile);
      assert.match(listed, /Type: ssh-ed25519-cert-v01@openssh\.com user certificate/);
      writeFileSync(join(cwd, 'job.pub'), `${pub}\n`);
      const keyFingerprint = execFileSync('ssh-keygen', ['-l', '-f', join(cwd, 'job.pub')], { encoding: 'utf8' }).split(' ')[1];
      assert.ok(listed.includes(`Public key: ED25519-CERT ${keyFingerprint}`), `the certificate is for the job's key:\n${listed}`);
      const caFingerprint = execFileSync('ssh-keygen', ['-l', '-f', join(cwd, 'trusted-user-ca-keys.pem')], { encoding: 'utf8' }).split(
        ' ',
      )[1];
      assert.ok(
        listed.includes(`Signing CA: `) && listed.includes(caFingerprint),
        `signed by the mount's CA key ${caFingerprint}:\n${listed}`,
      );
      assert.match(listed, /Principals: \n\s+deploy\n/);
      const valid = /Valid: from (\S+) to (\S+)/.exec(listed)!;
      const lifetime = (Date.parse(valid[2]) - Date.parse(valid[1])) / 1000;
      assert.ok(lifetime >= 600 && lifetime <= 600 + 60, `valid for the requested 10 minutes: ${lifetime} s`);
      const keyId = /Key ID: "(.*)"/.exec(listed)![1];
      const serial = /Serial: (\d+)/.exec(listed)![1];
      assert.match(
        main.stdout,
        new RegExp(
          `^ssh-client-signer/sign/deploy: SSH certificate key id "${keyId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}", user certificate for deploy, serial ${serial}, valid from \\S+Z to \\S+Z\\.$`,
          'm',
        ),
      );
      assert.ok(caKey().startsWith('ssh-'));

      const post = await postJob(main, inputs);
      s.check(post, true, { extraSecrets: [{ what: 'the SSH private key', value: key }] });
      assert.equal(existsSync(keyFile), false);
      assert.equal(existsSync(certFile), false);
    });

    it("a real sshd trusting the mount's CA runs a command for the key with its certificate, and refuses the same key without it", async () => {
      const sshd = await startSshd(caKey());
      try {
        const inputs = {
          role: DOCS_ROLE,
          secrets: '',
          sshCertificates: `ssh-client-signer/sign/deploy valid_principals=${SSH_USER} ttl=5m | DEPLOY_`,
        };
        const main = await s.run(inputs);
        const vars = published(main);
        const [keyFile, certFile] = [vars.get('DEPLOY_KEY')!.value, vars.get('DEPLOY_CERT')!.value];
        s.check(main, true, { extraSecrets: [{ what: 'the SSH private key', value: readFileSync(keyFile, 'utf8') }] });

        const login = await sshd.ssh(keyFile, certFile, 'echo "logged in as $(id -un)"');
        assert.equal(login.code, 0, `${login.stderr}\n${sshd.log()}`);
        assert.equal(login.stdout, `logged in as ${SSH_USER}\n`);
        assert.match(sshd.log(), /Accepted publickey for deploy from 127\.0\.0\.1 port \d+ ssh2: ED25519-CERT SHA256:\S+ ID vault-/);

        const bare = await sshd.ssh(keyFile, undefined, 'echo "logged in"');
        assert.equal(bare.code, 255);
        assert.equal(bare.stdout, '');
        assert.match(bare.stderr, /Permission denied \(publickey\)/);
        await revokeToken(main);
      } finally {
        await sshd.stop();
      }
    });

    it('a principal the role does not allow: refused with the role to read, nothing published', async () => {
      const main = await s.run({
        role: DOCS_ROLE,
        secrets: '',
        sshCertificates: 'ssh-client-signer/sign/deploy valid_principals=root | SSH_',
      });
      const { errorList } = s.check(main, false);
      assert.equal(published(main).size, 0);
      assert.match(
        errorList[0],
        /^ {2}ssh-client-signer\/sign\/deploy: Vault refused ssh-client-signer\/sign\/deploy: .*root.*\. The role decides which names, principals and TTLs are allowed: see `vault read ssh-client-signer\/roles\/deploy`/m,
      );
      await revokeToken(main);
    });

    it('an unknown role and a denied path', async () => {
      const unknown = await s.run({
        role: ANY_ROLE,
        secrets: '',
        sshCertificates: 'ssh-client-signer/sign/backup valid_principals=deploy | B_',
      });
      assert.match(
        s.check(unknown, false).errors,
        /Vault has no role backup on the mount ssh-client-signer\. Create it, with your own names and limits, e\.g\.: vault write ssh-client-signer\/roles\/backup key_type=ca allow_user_certificates=true/,
      );
      await revokeToken(unknown);
      const denied = await s.run({
        role: DOCS_ROLE,
        secrets: '',
        sshCertificates: 'ssh-client-signer/sign/backup valid_principals=deploy | B_',
      });
      assert.match(
        s.check(denied, false).errors,
        /permission denied: the Vault token's policies do not allow update on ssh-client-signer\/sign\/backup\. Add to the role's policy: path "ssh-client-signer\/sign\/backup" \{ capabilities = \["update"\] \}/,
      );
      await revokeToken(denied);
    });
  });

  describe('a request whose answer is lost is sent once (a fault proxy in front of OpenBao)', () => {
    const TIMEOUT_SECONDS = 2;
    // GET with list=true: the LIST method is Vault's own, which Node's HTTP server (the fronts) does not parse.
    const issued = async () => ((await s.bao.api('GET', 'pki/certs?list=true')).body.data.keys as string[]).length;
    const modes: Array<[LossMode, RegExp]> = [
      ['reset', /\((ECONNRESET|EPIPE)\)/],
      ['bad-gateway', /\(HTTP 502\)/],
      ['late', new RegExp(`\\(no answer within ${TIMEOUT_SECONDS} s\\)`)],
    ];
    for (const [mode, cause] of modes) {
      it(`${mode}: OpenBao issued one certificate, the task asked once with two retries allowed, says a certificate may have been issued, and publishes nothing`, async () => {
        const before = { certs: await issued(), audited: s.bao.auditedRequests().filter((r) => r.path === 'pki/issue/web').length };
        proxy.lose({ method: 'POST', path: 'pki/issue/web', mode, lateMs: (TIMEOUT_SECONDS + 2) * 1000 });
        const main = await s.run({
          role: DOCS_ROLE,
          secrets: '',
          vaultAddress: proxy.address,
          retries: '2',
          timeoutSeconds: String(TIMEOUT_SECONDS),
          certificates: 'pki/issue/web common_name=lost.example.com ttl=5m | LOST_',
        });
        const { errors } = s.check(main, false);
        assert.deepEqual(
          proxy.lost.at(-1)?.split(' '),
          ['POST', 'pki/issue/web', mode, '200'],
          'OpenBao issued it, and its answer was lost',
        );
        assert.equal(await issued(), before.certs + 1, 'one certificate issued');
        assert.equal(
          s.bao.auditedRequests().filter((r) => r.path === 'pki/issue/web').length,
          before.audited + 1,
          'one request in the audit log',
        );
        assert.equal(published(main).size, 0);
        assert.match(
          errors,
          /^1 of 1 certificate request\(s\) failed; no variables were published\.\n {2}pki\/issue\/web: pki\/issue\/web was sent to https:\/\/vault\.example\.com:8311 once and its answer was lost /,
        );
        assert.match(errors, cause);
        assert.match(
          errors,
          /Vault may have issued a certificate nobody received\. It is not asked for again, which would issue a second; the first expires at the end of its TTL\.$/,
        );
        assert.doesNotMatch(main.stdout, /^Request POST pki\/issue\/web failed on attempt/m, 'no retry');
        await revokeToken(main);
      });
    }
  });

  it("the page's YAML examples name the inputs the task has, and its setup ran above", () => {
    for (const name of ['pki-yaml', 'ssh-yaml']) {
      const [block] = recipeBlocks(page, name);
      const inputs = taskInputs(block.text);
      assert.ok(inputs.certificates || inputs.sshCertificates, name);
    }
  });
});
