// The jwt setup of docs/azure.md ("Or: the jwt auth method"), run as the page writes it: every fenced
// block marked <!-- test:jwt-recipe --> is taken from the page, the shell blocks run with the real
// `bao` CLI (as `vault`) against a fresh OpenBao that holds nothing but a KV secret, and the bundled
// task then runs with the inputs of the page's YAML block. A command the server refuses, a
// placeholder the page does not explain, or inputs that do not log in fail the test. The only
// addition is `oidc_discovery_ca_pem=@<test CA>`, which the page names for private CAs: the Entra
// emulator's discovery document is served with a certificate from the test CA.
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RESOURCE, TENANT_ID } from '../emulators/seed';
import { startWorld, TaskRun, World } from '../emulators/world';
import { checkRun, Checked } from '../helpers/checkRun';
import { savedToken } from './fixture';
import { namespacedOpenBao, OPENBAO_ADDRESS, OpenBao } from './openbao';
import { docsPage, recipeBlocks, runShell, taskInputs } from './pageRecipe';

const MARK = '<!-- test:jwt-recipe -->';

describe('server: the jwt setup of docs/azure.md, run as written against OpenBao', function () {
  this.timeout(120_000);
  const blocks = recipeBlocks(docsPage('azure.md'), 'jwt-recipe');
  const shell = blocks.filter((b) => b.lang === 'sh');
  const yaml = blocks.filter((b) => b.lang === 'yaml');

  let world: World;
  let bao: OpenBao;
  let home: string;
  let script: string;
  let inputs: Record<string, string>;
  /** The secrets the YAML block asks for, as the test stored them: variable → value. */
  const expected: Record<string, string> = {};
  const tokens: string[] = [];

  const check = (run: TaskRun, ok: boolean): Checked => {
    const token = savedToken(run);
    if (token) tokens.push(token);
    return checkRun(world, run, ok, {
      extraSecrets: [
        { what: "OpenBao's root token", value: bao.rootToken },
        { what: "OpenBao's unseal key", value: bao.unsealKey },
        ...tokens.map((value) => ({ what: 'a token OpenBao issued', value })),
        ...Object.entries(expected).map(([name, value]) => ({ what: `the secret of ${name}`, value })),
      ],
    });
  };

  before(async () => {
    world = await startWorld();
    try {
      bao = await namespacedOpenBao(world.ca);
    } catch (err) {
      await world.stop();
      throw err;
    }
    home = mkdtempSync(join(tmpdir(), 'val-recipe-'));
  });
  after(async () => {
    await bao?.stop();
    await world?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('the page marks the policy, the mount, the role and the YAML of the recipe', () => {
    assert.ok(shell.length >= 3, `shell blocks marked ${MARK}: ${shell.map((b) => b.line).join(', ')}`);
    assert.equal(yaml.length, 1, `one YAML block marked ${MARK}`);
    inputs = taskInputs(yaml[0].text);
    for (const name of ['azureSubscription', 'vaultAddress', 'authMount', 'role', 'secrets'])
      assert.ok(inputs[name], `the YAML sets ${name}`);
    const all = shell.map((b) => b.text).join('\n');
    assert.match(
      all,
      new RegExp(`^vault auth enable -path=${inputs.authMount} jwt$`, 'm'),
      "the recipe enables a jwt mount at the YAML's authMount",
    );
    assert.match(all, new RegExp(`^vault write auth/${inputs.authMount}/role/${inputs.role} `, 'm'), "the recipe writes the YAML's role");
  });

  it("the recipe's commands run with the bao CLI on a fresh OpenBao", async () => {
    assert.ok(inputs, 'the blocks were found');
    const values: Record<string, string> = { '<tenant-id>': TENANT_ID, '<object-id>': world.ids.wif.objectId };
    let text = shell.map((b) => `# docs/azure.md line ${b.line}\n${b.text}`).join('\n');
    for (const [placeholder, value] of Object.entries(values)) {
      assert.ok(text.includes(placeholder), `the recipe uses ${placeholder}`);
      text = text.split(placeholder).join(value);
    }
    assert.deepEqual(text.match(/<[A-Za-z][\w -]*>/g) ?? [], [], 'every placeholder of the recipe is one the page explains');
    // One logical line per command, so the config write can get the test CA.
    const lines = text.replace(/\\\n\s*/g, ' ').split('\n');
    const config = lines.flatMap((l, i) => (new RegExp(`^vault write auth/${inputs.authMount}/config `).test(l) ? [i] : []));
    assert.equal(config.length, 1, 'one config write');
    assert.match(lines[config[0]], /\boidc_discovery_url=https:\/\/sts\.windows\.net\/[0-9a-f-]{36}\/(\s|$)/);
    lines[config[0]] += ` oidc_discovery_ca_pem=@${world.ca.certPath}`;
    script = lines.join('\n');

    const result = await runShell(bao, world.ca.certPath, `set -x\n${script}`, home);
    assert.equal(result.code, 0, `the recipe failed on OpenBao:\n${result.output}`);

    // The page's example secret, in a KV version 2 mount as `vault kv get` names it.
    const mounted = await bao.api('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } });
    assert.ok(mounted.status < 300, JSON.stringify(mounted.body));
    const requests = inputs.secrets
      .split(/[\n;]/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    assert.ok(requests.length > 0);
    for (const request of requests) {
      const m = /^secret\/(\S+)\s+([\w-]+)\s*\|\s*([A-Za-z_]\w*)$/.exec(request);
      assert.ok(m, `a request of the form 'secret/<path> <key> | <NAME>': ${request}`);
      expected[m[3]] = `recipe-${m[2]}-${randomUUID()}`;
      for (let i = 0; ; i++) {
        const put = await bao.api('POST', `secret/data/${m[1]}`, { data: { [m[2]]: expected[m[3]] } });
        if (put.status < 300) break;
        if (i > 50) throw new Error(`write secret/${m[1]}: ${put.status} ${JSON.stringify(put.body)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  it('the task with the YAML inputs logs in at the jwt mount and publishes the secret', async () => {
    assert.ok(script, 'the recipe ran');
    const { azureSubscription, vaultAddress, ...rest } = inputs;
    assert.ok(azureSubscription && vaultAddress);
    const run = await world.runTask({ connection: world.ids.wif, inputs: { ...rest, vaultAddress: OPENBAO_ADDRESS, retries: '0' } });
    const { vars, warnings } = check(run, true);
    assert.deepEqual(warnings, []);
    assert.deepEqual(Object.fromEntries(vars), expected);
    assert.match(run.stdout, /^Logged in to Vault: policies \[ci-production, default\], token type service, TTL 600s, over HTTP\/2\.$/m);
  });

  it('the role refuses another service principal of the same tenant (the oid binding)', async () => {
    const run = await world.runTask({
      connection: world.ids.unbound,
      inputs: { ...inputs, azureSubscription: world.ids.unbound.connectionId, vaultAddress: OPENBAO_ADDRESS, retries: '0' },
    });
    const { vars, errors } = check(run, false);
    assert.equal(vars.size, 0);
    // Refused for its oid (the wording of the explanation is test/server/secrets.test.ts's concern).
    assert.match(errors, new RegExp(`auth/${inputs.authMount}\\b`));
    assert.match(errors, /\boid\b/);
  });

  it('the role refuses a token of another tenant for the bound oid (the issuer and tid bindings)', async () => {
    const mint = (tenantId: string) =>
      world.entra.mintAccessToken({
        tenantId,
        objectId: world.ids.wif.objectId,
        appId: world.ids.wif.clientId,
        audience: DEFAULT_RESOURCE,
        appidacr: '2',
      }).token;
    const login = (jwt: string) => bao.api('POST', `auth/${inputs.authMount}/login`, { role: inputs.role, jwt }, '');
    const own = await login(mint(TENANT_ID));
    assert.equal(own.status, 200, `the tenant's own token logs in: ${JSON.stringify(own.body?.errors)}`);
    tokens.push(own.body.auth.client_token);
    const other = await login(mint(randomUUID()));
    assert.equal(other.status, 400, `another tenant's token is refused: ${other.status} ${JSON.stringify(other.body?.errors)}`);
    assert.match(JSON.stringify(other.body.errors), /\biss\b|"tid"/);
  });

  it('the role refuses a token for another audience (bound_audiences)', async () => {
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: {
        ...inputs,
        azureSubscription: world.ids.wif.connectionId,
        vaultAddress: OPENBAO_ADDRESS,
        retries: '0',
        resource: DEFAULT_RESOURCE.replace(/\/$/, ''),
      },
    });
    const { vars, errors } = check(run, false);
    assert.equal(vars.size, 0);
    assert.match(errors, /audience/i);
    assert.match(errors, /"https:\/\/management\.azure\.com"/);
  });
});
