// The aws method's pure parts: the STS endpoint, Vault's canonical ARN, the credential chain's trail,
// the login body (signed by the SDK's signer, checked by the STS emulator's own SigV4 code), and
// the aws plugin's refusals turned into the cause and the fix.
import * as assert from 'node:assert/strict';
import {
  AwsCredentialsError,
  awsMethod,
  AwsSdk,
  canonicalArn,
  explainNoCredentials,
  SourceTrail,
  stsEndpoint,
} from '../../tasks/VaultAzureLoginV1/src/auth/aws';
import * as sdk from '../../tasks/VaultAzureLoginV1/src/auth/awsSdk';
import { VaultHttpError } from '../../tasks/VaultAzureLoginV1/src/core/failures';
import { sigV4Signature } from '../emulators/aws';

const loc = (key: string, ...args: unknown[]) => [key, ...args].join('|');
const target = { address: 'https://vault.example.com:8200', mount: 'aws', role: 'ci', nsNote: '' };
const refusal = (text: string) => new VaultHttpError(400, 'auth/aws/login', [text], { errors: [text] });
const keys = { accessKeyId: 'ASIAEXAMPLE000000001', secretAccessKey: 'secret/key+EXAMPLE', sessionToken: 'session-token-EXAMPLE' };

function fakeSdk(credentials: () => Promise<typeof keys>): AwsSdk {
  return {
    fromNodeProviderChain: () => credentials,
    fromInstanceMetadata: () => () =>
      Promise.reject(Object.assign(new Error('Error response received from instance metadata service'), { statusCode: 404 })),
    SignatureV4: sdk.SignatureV4 as unknown as AwsSdk['SignatureV4'],
    Sha256: sdk.Sha256,
  };
}

describe('aws method', () => {
  it('signs for the global STS endpoint unless a region is named', () => {
    assert.deepEqual(stsEndpoint(''), { host: 'sts.amazonaws.com', region: 'us-east-1' });
    assert.deepEqual(stsEndpoint('eu-west-1'), { host: 'sts.eu-west-1.amazonaws.com', region: 'eu-west-1' });
    assert.deepEqual(stsEndpoint('cn-north-1'), { host: 'sts.cn-north-1.amazonaws.com.cn', region: 'cn-north-1' });
  });

  it('names a principal as Vault compares it: an assumed-role session as its role, without path', () => {
    assert.equal(canonicalArn('arn:aws:sts::123456789012:assumed-role/azp-agent/i-0abc'), 'arn:aws:iam::123456789012:role/azp-agent');
    assert.equal(canonicalArn('arn:aws:iam::123456789012:user/ci/builders/ci-builder'), 'arn:aws:iam::123456789012:user/ci-builder');
    assert.equal(canonicalArn('not-an-arn'), 'not-an-arn');
  });

  it('follows the chain by its debug lines: each source tried, with the reason it gave nothing', () => {
    const trail = new SourceTrail();
    trail.logger.debug('@aws-sdk/credential-provider-node - defaultProvider::fromEnv');
    trail.logger.debug('@smithy/property-provider -> Unable to find environment variable credentials.');
    trail.logger.debug('@aws-sdk/credential-provider-node - defaultProvider::fromTokenFile');
    trail.logger.debug('@aws-sdk/credential-provider-node - defaultProvider::remoteProvider');
    trail.logger.debug('@aws-sdk/credential-provider-node - remoteProvider::fromInstanceMetadata');
    trail.logger.debug('@smithy/property-provider (!) Could not load credentials from any providers');
    assert.deepEqual(
      trail.tried.map((t) => [t.source[1], t.reason]),
      [
        ['AwsSourceEnv', 'Unable to find environment variable credentials.'],
        ['AwsSourceWebIdentity', ''],
        ['AwsSourceImds', ''],
      ],
    );
    assert.equal(trail.current()?.[1], 'AwsSourceImds');
  });

  it('builds the iam login body; STS (our emulator, not the SDK) accepts its signature, with the server ID signed', async () => {
    const method = awsMethod({ method: 'aws', serverId: 'vault.example.com', stsRegion: '' }, async () => fakeSdk(async () => keys));
    const proof = await method.prove({
      mount: 'aws',
      role: 'ci',
      loc,
      log: () => undefined,
      mask: () => undefined,
      vault: { post: async () => ({}) },
      timeoutSeconds: 5,
    });
    const b64 = (v: unknown) => Buffer.from(String(v), 'base64').toString('utf8');
    assert.equal(proof.body.role, 'ci');
    assert.equal(proof.body.iam_http_request_method, 'POST');
    assert.equal(b64(proof.body.iam_request_url), 'https://sts.amazonaws.com/');
    assert.equal(b64(proof.body.iam_request_body), 'Action=GetCallerIdentity&Version=2011-06-15');
    const headers = JSON.parse(b64(proof.body.iam_request_headers)) as Record<string, string[]>;
    assert.deepEqual(Object.keys(headers).sort(), [
      'Authorization',
      'Content-Type',
      'X-Amz-Date',
      'X-Amz-Security-Token',
      'X-Vault-Aws-Iam-Server-Id',
    ]);
    assert.deepEqual(headers['X-Vault-Aws-Iam-Server-Id'], ['vault.example.com']);
    const m = /Credential=([^/]+)\/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)/.exec(headers.Authorization[0])!;
    assert.equal(m[1], keys.accessKeyId);
    assert.ok(m[3].split(';').includes('x-vault-aws-iam-server-id'), 'the server ID header is signed');
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v[0]]));
    const expected = sigV4Signature(
      {
        method: 'POST',
        path: '/',
        query: '',
        headers: { ...lower, host: 'sts.amazonaws.com' },
        body: 'Action=GetCallerIdentity&Version=2011-06-15',
      },
      m[3].split(';'),
      keys.secretAccessKey,
      lower['x-amz-date'],
      m[2],
    );
    assert.equal(m[4], expected);
    for (const secret of [keys.secretAccessKey, keys.sessionToken, m[4], String(proof.body.iam_request_headers)])
      assert.ok(proof.secrets.includes(secret), 'masked');
    assert.doesNotMatch(proof.notes.join('\n'), /EXAMPLE/);
  });

  it('leaves the header out when no server ID is set', async () => {
    const method = awsMethod({ method: 'aws', serverId: '', stsRegion: 'eu-west-1' }, async () => fakeSdk(async () => keys));
    const proof = await method.prove({
      mount: 'aws',
      role: 'ci',
      loc,
      log: () => undefined,
      mask: () => undefined,
      vault: { post: async () => ({}) },
      timeoutSeconds: 5,
    });
    const headers = JSON.parse(Buffer.from(String(proof.body.iam_request_headers), 'base64').toString('utf8')) as Record<string, string[]>;
    assert.equal(headers['X-Vault-Aws-Iam-Server-Id'], undefined);
    assert.match(headers.Authorization[0], /\/eu-west-1\/sts\/aws4_request/);
  });

  it('a chain that finds nothing names every source it tried; the last word of IMDS is asked for once more', async () => {
    const method = awsMethod({ method: 'aws', serverId: '', stsRegion: '' }, async () => ({
      ...fakeSdk(async () => keys),
      fromNodeProviderChain:
        ({ logger }) =>
        async () => {
          logger.debug('@aws-sdk/credential-provider-node - defaultProvider::fromEnv');
          logger.debug('@smithy/property-provider -> Unable to find environment variable credentials.');
          logger.debug('@aws-sdk/credential-provider-node - remoteProvider::fromInstanceMetadata');
          throw new Error('Could not load credentials from any providers');
        },
    }));
    const err = await method
      .prove({
        mount: 'aws',
        role: 'ci',
        loc,
        log: () => undefined,
        mask: () => undefined,
        vault: { post: async () => ({}) },
        timeoutSeconds: 5,
      })
      .then(
        () => assert.fail('no credentials'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof AwsCredentialsError);
    assert.equal(
      explainNoCredentials(err, loc),
      [
        'AwsNoCredentials|Could not load credentials from any providers',
        'AwsSourceTried|AwsSourceEnv|Unable to find environment variable credentials.',
        'AwsSourceTried|AwsSourceImds|Error response received from instance metadata service (HTTP 404)',
        'AwsNoCredentialsFix',
      ].join('\n'),
    );
    assert.equal(method.explainProofFailure(err, { timeoutSeconds: 5, attempts: 1 }, loc), explainNoCredentials(err, loc));
  });

  describe("the aws plugin's refusals (builtin/credential/aws/path_login.go), each with the fix", () => {
    const method = awsMethod({ method: 'aws', serverId: 'vault.staging.example.com', stsRegion: '' });
    const proof = { body: {}, secrets: [], notes: [], facts: {} };
    const explain = (text: string) => method.explainRefusal(refusal(text), proof, target, loc);
    const cases: Array<[string, string]> = [
      [
        'IAM Principal "arn:aws:sts::123456789012:assumed-role/azp-agent/i-0abc" does not belong to the role "ci"',
        'AwsPrincipalNotBound|arn:aws:sts::123456789012:assumed-role/azp-agent/i-0abc|ci|aws|arn:aws:iam::123456789012:role/azp-agent|aws|ci|arn:aws:iam::123456789012:role/azp-agent',
      ],
      ['error validating X-Vault-AWS-IAM-Server-ID header: missing header "X-Vault-AWS-IAM-Server-ID"', 'AwsServerIdMissing|aws|aws'],
      [
        'error validating X-Vault-AWS-IAM-Server-ID header: expected "vault.example.com" but got "vault.staging.example.com"',
        'AwsServerIdMismatch|aws|vault.example.com|vault.staging.example.com|vault.example.com',
      ],
      ["error validating X-Vault-AWS-IAM-Server-ID header: vault header wasn't signed", 'AwsServerIdUnsigned|aws'],
      ['entry for role ci not found', 'AwsRoleMissing|ci|aws||aws|aws|ci'],
      ['auth method iam not allowed for role ci', 'AwsRoleNotIam|ci|aws|aws'],
      [
        'error making upstream request: received error code 403 from STS: <ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>Credential should be scoped to a valid region.</Message></Error></ErrorResponse>',
        'AwsStsRefused|aws|403|SignatureDoesNotMatch|Credential should be scoped to a valid region.|AwsStsRegionHint|sts.amazonaws.com|us-east-1|aws|sts.amazonaws.com|us-east-1',
      ],
      [
        'error making upstream request: received error code 403 from STS: <ErrorResponse><Error><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error></ErrorResponse>',
        'AwsStsRefused|aws|403|ExpiredToken|The security token included in the request is expired|AwsStsCredentialsHint',
      ],
    ];
    for (const [text, expected] of cases) it(text.slice(0, 70), () => assert.equal(explain(text), expected));
    it("tells STS's SignatureDoesNotMatch for a wrong secret key apart from the one for a region", () => {
      const sts = (message: string) =>
        `error making upstream request: received error code 403 from STS: <ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>${message}</Message></Error></ErrorResponse>`;
      const secretKey =
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
      const fromEnv = { ...proof, facts: { source: 'the environment' } }; // the source's name, as the proof logged it
      assert.equal(
        method.explainRefusal(refusal(sts(secretKey)), fromEnv, target, loc),
        `AwsStsRefused|aws|403|SignatureDoesNotMatch|${secretKey}|AwsStsSecretKeyHint|the environment`,
      );
      assert.match(explain(sts("Credential should be scoped to a valid region, not 'eu-west-1'. ")) ?? '', /\|AwsStsRegionHint\|/);
    });
    it("explains the plugin's crash on a mount without config/client, in both of Vault's words for it", () => {
      for (const text of ['rpc error: code = Unavailable desc = error reading from server: EOF', 'plugin is shut down']) {
        const crash = new VaultHttpError(500, 'auth/aws/login', [text], { errors: [text] });
        assert.equal(method.explainRefusal(crash, proof, target, loc), `AwsPluginCrashed|aws|${text}|aws|us-east-1|aws`);
      }
    });
    it('leaves any other answer to the shared explanation', () => assert.equal(explain('permission denied'), undefined));
  });
});
