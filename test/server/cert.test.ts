// The cert login method against real OpenBao: the client certificate and key of a HashiCorp Vault
// service connection (Certificate authentication) or of the TLS inputs, presented over mutual TLS
// to a cert auth mount whose role trusts the test CA and allows one common name; the post-job step
// revokes the token. OpenBao's refusals (a certificate no role trusts, a name the role does not
// allow, no certificate received) explained with the cause and the fix. The cert setup of
// docs/cert.md (blocks marked <!-- test:cert-recipe -->) runs as the page writes it.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceEndpoint } from '../emulators/agentEnv';
import { Ca, createCa, KeyPair } from '../emulators/pki';
import { issueClientCert } from './clientCert';
import { SECRETS } from '../emulators/seed';
import { RunOptions, TaskRun } from '../emulators/world';
import { Checked } from '../helpers/checkRun';
import { taskVariablesFrom } from '../helpers/output';
import { savedToken, ServerWorld, startServerWorld } from './fixture';
import { OPENBAO_ADDRESS, OPENBAO_PRIVATE_CA_ADDRESS } from './openbao';
import { docsPage, policyBlock, recipeBlocks, runShell, taskInputs } from './pageRecipe';

const MOUNT = 'cert-ci';
const ROLE = 'ci-agents';
const AGENT_CN = 'ci-agent.example.com';
const SECRETS_LINE = 'secret/ci/production/db password | DB_PASSWORD';
/** A HashiCorp Vault service connection's id (upper case: the agent's environment names are). */
const CONNECTION = 'VAULTCERT';

/**
 * The base64 lines of a pair's private key that the agent masks. An RSA key holds the public modulus
 * that the certificate holds too, and a line of it can fall on the same base64 boundaries in both:
 * such a line is public, and the certificate shows it where it may.
 */
const keyLines = (pair: KeyPair) =>
  pair.keyPem
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length >= 8 && !l.startsWith('-----') && !pair.certPem.includes(l));

describe('server: cert login against OpenBao', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  let otherCa: Ca;
  let agent: KeyPair;
  let stranger: KeyPair;
  let otherName: KeyPair;

  before(async () => {
    s = await startServerWorld({ ownServer: true });
    otherCa = await createCa('Another Test CA');
    agent = await issueClientCert(s.world.ca, AGENT_CN);
    otherName = await issueClientCert(s.world.ca, 'laptop.example.com');
    stranger = await issueClientCert(otherCa, AGENT_CN);
    assert.ok((await s.bao.api('POST', `sys/auth/${MOUNT}`, { type: 'cert' })).status < 300);
    // The role the logins use, and one for each misconfiguration, whose printed fix the test applies.
    for (const name of [ROLE, 'ci-untrusted', 'ci-names']) {
      const role = await s.bao.api('POST', `auth/${MOUNT}/certs/${name}`, {
        certificate: s.world.ca.certPem,
        allowed_common_names: [AGENT_CN],
        token_policies: ['ci-read'],
        token_ttl: '10m',
      });
      assert.ok(role.status < 300, JSON.stringify(role.body));
    }
  });

  /** Runs the `vault write …` a message ends with, as a user pastes it, in `cwd` (where the files it names are). */
  async function runFix(message: string, cwd: string): Promise<void> {
    const command = /vault write auth\/\S+ \S+=\S+$/.exec(message)?.[0];
    assert.ok(command, `the message ends with its fix: ${message}`);
    const r = await runShell(s.bao, s.world.ca.certPath, command, cwd);
    assert.equal(r.code, 0, `the printed fix failed on OpenBao:\n$ ${command}\n${r.output}`);
  }
  after(async () => {
    await otherCa?.dispose();
    await s?.stop();
  });

  /** A HashiCorp Vault service connection with Certificate authentication: certificate and key in one PEM. */
  const connection = (pair: KeyPair, url = OPENBAO_ADDRESS): ServiceEndpoint => ({
    id: CONNECTION,
    url,
    scheme: 'Certificate',
    parameters: { certificate: pair.certPem + pair.keyPem },
    data: { namespace: '', caCertificate: '' },
  });

  /** The main step with the cert method; checked with the key as what the agent masks. */
  async function main(
    inputs: Record<string, string>,
    pair: KeyPair,
    more: Partial<RunOptions> = {},
  ): Promise<{ run: TaskRun; checked: (ok: boolean) => Checked }> {
    const run = await s.run({ authMethod: 'cert', authMount: MOUNT, role: ROLE, secrets: SECRETS_LINE, ...inputs }, more);
    return { run, checked: (ok) => s.check(run, ok, { agentMasked: keyLines(pair) }) };
  }

  const viaConnection = (pair: KeyPair, url?: string): [Record<string, string>, Partial<RunOptions>] => [
    { vaultAddress: '', vaultConnection: CONNECTION },
    { endpoints: [connection(pair, url)] },
  ];

  it('logs in with the certificate and key of a HashiCorp Vault service connection, reads and publishes; the post-job step revokes the token', async () => {
    const [inputs, more] = viaConnection(agent);
    const { run, checked } = await main(inputs, agent, more);
    assert.deepEqual(Object.fromEntries(checked(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.match(
      run.stdout,
      new RegExp(
        `^Logging in with the TLS client certificate from Vault service connection '${CONNECTION}': subject CN=${AGENT_CN.replace(/\./g, '\\.')}, issuer CN=VaultAzureLogin Test CA, valid until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\.$`,
        'm',
      ),
    );
    assert.match(run.stdout, /^Logged in to Vault: policies \[ci-read, default\], token type service, TTL 600s, over HTTP\/2\.$/m);

    const token = savedToken(run);
    assert.ok(token);
    assert.equal((await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status, 200);
    const post = await s.run({ authMethod: 'cert' }, { entry: 'post.js', tempDir: run.tempDir, variables: taskVariablesFrom(run.stdout) });
    s.check(post, true, { agentMasked: keyLines(agent) });
    assert.match(post.stdout, /Revoked the Vault token\./);
    assert.equal((await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status, 403, 'the token is revoked');
  });

  it("logs in with the inputs 'clientCertificate' and 'clientKey' and no role (OpenBao tries every certificate role)", async () => {
    const { run, checked } = await main({ role: '', clientCertificate: agent.certPem, clientKey: agent.keyPem }, agent, {
      secretVariables: { VAULT_CLIENT_KEY: agent.keyPem },
    });
    assert.deepEqual(Object.fromEntries(checked(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.match(
      run.stdout,
      /^Logging in with the TLS client certificate from input 'clientCertificate': subject CN=ci-agent\.example\.com/m,
    );
    assert.match(
      run.stdout,
      /^Logging in to https:\/\/vault\.example\.com:8300 at auth\/cert-ci\/login \(no role named: the mount chooses\)\.$/m,
    );
  });

  it('explains a certificate from a CA the role does not trust, with the role and without; the printed fix works', async () => {
    const [inputs, more] = viaConnection(stranger);
    const named = (await main({ ...inputs, role: 'ci-untrusted' }, stranger, more)).checked(false);
    assert.equal(
      named.errors,
      `The certificate role 'ci-untrusted' of auth/${MOUNT} does not exist or does not trust the client certificate (400 invalid certificate or no client certificate supplied): subject CN=${AGENT_CN}, issued by CN=Another Test CA. Give the role the CA that issued the certificate (or the certificate itself) as its certificate: vault write auth/${MOUNT}/certs/ci-untrusted certificate=@issuing-ca.pem (vault list auth/${MOUNT}/certs lists the roles).`,
    );
    const any = (await main({ ...inputs, role: '' }, stranger, more)).checked(false);
    assert.equal(
      any.errors,
      `No certificate role of auth/${MOUNT} trusts the client certificate (400 invalid certificate or no client certificate supplied): subject CN=${AGENT_CN}, issued by CN=Another Test CA. Create one with the CA that issued it (or the certificate itself), and name it in 'role': vault write auth/${MOUNT}/certs/<role> certificate=@issuing-ca.pem token_policies=<policy>`,
    );
    const cwd = mkdtempSync(join(tmpdir(), 'val-cert-fix-'));
    try {
      writeFileSync(join(cwd, 'issuing-ca.pem'), otherCa.certPem);
      await runFix(named.errors.replace(/ \(vault list .*$/, ''), cwd);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
    (await main({ ...inputs, role: 'ci-untrusted' }, stranger, more)).checked(true);
  });

  it('names the common name that allowed_common_names does not allow; the printed fix works', async () => {
    const [inputs, more] = viaConnection(otherName);
    const { errors } = (await main({ ...inputs, role: 'ci-names' }, otherName, more)).checked(false);
    assert.equal(
      errors,
      `The client certificate (subject CN=laptop.example.com; names: CN laptop.example.com) is issued by a CA that a certificate role of auth/${MOUNT} trusts, but fails the role's other checks (400 no chain matching all constraints could be found for this login certificate): allowed_common_names, allowed_dns_sans, allowed_email_sans, allowed_uri_sans, allowed_organizational_units, required_extensions, or the CA's revocation list (the role's: vault read auth/${MOUNT}/certs/ci-names). To allow the certificate's name (list the names already allowed too): vault write auth/${MOUNT}/certs/ci-names allowed_common_names=laptop.example.com`,
    );
    await runFix(errors, tmpdir());
    (await main({ ...inputs, role: 'ci-names' }, otherName, more)).checked(true);
  });

  it('explains a listener that asks for no client certificate (as behind a TLS-terminating proxy)', async () => {
    const [inputs, more] = viaConnection(agent, OPENBAO_PRIVATE_CA_ADDRESS);
    const { errors } = (await main({ ...inputs, caCertificate: s.bao.privateCa.certPem }, agent, more)).checked(false);
    assert.match(
      errors,
      new RegExp(
        `^Vault's cert auth mount auth/${MOUNT} got no client certificate \\(400 no client certificate found\\), although the step presented the one from Vault service connection '${CONNECTION}' to ${OPENBAO_PRIVATE_CA_ADDRESS.replace(/\./g, '\\.')}\\. Vault's listener does not ask for one \\(tls_disable_client_certs = true in its listener stanza\\)`,
      ),
    );
  });
  describe('the cert setup of docs/cert.md, run as written', () => {
    const blocks = recipeBlocks(docsPage('cert.md'), 'cert-recipe');
    let cwd: string;
    before(() => (cwd = mkdtempSync(join(tmpdir(), 'val-cert-recipe-'))));
    after(() => rmSync(cwd, { recursive: true, force: true }));

    it("the certificate role, then the task with the page's YAML and a connection holding an agent's certificate", async () => {
      const [shell, ...more] = blocks.filter((b) => b.lang === 'sh').map((b) => b.text);
      assert.deepEqual(more, [], 'one shell block marked cert-recipe');
      const yaml = blocks.filter((b) => b.lang === 'yaml');
      assert.equal(yaml.length, 1, 'one YAML block marked cert-recipe');
      const inputs = taskInputs(yaml[0].text);
      assert.equal(inputs.authMethod, 'cert');
      assert.equal(inputs.authMount, undefined, 'the mount is the default path, cert');
      assert.match(shell, new RegExp(`^vault auth enable cert\\nvault write auth/cert/certs/${inputs.role} `));
      assert.deepEqual(shell.match(/<[A-Za-z][\w -]*>/g) ?? [], []);
      // The CA file the page names, and an agent certificate with the name the role allows.
      const caFile = shell.match(/certificate=@(\S+)/)?.[1];
      const commonName = shell.match(/allowed_common_names=(\S+)/)?.[1];
      assert.ok(caFile && commonName);
      writeFileSync(join(cwd, caFile), s.world.ca.certPem);
      const pair = await issueClientCert(s.world.ca, commonName);

      for (const text of [policyBlock(docsPage('azure.md')), shell]) {
        const r = await runShell(s.bao, s.world.ca.certPath, text, cwd);
        assert.equal(r.code, 0, `docs/cert.md's command failed on OpenBao:\n${text}\n${r.output}`);
      }
      // The agent passes the connection the input names by its id.
      const id = 'VAULTPRODAGENTS';
      const { run, checked } = await main({ ...inputs, authMount: '', vaultConnection: id, vaultAddress: '' }, pair, {
        endpoints: [{ ...connection(pair), id }],
      });
      assert.deepEqual(Object.fromEntries(checked(true).vars), { DB_PASSWORD: SECRETS.dbPassword });
      assert.match(
        run.stdout,
        new RegExp(
          `^Logging in with the TLS client certificate from Vault service connection '${id}': subject CN=${commonName.replace(/\./g, '\\.')}, `,
          'm',
        ),
      );
      assert.match(run.stdout, /^Logged in to Vault: policies \[ci-production, default\], token type service, TTL 600s, over HTTP\/2\.$/m);
    });
  });
});
