import * as assert from 'node:assert/strict';
import * as sinon from 'sinon';
import { AzureAuthConfig, azureMethod } from '../../tasks/VaultAzureLoginV1/src/auth/azure';
import { AzureTokenError } from '../../tasks/VaultAzureLoginV1/src/auth/tokenSource';
import { TaskError } from '../../tasks/VaultAzureLoginV1/src/core/errors';
import { TaskConfig } from '../../tasks/VaultAzureLoginV1/src/config';
import { Deps, policyPrefix, run } from '../../tasks/VaultAzureLoginV1/src/run';
import { parseSecrets } from '../../tasks/VaultAzureLoginV1/src/core/secretSpec';
import { VaultApi, VaultHttpError } from '../../tasks/VaultAzureLoginV1/src/vault/client';
import { loc } from '../helpers/messages';

const jwt =
  [{ alg: 'RS256' }, { aud: 'https://management.azure.com/', oid: 'oid-1', exp: 1_900_000_000 }]
    .map((p) => Buffer.from(JSON.stringify(p)).toString('base64url'))
    .join('.') + '.signature-part';

const auth: AzureAuthConfig = {
  method: 'azure',
  connection: 'sc-1',
  connectionScheme: 'WorkloadIdentityFederation',
  resource: 'https://management.azure.com/',
};

const config = (secrets: string): TaskConfig => ({
  auth,
  address: 'https://vault.example.com',
  authMount: 'ado',
  role: 'ci',
  requests: parseSecrets(secrets, loc),
  credentials: [],
  timeoutSeconds: 30,
  concurrency: 8,
  retries: 0,
  tls: { verify: true, ca: [] },
  ignoreNotFound: false,
  isOutput: false,
  exportToken: false,
  revokeToken: true,
});

function fakes(vault: Partial<VaultApi>) {
  const events: string[] = [];
  let whenSent: (() => void) | undefined;
  const getToken = sinon.spy(async (_connection: string, _resource: string) => {
    events.push('token request sent');
    whenSent?.();
    events.push('token');
    return { token: jwt, scheme: 'WorkloadIdentityFederation' };
  });
  const deps: Deps = {
    method: azureMethod(auth, (c, r) => getToken(c, r)),
    createVault: sinon.stub().returns({
      warmUp: sinon.spy(() => events.push('warm up')),
      close: sinon.spy(() => events.push('close')),
      protocol: () => 'HTTP/2',
      login: sinon.stub().resolves({
        token: 'hvs.vault-token',
        accessor: 'a',
        policies: ['default'],
        ttlSeconds: 60,
        tokenType: 'service',
        renewable: true,
      }),
      mount: sinon.stub().resolves({ path: 'secret/', type: 'kv', kvVersion: 2 }),
      read: sinon.stub().resolves({ data: { data: { password: 'pw' } } }),
      ...vault,
    }),
    sink: {
      setSecret: sinon.spy((v: string) => events.push(`mask ${v}`)),
      setVariable: sinon.spy((n: string, v: string) => events.push(`set ${n}=${v}`)),
    },
    state: { set: sinon.spy((n: string, v: string) => events.push(`state ${n}=${v}`)), get: sinon.stub() },
    files: () => ({ write: (name: string) => `/tmp/${name}` }),
    retry: { retries: 0, sleep: sinon.stub().resolves(), random: () => 0, onRetry: sinon.spy() },
    log: sinon.spy((line: string) => events.push(`log ${line}`)),
    warn: sinon.spy((line: string) => events.push(`warn ${line}`)),
    loc: loc,
    onFirstRequestSent: (fn) => {
      whenSent = fn;
      return {
        cancel: () => {
          events.push('warm-up cancelled');
          whenSent = undefined;
        },
      };
    },
    inOneWrite: <T>(fn: () => T): T => {
      events.push('write begins');
      try {
        return fn();
      } finally {
        events.push('write ends');
      }
    },
  };
  return { deps, events, getToken };
}

describe('run (the flow with its collaborators faked)', () => {
  it('masks the Entra token and the Vault token before anything else is logged, and verifies TLS', async () => {
    const { deps, events, getToken } = fakes({});
    await run(config('secret/ci/db password | DB_PASSWORD'), deps);
    const maskJwt = events.indexOf(`mask ${jwt}`);
    const maskVault = events.indexOf('mask hvs.vault-token');
    const claims = events.findIndex((e) => e.startsWith('log Entra access token'));
    const loggedIn = events.findIndex((e) => e.startsWith('log Logged in'));
    assert.ok(maskJwt >= 0 && maskJwt < claims, 'JWT masked before its claims are logged');
    assert.ok(maskVault >= 0 && maskVault < loggedIn, 'Vault token masked before the login is logged');
    assert.deepEqual(
      events.filter((e) => e === 'mask pw' || e.startsWith('set DB_PASSWORD=')),
      ['mask pw', 'set DB_PASSWORD=pw'],
      'the value is masked, once, before it is published',
    );
    sinon.assert.calledWithMatch(deps.createVault as sinon.SinonStub, { tls: { verify: true }, timeoutMs: 30000 });
    sinon.assert.calledWith(getToken, 'sc-1', 'https://management.azure.com/');
    assert.ok(events.every((e) => !e.startsWith('log') || (!e.includes(jwt) && !e.includes('hvs.vault-token') && !e.includes('=pw'))));
  });

  it('masks every value in one write, then publishes every variable and its log lines in another', async () => {
    const { deps, events } = fakes({
      read: sinon.stub().callsFake(async (p: string) => ({ data: { data: { password: `pw-${p.split('/').pop()}` } } })),
    });
    await run(config('secret/ci/a password | A\nsecret/ci/b password | B'), deps);
    const writes = events.flatMap((e, i) => (e === 'write begins' ? [events.slice(i + 1, events.indexOf('write ends', i))] : []));
    assert.deepEqual(writes[0], ['mask pw-a', 'mask pw-b']);
    assert.deepEqual(
      writes[1].filter((e) => !e.startsWith('log')),
      ['set A=pw-a', 'set B=pw-b'],
    );
    assert.ok(writes[1][writes[1].length - 1].startsWith('log Published 2 variable(s)'), writes[1].join(' / '));
    assert.equal(writes.length, 2);
  });

  it('publishes nothing when one of several reads fails', async () => {
    const read = sinon.stub();
    read.withArgs('secret/data/ci/a').resolves({ data: { data: { k: 'va' } } });
    read
      .withArgs('secret/data/ci/b')
      .rejects(new VaultHttpError(403, 'secret/data/ci/b', ['1 error occurred:\n\t* permission denied\n\n'], undefined));
    const { deps } = fakes({ read });
    await assert.rejects(run(config('secret/ci/a k | A\nsecret/ci/b k | B'), deps), (err: Error) => {
      assert.ok(err instanceof TaskError);
      assert.match(err.message, /1 secret request\(s\) failed; no variables were published/);
      assert.match(err.message, /secret\/ci\/b k: permission denied/);
      return true;
    });
    sinon.assert.notCalled(deps.sink.setVariable as sinon.SinonSpy);
    sinon.assert.calledWith(deps.sink.setSecret as sinon.SinonSpy, 'va'); // read values are masked all the same
  });

  it('turns an arm-rest failure into a message naming the connection, never logs in, and lets go of the connection', async () => {
    const { deps } = fakes({});
    deps.method = azureMethod(
      auth,
      sinon.stub().rejects(new AzureTokenError('sc-1', 'AADSTS700024: Client assertion is not within its valid time range.')),
    );
    await assert.rejects(run(config('secret/ci/db password'), deps), /service connection 'sc-1'.*\n.*AADSTS700024 means/);
    const vault = (deps.createVault as sinon.SinonStub).firstCall.returnValue as Record<string, sinon.SinonSpy>;
    sinon.assert.notCalled(vault.login);
    sinon.assert.calledOnce(vault.close);
  });

  it('starts connecting to Vault once the token request is on its way, and closes the connection once done', async () => {
    const { deps, events } = fakes({});
    await run(config('secret/ci/db password | DB_PASSWORD'), deps);
    const warm = events.indexOf('warm up');
    assert.ok(
      warm > events.indexOf('token request sent') && warm < events.indexOf('token'),
      `warm-up while the token is awaited: ${events.join(' / ')}`,
    );
    assert.deepEqual(events.slice(-2), ['warm-up cancelled', 'close'], 'closed after the variables are published');
  });
});

describe('policyPrefix: where the reads lie below the login, as a policy of the login namespace names paths', () => {
  const cases: Array<[string | undefined, string | undefined, string]> = [
    [undefined, undefined, ''],
    ['ci', 'ci', ''],
    ['ci/team', 'ci', 'team/'],
    ['ci/team/a', 'ci', 'team/a/'],
    ['ci', undefined, 'ci/'],
    ['cix/team', 'ci', ''], // a sibling whose name starts the same is not below it
    ['other', 'ci', ''],
  ];
  for (const [namespace, authNamespace, expected] of cases) {
    it(`reads in ${namespace ?? 'the root'}, login in ${authNamespace ?? 'the root'}: '${expected}'`, () =>
      assert.equal(policyPrefix(namespace, authNamespace), expected));
  }
});
