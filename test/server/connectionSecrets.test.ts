// The HashiCorp Vault service connection's secrets stay out of the log with System.Debug on: the
// AppRole secret_id and the Certificate connection's PEM (its private key, every line of it) are
// read without task-lib's `auth param … = <value>` debug line, so nothing depends on the agent
// matching a whole multi-line value. Logins against real OpenBao, each output scanned line by line.
import * as assert from 'node:assert/strict';
import { ServiceEndpoint } from '../emulators/agentEnv';
import type { KeyPair } from '../emulators/pki';
import { SECRETS } from '../emulators/seed';
import { issueClientCert } from './clientCert';
import { ServerWorld, startServerWorld } from './fixture';
import { OPENBAO_ADDRESS } from './openbao';

const APPROLE_MOUNT = 'approle-debug';
const CERT_MOUNT = 'cert-debug';
const AGENT_CN = 'ci-agent.example.com';
const SECRETS_LINE = 'secret/ci/production/db password | DB_PASSWORD';
const CONNECTION = 'VAULTDEBUG';
const debugOn = { 'System.Debug': 'true' };

/** The private key's base64 lines that the certificate does not hold too (an RSA key holds the public modulus). */
const keyLines = (pair: KeyPair) =>
  pair.keyPem
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length >= 8 && !l.startsWith('-----') && !pair.certPem.includes(l));

describe('server: service connection secrets with System.Debug on', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  let roleId: string;
  let agent: KeyPair;

  before(async () => {
    s = await startServerWorld({ ownServer: true });
    assert.ok((await s.bao.api('POST', `sys/auth/${APPROLE_MOUNT}`, { type: 'approle' })).status < 300);
    assert.ok((await s.bao.api('POST', `auth/${APPROLE_MOUNT}/role/ci`, { token_policies: ['ci-read'], token_ttl: '10m' })).status < 300);
    roleId = (await s.bao.api('GET', `auth/${APPROLE_MOUNT}/role/ci/role-id`)).body.data.role_id;
    assert.ok((await s.bao.api('POST', `sys/auth/${CERT_MOUNT}`, { type: 'cert' })).status < 300);
    const role = await s.bao.api('POST', `auth/${CERT_MOUNT}/certs/ci`, {
      certificate: s.world.ca.certPem,
      allowed_common_names: [AGENT_CN],
      token_policies: ['ci-read'],
      token_ttl: '10m',
    });
    assert.ok(role.status < 300, JSON.stringify(role.body));
    agent = await issueClientCert(s.world.ca, AGENT_CN);
  });
  after(async () => s?.stop());

  const endpoint = (scheme: string, parameters: Record<string, string>): ServiceEndpoint => ({
    id: CONNECTION,
    url: OPENBAO_ADDRESS,
    scheme,
    parameters,
    data: { namespace: '', caCertificate: '' },
  });

  it("AppRole connection: the secret_id shows in no line, a debug line's included", async () => {
    const secretId = (await s.bao.api('POST', `auth/${APPROLE_MOUNT}/role/ci/secret-id`, {})).body.data.secret_id as string;
    const run = await s.run(
      { authMethod: 'approle', authMount: APPROLE_MOUNT, role: 'ci', vaultAddress: '', vaultConnection: CONNECTION, secrets: SECRETS_LINE },
      { endpoints: [endpoint('UsernamePassword', { username: roleId, password: secretId })], variables: debugOn },
    );
    assert.match(run.stdout, /^##vso\[task\.debug\]/m, 'debug lines are on');
    // As extra secrets (not agent-masked ones), so that a debug line showing them fails too.
    const { vars } = s.check(run, true, { extraSecrets: [{ what: "the connection's secret_id", value: secretId }] });
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
  });

  it("Certificate connection: no line of the private key shows in any line, a debug line's included", async () => {
    const pem = agent.certPem + agent.keyPem;
    const lines = keyLines(agent);
    assert.ok(lines.length > 10, 'the key has lines of its own to look for');
    const run = await s.run(
      { authMethod: 'cert', authMount: CERT_MOUNT, role: 'ci', vaultAddress: '', vaultConnection: CONNECTION, secrets: SECRETS_LINE },
      { endpoints: [endpoint('Certificate', { certificate: pem })], variables: debugOn },
    );
    assert.match(run.stdout, /^##vso\[task\.debug\]/m, 'debug lines are on');
    const { vars } = s.check(run, true, {
      extraSecrets: lines.map((value, i) => ({ what: `line ${i + 1} of the connection's private key`, value })),
    });
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
  });
});
