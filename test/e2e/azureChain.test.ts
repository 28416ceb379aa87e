// Proves the Azure side of the token chain against the real azure-pipelines-tasks-azure-arm-rest
// code: test/fixtures/arm-token.js runs as a task process (agent environment from agentEnv) and
// talks to the Azure DevOps, Entra ID and IMDS emulators through the private network namespace.
// Run with: node scripts/netns.mjs npx mocha test/e2e/azureChain.test.ts
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { agentEnv, AzureRmConnection } from '../emulators/agentEnv';
import { Azdo, startAzdo } from '../emulators/azdo';
import { Entra, startEntra } from '../emulators/entra';
import { AZDO_HOST, AZDO_IP, ENTRA_CERT_NAMES, ENTRA_IP, IMDS_IP, NAMESPACE_HOSTS, parseHostsFile } from '../emulators/hosts';
import { Imds, startImds } from '../emulators/imds';
import { decodeJwt, newSigningKey, signJwt, verifyJwt } from '../emulators/jwt';
import { Ca, ClientCert, createCa, selfSignedClientCert } from '../emulators/pki';

const REPO = resolve(__dirname, '..', '..');
const FIXTURE = join(REPO, 'test', 'fixtures', 'arm-token.js');

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ORG = 'contoso';
const ORG_ID = 'b2c6e1b7-5d8e-4d43-9a4a-1c2f0e4c7a11';
const PROJECT = { id: '590cfd2a-581c-4dcb-a12e-6568ce786175', name: 'Platform' };
const PLAN_ID = '2e011469-bc90-4dc7-9242-012be179cb56';
const JOB_ID = '5ee5fa9b-185c-52bc-0624-8e87d1d5c9f8';
const SYSTEM_ACCESS_TOKEN = `eyJ0eXAiOiJKV1QifQ.${Buffer.from(JSON.stringify({ scp: 'app_token', jti: randomUUID() })).toString('base64url')}.sig`;
const SP_SECRET = 'Q~spn-secret-value-' + randomUUID();

interface Identity {
  connectionId: string;
  clientId: string;
  objectId: string;
}
const ident = (): Identity => ({ connectionId: randomUUID(), clientId: randomUUID(), objectId: randomUUID() });
const WIF_AZDO = ident();
const WIF_ENTRA = ident();
const WIF_MISMATCH = ident();
const SP_KEY = ident();
const SP_CERT = ident();
const MSI = ident();

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  claims?: Record<string, unknown>;
  error?: string;
  /** `<service> <METHOD> <host><path>` of every emulator request made during the run, in order. */
  calls: string[];
  tempFiles: string[];
}

function httpsJson(url: string, ca: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, read by path
  return new Promise<{ status: number; body: any }>((done, fail) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        done({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', fail);
    req.end(init.body);
  });
}

describe('Azure token chain through the real arm-rest code', function () {
  this.timeout(60_000);
  let ca: Ca;
  let clientCert: ClientCert;
  let entra: Entra;
  let azdo: Azdo;
  let imds: Imds;
  const tempDirs: string[] = [];

  before(async () => {
    if (process.env.VAL_NETNS !== '1') {
      throw new Error(
        'This suite needs the private network namespace (login.microsoftonline.com, dev.azure.com and 169.254.169.254 on loopback). ' +
          'Run it as: node scripts/netns.mjs npx mocha test/e2e/azureChain.test.ts',
      );
    }
    ca = await createCa();
    clientCert = await selfSignedClientCert('vault-login-spn');
    entra = await startEntra({ tls: await ca.issue([...ENTRA_CERT_NAMES]) });
    azdo = await startAzdo({
      tls: await ca.issue([AZDO_HOST]),
      organization: ORG,
      organizationId: ORG_ID,
      project: PROJECT,
      systemAccessToken: SYSTEM_ACCESS_TOKEN,
    });
    imds = await startImds({ entra });

    azdo.addServiceConnection({ id: WIF_AZDO.connectionId, name: 'vault-wif', tenantId: TENANT, issuerShape: 'azdo' });
    azdo.addServiceConnection({ id: WIF_ENTRA.connectionId, name: 'vault-wif-entra', tenantId: TENANT, issuerShape: 'entra' });
    azdo.addServiceConnection({ id: WIF_MISMATCH.connectionId, name: 'vault-wif-renamed', tenantId: TENANT, issuerShape: 'azdo' });
    for (const connectionId of [WIF_AZDO.connectionId, WIF_ENTRA.connectionId]) {
      entra.trustIssuer(azdo.oidcIssuer(connectionId), () => azdo.jwks());
    }
    entra.addApp({ tenantId: TENANT, ...WIF_AZDO, federated: [azdo.federatedCredential(WIF_AZDO.connectionId)] });
    entra.addApp({ tenantId: TENANT, ...WIF_ENTRA, federated: [azdo.federatedCredential(WIF_ENTRA.connectionId)] });
    entra.addApp({
      tenantId: TENANT,
      ...WIF_MISMATCH,
      federated: [{ issuer: azdo.oidcIssuer(WIF_MISMATCH.connectionId), subject: `sc://${ORG}/${PROJECT.name}/vault-wif-old-name` }],
    });
    entra.addApp({ tenantId: TENANT, ...SP_KEY, secret: SP_SECRET });
    entra.addApp({ tenantId: TENANT, ...SP_CERT, certificatePem: clientCert.certPem });
    entra.addManagedIdentity({ tenantId: TENANT, clientId: MSI.clientId, objectId: MSI.objectId, systemAssigned: true });
  });

  after(async () => {
    await Promise.all([entra?.close(), azdo?.close(), imds?.close()]);
    await ca?.dispose();
    await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  function connections(): AzureRmConnection[] {
    return [
      {
        id: WIF_AZDO.connectionId,
        name: 'vault-wif',
        auth: { scheme: 'WorkloadIdentityFederation', tenantId: TENANT, clientId: WIF_AZDO.clientId },
      },
      {
        id: WIF_ENTRA.connectionId,
        name: 'vault-wif-entra',
        auth: { scheme: 'WorkloadIdentityFederation', tenantId: TENANT, clientId: WIF_ENTRA.clientId },
      },
      {
        id: WIF_MISMATCH.connectionId,
        name: 'vault-wif-renamed',
        auth: { scheme: 'WorkloadIdentityFederation', tenantId: TENANT, clientId: WIF_MISMATCH.clientId },
      },
      { id: SP_KEY.connectionId, auth: { scheme: 'ServicePrincipal', tenantId: TENANT, clientId: SP_KEY.clientId, secret: SP_SECRET } },
      {
        id: SP_CERT.connectionId,
        auth: {
          scheme: 'ServicePrincipal',
          authenticationType: 'spnCertificate',
          tenantId: TENANT,
          clientId: SP_CERT.clientId,
          certificatePem: clientCert.combinedPem,
        },
      },
      { id: MSI.connectionId, auth: { scheme: 'ManagedServiceIdentity', tenantId: TENANT } },
    ];
  }

  async function runArmToken(
    connectionId: string,
    opts: { resource?: string; variables?: Record<string, string>; systemAccessToken?: string } = {},
  ): Promise<RunResult> {
    const tempDir = await mkdtemp(join(tmpdir(), 'val-agent-temp-'));
    tempDirs.push(tempDir);
    const env = agentEnv({
      collectionUri: azdo.url,
      projectId: PROJECT.id,
      projectName: PROJECT.name,
      planId: PLAN_ID,
      jobId: JOB_ID,
      systemAccessToken: opts.systemAccessToken ?? SYSTEM_ACCESS_TOKEN,
      tempDir,
      workingDirectory: REPO,
      caCertPath: ca.certPath,
      connections: connections(),
      variables: opts.variables,
    });
    const marks = { entra: entra.requests.length, azdo: azdo.requests.length, imds: imds.requests.length };
    const args = [FIXTURE, connectionId, ...(opts.resource ? [opts.resource] : [])];
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('close', (c) => done({ code: c, stdout: out, stderr: err }));
    });
    const calls = [
      ...entra.requests.slice(marks.entra).map((r) => ({ at: r.at, text: `entra ${r.method} ${r.host}${r.path}` })),
      ...azdo.requests.slice(marks.azdo).map((r) => ({ at: r.at, text: `azdo ${r.method} ${r.host}${r.path}` })),
      ...imds.requests.slice(marks.imds).map((r) => ({ at: r.at, text: `imds ${r.method} ${IMDS_IP}${r.path}` })),
    ]
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
      .map((c) => c.text);
    const claimsLine = /^ARM_TOKEN_CLAIMS=(.*)$/m.exec(stdout);
    const errorLine = /^ARM_TOKEN_ERROR=(.*)$/m.exec(stderr);
    return {
      code,
      stdout,
      stderr,
      claims: claimsLine ? JSON.parse(claimsLine[1]) : undefined,
      error: errorLine?.[1],
      calls,
      tempFiles: readdirSync(tempDir).sort(),
    };
  }

  /**
   * Tokens must never reach the task's output. The connection's own secrets (SP key, certificate)
   * may only appear in `##vso[task.debug]` lines: task-lib and arm-rest print them there whatever
   * the task does, and only the agent's secret masking stands between them and the log.
   */
  function assertNoLeak(result: RunResult): void {
    const output = result.stdout + result.stderr;
    const nonDebug = output
      .split('\n')
      .filter((line) => !line.startsWith('##vso[task.debug]'))
      .join('\n');
    const tokens: Array<[string, string]> = [
      ...entra.issuedTokens.map((t): [string, string] => ['an Entra access token', t]),
      ...azdo.issuedTokens.map((t): [string, string] => ['an OIDC assertion', t]),
      ['System.AccessToken', SYSTEM_ACCESS_TOKEN],
    ];
    for (const [what, value] of tokens) assert.ok(!output.includes(value), `task output contains ${what}`);
    const endpointSecrets: Array<[string, string]> = [
      ['the service principal secret', SP_SECRET],
      ['the certificate private key', clientCert.keyPem.split('\n')[1]],
    ];
    for (const [what, value] of endpointSecrets) assert.ok(!nonDebug.includes(value), `task output outside debug lines contains ${what}`);
  }

  const mgmt = 'https://management.azure.com/';
  const oidcPath = `/${ORG}/${PROJECT.id}/_apis/distributedtask/hubs/build/plans/${PLAN_ID}/jobs/${JOB_ID}/oidctoken`;
  const wifCalls = [
    `azdo OPTIONS dev.azure.com/${ORG}/_apis/distributedtask`,
    `azdo POST dev.azure.com${oidcPath}`,
    `entra POST login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
  ];

  interface SuccessCase {
    title: string;
    who: Identity;
    resource?: string;
    variables?: Record<string, string>;
    aud: string;
    appidacr: string;
    calls: string[];
    tempFiles?: string[];
  }
  const cases: SuccessCase[] = [
    { title: 'WorkloadIdentityFederation, Azure DevOps issuer (vstoken)', who: WIF_AZDO, aud: mgmt, appidacr: '2', calls: wifCalls },
    {
      title: 'WorkloadIdentityFederation, Entra-issued assertion (/eid1/ subject)',
      who: WIF_ENTRA,
      aud: mgmt,
      appidacr: '2',
      calls: wifCalls,
    },
    {
      title: 'WorkloadIdentityFederation with a custom resource',
      who: WIF_AZDO,
      resource: 'api://vault-prod',
      aud: 'api://vault-prod',
      appidacr: '2',
      calls: wifCalls,
    },
    {
      title: 'ServicePrincipal key, default non-MSAL v1 endpoint on environmentAuthorityUrl',
      who: SP_KEY,
      aud: mgmt,
      appidacr: '1',
      calls: [`entra POST login.windows.net/${TENANT}/oauth2/token/`],
    },
    {
      title: 'ServicePrincipal key, non-MSAL, custom resource',
      who: SP_KEY,
      resource: 'api://vault-prod',
      aud: 'api://vault-prod',
      appidacr: '1',
      calls: [`entra POST login.windows.net/${TENANT}/oauth2/token/`],
    },
    {
      title: 'ServicePrincipal key with USE_MSAL=true',
      who: SP_KEY,
      resource: 'api://vault-prod',
      variables: { USE_MSAL: 'true' },
      aud: 'api://vault-prod',
      appidacr: '1',
      calls: [`entra POST login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`],
    },
    {
      title: 'ServicePrincipal certificate (spnCertificate), non-MSAL; the key file stays in Agent.TempDirectory',
      who: SP_CERT,
      resource: 'api://vault-prod',
      aud: 'api://vault-prod',
      appidacr: '2',
      calls: [`entra POST login.windows.net/${TENANT}/oauth2/token/`],
      tempFiles: ['.taskkey', 'spnCert.pem'],
    },
    {
      title: 'ServicePrincipal certificate (spnCertificate) with USE_MSAL=true',
      who: SP_CERT,
      variables: { USE_MSAL: 'true' },
      aud: mgmt,
      appidacr: '2',
      calls: [`entra POST login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`],
      tempFiles: ['.taskkey', 'spnCert.pem'],
    },
    {
      title: 'ManagedServiceIdentity, non-MSAL: IMDS is asked for the endpoint URL, the custom resource is ignored',
      who: MSI,
      resource: 'api://vault-prod',
      aud: mgmt,
      appidacr: '2',
      calls: [`imds GET ${IMDS_IP}/metadata/identity/oauth2/token`],
    },
    {
      title: 'ManagedServiceIdentity with USE_MSAL=true honours the custom resource',
      who: MSI,
      resource: 'api://vault-prod',
      variables: { USE_MSAL: 'true' },
      aud: 'api://vault-prod',
      appidacr: '2',
      calls: [`imds GET ${IMDS_IP}/metadata/identity/oauth2/token`],
    },
  ];

  for (const c of cases) {
    it(`gets a token: ${c.title}`, async () => {
      const who = c.who;
      const result = await runArmToken(who.connectionId, { resource: c.resource, variables: c.variables });
      assert.equal(result.code, 0, `fixture failed: ${result.error ?? result.stderr}`);
      assert.ok(result.claims, 'no claims printed');
      assert.deepEqual(
        {
          aud: result.claims.aud,
          iss: result.claims.iss,
          tid: result.claims.tid,
          oid: result.claims.oid,
          sub: result.claims.sub,
          appid: result.claims.appid,
          appidacr: result.claims.appidacr,
          ver: result.claims.ver,
          idtyp: result.claims.idtyp,
        },
        {
          aud: c.aud,
          iss: `https://sts.windows.net/${TENANT}/`,
          tid: TENANT,
          oid: who.objectId,
          sub: who.objectId,
          appid: who.clientId,
          appidacr: c.appidacr,
          ver: '1.0',
          idtyp: 'app',
        },
      );
      assert.ok(typeof result.claims.exp === 'number' && result.claims.exp > Date.now() / 1000);
      assert.deepEqual(result.calls, c.calls);
      assert.deepEqual(result.tempFiles, c.tempFiles ?? ['.taskkey']);
      assertNoLeak(result);
    });
  }

  it('sends Entra the assertion and scope MSAL builds for workload identity federation', async () => {
    const before = entra.requests.length;
    const result = await runArmToken(WIF_ENTRA.connectionId, { resource: 'api://vault-prod' });
    assert.equal(result.code, 0, result.stderr);
    const tokenCall = entra.requests.slice(before).find((r) => r.path.endsWith('/oauth2/v2.0/token'));
    assert.ok(tokenCall?.form && tokenCall.assertion);
    assert.equal(tokenCall.form.grant_type, 'client_credentials');
    assert.equal(tokenCall.form.scope, 'api://vault-prod/.default');
    assert.equal(tokenCall.form.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    assert.equal(tokenCall.assertion.payload.iss, `https://login.microsoftonline.com/${TENANT}/v2.0`);
    assert.match(
      String(tokenCall.assertion.payload.sub),
      new RegExp(`^/eid1/c/pub/t/[\\w-]{22}/a/rISbSSETf0KqFyZ8ppdXmA/sc/${ORG_ID}/${WIF_ENTRA.connectionId}$`),
    );
    assert.equal(tokenCall.assertion.payload.aud, 'api://AzureADTokenExchange');
  });

  it("prints the service principal key in debug lines (task-lib and arm-rest), so only the agent's masking hides it", async () => {
    const result = await runArmToken(SP_KEY.connectionId);
    assert.equal(result.code, 0, result.stderr);
    const debugLines = result.stdout.split('\n').filter((l) => l.startsWith('##vso[task.debug]') && l.includes(SP_SECRET));
    assert.deepEqual(
      debugLines.map((l) => l.replace(SP_SECRET, '<key>').slice(0, 80)),
      [
        `##vso[task.debug]${SP_KEY.connectionId} auth param serviceprincipalkey = <key>`,
        `##vso[task.debug]{"subscriptionID":"00000000-0000-0000-0000-000000000000","subscrip`,
      ].map((l) => l.slice(0, 80)),
    );
    assertNoLeak(result);
  });

  it('fails with AADSTS70021 when no federated credential matches the subject', async function () {
    this.timeout(90_000); // MSAL is retried 3 times (2 s, 4 s, 8 s)
    const result = await runArmToken(WIF_MISMATCH.connectionId);
    assert.notEqual(result.code, 0);
    assert.match(result.error ?? '', /AADSTS70021/);
    assert.match(result.error ?? '', new RegExp(`Assertion Subject: 'sc://${ORG}/${PROJECT.name}/vault-wif-renamed'`));
    assert.equal(result.calls.filter((c) => c.startsWith('entra POST')).length, 4);
    assertNoLeak(result);
  });

  it('fails without reaching Entra when the OIDC endpoint answers 401', async function () {
    this.timeout(60_000); // the OIDC call is tried 3 times, 2 s apart
    const result = await runArmToken(WIF_AZDO.connectionId, { systemAccessToken: 'not-the-job-token-' + randomUUID() });
    assert.notEqual(result.code, 0);
    assert.match(result.error ?? '', /Could not fetch access token for AAD\. Error: /);
    assert.match(result.error ?? '', /TF400813/);
    assert.deepEqual(result.calls, Array(3).fill(`azdo OPTIONS dev.azure.com/${ORG}/_apis/distributedtask`));
    assert.ok(azdo.requests.slice(-3).every((r) => r.status === 401 && r.auth === 'bearer-wrong'));
    assertNoLeak(result);
  });

  describe('emulators on their own', () => {
    const tokenUrl = () => `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`;
    const post = (url: string, form: Record<string, string>) =>
      httpsJson(url, ca.certPem, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });

    it('the namespace hosts file matches test/emulators/hosts.ts', () => {
      const hosts = parseHostsFile(readFileSync('/etc/hosts', 'utf8'));
      for (const { ip, names } of NAMESPACE_HOSTS)
        for (const name of names) if (name !== 'localhost') assert.equal(hosts.get(name), ip, name);
      assert.equal(hosts.get('dev.azure.com'), AZDO_IP);
      assert.equal(hosts.get('login.microsoftonline.com'), ENTRA_IP);
    });

    it('rejects an expired federated assertion with AADSTS700024', async () => {
      const saved = azdo.oidcLifetimeSec;
      azdo.oidcLifetimeSec = -120;
      try {
        const oidc = await httpsJson(
          `${azdo.url}${PROJECT.id}/_apis/distributedtask/hubs/build/plans/${PLAN_ID}/jobs/${JOB_ID}/oidctoken?serviceConnectionId=${WIF_AZDO.connectionId}`,
          ca.certPem,
          {
            method: 'POST',
            headers: {
              Authorization: `Bearer ${SYSTEM_ACCESS_TOKEN}`,
              Accept: 'application/json;api-version=7.2-preview.1',
              'X-TFS-FedAuthRedirect': 'Suppress',
            },
            body: '{}',
          },
        );
        assert.equal(oidc.status, 200);
        const res = await post(tokenUrl(), {
          client_id: WIF_AZDO.clientId,
          grant_type: 'client_credentials',
          scope: 'https://management.azure.com//.default',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: oidc.body.oidcToken,
        });
        assert.equal(res.status, 400);
        assert.equal(res.body.error, 'invalid_client');
        assert.deepEqual(res.body.error_codes, [700024]);
        assert.match(res.body.error_description, /^AADSTS700024: Client assertion is not within its valid time range\./);
      } finally {
        azdo.oidcLifetimeSec = saved;
      }
    });

    it('rejects a federated assertion signed by an unknown key', async () => {
      const rogue = newSigningKey(azdo.jwks().keys[0].kid);
      const now = Math.floor(Date.now() / 1000);
      const forged = signJwt(
        {
          aud: 'api://AzureADTokenExchange',
          iss: azdo.oidcIssuer(WIF_AZDO.connectionId),
          sub: azdo.oidcSubject(WIF_AZDO.connectionId),
          iat: now,
          nbf: now,
          exp: now + 600,
        },
        rogue,
      );
      const res = await post(tokenUrl(), {
        client_id: WIF_AZDO.clientId,
        grant_type: 'client_credentials',
        scope: 'https://management.azure.com//.default',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: forged,
      });
      assert.equal(res.status, 401);
      assert.deepEqual(res.body.error_codes, [50013]);
    });

    const errorCases: Array<{
      title: string;
      url: () => string;
      form: () => Record<string, string>;
      status: number;
      error: string;
      code: number;
      text: RegExp;
    }> = [
      {
        title: 'wrong client secret → AADSTS7000215',
        url: tokenUrl,
        form: () => ({
          client_id: SP_KEY.clientId,
          grant_type: 'client_credentials',
          scope: 'api://vault-prod/.default',
          client_secret: 'wrong',
        }),
        status: 401,
        error: 'invalid_client',
        code: 7000215,
        text: /Invalid client secret provided/,
      },
      {
        title: 'unknown application → AADSTS700016',
        url: tokenUrl,
        form: () => ({ client_id: randomUUID(), grant_type: 'client_credentials', scope: 'api://vault-prod/.default', client_secret: 'x' }),
        status: 400,
        error: 'unauthorized_client',
        code: 700016,
        text: /was not found in the directory/,
      },
      {
        title: 'unknown tenant → AADSTS90002',
        url: () => `https://login.microsoftonline.com/${randomUUID()}/oauth2/v2.0/token`,
        form: () => ({
          client_id: SP_KEY.clientId,
          grant_type: 'client_credentials',
          scope: 'api://vault-prod/.default',
          client_secret: SP_SECRET,
        }),
        status: 400,
        error: 'invalid_tenant',
        code: 90002,
        text: /not found/,
      },
      {
        title: 'scope without /.default → AADSTS1002012',
        url: tokenUrl,
        form: () => ({ client_id: SP_KEY.clientId, grant_type: 'client_credentials', scope: 'api://vault-prod', client_secret: SP_SECRET }),
        status: 400,
        error: 'invalid_scope',
        code: 1002012,
        text: /\/\.default/,
      },
    ];
    for (const e of errorCases) {
      it(`answers ${e.title} in Entra's error shape`, async () => {
        const res = await post(e.url(), e.form());
        assert.equal(res.status, e.status);
        assert.equal(res.body.error, e.error);
        assert.deepEqual(res.body.error_codes, [e.code]);
        assert.ok(String(res.body.error_description).startsWith(`AADSTS${e.code}: `));
        assert.match(res.body.error_description, e.text);
        for (const field of ['timestamp', 'trace_id', 'correlation_id']) assert.equal(typeof res.body[field], 'string', field);
      });
    }

    it('serves discovery documents and keys that verify its tokens', async () => {
      const config = await httpsJson(`https://login.microsoftonline.com/${TENANT}/v2.0/.well-known/openid-configuration`, ca.certPem);
      assert.equal(config.status, 200);
      assert.equal(config.body.token_endpoint, `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`);
      const keys = await httpsJson(config.body.jwks_uri, ca.certPem);
      const minted = entra.mintAccessToken({
        tenantId: TENANT,
        objectId: SP_KEY.objectId,
        appId: SP_KEY.clientId,
        audience: 'api://vault-prod',
      });
      const claims = verifyJwt(minted.token, keys.body, { issuer: `https://sts.windows.net/${TENANT}/`, audience: 'api://vault-prod' });
      assert.equal(claims.oid, SP_KEY.objectId);
      const expired = entra.mintAccessToken({
        tenantId: TENANT,
        objectId: SP_KEY.objectId,
        appId: SP_KEY.clientId,
        audience: 'x',
        lifetimeSec: -60,
      });
      assert.throws(() => verifyJwt(expired.token, entra.jwks()), /expired/);
      assert.equal(decodeJwt(minted.token).header.kid, entra.jwks().keys[0].kid);
    });

    it('IMDS requires the Metadata header', async () => {
      // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read by path
      const res = await new Promise<{ status: number; body: any }>((done, fail) => {
        get(`http://${IMDS_IP}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://vault-prod`, (r) => {
          let text = '';
          r.on('data', (c: Buffer) => (text += c.toString()));
          r.on('end', () => done({ status: r.statusCode ?? 0, body: JSON.parse(text) }));
        }).on('error', fail);
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.error_description, 'Required metadata header not specified');
    });

    it('Azure DevOps injects faults and then recovers', async () => {
      azdo.failNext(503, 1);
      const opts = { method: 'OPTIONS', headers: { Authorization: `Bearer ${SYSTEM_ACCESS_TOKEN}`, 'X-TFS-FedAuthRedirect': 'Suppress' } };
      assert.equal((await httpsJson(`${azdo.url}_apis/distributedtask`, ca.certPem, opts)).status, 503);
      const ok = await httpsJson(`${azdo.url}_apis/distributedtask`, ca.certPem, opts);
      assert.equal(ok.status, 200);
      assert.ok(ok.body.value.some((l: { id: string }) => l.id === '69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2'));
    });
  });
});
