// A jwt mount that trusts Entra ID, misconfigured on real OpenBao: the azure method's Entra access
// token (the task's `resource` as aud, the service principal's oid and tid) meets a role or mount
// that is wrong in one way, the task names the cause, the value the token carries and a command,
// and that command, run with the bao CLI as printed, makes the same job log in.
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DEFAULT_RESOURCE, SECRETS, TENANT_ID } from '../emulators/seed';
import { Identity, RunOptions, TaskRun } from '../emulators/world';
import { ServerWorld, startServerWorld } from './fixture';
import type { Answer } from './openbao';
import { FixOptions, runPrintedFix } from './printedFix';

const secrets = 'secret/ci/production/db password | DB_PASSWORD';
const STS = `https://sts.windows.net/${TENANT_ID}/`;

async function ok(what: string, answer: Promise<Answer>): Promise<void> {
  const a = await answer;
  assert.ok(a.status < 300, `${what}: ${a.status} ${JSON.stringify(a.body)}`);
}

describe('server: a jwt mount trusting Entra, each misconfiguration explained and fixed as printed', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  let oid: string;

  const run = (inputs: Record<string, string>, connection?: Identity) =>
    s.run({ secrets, ...inputs }, connection ? ({ connection } as Partial<RunOptions>) : {});
  /** A role as docs/azure.md's recipe writes it, bound to the WIF connection's service principal, with `fields` on top. */
  const entraRole = (mount: string, name: string, fields: Record<string, unknown> = {}) =>
    ok(
      `role ${mount}/${name}`,
      s.bao.api('POST', `auth/${mount}/role/${name}`, {
        role_type: 'jwt',
        bound_audiences: [DEFAULT_RESOURCE],
        bound_claims: { tid: TENANT_ID, oid: [oid] },
        user_claim: 'oid',
        token_policies: ['ci-read'],
        token_ttl: 900,
        ...fields,
      }),
    );
  async function mount(path: string, config: Record<string, unknown>): Promise<void> {
    await ok(`enable ${path}`, s.bao.api('POST', `sys/auth/${path}`, { type: 'jwt' }));
    await ok(`config ${path}`, s.bao.api('POST', `auth/${path}/config`, { oidc_discovery_ca_pem: s.world.ca.certPem, ...config }));
  }

  before(async () => {
    s = await startServerWorld();
    oid = s.world.ids.wif.objectId;
  });
  after(async () => s?.stop());

  function loggedIn(r: TaskRun): void {
    const { vars, warnings } = s.check(r, true);
    assert.deepEqual(warnings, []);
    assert.deepEqual(Object.fromEntries(vars), { DB_PASSWORD: SECRETS.dbPassword });
  }

  function refused(r: TaskRun): string {
    const { vars, errorList } = s.check(r, false);
    assert.equal(vars.size, 0, 'nothing published');
    assert.equal(errorList.length, 1);
    return errorList[0];
  }

  interface Case {
    title: string;
    setup(): Promise<{ inputs: Record<string, string>; connection?: Identity }>;
    message: () => RegExp[];
    fix: () => FixOptions;
  }

  const cases: Case[] = [
    {
      title: 'the audience is not in bound_audiences (the resource without its trailing slash)',
      setup: async () => (
        await entraRole('jwt-entra', 'aud-role'), { inputs: { role: 'aud-role', resource: 'https://management.azure.com' } }
      ),
      message: () => [
        /^The jwt mount refused the audience of an Entra access token: the token has aud "https:\/\/management\.azure\.com", which is not in bound_audiences of role 'aud-role' on auth\/jwt-entra\. Add it to the role \(list every audience the role accepts\): echo '\{"role_type":"jwt","bound_audiences":\["https:\/\/management\.azure\.com"\]\}' \| vault write auth\/jwt-entra\/role\/aud-role - /,
        /Or set the task input 'resource' to an audience the role lists \(vault read -field=bound_audiences auth\/jwt-entra\/role\/aud-role\): Entra writes the requested resource in aud, character for character\.$/,
      ],
      fix: () => ({}),
    },
    {
      title: 'the oid is not in bound_claims (another service principal of the tenant)',
      setup: async () => (await entraRole('jwt-entra', 'oid-role'), { inputs: { role: 'oid-role' }, connection: s.world.ids.unbound }),
      message: () => [
        new RegExp(
          `^Vault refused an Entra access token: its claim 'oid' is "${s.world.ids.unbound.objectId}", which role 'oid-role' on auth/jwt-entra does not accept \\(bound_claims\\)\\. If this identity should log in, bind it \\(this replaces the role's bound_claims: add the values of every other identity the role admits to the lists\\): echo '\\{"role_type":"jwt","bound_claims":\\{"tid":"${TENANT_ID}","oid":"${s.world.ids.unbound.objectId}"\\}\\}' \\| vault write auth/jwt-entra/role/oid-role -$`,
        ),
      ],
      fix: () => ({}),
    },
    {
      title: 'the tenant is not the bound tid',
      setup: async () => (
        await entraRole('jwt-entra', 'tid-role', { bound_claims: { tid: randomUUID(), oid: [oid] } }), { inputs: { role: 'tid-role' } }
      ),
      message: () => [
        new RegExp(
          `^Vault refused an Entra access token: its claim 'tid' is "${TENANT_ID}", which role 'tid-role' on auth/jwt-entra does not accept`,
        ),
      ],
      fix: () => ({}),
    },
    {
      title: 'a claim v1 tokens do not carry (azp, a v2 claim)',
      setup: async () => (
        await entraRole('jwt-entra', 'azp-role', { bound_claims: { tid: TENANT_ID, azp: randomUUID() } }), { inputs: { role: 'azp-role' } }
      ),
      message: () => [
        /^Vault refused an Entra access token: it has no claim 'azp', which role 'azp-role' on auth\/jwt-entra binds \(bound_claims\)\. The token carries: aud, iss, tid, oid, appid, sub\./,
        new RegExp(
          `echo '\\{"role_type":"jwt","bound_claims":\\{"tid":"${TENANT_ID}","oid":"${oid}"\\}\\}' \\| vault write auth/jwt-entra/role/azp-role -$`,
        ),
      ],
      fix: () => ({}),
    },
    {
      title: 'a user_claim the token does not carry (email)',
      setup: async () => (await entraRole('jwt-entra', 'email-role', { user_claim: 'email' }), { inputs: { role: 'email-role' } }),
      message: () => [
        /^Role 'email-role' on auth\/jwt-entra names user_claim 'email', which an Entra access token does not carry \(it carries: aud, iss, tid, oid, appid, sub\)\. Name a claim it carries: echo '\{"role_type":"jwt","user_claim":"oid"\}' \| vault write auth\/jwt-entra\/role\/email-role -$/,
      ],
      fix: () => ({}),
    },
    {
      title: 'an unknown role',
      setup: async () => ({ inputs: { role: 'no-such-role' } }),
      message: () => [
        new RegExp(
          `^Vault has no role 'no-such-role' on the jwt auth mount 'auth/jwt-entra' \\(role "no-such-role" could not be found\\)\\. Fix the 'role' input \\(the mount's roles: vault list auth/jwt-entra/role\\), or create the role for this token, with your policy in place of <policy>: echo '\\{"role_type":"jwt","bound_audiences":\\["https://management\\.azure\\.com/"\\],"bound_claims":\\{"tid":"${TENANT_ID}","oid":"${oid}"\\},"user_claim":"oid","token_policies":\\["<policy>"\\],"token_ttl":"10m"\\}' \\| vault write auth/jwt-entra/role/no-such-role -$`,
        ),
      ],
      fix: () => ({ placeholders: { '<policy>': 'ci-read' } }),
    },
    {
      title: 'a bound_issuer of another tenant',
      setup: async () => {
        await mount('jwt-entra-issuer', { oidc_discovery_url: STS, bound_issuer: `https://sts.windows.net/${randomUUID()}/` });
        await entraRole('jwt-entra-issuer', 'r');
        return { inputs: { authMount: 'jwt-entra-issuer', role: 'r' } };
      },
      message: () => [
        new RegExp(
          `^Vault refused an Entra access token: it was issued by "${STS}", which auth/jwt-entra-issuer does not accept \\(its bound_issuer\\)\\. If that issuer is the one to trust, configure the mount for it \\(this replaces the mount's whole config: add its other settings, such as oidc_discovery_ca_pem=@ca\\.pem\\): vault write auth/jwt-entra-issuer/config oidc_discovery_url='${STS}' bound_issuer='${STS}'$`,
        ),
      ],
      fix: () => ({ append: `oidc_discovery_ca_pem=@${s.world.ca.certPath}` }),
    },
    {
      title: "the v2 discovery URL and issuer, while the task's tokens are v1",
      setup: async () => {
        const v2 = `https://login.microsoftonline.com/${TENANT_ID}/v2.0`;
        await mount('jwt-entra-v2', { oidc_discovery_url: v2, bound_issuer: v2 });
        await entraRole('jwt-entra-v2', 'r');
        return { inputs: { authMount: 'jwt-entra-v2', role: 'r' } };
      },
      message: () => [
        new RegExp(`it was issued by "${STS}", which auth/jwt-entra-v2 does not accept \\(its bound_issuer\\)`),
        new RegExp(`vault write auth/jwt-entra-v2/config oidc_discovery_url='${STS}' bound_issuer='${STS}'$`),
      ],
      fix: () => ({ append: `oidc_discovery_ca_pem=@${s.world.ca.certPath}` }),
    },
    {
      title: "a discovery URL of another issuer (Azure DevOps'), whose keys did not sign the token",
      setup: async () => {
        await mount('jwt-entra-keys', { oidc_discovery_url: s.world.azdo.issuer });
        await entraRole('jwt-entra-keys', 'r');
        return { inputs: { authMount: 'jwt-entra-keys', role: 'r' } };
      },
      message: () => [
        new RegExp(
          `^Vault could not verify the signature of an Entra access token \\(issuer "${STS}"\\): auth/jwt-entra-keys checks signatures with another issuer's keys \\(its oidc_discovery_url, jwks_url or jwt_validation_pubkeys\\)\\.`,
        ),
        new RegExp(`vault write auth/jwt-entra-keys/config oidc_discovery_url='${STS}' bound_issuer='${STS}'$`),
      ],
      fix: () => ({ append: `oidc_discovery_ca_pem=@${s.world.ca.certPath}` }),
    },
  ];

  for (const c of cases) {
    it(c.title, async () => {
      const { inputs, connection } = await c.setup();
      const error = refused(await run(inputs, connection));
      for (const p of c.message()) assert.match(error, p);
      await runPrintedFix(s.bao, s.world.ca.certPath, error, c.fix());
      loggedIn(await run(inputs, connection));
    });
  }

  it("without bound_issuer the discovery URL restricts no issuer: a mount discovering Entra's v2 issuer takes a v1 token", async () => {
    // What docs/azure.md and docs/jwt.md say of both jwt setups: bound_issuer (or a tid claim) is what pins the issuer.
    const v2 = `https://login.microsoftonline.com/${TENANT_ID}/v2.0`;
    await mount('jwt-entra-unbound', { oidc_discovery_url: v2 });
    await entraRole('jwt-entra-unbound', 'r');
    const r = await run({ authMount: 'jwt-entra-unbound', role: 'r' });
    loggedIn(r);
    assert.match(r.stdout, new RegExp(`iss=${STS.replace(/\./g, '\\.')} `));
  });

  it('a mount path where no auth method is enabled', async () => {
    const error = refused(await run({ authMount: 'jwt-entra-nope' }));
    assert.equal(
      error,
      "No azure auth method answers at auth/jwt-entra-nope (HTTP 403: permission denied). Check the 'authMount' input: it is the path given to 'vault auth enable -path=jwt-entra-nope azure' (see 'vault auth list'). On Vault Enterprise or HCP Vault also check 'vaultNamespace'.",
    );
  });

  it('an expired token (the clocks of Vault and the agent differ)', async () => {
    s.world.entra.tokenLifetimeSec = -600;
    try {
      const error = refused(await run({}));
      assert.equal(
        error,
        "Vault says an Entra access token is expired (error validating token: invalid expiration time (exp) claim: token is expired). It was just issued: compare the clocks of the Vault server and the agent (NTP), or raise the role's clock_skew_leeway, and run again.",
      );
    } finally {
      s.world.entra.tokenLifetimeSec = 3599;
    }
  });
});
