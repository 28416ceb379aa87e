// The jwt method against real OpenBao: the bundled task asks the Azure DevOps emulator for the job's
// OIDC token (the pipeline's own, or a service connection's in either issuer shape) and logs in at a
// jwt mount that trusts the issuer by its discovery document, served over TLS inside the namespace:
// OpenBao itself fetches the keys and checks signature, issuer, audience, expiry, subject and the
// pipeline's claims. Every misconfiguration is made on the server, the task's message is checked,
// and the fix the message prints is run with the bao CLI before the same job logs in.
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { vssErrorBody } from '../emulators/azdo';
import { TOKEN_EXCHANGE_AUDIENCE } from '../emulators/entra';
import { SECRETS, TENANT_ID } from '../emulators/seed';
import { PROJECT, RunOptions, TaskRun } from '../emulators/world';
import { taskVariablesFrom } from '../helpers/output';
import { savedToken, ServerWorld, startServerWorld } from './fixture';
import type { Answer } from './openbao';
import { docsPage, recipeBlocks, taskInputs } from './pageRecipe';
import { FixOptions, runPrintedFix, runWithCli } from './printedFix';

const secrets = 'secret/ci/production/db password | DB_PASSWORD';
/** The pipeline run the roles admit: definition 42 on main (the emulator's default run). */
const DEF_ID = '42';
const MAIN = 'refs/heads/main';

async function ok(what: string, answer: Promise<Answer>): Promise<void> {
  const a = await answer;
  assert.ok(a.status < 300, `${what}: ${a.status} ${JSON.stringify(a.body)}`);
}

describe('server: the jwt method with Azure DevOps OIDC tokens, against OpenBao', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  let iss: string;
  /** The claims a role binds to admit the default pipeline run. */
  let pipelineClaims: Record<string, string>;

  const pipeline = (inputs: Record<string, string> = {}, more: Partial<RunOptions> = {}) =>
    s.run({ authMethod: 'jwt', authMount: 'jwt', role: 'deploy', secrets, ...inputs }, more);
  const connection = (inputs: Record<string, string> = {}, more: Partial<RunOptions> = {}) =>
    s.run({ authMethod: 'jwt', jwtSource: 'serviceConnection', authMount: 'jwt', role: 'connection', secrets, ...inputs }, more);

  const role = (mount: string, name: string, fields: Record<string, unknown>) =>
    ok(
      `role ${mount}/${name}`,
      s.bao.api('POST', `auth/${mount}/role/${name}`, { token_policies: ['ci-read'], token_ttl: 900, ...fields }),
    );
  const pipelineRole = (mount: string, name: string, fields: Record<string, unknown> = {}) =>
    role(mount, name, {
      role_type: 'jwt',
      bound_audiences: [TOKEN_EXCHANGE_AUDIENCE],
      bound_claims: pipelineClaims,
      user_claim: 'sub',
      ...fields,
    });
  async function mount(path: string, config: Record<string, unknown>): Promise<void> {
    await ok(`enable ${path}`, s.bao.api('POST', `sys/auth/${path}`, { type: 'jwt' }));
    await ok(`config ${path}`, s.bao.api('POST', `auth/${path}/config`, { oidc_discovery_ca_pem: s.world.ca.certPem, ...config }));
  }

  before(async () => {
    s = await startServerWorld();
    iss = s.world.azdo.issuer;
    pipelineClaims = { prj_id: PROJECT.id, def_id: DEF_ID, rpo_ref: MAIN };
    // The documented setup: discovery at the issuer, bound to it.
    await mount('jwt', { oidc_discovery_url: iss, bound_issuer: iss });
    await pipelineRole('jwt', 'deploy');
    await role('jwt', 'connection', {
      role_type: 'jwt',
      bound_audiences: [TOKEN_EXCHANGE_AUDIENCE],
      bound_subject: s.world.azdo.oidcSubject(s.world.ids.wif.connectionId),
      user_claim: 'sub',
    });
    // Entra-issued connection assertions: Entra's v2 issuer of the connection's tenant.
    const entraV2 = `https://login.microsoftonline.com/${TENANT_ID}/v2.0`;
    await mount('jwt-sc-entra', { oidc_discovery_url: entraV2, bound_issuer: entraV2 });
    await role('jwt-sc-entra', 'connection', {
      role_type: 'jwt',
      bound_audiences: [TOKEN_EXCHANGE_AUDIENCE],
      bound_subject: s.world.azdo.oidcSubject(s.world.ids.wifEntra.connectionId),
      user_claim: 'sub',
    });
  });
  after(async () => s?.stop());

  /** A run that logged in and published the secret. */
  function loggedIn(run: TaskRun): void {
    const { vars, warnings } = s.check(run, true);
    assert.deepEqual(warnings, []);
    assert.deepEqual(Object.fromEntries(vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.match(run.stdout, /^Logged in to Vault: policies \[ci-read, default\], token type service, TTL (900|600)s, over HTTP\/2\.$/m);
  }

  /** The one error of a failed run that published nothing. */
  function refused(run: TaskRun): string {
    const { vars, errorList } = s.check(run, false);
    assert.equal(vars.size, 0, 'nothing published');
    assert.equal(errorList.length, 1);
    return errorList[0];
  }

  describe('logs in', () => {
    it("with the pipeline's own token, logging its claims, and reads the secret", async () => {
      const run = await pipeline();
      loggedIn(run);
      assert.match(
        run.stdout,
        /^Requesting the pipeline's OIDC token from Azure DevOps \(https:\/\/dev\.azure\.com\/contoso\/[0-9a-f-]{36}\/_apis\/distributedtask\/hubs\/build\/plans\/[0-9a-f-]{36}\/jobs\/[0-9a-f-]{36}\/oidctoken\)\.$/m,
      );
      const r = s.world.azdo.pipelineRun;
      const claims = [
        `iss=${iss}`,
        'sub=p://contoso/Platform/vault-deploy',
        `aud=${TOKEN_EXCHANGE_AUDIENCE}`,
        `org_id=${iss.split('/').pop()}`,
        `prj_id=${PROJECT.id}`,
        `def_id=${DEF_ID}`,
        `rpo_id=${r.repositoryId}`,
        `rpo_uri=${r.repositoryUri}`,
        `rpo_ref=${MAIN}`,
        `rpo_ver=${r.version}`,
        `run_id=${r.runId}`,
      ].join(' ');
      assert.ok(
        run.stdout.split('\n').includes(`Got the pipeline's OIDC token: ${claims} expires=${run.stdout.match(/expires=(\S+)/)?.[1]}`),
        run.stdout,
      );
      // The request the task made: the agent's URI, the API version, no connection, the job's token.
      const req = s.world.azdo.requests.filter((q) => q.path.endsWith('/oidctoken')).pop()!;
      assert.deepEqual(req.query, { 'api-version': '7.1-preview.1' });
      assert.equal(req.method, 'POST');
      assert.equal(req.auth, 'bearer-ok');
    });

    it('with the federated token of a service connection in the Azure DevOps issuer shape (sc://…)', async () => {
      const run = await connection();
      loggedIn(run);
      const id = s.world.ids.wif.connectionId;
      assert.match(
        run.stdout,
        new RegExp(
          `^Got the OIDC token of service connection '${id}': iss=${iss} sub=sc://contoso/Platform/sc-vault-prod aud=api://AzureADTokenExchange expires=\\S+$`,
          'm',
        ),
      );
      const req = s.world.azdo.requests.filter((q) => q.path.endsWith('/oidctoken')).pop()!;
      assert.deepEqual(req.query, { 'api-version': '7.1-preview.1', serviceConnectionId: id });
    });

    it('with the federated token of a service connection in the Entra-issued shape, at a mount trusting Entra v2', async () => {
      const run = await connection({ authMount: 'jwt-sc-entra' }, { connection: s.world.ids.wifEntra });
      loggedIn(run);
      assert.match(
        run.stdout,
        new RegExp(
          `iss=https://login\\.microsoftonline\\.com/${TENANT_ID}/v2\\.0 sub=/eid1/c/pub/t/[\\w-]+/a/[\\w-]+/sc/[0-9a-f-]{36}/${s.world.ids.wifEntra.connectionId} aud=api://AzureADTokenExchange tid=${TENANT_ID} oid=`,
        ),
      );
    });

    it('and the post-job step revokes the token: a later lookup with it is refused', async () => {
      const main = await pipeline();
      loggedIn(main);
      const token = savedToken(main);
      assert.ok(token);
      assert.equal((await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status, 200);
      const post = await s.run(
        { authMethod: 'jwt', authMount: 'jwt', role: 'deploy', secrets },
        { entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) },
      );
      const p = s.check(post, true);
      assert.deepEqual(p.warnings, []);
      assert.match(post.stdout, /Revoked the Vault token\./);
      const after = await s.bao.api('GET', 'auth/token/lookup-self', undefined, token);
      assert.equal(after.status, 403);
    });

    it('OpenBao fetched the discovery document and the keys at vstoken.dev.azure.com over TLS', () => {
      const got = s.world.azdo.requests.filter((r) => r.host === 'vstoken.dev.azure.com' && r.status === 200).map((r) => r.path);
      assert.ok(got.includes(`/${iss.split('/').pop()}/.well-known/openid-configuration`), got.join('\n'));
      assert.ok(got.includes('/.well-known/jwks'), got.join('\n'));
    });
  });

  it('refuses a run on another branch (rpo_ref), naming the claim and the branch', async () => {
    const run = await pipeline({}, { pipelineRun: { ref: 'refs/heads/feature/x' } });
    const error = refused(run);
    assert.match(
      error,
      /^Vault refused the pipeline's OIDC token: its claim 'rpo_ref' is "refs\/heads\/feature\/x", which role 'deploy' on auth\/jwt does not accept \(bound_claims\)\./,
    );
    // The role is left as it is: the refusal is the binding at work.
  });

  it('refuses another pipeline definition (def_id)', async () => {
    const error = refused(await pipeline({}, { pipelineRun: { definitionId: '7' } }));
    assert.match(error, /its claim 'def_id' is "7", which role 'deploy' on auth\/jwt does not accept \(bound_claims\)/);
  });

  interface Misconfiguration {
    title: string;
    /** Makes the server wrong; returns the inputs and options of the run that meets it. */
    setup(): Promise<{ inputs?: Record<string, string>; more?: Partial<RunOptions>; kind?: 'pipeline' | 'connection' }>;
    /** Patterns of the message; a function for those that need what before() found. */
    message: RegExp[] | (() => RegExp[]);
    fix?: () => FixOptions;
  }

  const misconfigurations: Misconfiguration[] = [
    {
      title: 'an audience the role does not list',
      setup: async () => (
        await pipelineRole('jwt', 'aud-wrong', { bound_audiences: ['api://vault-prod'] }), { inputs: { role: 'aud-wrong' } }
      ),
      message: [
        /^The jwt mount refused the audience of the pipeline's OIDC token: the token has aud "api:\/\/AzureADTokenExchange", which is not in bound_audiences of role 'aud-wrong' on auth\/jwt\. Add it to the role \(list every audience the role accepts\): echo '\{"role_type":"jwt","bound_audiences":\["api:\/\/AzureADTokenExchange"\]\}' \| vault write auth\/jwt\/role\/aud-wrong -/,
        /Azure DevOps writes aud "api:\/\/AzureADTokenExchange" in every OIDC token it issues: the role must accept it\.$/,
      ],
      fix: () => ({}),
    },
    {
      title: 'a claim bound to another value (def_id)',
      setup: async () => (
        await pipelineRole('jwt', 'def-wrong', { bound_claims: { ...pipelineClaims, def_id: '7' } }), { inputs: { role: 'def-wrong' } }
      ),
      message: [
        /^Vault refused the pipeline's OIDC token: its claim 'def_id' is "42", which role 'def-wrong' on auth\/jwt does not accept \(bound_claims\)\./,
        /echo '\{"role_type":"jwt","bound_claims":\{"prj_id":"[0-9a-f-]{36}","def_id":"42","rpo_ref":"refs\/heads\/main"\}\}' \| vault write auth\/jwt\/role\/def-wrong -$/,
      ],
      fix: () => ({}),
    },
    {
      title: 'a def_id bound as a JSON number, which never matches the string claim',
      setup: async () => (
        await pipelineRole('jwt', 'def-number', { bound_claims: { ...pipelineClaims, def_id: 42 } }), { inputs: { role: 'def-number' } }
      ),
      message: [/its claim 'def_id' is "42", which role 'def-number' on auth\/jwt does not accept \(bound_claims\)/],
      fix: () => ({}),
    },
    {
      title: 'a claim the pipeline token does not carry (oid, as a role made for Entra tokens binds)',
      setup: async () => (
        await pipelineRole('jwt', 'oid-bound', { bound_claims: { oid: randomUUID() } }), { inputs: { role: 'oid-bound' } }
      ),
      message: [
        /^Vault refused the pipeline's OIDC token: it has no claim 'oid', which role 'oid-bound' on auth\/jwt binds \(bound_claims\)\. The token carries: jti, sub, aud, org_id, prj_id, def_id, rpo_id, rpo_uri, rpo_ver, rpo_ref, run_id, iss\./,
      ],
      fix: () => ({}),
    },
    {
      title: "pipeline claims bound for a service connection's token, which has none",
      setup: async () => (await pipelineRole('jwt', 'sc-with-claims'), { inputs: { role: 'sc-with-claims' }, kind: 'connection' }),
      message: [
        /^Vault refused the OIDC token of service connection '[0-9a-f-]{36}': it has no claim '(prj_id|def_id|rpo_ref)', which role 'sc-with-claims' on auth\/jwt binds \(bound_claims\)\. The token carries: jti, aud, iss, sub\./,
        /echo '\{"role_type":"jwt","bound_claims":\{\},"bound_subject":"sc:\/\/contoso\/Platform\/sc-vault-prod"\}' \| vault write auth\/jwt\/role\/sc-with-claims -$/,
      ],
      fix: () => ({}),
    },
    {
      title: 'a user_claim the token does not carry (oid)',
      setup: async () => (await pipelineRole('jwt', 'user-oid', { user_claim: 'oid' }), { inputs: { role: 'user-oid' } }),
      message: [
        /^Role 'user-oid' on auth\/jwt names user_claim 'oid', which the pipeline's OIDC token does not carry \(it carries: jti, sub, aud, org_id/,
        /echo '\{"role_type":"jwt","user_claim":"sub"\}' \| vault write auth\/jwt\/role\/user-oid -$/,
      ],
      fix: () => ({}),
    },
    {
      title: 'another bound_subject',
      setup: async () => (
        await role('jwt', 'subject-wrong', {
          role_type: 'jwt',
          bound_audiences: [TOKEN_EXCHANGE_AUDIENCE],
          bound_subject: 'p://contoso/Platform/other',
          user_claim: 'sub',
        }),
        { inputs: { role: 'subject-wrong' } }
      ),
      message: [
        /^Vault refused the pipeline's OIDC token: its subject is "p:\/\/contoso\/Platform\/vault-deploy", which is not the bound_subject of role 'subject-wrong' on auth\/jwt\./,
        /echo '\{"role_type":"jwt","bound_subject":"p:\/\/contoso\/Platform\/vault-deploy"\}' \| vault write auth\/jwt\/role\/subject-wrong -$/,
      ],
      fix: () => ({}),
    },
    {
      title: 'a role of type oidc (browser logins)',
      setup: async () => (
        await role('jwt', 'browser', {
          allowed_redirect_uris: ['https://vault.example.com:8300/ui/vault/auth/jwt/oidc/callback'],
          bound_audiences: [TOKEN_EXCHANGE_AUDIENCE],
          user_claim: 'sub',
        }),
        { inputs: { role: 'browser' } }
      ),
      message: [
        /^Role 'browser' on auth\/jwt is an oidc role, for logins in a browser \(role with oidc role_type is not allowed\)\. The task logs in with a token, which needs role_type jwt: echo '\{"role_type":"jwt"\}' \| vault write auth\/jwt\/role\/browser -$/,
      ],
      fix: () => ({}),
    },
    {
      title: 'a role the mount does not have',
      setup: async () => ({ inputs: { role: 'nope-role' } }),
      message: [
        /^Vault has no role 'nope-role' on the jwt auth mount 'auth\/jwt' \(role "nope-role" could not be found\)\. Fix the 'role' input \(the mount's roles: vault list auth\/jwt\/role\), or create the role for this token, with your policy in place of <policy>: /,
        /echo '\{"role_type":"jwt","bound_audiences":\["api:\/\/AzureADTokenExchange"\],"bound_claims":\{"prj_id":"[0-9a-f-]{36}","def_id":"42","rpo_ref":"refs\/heads\/main"\},"user_claim":"sub","token_policies":\["<policy>"\],"token_ttl":"10m"\}' \| vault write auth\/jwt\/role\/nope-role -$/,
      ],
      fix: () => ({ placeholders: { '<policy>': 'ci-read' } }),
    },
    {
      title: 'a bound_issuer of another organization',
      setup: async () => {
        await mount('jwt-other-org', { oidc_discovery_url: iss, bound_issuer: `https://vstoken.dev.azure.com/${randomUUID()}` });
        await pipelineRole('jwt-other-org', 'deploy');
        return { inputs: { authMount: 'jwt-other-org' } };
      },
      message: () => [
        new RegExp(
          `^Vault refused the pipeline's OIDC token: it was issued by "${iss}", which auth/jwt-other-org does not accept \\(its bound_issuer\\)\\.`,
        ),
        new RegExp(`vault write auth/jwt-other-org/config oidc_discovery_url='${iss}' bound_issuer='${iss}'$`),
      ],
      fix: () => ({ append: `oidc_discovery_ca_pem=@${s.world.ca.certPath}` }),
    },
    {
      title: "a discovery URL of another issuer (Entra's), whose keys did not sign the token",
      setup: async () => {
        await mount('jwt-entra-keys', { oidc_discovery_url: `https://sts.windows.net/${TENANT_ID}/` });
        await pipelineRole('jwt-entra-keys', 'deploy');
        return { inputs: { authMount: 'jwt-entra-keys' } };
      },
      message: () => [
        new RegExp(
          `^Vault could not verify the signature of the pipeline's OIDC token \\(issuer "${iss}"\\): auth/jwt-entra-keys checks signatures with another issuer's keys`,
        ),
        new RegExp(`vault write auth/jwt-entra-keys/config oidc_discovery_url='${iss}' bound_issuer='${iss}'$`),
      ],
      fix: () => ({ append: `oidc_discovery_ca_pem=@${s.world.ca.certPath}` }),
    },
    {
      title: "the Azure DevOps issuer's keys for an Entra-issued connection token",
      setup: async () => {
        await mount('jwt-sc-vstoken', { oidc_discovery_url: iss });
        await role('jwt-sc-vstoken', 'connection', {
          role_type: 'jwt',
          bound_audiences: [TOKEN_EXCHANGE_AUDIENCE],
          bound_subject: s.world.azdo.oidcSubject(s.world.ids.wifEntra.connectionId),
          user_claim: 'sub',
        });
        return { inputs: { authMount: 'jwt-sc-vstoken' }, more: { connection: s.world.ids.wifEntra }, kind: 'connection' };
      },
      message: [
        new RegExp(
          `^Vault could not verify the signature of the OIDC token of service connection '[0-9a-f-]{36}' \\(issuer "https://login\\.microsoftonline\\.com/${TENANT_ID}/v2\\.0"\\)`,
        ),
      ],
      fix: () => ({ append: `oidc_discovery_ca_pem=@${s.world.ca.certPath}` }),
    },
  ];

  describe('misconfigurations: the message, then its printed fix run with the bao CLI, then a login', () => {
    for (const m of misconfigurations) {
      it(m.title, async () => {
        const { inputs = {}, more = {}, kind = 'pipeline' } = await m.setup();
        const runIt = () => (kind === 'pipeline' ? pipeline(inputs, more) : connection(inputs, more));
        const error = refused(await runIt());
        for (const p of typeof m.message === 'function' ? m.message() : m.message) assert.match(error, p);
        if (!m.fix) return;
        await runPrintedFix(s.bao, s.world.ca.certPath, error, m.fix());
        loggedIn(await runIt());
      });
    }

    it('a mount path where no auth method is enabled', async () => {
      const error = refused(await pipeline({ authMount: 'jwt-nope' }));
      assert.equal(
        error,
        "No jwt auth method answers at auth/jwt-nope (HTTP 403: permission denied). Check the 'authMount' input: it is the path given to 'vault auth enable -path=jwt-nope jwt' (see 'vault auth list'). On Vault Enterprise or HCP Vault also check 'vaultNamespace'.",
      );
    });

    it('an expired token (the clocks of Vault and the agent differ)', async () => {
      s.world.azdo.oidcLifetimeSec = -600;
      try {
        const error = refused(await pipeline());
        assert.equal(
          error,
          "Vault says the pipeline's OIDC token is expired (error validating token: invalid expiration time (exp) claim: token is expired). It was just issued: compare the clocks of the Vault server and the agent (NTP), or raise the role's clock_skew_leeway, and run again.",
        );
      } finally {
        s.world.azdo.oidcLifetimeSec = 600;
      }
    });
  });

  describe("Azure DevOps' answers to the OIDC token request", () => {
    const oidcPath = /\/oidctoken$/;

    it('401: the job access token refused', async () => {
      s.world.azdo.failNext(401, 1, {
        match: oidcPath,
        body: vssErrorBody("TF400813: The user '' is not authorized to access this resource.", 'UnauthorizedRequestException'),
      });
      const error = refused(await pipeline());
      assert.match(
        error,
        /^Azure DevOps refused the job's access token when asked for the pipeline's OIDC token \(401 at https:\/\/dev\.azure\.com\/contoso\/[^ ]+\/oidctoken: TF400813: The user '' is not authorized to access this resource\.\)\. The token belongs to the job and ends with it: run the job again\./,
      );
    });

    it('404 for the pipeline token: no OIDC tokens here', async () => {
      s.world.azdo.failNext(404, 1, { match: oidcPath, body: '' });
      const error = refused(await pipeline());
      assert.match(
        error,
        /^Azure DevOps answered 404 when asked for the pipeline's OIDC token at https:\/\/dev\.azure\.com\/\S+\/oidctoken \(HTTP 404\): this Azure DevOps \(or Azure DevOps Server\) does not issue OIDC tokens to pipelines/,
      );
    });

    it('404 for a connection Azure DevOps does not know', async () => {
      s.world.azdo.failNext(404, 1, { match: oidcPath, body: '' });
      const error = refused(await connection());
      assert.match(
        error,
        /^Azure DevOps knows no service connection '[0-9a-f-]{36}' for this job's OIDC token \(404 at https:\/\/dev\.azure\.com\/\S+\/oidctoken: HTTP 404\)/,
      );
    });

    it("400 with Azure DevOps' words (a connection the stage does not reference)", async () => {
      const text = `There is no explicit reference to service connection ${s.world.ids.wif.connectionId} from current stage __default.__default.__default.`;
      s.world.azdo.failNext(400, 1, { match: oidcPath, body: { count: text.length, value: text } });
      const error = refused(await connection());
      assert.equal(
        error,
        `Azure DevOps refused the request for the OIDC token of service connection '${s.world.ids.wif.connectionId}' (HTTP 400 at ${error.match(/at (https:\S+oidctoken)/)?.[1]}): ${text}`,
      );
    });

    it('a 503 is retried, and the next answer logs in', async () => {
      s.world.azdo.failNext(503, 1, { match: oidcPath });
      const run = await pipeline({ retries: '1' });
      loggedIn(run);
      assert.match(run.stdout, /^Request for the OIDC token failed on attempt 1 of 2 \(HTTP 503/m);
    });

    it('no answer within timeoutSeconds', async () => {
      s.world.azdo.latencyMs = 3_000;
      try {
        const error = refused(await pipeline({ timeoutSeconds: '1' }));
        assert.match(
          error,
          /^The request for the pipeline's OIDC token at https:\/\/dev\.azure\.com\/\S+\/oidctoken got no answer within 1 seconds, 1 time\(s\)\./,
        );
      } finally {
        s.world.azdo.latencyMs = 0;
      }
    });
  });
});

// docs/jwt.md's setup, run as the page writes it: the blocks marked <!-- test:jwt-azdo --> on a
// fresh OpenBao with the bao CLI (as `vault`), the page's placeholders replaced by this world's
// values and the test CA added to the config write (`oidc_discovery_ca_pem`, which the page names
// for private CAs), then the task with the inputs of the page's YAML blocks.
describe("server: docs/jwt.md's setup (Azure DevOps' issuer), run as written against OpenBao", function () {
  this.timeout(120_000);
  const blocks = recipeBlocks(docsPage('jwt.md'), 'jwt-azdo');
  const shell = blocks.filter((b) => b.lang === 'sh');
  const yaml = blocks.filter((b) => b.lang === 'yaml').map((b) => taskInputs(b.text));
  let s: ServerWorld;

  before(async () => {
    s = await startServerWorld();
    // Step 2 of the page is the policy of the azure setup's step 3.
    await ok(
      'policy',
      s.bao.api('POST', 'sys/policies/acl/ci-production', { policy: 'path "secret/data/ci/production/*" { capabilities = ["read"] }' }),
    );
  });
  after(async () => s?.stop());

  const withPageAddress = (inputs: Record<string, string>) => {
    assert.equal(inputs.vaultAddress, 'https://vault.example.com:8200');
    return { ...inputs, vaultAddress: s.base.vaultAddress, authMount: inputs.authMount ?? '', retries: '0' };
  };

  it('the page marks the mount, two roles and two YAML steps', () => {
    assert.equal(shell.length, 3, `shell blocks: ${shell.map((b) => b.line).join(', ')}`);
    assert.equal(yaml.length, 2);
    assert.equal(yaml[0].authMethod, 'jwt');
    assert.equal(yaml[1].jwtSource, 'serviceConnection');
  });

  it("the page's commands run with the bao CLI", async () => {
    const values: Record<string, string> = {
      '<org-id>': s.world.azdo.issuer.split('/').pop()!,
      '<project-id>': PROJECT.id,
      '<definition-id>': s.world.azdo.pipelineRun.definitionId,
      '<organization>': 'contoso',
      '<project>': PROJECT.name,
      '<connection>': s.world.ids.wif.name,
    };
    let text = shell.map((b) => `# docs/jwt.md line ${b.line}\n${b.text}`).join('\n');
    for (const [placeholder, value] of Object.entries(values)) text = text.split(placeholder).join(value);
    assert.deepEqual(text.match(/<[A-Za-z][\w -]*>/g) ?? [], [], 'every placeholder is one the page explains');
    const lines = text.replace(/\\\n\s*/g, ' ').split('\n');
    const config = lines.findIndex((l) => /^vault write auth\/jwt\/config /.test(l));
    assert.ok(config >= 0);
    lines[config] += ` oidc_discovery_ca_pem=@${s.world.ca.certPath}`;
    const { code, output } = await runWithCli(s.bao, s.world.ca.certPath, lines.join('\n'));
    assert.equal(code, 0, output);
  });

  it("the first YAML step logs in with the pipeline's token and reads the secret", async () => {
    const run = await s.run(withPageAddress(yaml[0]));
    const { vars } = s.check(run, true);
    assert.deepEqual(Object.fromEntries(vars), { DB_PASSWORD: SECRETS.dbPassword });
    assert.match(run.stdout, /^Logged in to Vault: policies \[ci-production, default\], token type service, TTL 600s/m);
  });

  it('the role refuses a run of the same pipeline on another branch', async () => {
    const run = await s.run(withPageAddress(yaml[0]), { pipelineRun: { ref: 'refs/heads/topic' } });
    const { errors } = s.check(run, false);
    assert.match(errors, /its claim 'rpo_ref' is "refs\/heads\/topic", which role 'deploy-production' on auth\/jwt does not accept/);
  });

  it('the role refuses another pipeline of the project', async () => {
    const run = await s.run(withPageAddress(yaml[0]), { pipelineRun: { definitionId: '43', name: 'other' } });
    const { errors } = s.check(run, false);
    assert.match(errors, /its claim 'def_id' is "43"/);
  });

  it("the second YAML step logs in with the service connection's token", async () => {
    const { azureSubscription, ...inputs } = yaml[1];
    assert.equal(azureSubscription, s.world.ids.wif.name);
    const run = await s.run({ ...withPageAddress(inputs), azureSubscription: s.world.ids.wif.connectionId });
    const { vars } = s.check(run, true);
    assert.deepEqual(Object.fromEntries(vars), { DB_PASSWORD: SECRETS.dbPassword });
  });

  it('the connection role refuses another connection of the project', async () => {
    const run = await s.run(
      { ...withPageAddress(yaml[1]), azureSubscription: s.world.ids.unbound.connectionId },
      { connection: s.world.ids.unbound },
    );
    const { errors } = s.check(run, false);
    assert.match(
      errors,
      /its subject is "sc:\/\/contoso\/Platform\/sc-vault-unbound", which is not the bound_subject of role 'deploy-connection' on auth\/jwt/,
    );
  });
});
