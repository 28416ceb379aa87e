// The login methods' input readers, through a plain map in place of the agent: what each method
// reads, the settings it returns, and the problem or warning each bad input gets. Also that the
// `authMethod` options of task.json are exactly the methods the task knows.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUTH_METHODS, needsRole, readAuthInputs } from '../../tasks/VaultAzureLoginV1/src/auth';
import type { AuthConfig } from '../../tasks/VaultAzureLoginV1/src/auth';
import type { ReadContext } from '../../tasks/VaultAzureLoginV1/src/auth/method';
import type { ReadFile } from '../../tasks/VaultAzureLoginV1/src/core/inputFile';
import { ClientCert, selfSignedClientCert } from '../emulators/pki';
import { mapPort, Pipeline } from '../helpers/inputPort';
import { loc } from '../helpers/messages';

const noFiles: ReadFile = () => ({ refused: 'missing', code: 'ENOENT' });

interface Read {
  config: AuthConfig | undefined;
  problems: string[];
  warnings: string[];
  /** The client pair the reader put in the TLS settings, if it did. */
  pair?: { cert: string; key: string };
}

function read(pipeline: Pipeline, extra: Partial<ReadContext> = {}): Read {
  const out: Read = { config: undefined, problems: [], warnings: [] };
  const inputs = pipeline.inputs ?? {};
  out.config = readAuthInputs({
    port: mapPort(pipeline),
    loc,
    problems: out.problems,
    warnings: out.warnings,
    vaultAddress: 'https://vault.example.com',
    vaultConnection: (inputs.vaultConnection ?? '').trim(),
    useClientPair: (cert, key) => {
      out.pair = { cert, key };
    },
    readFile: noFiles,
    ...extra,
  });
  return out;
}

const WIF = { url: 'https://management.azure.com/', scheme: 'WorkloadIdentityFederation' };
const MSI = { url: 'https://management.azure.com/', scheme: 'ManagedServiceIdentity' };
const CLIENT_ID = '5b3f6d0e-1c2a-4e8b-9f7d-0a1b2c3d4e5f';
const OIDC = { 'System.OidcRequestUri': 'https://dev.azure.com/contoso/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken' };
const JOB = { SYSTEMVSSCONNECTION: { url: 'https://dev.azure.com/contoso/', scheme: 'OAuth', auth: { AccessToken: 'job-access-token' } } };

describe('login methods: one descriptor each', () => {
  it("task.json's authMethod options are exactly the methods the task knows, azure the default", () => {
    const taskJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'tasks', 'VaultAzureLoginV1', 'task.json'), 'utf8')) as {
      inputs: Array<{ name: string; defaultValue?: string; options?: Record<string, string> }>;
    };
    const authMethod = taskJson.inputs.find((i) => i.name === 'authMethod');
    assert.deepEqual(Object.keys(authMethod?.options ?? {}).sort(), Object.keys(AUTH_METHODS).sort());
    assert.equal(authMethod?.defaultValue, 'azure');
  });

  it('only cert logs in without a role', () => {
    assert.deepEqual(
      Object.keys(AUTH_METHODS).filter((name) => !needsRole(name as keyof typeof AUTH_METHODS)),
      ['cert'],
    );
  });

  it('an empty authMethod is azure; the name is matched without regard to case', () => {
    assert.equal(read({ inputs: { azureSubscription: 'sc' }, endpoints: { sc: WIF } }).config?.method, 'azure');
    assert.equal(read({ inputs: { authMethod: ' AWS ' } }).config?.method, 'aws');
  });

  it('an unknown method is refused with the list of known ones', () => {
    const r = read({ inputs: { authMethod: 'ldap' } });
    assert.equal(r.config, undefined);
    assert.deepEqual(r.problems, [loc('AuthMethodInvalid', 'ldap', 'azure, approle, cert, aws, gcp, kubernetes, jwt')]);
  });
});

describe('azure inputs', () => {
  it('a workload identity federation connection, the default resource', () => {
    const r = read({ inputs: { azureSubscription: 'sc' }, endpoints: { sc: WIF } });
    assert.deepEqual(r, {
      config: {
        method: 'azure',
        connection: 'sc',
        connectionScheme: 'WorkloadIdentityFederation',
        resource: 'https://management.azure.com/',
      },
      problems: [],
      warnings: [],
    });
  });

  it('a connection without a scheme is a service principal', () => {
    assert.equal(
      (
        read({ inputs: { azureSubscription: 'sc' }, endpoints: { sc: { url: 'https://management.azure.com/' } } }).config as {
          connectionScheme: string;
        }
      ).connectionScheme,
      'ServicePrincipal',
    );
  });

  it('needs a connection, and one the job has', () => {
    assert.deepEqual(read({}).problems, [loc('InputRequired', 'azureSubscription', loc('ConnectionHint'))]);
    assert.deepEqual(read({ inputs: { azureSubscription: 'gone' } }).problems, [loc('ConnectionNotFound', 'gone')]);
  });

  it('refuses a resource with a space and a scope given as resource', () => {
    const endpoints = { sc: WIF };
    assert.deepEqual(read({ inputs: { azureSubscription: 'sc', resource: 'api://x y' }, endpoints }).problems, [
      loc('ResourceInvalid', 'api://x y'),
    ]);
    assert.deepEqual(read({ inputs: { azureSubscription: 'sc', resource: 'api://vault/.default' }, endpoints }).problems, [
      loc('ResourceIsScope', 'api://vault/.default', 'api://vault'),
    ]);
  });

  it("the agent VM's identity needs no connection and refuses one", () => {
    assert.deepEqual(read({ inputs: { azureIdentity: 'agentVm', managedIdentityClientId: CLIENT_ID } }).config, {
      method: 'azure',
      connection: '',
      connectionScheme: 'ManagedServiceIdentity',
      resource: 'https://management.azure.com/',
      managedIdentity: { clientId: CLIENT_ID },
    });
    assert.deepEqual(read({ inputs: { azureIdentity: 'agentVm', azureSubscription: 'sc' } }).problems, [
      loc('AzureIdentityWithConnection', 'sc'),
    ]);
  });

  it('refuses an unknown azureIdentity and a client id that is no GUID', () => {
    assert.deepEqual(read({ inputs: { azureIdentity: 'vm', azureSubscription: 'sc' }, endpoints: { sc: WIF } }).problems, [
      loc('AzureIdentityInvalid', 'vm'),
    ]);
    assert.deepEqual(read({ inputs: { azureIdentity: 'agentVm', managedIdentityClientId: 'my-identity' } }).problems, [
      loc('ManagedIdentityClientIdInvalid', 'my-identity'),
    ]);
  });

  it('a managed identity connection names the user-assigned identity unless the input does', () => {
    const endpoints = { sc: { ...MSI, data: { msiclientId: ` ${CLIENT_ID} ` } } };
    assert.deepEqual((read({ inputs: { azureSubscription: 'sc' }, endpoints }).config as { managedIdentity?: unknown }).managedIdentity, {
      clientId: CLIENT_ID,
    });
    const other = '0f0e0d0c-0b0a-4909-8807-060504030201';
    assert.deepEqual(
      (read({ inputs: { azureSubscription: 'sc', managedIdentityClientId: other }, endpoints }).config as { managedIdentity?: unknown })
        .managedIdentity,
      { clientId: other },
    );
  });

  it('warns that a client id means nothing to a connection that is no managed identity', () => {
    const r = read({ inputs: { azureSubscription: 'sc', managedIdentityClientId: CLIENT_ID }, endpoints: { sc: WIF } });
    assert.deepEqual([r.problems, r.warnings], [[], [loc('ManagedIdentityClientIdUnused', 'sc', 'WorkloadIdentityFederation')]]);
  });
});

describe('jwt inputs', () => {
  it("the pipeline's token by default, with the agent's OIDC URI", () => {
    const r = read({ inputs: { authMethod: 'jwt' }, variables: OIDC, endpoints: JOB });
    assert.deepEqual(r, {
      config: { method: 'jwt', source: 'pipeline', requestUri: OIDC['System.OidcRequestUri'], connection: '' },
      problems: [],
      warnings: [],
    });
  });

  it("a connection's token needs a workload identity federation connection", () => {
    const inputs = { authMethod: 'jwt', jwtSource: 'serviceconnection', azureSubscription: 'sc' };
    assert.deepEqual(read({ inputs, variables: OIDC, endpoints: { ...JOB, sc: WIF } }).config, {
      method: 'jwt',
      source: 'serviceConnection',
      requestUri: OIDC['System.OidcRequestUri'],
      connection: 'sc',
    });
    assert.deepEqual(read({ inputs, variables: OIDC, endpoints: { ...JOB, sc: { url: 'https://management.azure.com/' } } }).problems, [
      loc('JwtConnectionScheme', 'sc', 'ServicePrincipal'),
    ]);
    assert.deepEqual(read({ inputs: { ...inputs, azureSubscription: '' }, variables: OIDC, endpoints: JOB }).problems, [
      loc('InputRequired', 'azureSubscription', loc('JwtConnectionHint')),
    ]);
  });

  it('names an unknown source, a missing or bad OIDC URI and a missing access token', () => {
    assert.deepEqual(read({ inputs: { authMethod: 'jwt', jwtSource: 'file' }, variables: OIDC, endpoints: JOB }).problems, [
      loc('JwtSourceInvalid', 'file'),
    ]);
    assert.deepEqual(read({ inputs: { authMethod: 'jwt' } }).problems, [loc('JwtOidcUriMissing'), loc('JwtAccessTokenMissing')]);
    assert.deepEqual(read({ inputs: { authMethod: 'jwt' }, variables: { 'System.OidcRequestUri': 'ftp://x' }, endpoints: JOB }).problems, [
      loc('JwtOidcUriInvalid', 'ftp://x'),
    ]);
  });
});

describe('approle inputs', () => {
  const connection = { url: 'https://vault.example.com', scheme: 'usernamepassword', auth: { Username: ' role-1 ', Password: 'secret-1' } };

  it('reads role_id and secret_id from an AppRole connection, an input winning over it', () => {
    const fromConnection = read({ inputs: { authMethod: 'approle', vaultConnection: 'vault' }, endpoints: { vault: connection } });
    assert.deepEqual(fromConnection.config, {
      method: 'approle',
      roleId: 'role-1',
      secretId: 'secret-1',
      roleIdFrom: loc('FromVaultConnection', 'vault'),
      secretIdFrom: loc('FromVaultConnection', 'vault'),
      address: 'https://vault.example.com',
    });
    const wrapped = read({
      inputs: { authMethod: 'approle', vaultConnection: 'vault', approleSecretId: 'hvs.wrapped' },
      endpoints: { vault: connection },
    });
    assert.equal((wrapped.config as { secretId: string }).secretId, 'hvs.wrapped');
    assert.equal((wrapped.config as { secretIdFrom: string }).secretIdFrom, loc('FromInput', 'approleSecretId'));
  });

  it('names each missing value, and the connection scheme that could not give it', () => {
    assert.deepEqual(read({ inputs: { authMethod: 'approle' } }).problems, [
      loc('ApproleMissing', 'role_id', 'approleRoleId', 'approleRoleId', 'VAULT_ROLE_ID', ''),
      loc('ApproleMissing', 'secret_id', 'approleSecretId', 'approleSecretId', 'VAULT_SECRET_ID', ''),
    ]);
    const token = read({
      inputs: { authMethod: 'approle', vaultConnection: 'vault', approleSecretId: 's' },
      endpoints: { vault: { url: 'https://vault.example.com', scheme: 'Token' } },
    });
    assert.deepEqual(token.problems, [
      loc('ApproleMissing', 'role_id', 'approleRoleId', 'approleRoleId', 'VAULT_ROLE_ID', loc('VaultConnectionScheme', 'vault', 'Token')),
    ]);
  });

  it('refuses a value of several lines', () => {
    assert.deepEqual(read({ inputs: { authMethod: 'approle', approleRoleId: 'a', approleSecretId: 'b\nc' } }).problems, [
      loc('ApproleMultiline', 'secret_id', loc('FromInput', 'approleSecretId')),
    ]);
  });
});

describe('cert inputs', () => {
  let client: ClientCert;
  let other: ClientCert;
  before(async function () {
    this.timeout(20000);
    [client, other] = await Promise.all([selfSignedClientCert('ci-agent'), selfSignedClientCert('someone-else')]);
  });
  const certConnection = (pem: string) => ({
    vault: { url: 'https://vault.example.com', scheme: 'Certificate', auth: { certificate: pem } },
  });

  it("puts a certificate connection's pair in the TLS settings", () => {
    const r = read({ inputs: { authMethod: 'cert', vaultConnection: 'vault' }, endpoints: certConnection(client.combinedPem) });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.config, { method: 'cert', certificate: `${client.certPem.trim()}\n`, source: loc('FromVaultConnection', 'vault') });
    assert.deepEqual(r.pair, { cert: `${client.certPem.trim()}\n`, key: `${client.keyPem.trim()}\n` });
  });

  it('refuses a connection missing its key, a pair that does not match, and a second certificate in the inputs', () => {
    assert.deepEqual(
      read({ inputs: { authMethod: 'cert', vaultConnection: 'vault' }, endpoints: certConnection(client.certPem) }).problems,
      [loc('CertConnectionIncomplete', 'vault', loc('CertPartKey'))],
    );
    const mismatch = read({
      inputs: { authMethod: 'cert', vaultConnection: 'vault' },
      endpoints: certConnection(client.certPem + other.keyPem),
    });
    assert.deepEqual([mismatch.problems, mismatch.pair], [[loc('CertConnectionMismatch', 'vault')], undefined]);
    assert.deepEqual(
      read({
        inputs: { authMethod: 'cert', vaultConnection: 'vault', clientCertificate: 'client.pem' },
        endpoints: certConnection(client.combinedPem),
      }).problems,
      [loc('CertTwoSources', 'vault')],
    );
  });

  it("takes the TLS settings' certificate otherwise, naming where it came from", () => {
    assert.deepEqual(
      read({ inputs: { authMethod: 'cert', clientCertificate: 'client.pem' } }, { clientCertificate: client.certPem }).config,
      { method: 'cert', certificate: client.certPem, source: loc('FromInput', 'clientCertificate') },
    );
    assert.deepEqual(read({ inputs: { authMethod: 'cert' } }, { clientCertificate: client.certPem }).config, {
      method: 'cert',
      certificate: client.certPem,
      source: 'Agent.ClientCert',
    });
  });

  it('needs a certificate, and https to carry it', () => {
    assert.deepEqual(read({ inputs: { authMethod: 'cert' } }).problems, [loc('CertMissing', '')]);
    const plain = read(
      { inputs: { authMethod: 'cert', vaultAddress: 'http://vault:8200' } },
      { vaultAddress: 'http://vault:8200', clientCertificate: client.certPem },
    );
    assert.deepEqual(plain.problems, [loc('CertNeedsHttps', 'http://vault:8200', loc('FromInput', 'vaultAddress'))]);
  });
});

describe('aws, gcp and kubernetes inputs', () => {
  it('aws: the server id header and the STS region, global meaning the global endpoint', () => {
    assert.deepEqual(read({ inputs: { authMethod: 'aws', awsServerIdHeader: 'vault.example.com', awsStsRegion: 'Global' } }).config, {
      method: 'aws',
      serverId: 'vault.example.com',
      stsRegion: '',
    });
    assert.deepEqual(read({ inputs: { authMethod: 'aws', awsServerIdHeader: 'a\tb', awsStsRegion: 'europe' } }).problems, [
      loc('AwsServerIdInvalid', 'a\tb'),
      loc('AwsRegionInvalid', 'europe'),
    ]);
  });

  it("gcp: the default service account, and the metadata host Google's libraries would use", () => {
    assert.deepEqual(read({ inputs: { authMethod: 'gcp' } }).config, {
      method: 'gcp',
      serviceAccount: 'default',
      metadataHost: 'metadata.google.internal',
    });
    assert.deepEqual(
      read({
        inputs: { authMethod: 'gcp', gcpServiceAccount: 'ci@p.iam.gserviceaccount.com' },
        variables: { GCE_METADATA_HOST: '127.0.0.1:8089' },
      }).config,
      {
        method: 'gcp',
        serviceAccount: 'ci@p.iam.gserviceaccount.com',
        metadataHost: '127.0.0.1:8089',
      },
    );
    assert.deepEqual(read({ inputs: { authMethod: 'gcp', gcpServiceAccount: 'not an account' } }).problems, [
      loc('GcpServiceAccountInvalid', 'not an account'),
    ]);
  });

  it('kubernetes: the token file, checked through the reader it is given', () => {
    const seen: string[] = [];
    const r = read(
      { inputs: { authMethod: 'kubernetes' } },
      { readFile: (path, max) => (seen.push(`${path} ${max}`), { refused: 'missing', code: 'ENOENT' }) },
    );
    assert.deepEqual(r.config, { method: 'kubernetes', tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
    assert.deepEqual(seen, ['/var/run/secrets/kubernetes.io/serviceaccount/token 65536']);
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0], /kubernetesTokenFile/);
  });
});
