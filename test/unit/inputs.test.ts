// The step's configuration read from plain maps in place of the agent: where the Vault address,
// namespaces, TLS and proxy come from, which inputs win, and the problem each bad input gets (all
// of them at once, each naming the input).
import * as assert from 'node:assert/strict';
import { TaskError } from '../../tasks/VaultAzureLoginV1/src/core/errors';
import { readConfig, readVaultSettings } from '../../tasks/VaultAzureLoginV1/src/pipeline/inputs';
import { ClientCert, selfSignedClientCert } from '../emulators/pki';
import { mapSource, Pipeline } from '../helpers/inputPort';
import { loc } from '../helpers/messages';

const WIF = { url: 'https://management.azure.com/', scheme: 'WorkloadIdentityFederation' };
const BASE = { vaultAddress: 'https://vault.example.com:8200', azureSubscription: 'sc', role: 'ci', secrets: 'secret/ci/db password' };

function vaultOf(pipeline: Pipeline) {
  const problems: string[] = [];
  const warnings: string[] = [];
  const settings = readVaultSettings(mapSource(pipeline), problems, warnings);
  return { settings, problems, warnings };
}

/** The message readConfig fails with. */
function failure(pipeline: Pipeline): string {
  try {
    readConfig(mapSource(pipeline));
  } catch (err) {
    assert.ok(err instanceof TaskError, String(err));
    return err.message;
  }
  assert.fail('the inputs were accepted');
}

describe('configuration: the Vault settings', () => {
  it('an address input, with the defaults for every limit and no TLS or proxy of its own', () => {
    assert.deepEqual(vaultOf({ inputs: { vaultAddress: ' https://vault.example.com:8200/gateway/ ' } }), {
      settings: {
        address: 'https://vault.example.com:8200/gateway',
        namespace: undefined,
        authNamespace: undefined,
        tls: { verify: true, ca: [], cert: undefined, key: undefined, passphrase: undefined },
        proxy: undefined,
        timeoutSeconds: 30,
        retries: 2,
        concurrency: 64,
      },
      problems: [],
      warnings: [],
    });
  });

  it("a Vault connection's URL and namespace; the namespace input wins over the connection's", () => {
    const endpoints = { vault: { url: 'https://vault.example.com', data: { namespace: '/admin/team/' } } };
    assert.equal(vaultOf({ inputs: { vaultConnection: 'vault' }, endpoints }).settings.namespace, 'admin/team');
    const own = vaultOf({
      inputs: { vaultConnection: 'vault', vaultNamespace: 'admin/other', authNamespace: 'admin' },
      endpoints,
    }).settings;
    assert.deepEqual([own.address, own.namespace, own.authNamespace], ['https://vault.example.com', 'admin/other', 'admin']);
  });

  it('VAULT_ADDR when neither a connection nor an address is given, else a problem', () => {
    assert.equal(vaultOf({ variables: { VAULT_ADDR: 'http://127.0.0.1:8200' } }).settings.address, 'http://127.0.0.1:8200');
    assert.deepEqual(vaultOf({}).problems, [loc('VaultAddressMissing')]);
    assert.deepEqual(
      vaultOf({ inputs: { vaultConnection: 'vault', vaultAddress: 'https://v' }, endpoints: { vault: { url: 'https://v' } } }).problems,
      [loc('VaultTargetTwice')],
    );
    assert.deepEqual(vaultOf({ inputs: { vaultConnection: 'gone' } }).problems, [loc('VaultConnectionNotFound', 'gone')]);
  });

  it('refuses an address with the API path, and one with credentials without quoting them', () => {
    assert.deepEqual(vaultOf({ inputs: { vaultAddress: 'https://v.example.com/v1' } }).problems, [
      loc('VaultAddressHasApiPath', 'https://v.example.com/v1', "input 'vaultAddress'", 'https://v.example.com'),
    ]);
    const withPassword = vaultOf({ inputs: { vaultAddress: 'https://user:hunter2@v.example.com' } }).problems;
    assert.equal(withPassword.length, 1);
    assert.ok(!withPassword[0].includes('hunter2'), withPassword[0]);
  });

  it('refuses a namespace with a dot segment, and names which input has it', () => {
    assert.deepEqual(vaultOf({ inputs: { vaultAddress: 'https://v', authNamespace: 'admin/../root' } }).problems, [
      loc('NamespaceInvalid', 'authNamespace', 'admin/../root'),
    ]);
  });

  it("takes the agent's proxy for the address, and warns about plain http away from this machine", () => {
    const proxy = { url: 'http://proxy.internal:3128', username: 'agent' };
    const r = vaultOf({ inputs: { vaultAddress: 'http://vault.internal:8200' }, proxy });
    assert.deepEqual([r.settings.proxy, r.warnings], [proxy, [loc('PlainHttpWarning', 'http://vault.internal:8200')]]);
  });

  it('checks every limit against its range', () => {
    assert.deepEqual(
      vaultOf({ inputs: { vaultAddress: 'https://v', timeoutSeconds: '0', retries: 'many', tlsSkipVerify: 'yes' } }).problems,
      [
        loc('BooleanInvalid', 'tlsSkipVerify', 'yes'),
        loc('NumberInvalid', 'timeoutSeconds', '0', 1, 600),
        loc('NumberInvalid', 'retries', 'many', 0, 10),
      ],
    );
  });

  describe('the client certificate', () => {
    let client: ClientCert;
    before(async function () {
      this.timeout(20000);
      client = await selfSignedClientCert('ci-agent');
    });

    it('reads the pair from files the inputs name', () => {
      const r = vaultOf({
        inputs: { vaultAddress: 'https://v', clientCertificate: '/c.pem', clientKey: '/k.pem' },
        files: { '/c.pem': client.certPem, '/k.pem': client.keyPem },
      });
      assert.deepEqual([r.problems, r.settings.tls.cert, r.settings.tls.key], [[], client.certPem, client.keyPem]);
    });

    it('half a pair is a problem, unless the half given was refused for itself', () => {
      assert.deepEqual(vaultOf({ inputs: { vaultAddress: 'https://v', clientCertificate: client.certPem } }).problems, [
        loc('ClientPairIncomplete'),
      ]);
      assert.deepEqual(vaultOf({ inputs: { vaultAddress: 'https://v', clientCertificate: '/gone.pem' } }).problems, [
        loc('PemFileMissing', 'clientCertificate', '/gone.pem'),
      ]);
    });

    it("uses the agent's certificate when the inputs give none", () => {
      const r = vaultOf({
        inputs: { vaultAddress: 'https://v' },
        agentCertificates: { certFile: '/agent.crt', keyFile: '/agent.key' },
        files: { '/agent.crt': client.certPem, '/agent.key': client.keyPem },
      });
      assert.deepEqual([r.problems, r.settings.tls.cert], [[], client.certPem]);
    });
  });
});

describe('configuration: the whole step', () => {
  it('reads the login, the mount defaulting to the method, and the secrets', () => {
    const { value, warnings } = readConfig(mapSource({ inputs: BASE, endpoints: { sc: WIF } }));
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      [value.auth.method, value.authMount, value.role, value.requests.length, value.revokeToken, value.exportToken],
      ['azure', 'azure', 'ci', 1, true, false],
    );
  });

  it('tells every problem at once, one per line', () => {
    const message = failure({ inputs: { ...BASE, role: '', authMount: 'auth/azure', isOutput: 'maybe' }, endpoints: { sc: WIF } });
    assert.equal(
      message,
      [
        `- ${loc('MountHasAuthPrefix', 'auth/azure', 'azure')}`,
        `- ${loc('InputRequired', 'role', loc('RoleHint'))}`,
        `- ${loc('BooleanInvalid', 'isOutput', 'maybe')}`,
      ].join('\n'),
    );
  });

  it('a cert login needs no role; every other method does', () => {
    assert.doesNotMatch(failure({ inputs: { ...BASE, authMethod: 'cert', role: '' } }), /'role'/);
    assert.match(
      failure({ inputs: { ...BASE, authMethod: 'aws', role: '' } }),
      new RegExp(loc('InputRequired', 'role', loc('RoleHint')).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
    );
  });

  it('counts secrets lines in the input as written, blank lines included', () => {
    assert.match(failure({ inputs: { ...BASE, secrets: '\n\nsecret/ci/db@x password' }, endpoints: { sc: WIF } }), /secrets line 3:/);
  });

  it('needs no secret when the step only exports the token', () => {
    assert.deepEqual(
      readConfig(mapSource({ inputs: { ...BASE, secrets: '# none', exportToken: 'true' }, endpoints: { sc: WIF } })).value.requests,
      [],
    );
  });
});
