// The aws login method through the bundled task: credentials from EC2 instance metadata (IMDSv2),
// environment variables, a web identity token file and a container credentials endpoint, a signed
// sts:GetCallerIdentity that the aws login check in front of OpenBao forwards to the STS emulator (which
// checks the signature), the post-job revocation, and the misconfigurations users meet most, each
// answered with the cause and a command that fixes it.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCOUNT_ID, Aws, startAws } from '../emulators/aws';
import { AWS_STS_HOSTS, VAULT_HOST } from '../emulators/hosts';
import { SECRETS, seedVault } from '../emulators/seed';
import { AwsRole, enableAwsAuth, setAwsConfig, writeAwsRole } from '../emulators/vaultAws';
import { RunOptions, startWorld, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';
import { lookupSelf } from '../helpers/lookupSelf';
import { taskVariablesFrom } from '../helpers/output';

const SERVER_ID = VAULT_HOST;
const INSTANCE_ROLE = 'azp-agent';
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT_ID}:role/${name}`;

const role = { auth_type: 'iam' as const, token_policies: ['ci-read'], token_ttl: 900 };
/** The role the logins use: the instance profile's role, the EKS role and the ci-* users. */
const ciRole = (): AwsRole => ({
  ...role,
  bound_iam_principal_arn: [roleArn(INSTANCE_ROLE), roleArn('eks-ci'), `arn:aws:iam::${ACCOUNT_ID}:user/ci-*`],
});

describe('e2e: aws login (iam method)', function () {
  this.timeout(120_000);
  let world: World;
  let aws: Aws;
  let dir: string;

  before(async () => {
    world = await startWorld();
    await seedVault(world.vault, { jwks: () => world.entra.jwks() as never, boundOids: [] });
    aws = await startAws({ tls: await world.ca.issue([...AWS_STS_HOSTS]) });
    world.imds.route('/latest/', aws.handleImds);
    aws.instanceRole = INSTANCE_ROLE;
    for (const name of [INSTANCE_ROLE, 'eks-ci', 'other-team']) aws.defineRole(name);
    aws.webIdentityRoles.add(roleArn('eks-ci'));
    aws.userKeys('ci-user');
    const ca = world.ca.certPem;
    enableAwsAuth(world.vault, 'aws', { iamServerIdHeaderValue: SERVER_ID, ca }, aws);
    writeAwsRole(world.vault, 'aws', 'ci', ciRole());
    writeAwsRole(world.vault, 'aws', 'other', { ...role, bound_iam_principal_arn: [roleArn('other-team')] });
    writeAwsRole(world.vault, 'aws', 'ec2-only', { ...role, auth_type: 'ec2', bound_iam_principal_arn: [] });
    dir = mkdtempSync(join(tmpdir(), 'val-aws-'));
  });
  after(async () => {
    await aws?.close();
    await world?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const inputs = {
    authMethod: 'aws',
    vaultAddress: VAULT_ADDRESS,
    role: 'ci',
    awsServerIdHeader: SERVER_ID,
    retries: '0',
    secrets: 'secret/ci/production/db password | DB_PASSWORD',
  };
  /** No shared config or credentials files: the agent's home must not decide the outcome. */
  const hermetic = () => ({ AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'), AWS_CONFIG_FILE: join(dir, 'no-config') });

  async function run(override: Partial<RunOptions> = {}): Promise<TaskRun> {
    return world.runTask({ connection: world.ids.wif, inputs, ...override, variables: { ...hermetic(), ...override.variables } });
  }
  const check = (r: TaskRun, ok: boolean) => checkRun(world, r, ok, { extraSecrets: aws.secrets() });

  it('logs in with the EC2 instance profile over IMDSv2, reads and publishes; the post-job step revokes the token', async () => {
    const issued = new Set(world.vault.issuedTokens());
    const imdsBefore = aws.imdsRequests.length;
    const stsBefore = aws.stsRequests.length;
    const main = await run();
    const { vars } = check(main, true);
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.match(
      main.stdout,
      /Signing an sts:GetCallerIdentity request for https:\/\/sts\.amazonaws\.com\/ \(region us-east-1\).*X-Vault-AWS-IAM-Server-ID: vault\.example\.com/,
    );
    assert.match(main.stdout, /Signed with AWS credentials from EC2 instance metadata \(IMDSv2/);
    // IMDSv2: a session token first, then the role and its credentials with it.
    assert.deepEqual(
      aws.imdsRequests.slice(imdsBefore).map((r) => `${r.method} ${r.path} ${r.status}`),
      [
        'PUT /latest/api/token 200',
        'GET /latest/meta-data/iam/security-credentials/ 200',
        `GET /latest/meta-data/iam/security-credentials/${INSTANCE_ROLE} 200`,
      ],
    );
    const [sts] = aws.stsRequests.slice(stsBefore);
    assert.equal(sts.status, 200, 'STS verified the signature Vault forwarded');
    assert.equal(sts.host, 'sts.amazonaws.com');
    assert.equal(sts.serverId, SERVER_ID);
    assert.ok(sts.signedHeaders.includes('x-vault-aws-iam-server-id'), 'the server ID header is signed');

    const token = world.vault.issuedTokens().find((t) => !issued.has(t)) as string;
    assert.equal(await lookupSelf(world, token), 200);
    const post = await world.runTask({
      connection: world.ids.wif,
      inputs,
      entry: 'post.js',
      tempDir: main.tempDir,
      variables: { ...hermetic(), ...taskVariablesFrom(main.stdout) },
    });
    check(post, true);
    assert.match(post.stdout, /Revoked the Vault token\./);
    assert.equal(await lookupSelf(world, token), 403, 'the token no longer works');
  });

  it('logs in with keys in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), bound by a wildcard ARN', async () => {
    const key = aws.userKeys('ci-builder');
    const r = await run({
      variables: { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    const { vars } = check(r, true);
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.match(
      r.stdout,
      /Signed with AWS credentials from environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(they expire: never/,
    );
  });

  it('logs in with session credentials in the environment (ASIA… with AWS_SESSION_TOKEN) and says they expire', async () => {
    const session = aws.roleSession(INSTANCE_ROLE, 'ci-session');
    assert.ok(session.accessKeyId.startsWith('ASIA') && session.sessionToken);
    const r = await run({
      variables: {
        AWS_ACCESS_KEY_ID: session.accessKeyId,
        AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
        AWS_SESSION_TOKEN: session.sessionToken ?? '',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    });
    check(r, true);
    assert.match(
      r.stdout,
      /Signed with AWS credentials from environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(they expire: not given \(session credentials, with a session token: they do expire\)\)/,
    );
    assert.doesNotMatch(r.stdout, /never, long-term keys/);
  });

  it('logs in with a web identity token file (IAM roles for service accounts on EKS)', async () => {
    const tokenFile = join(dir, 'eks-token');
    const webToken = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:ci:azp-agent' })).toString('base64url')}.c2ln`;
    writeFileSync(tokenFile, webToken);
    const before = aws.stsRequests.length;
    const r = await run({
      variables: {
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: roleArn('eks-ci'),
        AWS_ROLE_SESSION_NAME: 'azp-job',
        AWS_REGION: 'us-east-1',
      },
    });
    check(r, true);
    assert.match(r.stdout, /Signed with AWS credentials from web identity token file/);
    assert.deepEqual(
      aws.stsRequests.slice(before).map((s) => `${s.action} ${s.status}`),
      ['AssumeRoleWithWebIdentity 200', 'GetCallerIdentity 200'],
    );
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(webToken.split('.')[1]), 'the web identity token is not shown');
  });

  it('logs in with container credentials (EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI and a token file)', async () => {
    const endpoint = await aws.startContainerEndpoint(INSTANCE_ROLE);
    const tokenFile = join(dir, 'pod-identity-token');
    writeFileSync(tokenFile, endpoint.authToken);
    const imdsBefore = aws.imdsRequests.length;
    const r = await run({
      variables: { AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.url, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile },
    });
    check(r, true);
    assert.match(r.stdout, /Signed with AWS credentials from container credentials/);
    assert.equal(aws.imdsRequests.length, imdsBefore, 'the instance metadata was not asked');
  });

  describe('misconfigurations: the cause, the value seen and the fix', () => {
    it('the IAM principal is not bound to the role (bound_iam_principal_arn)', async () => {
      const r = await run({ inputs: { ...inputs, role: 'other' } });
      const { errors } = check(r, false);
      const session = `arn:aws:sts::${ACCOUNT_ID}:assumed-role/${INSTANCE_ROLE}/${aws.instanceId}`;
      assert.match(
        errors,
        new RegExp(`refused the IAM principal ${session.replace(/[/.]/g, '\\$&')}: role 'other' of auth/aws does not bind it`),
      );
      assert.match(errors, new RegExp(`as ${roleArn(INSTANCE_ROLE).replace(/[/.]/g, '\\$&')} against bound_iam_principal_arn`));
      assert.ok(errors.includes(`vault write auth/aws/role/other bound_iam_principal_arn=${roleArn(INSTANCE_ROLE)}`), errors);
    });

    it('an IAM role deleted and created again: still bound by its old unique id until the Vault role is written again', async () => {
      aws.recreateRole(INSTANCE_ROLE);
      const r = await run();
      const { errors } = check(r, false);
      assert.match(
        errors,
        /refused the IAM principal arn:aws:sts::\d+:assumed-role\/azp-agent\/\S+: role 'ci' of auth\/aws does not bind it/,
      );
      assert.match(
        errors,
        /If that ARN is bound already, the IAM role \(or user\) was deleted and created again after the Vault role was written: Vault bound the unique id the ARN had then \(resolve_aws_unique_ids, on by default\)/,
      );
      // The fix the message gives: the Vault role written again, with the same ARNs.
      writeAwsRole(world.vault, 'aws', 'ci', ciRole());
      check(await run(), true);
    });

    it('a secret access key that is not its access key id’s: told apart from a region mismatch', async () => {
      const key = aws.userKeys('ci-rotated');
      const wrong = [...key.secretAccessKey].reverse().join('');
      const r = await run({
        variables: { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: wrong, AWS_EC2_METADATA_DISABLED: 'true' },
      });
      const { errors } = checkRun(world, r, false, {
        extraSecrets: [...aws.secrets(), { what: 'the wrong secret access key', value: wrong }],
      });
      assert.match(
        errors,
        /\(HTTP 403, SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided\. Check your AWS Secret Access Key and signing method\./,
      );
      assert.match(
        errors,
        /the agent's secret access key \(from environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\) is not the one issued with its access key id/,
      );
      assert.doesNotMatch(errors, /sts_region|awsStsRegion/, 'not explained as a region problem');
    });

    it('a mount whose config/client was never written: the plugin’s crash explained, the login sent once', async () => {
      enableAwsAuth(world.vault, 'aws-new', { clientConfigWritten: false, ca: world.ca.certPem }, aws);
      writeAwsRole(world.vault, 'aws-new', 'ci', ciRole());
      const logins = () => world.vault.requests.filter((q) => q.path === 'auth/aws-new/login').length;
      for (const said of ['rpc error: code = Unavailable desc = error reading from server: EOF', 'plugin is shut down']) {
        const before = logins();
        const r = await run({ inputs: { ...inputs, authMount: 'aws-new', retries: '2' } });
        const { errors } = check(r, false);
        assert.ok(errors.startsWith(`The aws auth plugin of auth/aws-new crashed on the login (500 ${said}).`), errors);
        assert.ok(errors.includes('vault write auth/aws-new/config/client sts_region=us-east-1'), errors);
        assert.equal(logins() - before, 1, 'sent once, although retries is 2');
        assert.doesNotMatch(r.stdout, /retrying/i);
      }
      // The fix the message gives: config/client written.
      setAwsConfig(world.vault, 'aws-new', {});
      check(await run({ inputs: { ...inputs, authMount: 'aws-new' } }), true);
    });

    it('the step sends no X-Vault-AWS-IAM-Server-ID header and the mount requires one', async () => {
      const r = await run({ inputs: { ...inputs, awsServerIdHeader: '' } });
      const { errors } = check(r, false);
      assert.match(
        errors,
        /auth\/aws requires the header X-Vault-AWS-IAM-Server-ID \(its config sets iam_server_id_header_value\) and the step sent none/,
      );
      assert.match(errors, /vault read auth\/aws\/config\/client/);
      assert.match(errors, /awsServerIdHeader: <iam_server_id_header_value>/);
    });

    it('the X-Vault-AWS-IAM-Server-ID value differs from the mount’s', async () => {
      const r = await run({ inputs: { ...inputs, awsServerIdHeader: 'vault.staging.example.com' } });
      const { errors } = check(r, false);
      assert.match(
        errors,
        /auth\/aws expects the header X-Vault-AWS-IAM-Server-ID to be "vault\.example\.com", but the step sent "vault\.staging\.example\.com"/,
      );
      assert.match(errors, /awsServerIdHeader: vault\.example\.com/);
    });

    it('no credentials anywhere: names each source of the chain tried and why it gave nothing', async () => {
      aws.instanceRole = '';
      try {
        const r = await run();
        const { errors } = check(r, false);
        assert.match(errors, /No AWS credentials for the aws login/);
        assert.match(errors, /- environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: /);
        assert.match(errors, /- shared config and credentials files/);
        assert.match(errors, /- web identity token file \(AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN/);
        assert.match(errors, /- EC2 instance metadata \(IMDSv2 at http:\/\/169\.254\.169\.254\): .*(404|instance metadata)/);
        assert.match(errors, /aws ec2 associate-iam-instance-profile/);
        assert.equal(world.vault.requests.filter((q) => q.path.endsWith('/login')).length > 0, true);
      } finally {
        aws.instanceRole = INSTANCE_ROLE;
      }
    });

    it('a role of the ec2 kind', async () => {
      const r = await run({ inputs: { ...inputs, role: 'ec2-only' } });
      const { errors } = check(r, false);
      assert.match(errors, /Role 'ec2-only' of auth\/aws is an ec2 role, and this step logs in with the iam method/);
      assert.match(errors, /vault write auth\/aws\/role\/<name> auth_type=iam bound_iam_principal_arn=/);
    });

    it('a role that does not exist', async () => {
      const r = await run({ inputs: { ...inputs, role: 'nope' } });
      const { errors } = check(r, false);
      assert.match(errors, /Vault has no role 'nope' on the aws auth mount auth\/aws/);
      assert.match(errors, /vault write auth\/aws\/role\/nope auth_type=iam/);
    });
  });
});
