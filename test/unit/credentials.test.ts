// Certificates in the flow, with Vault faked: issued only after every secret was read, private
// keys masked (line by line) before anything about them is logged, everything published or
// nothing, leases kept for the post-job step; and each failure explained with its fix.
import * as assert from 'node:assert/strict';
import * as sinon from 'sinon';
import { azureMethod, AzureAuthConfig } from '../../tasks/VaultAzureLoginV1/src/auth/azure';
import { TaskConfig } from '../../tasks/VaultAzureLoginV1/src/config';
import { parseCredentials } from '../../tasks/VaultAzureLoginV1/src/core/credentialSpec';
import { explainIssue, IssueContext, TaskError } from '../../tasks/VaultAzureLoginV1/src/core/errors';
import { VaultHttpError, VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/core/failures';
import { parseSecrets } from '../../tasks/VaultAzureLoginV1/src/core/secretSpec';
import { Deps, run } from '../../tasks/VaultAzureLoginV1/src/run';
import { VaultApi } from '../../tasks/VaultAzureLoginV1/src/vault/client';
import { issueCredentials } from '../../tasks/VaultAzureLoginV1/src/vault/credentials';
import { loc } from '../helpers/messages';

const auth: AzureAuthConfig = {
  method: 'azure',
  connection: 'sc-1',
  connectionScheme: 'WorkloadIdentityFederation',
  resource: 'https://management.azure.com/',
};
const jwt =
  [{ alg: 'RS256' }, { aud: 'https://management.azure.com/', oid: 'oid-1', exp: 1_900_000_000 }]
    .map((p) => Buffer.from(JSON.stringify(p)).toString('base64url'))
    .join('.') + '.sig-part-long-enough';

const KEY = '-----BEGIN RSA PRIVATE KEY-----\nMIIEkeyline1AAAA\nMIIEkeyline2BBBB\n-----END RSA PRIVATE KEY-----';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIDcertline1\n-----END CERTIFICATE-----';
const CA = '-----BEGIN CERTIFICATE-----\nMIIDcaline1\n-----END CERTIFICATE-----';
const issued = (leaseId = '') => ({
  lease_id: leaseId,
  data: { certificate: CERT, private_key: KEY, issuing_ca: CA, ca_chain: [CA], serial_number: '3a:01', expiration: 1_900_000_000 },
});

function config(secrets: string, certificates: string): TaskConfig {
  return {
    auth,
    address: 'https://vault.example.com',
    authMount: 'ado',
    role: 'ci',
    requests: secrets ? parseSecrets(secrets, loc) : [],
    credentials: parseCredentials('pki', certificates, loc),
    timeoutSeconds: 30,
    concurrency: 8,
    retries: 0,
    tls: { verify: true, ca: [] },
    ignoreNotFound: false,
    isOutput: false,
    exportToken: false,
    revokeToken: true,
  };
}

function fakes(vault: Partial<VaultApi>) {
  const events: string[] = [];
  const deps: Deps = {
    method: azureMethod(auth, async () => ({ token: jwt, scheme: 'WorkloadIdentityFederation' })),
    createVault: () =>
      ({
        warmUp: () => undefined,
        close: () => undefined,
        protocol: () => 'HTTP/2',
        login: async () => ({
          token: 'hvs.vault-token',
          accessor: 'a',
          policies: ['default'],
          ttlSeconds: 60,
          tokenType: 'service',
          renewable: true,
        }),
        mount: async (path: string) =>
          path.startsWith('pki/') ? { path: 'pki/', type: 'pki' } : { path: 'secret/', type: 'kv', kvVersion: 2 },
        read: async () => ({ data: { data: { password: 'pw-secret' } } }),
        write: async () => issued(),
        ...vault,
      }) as VaultApi,
    sink: {
      setSecret: (v: string) => events.push(`mask ${v}`),
      setVariable: (n: string, v: string, secret: boolean) => events.push(`set ${n} ${secret ? 'secret' : 'plain'}=${v}`),
    },
    state: { set: (n: string, v: string) => events.push(`state ${n}=${v}`), get: () => undefined },
    files: () => ({ write: (name: string) => `/tmp/agent/${name}` }),
    retry: { retries: 0, sleep: async () => undefined, random: () => 0, onRetry: () => undefined },
    log: (line: string) => events.push(`log ${line}`),
    warn: (line: string) => events.push(`warn ${line}`),
    loc,
    onFirstRequestSent: () => ({ cancel: () => undefined }),
    inOneWrite: <T>(fn: () => T): T => fn(),
  };
  return { deps, events };
}

describe('certificates in the flow (Vault faked)', () => {
  it('masks the key line by line before the serial and expiry are logged, then publishes four secret variables with the secrets', async () => {
    const write = sinon.stub().resolves(issued());
    const { deps, events } = fakes({ write });
    const result = await run(
      config('secret/ci/db password | DB_PASSWORD', 'pki/issue/web common_name=app.example.com ttl=1h | WEB_'),
      deps,
    );
    sinon.assert.calledOnceWithExactly(write, 'pki/issue/web', { common_name: 'app.example.com', ttl: '1h' });
    const noted = events.findIndex((e) =>
      e.startsWith('log pki/issue/web: certificate serial 3a:01, expires 2030-03-17T17:46:40Z (no lease: its TTL bounds it).'),
    );
    assert.ok(noted > 0, events.join('\n'));
    for (const line of ['MIIEkeyline1AAAA', 'MIIEkeyline2BBBB']) {
      const masked = events.indexOf(`mask ${line}`);
      assert.ok(masked >= 0 && masked < noted, `${line} masked before the note`);
    }
    assert.deepEqual(result.published, ['DB_PASSWORD', 'WEB_CERTIFICATE', 'WEB_PRIVATE_KEY', 'WEB_ISSUING_CA', 'WEB_CA_CHAIN']);
    assert.ok(events.includes(`set WEB_PRIVATE_KEY secret=${KEY}\n`));
    assert.ok(
      events.filter((e) => e.startsWith('log')).every((e) => !e.includes('keyline')),
      'no key line in the log',
    );
  });

  it('warns when the certificate ends well before the ttl asked for, and not when it ends as asked', async () => {
    const requests = parseCredentials(
      'pki',
      'pki/issue/web common_name=a.example.com ttl=100h | A_\npki/issue/web common_name=b.example.com ttl=1h | B_',
      loc,
    );
    const now = 1_900_000_000_000 - 3600 * 1000; // an hour before the fake answer's expiration
    const mount = async () => ({ path: 'pki/', type: 'pki' });
    const outcome = await issueCredentials({ mount, write: sinon.stub().resolves(issued()) }, requests, {
      address: 'https://vault.example.com',
      concurrency: 1,
      timeoutSeconds: 30,
      loc,
      now: () => now,
    });
    assert.deepEqual(outcome.warnings, [loc('CertificateTtlShortened', 'pki/issue/web', '100h', '2030-03-17T17:46:40Z')]);
  });

  it("escapes what Vault sent before it goes into a log line: a serial or lease id can't forge an agent command", async () => {
    const hostile = {
      ...issued('pki/issue/web/x\n##vso[task.setvariable variable=PATH]/evil'),
      data: { ...issued().data, serial_number: '3a\r##vso[task.complete result=Succeeded]' },
    };
    const mount = async () => ({ path: 'pki/', type: 'pki' });
    const outcome = await issueCredentials(
      { mount, write: sinon.stub().resolves(hostile) },
      parseCredentials('pki', 'pki/issue/web common_name=a.example.com | A_', loc),
      { address: 'https://vault.example.com', concurrency: 1, timeoutSeconds: 30, loc },
    );
    assert.equal(outcome.notes.length, 1);
    assert.doesNotMatch(outcome.notes[0], /[\r\n]|##vso\[/);
    assert.match(outcome.notes[0], /serial 3a\\r##vso\\\[task\.complete/);
  });

  it('issues nothing when a secret cannot be read', async () => {
    const write = sinon.stub().resolves(issued());
    const { deps } = fakes({
      write,
      read: sinon.stub().rejects(new VaultHttpError(403, 'secret/data/ci/db', ['permission denied'], undefined)),
    });
    await assert.rejects(
      run(config('secret/ci/db password | DB_PASSWORD', 'pki/issue/web common_name=a.example.com | WEB_'), deps),
      TaskError,
    );
    sinon.assert.notCalled(write);
  });

  it("publishes nothing when one of two requests fails, keeps the other one's lease for the post-job step and says so", async () => {
    const write = sinon.stub();
    write.withArgs('pki/issue/web').resolves(issued('pki/issue/web/lease-1'));
    write.withArgs('pki/issue/admin').rejects(new VaultHttpError(403, 'pki/issue/admin', ['permission denied'], undefined));
    const { deps, events } = fakes({ write });
    const err = await run(
      config('', 'pki/issue/web common_name=a.example.com | WEB_\npki/issue/admin common_name=b.example.com | ADMIN_'),
      deps,
    ).catch((e: Error) => e);
    assert.ok(err instanceof TaskError);
    assert.equal(
      err.message,
      '1 of 2 certificate request(s) failed; no variables were published. The post-job step revokes the 1 lease(s) of those issued.\n' +
        '  pki/issue/admin: permission denied: the Vault token\'s policies do not allow update on pki/issue/admin. Add to the role\'s policy: path "pki/issue/admin" { capabilities = ["update"] }',
    );
    assert.deepEqual(
      events.filter((e) => e.startsWith('set ')),
      [],
      'nothing published',
    );
    assert.ok(events.includes('state VaultAzureLogin.Leases=["pki/issue/web/lease-1"]'));
    assert.ok(events.includes('mask MIIEkeyline1AAAA'), 'the key that was issued is masked all the same');
  });

  it('sends nothing to a mount of another engine, where a write could store the parameters as a secret', async () => {
    const write = sinon.stub().resolves(issued());
    const mount = sinon.stub().resolves({ path: 'secret/', type: 'kv', kvVersion: 1 });
    const { deps } = fakes({ write, mount });
    const err = await run(
      config('', 'secret/issue/web common_name=a.example.com | WEB_\nsecret/issue/api common_name=b.example.com | API_'),
      deps,
    ).catch((e: Error) => e);
    assert.ok(err instanceof TaskError);
    assert.match(
      err.message,
      /^2 of 2 certificate request\(s\) failed; no variables were published\.\n {2}secret\/issue\/web: secret\/issue\/web lies in the mount secret\/, a kv secrets engine, where no pki certificate can be asked for \(a write there could store the parameters instead\); nothing was sent\. Name a path of a pki mount: `vault secrets list` shows them\./,
    );
    sinon.assert.notCalled(write);
    sinon.assert.calledOnce(mount);
  });

  it('a token that may not even look up the mount is told the rule with update on the path', async () => {
    const write = sinon.stub().resolves(issued());
    const mount = sinon.stub().rejects(new VaultHttpError(403, 'sys/internal/ui/mounts/pki/issue/web', ['permission denied'], undefined));
    const { deps } = fakes({ write, mount });
    await assert.rejects(
      run(config('', 'pki/issue/web common_name=a.example.com | WEB_'), deps),
      /pki\/issue\/web: permission denied: the Vault token's policies do not allow update on pki\/issue\/web\. Add to the role's policy: path "pki\/issue\/web" \{ capabilities = \["update"\] \}$/,
    );
    sinon.assert.notCalled(write);
  });

  it('refuses a variable a secrets line publishes too', async () => {
    const { deps } = fakes({});
    await assert.rejects(
      run(config('secret/ci/db password | WEB_CERTIFICATE', 'pki/issue/web common_name=a.example.com | WEB_'), deps),
      /variable names: .*WEB_CERTIFICATE/,
    );
  });

  it('sends the public key of a fresh key pair for an SSH request, and refuses a certificate that is not for it', async () => {
    const write = sinon.stub().resolves({ data: { signed_key: 'ssh-ed25519-cert-v01@openssh.com AAAA', serial_number: '1' } });
    const mount = async () => ({ path: 'ssh/', type: 'ssh' });
    const outcome = await issueCredentials(
      { mount, write },
      parseCredentials('ssh', 'ssh/sign/deploy valid_principals=deploy ttl=5m | SSH_', loc),
      { address: 'https://vault.example.com', concurrency: 1, timeoutSeconds: 30, loc },
    );
    const [path, body] = write.firstCall.args;
    assert.equal(path, 'ssh/sign/deploy');
    assert.match(body.public_key, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5/);
    assert.equal(body.cert_type, 'user');
    assert.equal(body.valid_principals, 'deploy');
    assert.deepEqual(outcome.values, []);
    assert.deepEqual(outcome.failures, [{ source: 'ssh/sign/deploy', reason: loc('SshCertificateUnreadable', 'ssh/sign/deploy') }]);
  });
});

describe('explainIssue: the cause and the fix of a failed certificate request', () => {
  const pki: IssueContext = {
    address: 'https://vault.example.com',
    kind: 'pki',
    mount: 'pki',
    role: 'web',
    path: 'pki/issue/web',
    policyPath: 'pki/issue/web',
  };
  const ssh: IssueContext = {
    ...pki,
    kind: 'ssh',
    mount: 'ssh',
    role: 'deploy',
    path: 'ssh/sign/deploy',
    policyPath: 'team/ssh/sign/deploy',
  };
  const http = (status: number, ...errors: string[]) => new VaultHttpError(status, 'p', errors, undefined);

  it('a denied path: the policy rule with update, in the login namespace', () => {
    assert.match(
      explainIssue(http(403, 'permission denied'), ssh, 30, loc),
      /allow update on ssh\/sign\/deploy\. Add to the role's policy: path "team\/ssh\/sign\/deploy" \{ capabilities = \["update"\] \}$/,
    );
  });
  it('an unknown role: the command that creates one, for each engine', () => {
    assert.match(
      explainIssue(http(400, 'unknown role: web'), pki, 30, loc),
      /^Vault has no role web on the mount pki\. .*: vault write pki\/roles\/web allowed_domains=/,
    );
    assert.match(
      explainIssue(http(400, 'Unknown role: deploy'), ssh, 30, loc),
      /: vault write ssh\/roles\/deploy key_type=ca allow_user_certificates=true/,
    );
  });
  it('no engine at the mount: how to enable it', () => {
    assert.match(
      explainIssue(http(404, 'no handler for route "pki/issue/web". route entry not found.'), pki, 30, loc),
      /No pki secrets engine answers at pki: enable it with `vault secrets enable -path=pki pki`/,
    );
  });
  it("a refused parameter: Vault's reason and the role to read", () => {
    assert.equal(
      explainIssue(http(400, 'common name evil.example.org not allowed by this role'), pki, 30, loc),
      'Vault refused pki/issue/web: common name evil.example.org not allowed by this role. The role decides which names, principals and TTLs are allowed: see `vault read pki/roles/web`, and change the request or the role.',
    );
  });
  it('a lost answer: may have been issued, not asked again; a connection refused is only unreachable', () => {
    assert.match(
      explainIssue(new VaultNetworkError('ECONNRESET', 'p', 'socket hang up', true), pki, 30, loc),
      /^pki\/issue\/web was sent to https:\/\/vault\.example\.com once and its answer was lost \(ECONNRESET\): Vault may have issued a certificate/,
    );
    assert.match(explainIssue(http(502), pki, 30, loc), /answer was lost \(HTTP 502\)/);
    assert.doesNotMatch(explainIssue(new VaultNetworkError('ECONNREFUSED', 'p', 'refused', false), pki, 30, loc), /may have issued/);
  });
  it('a revoked token', () => {
    assert.equal(explainIssue(http(403, 'invalid token'), pki, 30, loc), loc('ReadTokenInvalid'));
  });
});
