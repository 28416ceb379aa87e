// The kubernetes login method against real OpenBao, whose kubernetes auth method checks the token
// and then asks a Kubernetes API server (test/emulators/kubernetes.ts, over TLS at
// https://k8s.example.com:6443) with a TokenReview: the bundled task logs in with a pod's projected
// token, reads and publishes, and the post-job step revokes the token. Each common misconfiguration
// is made on the server and the run's message is checked, then the fix it prints is applied with
// the bao CLI (or, for the cluster side, made in the emulated cluster) and the next run logs in.
// Last, the kubernetes setup of docs/kubernetes.md runs as the page writes it.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KUBERNETES_CERT_NAMES, Kubernetes, startKubernetes } from '../emulators/kubernetes';
import { SECRETS } from '../emulators/seed';
import { startWorld, TaskRun, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';
import { taskVariablesFrom } from '../helpers/output';
import { savedToken, ServerWorld, startServerWorld } from './fixture';
import { namespacedOpenBao, OPENBAO_ADDRESS, OpenBao } from './openbao';
import { docsPage, recipeBlocks } from './pageRecipe';

const SECRETS_LINE = 'secret/ci/production/db password | DB_PASSWORD';
const ROLE = 'azure-pipelines';
const AUDIENCE = 'vault';

/** The command a message prints after `vault write `, as arguments for the bao CLI. */
function printedWrite(message: string, fill: Record<string, string> = {}): string[] {
  const m = /vault write (\S+)((?: [a-z_]+=\S+)+)/.exec(message);
  assert.ok(m, `the message prints a vault write: ${message}`);
  let args = m[2].trim().split(' ');
  for (const [placeholder, value] of Object.entries(fill)) args = args.map((a) => a.split(placeholder).join(value));
  assert.deepEqual(
    args.filter((a) => /<[^>]+>/.test(a)),
    [],
    'no placeholder left',
  );
  return ['write', m[1], ...args];
}

describe('server: the kubernetes method against OpenBao and a Kubernetes API server', function () {
  this.timeout(120_000);
  let s: ServerWorld;
  let k8s: Kubernetes;
  let dir: string;
  let reviewer: string;
  const issued: string[] = [];

  /** Writes a token to a file of its own and returns the path. */
  const tokenFile = (token: string): string => {
    issued.push(token);
    const path = join(dir, `token-${randomUUID()}`);
    writeFileSync(path, token);
    return path;
  };
  /** The agent pod's projected token for Vault. */
  const podToken = (namespace = 'azp', account = 'azp-agent', pod = 'azp-agent-0', audiences = [AUDIENCE]) =>
    tokenFile(k8s.boundToken(namespace, account, { pod, audiences }));

  const run = (inputs: Record<string, string>, more = {}) =>
    s.run({ authMethod: 'kubernetes', authMount: 'kubernetes', role: ROLE, secrets: SECRETS_LINE, ...inputs }, more);
  const check = (r: TaskRun, ok: boolean) =>
    s.check(r, ok, { extraSecrets: [...k8s.issuedTokens, ...issued].map((value) => ({ what: 'a service account token', value })) });
  const bao = (args: string[]) => s.bao.cli(args);
  const ok = async (what: string, answer: Promise<{ status: number; body: unknown }>) => {
    const a = await answer;
    assert.ok(a.status < 300, `${what}: ${a.status} ${JSON.stringify(a.body)}`);
  };

  /** Enables a kubernetes mount whose config reviews tokens with `config` on top of the working one. */
  async function mount(path: string, config: Record<string, unknown> | undefined, role: Record<string, unknown> = {}): Promise<void> {
    await ok(`enable ${path}`, s.bao.api('POST', `sys/auth/${path}`, { type: 'kubernetes' }));
    if (config)
      await ok(
        `config ${path}`,
        s.bao.api('POST', `auth/${path}/config`, {
          kubernetes_host: k8s.url,
          kubernetes_ca_cert: s.world.ca.certPem,
          token_reviewer_jwt: reviewer,
          ...config,
        }),
      );
    await ok(
      `role ${path}`,
      s.bao.api('POST', `auth/${path}/role/${ROLE}`, {
        bound_service_account_names: ['azp-agent'],
        bound_service_account_namespaces: ['azp'],
        audience: AUDIENCE,
        token_policies: ['ci-read'],
        token_ttl: 600,
        ...role,
      }),
    );
  }

  before(async () => {
    s = await startServerWorld();
    try {
      k8s = await startKubernetes({ tls: await s.world.ca.issue([...KUBERNETES_CERT_NAMES]) });
    } catch (err) {
      await s.stop();
      throw err;
    }
    dir = mkdtempSync(join(tmpdir(), 'val-k8s-'));
    k8s.createServiceAccount('vault', 'vault-auth');
    k8s.bindAuthDelegator('vault', 'vault-auth');
    reviewer = k8s.secretToken('vault', 'vault-auth');
    k8s.createServiceAccount('azp', 'azp-agent');
    k8s.createPod('azp', 'azp-agent-0', 'azp-agent');
    await mount('kubernetes', {});
  });
  after(async () => {
    await k8s?.close();
    await s?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("logs in with the pod's projected token at the default mount, reads and publishes; the API server reviewed it", async () => {
    const reviewsBefore = k8s.reviews.length;
    const file = podToken();
    const r = await run({ authMount: '', kubernetesTokenFile: file });
    const { vars, warnings } = check(r, true);
    assert.deepEqual(warnings, []);
    assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.match(r.stdout, new RegExp(`^Reading the Kubernetes service account token from '${file}'\\.$`, 'm'));
    assert.match(
      r.stdout,
      /^Kubernetes service account token: sub=system:serviceaccount:azp:azp-agent namespace=azp serviceaccount=azp-agent pod=azp-agent-0 aud=vault iss=https:\/\/kubernetes\.default\.svc\.cluster\.local expires=\d{4}-\d\d-\d\dT[\d:.]+Z$/m,
    );
    assert.match(
      r.stdout,
      new RegExp(`^Logging in to ${OPENBAO_ADDRESS.replace(/\./g, '\\.')} at auth/kubernetes/login with role '${ROLE}'\\.$`, 'm'),
    );
    assert.match(r.stdout, /^Logged in to Vault: policies \[ci-read, default\], token type service, TTL 600s/m);
    // OpenBao asked the API server as the reviewer, for the role's audience, and got the pod's service account.
    assert.deepEqual(k8s.reviews.slice(reviewsBefore), [
      {
        reviewer: 'system:serviceaccount:vault:vault-auth',
        audiences: [AUDIENCE],
        status: 201,
        authenticated: true,
        error: undefined,
        username: 'system:serviceaccount:azp:azp-agent',
      },
    ]);
    const lookup = await s.bao.api('GET', 'auth/token/lookup-self', undefined, savedToken(r));
    assert.equal(lookup.status, 200);
    assert.equal(lookup.body.data.meta.service_account_name, 'azp-agent');
    assert.equal(lookup.body.data.meta.service_account_namespace, 'azp');
  });

  it('the post-job step revokes the token: a later lookup with it is refused', async () => {
    const main = await run({ kubernetesTokenFile: podToken() });
    check(main, true);
    const token = savedToken(main);
    assert.ok(token);
    assert.equal((await s.bao.api('GET', 'auth/token/lookup-self', undefined, token)).status, 200);
    const post = await run({}, { entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) });
    assert.deepEqual(check(post, true).warnings, []);
    assert.match(post.stdout, /Revoked the Vault token\./);
    const after = await s.bao.api('GET', 'auth/token/lookup-self', undefined, token);
    assert.equal(after.status, 403);
    assert.deepEqual(after.body, { errors: ['permission denied'] });
  });

  describe('misconfigurations: the cause, and the fix the message prints works', () => {
    it('service account not bound (bound_service_account_names)', async () => {
      await mount('k8s-names', {});
      k8s.createServiceAccount('azp', 'deployer');
      k8s.createPod('azp', 'deployer-0', 'deployer');
      const file = podToken('azp', 'deployer', 'deployer-0');
      const r = await run({ authMount: 'k8s-names', kubernetesTokenFile: file });
      const { errors, vars } = check(r, false);
      assert.equal(vars.size, 0);
      assert.match(
        errors,
        /^The service account 'deployer' \(namespace 'azp'\) is not one role 'azure-pipelines' on auth\/k8s-names allows \(service account name not authorized\)/,
      );
      const fix = printedWrite(errors);
      assert.deepEqual(fix, ['write', 'auth/k8s-names/role/azure-pipelines', 'bound_service_account_names=deployer']);
      const applied = await bao(fix);
      assert.equal(applied.code, 0, applied.stderr);
      check(await run({ authMount: 'k8s-names', kubernetesTokenFile: file }), true);
    });

    it('namespace not bound (bound_service_account_namespaces)', async () => {
      await mount('k8s-namespaces', {});
      k8s.createServiceAccount('build', 'azp-agent');
      k8s.createPod('build', 'azp-agent-0', 'azp-agent');
      const file = podToken('build');
      const r = await run({ authMount: 'k8s-namespaces', kubernetesTokenFile: file });
      const { errors } = check(r, false);
      assert.match(
        errors,
        /^The namespace 'build' of service account 'azp-agent' is not one role 'azure-pipelines' on auth\/k8s-namespaces allows \(namespace not authorized\)/,
      );
      const fix = printedWrite(errors);
      assert.deepEqual(fix, ['write', 'auth/k8s-namespaces/role/azure-pipelines', 'bound_service_account_namespaces=build']);
      assert.equal((await bao(fix)).code, 0);
      check(await run({ authMount: 'k8s-namespaces', kubernetesTokenFile: file }), true);
    });

    it("audience mismatch: Kubernetes' default token for a role bound to the vault audience", async () => {
      await mount('k8s-audience', {});
      const file = tokenFile(k8s.boundToken('azp', 'azp-agent', { pod: 'azp-agent-0' }));
      const r = await run({ authMount: 'k8s-audience', kubernetesTokenFile: file });
      const { errors } = check(r, false);
      assert.match(
        errors,
        /^Role 'azure-pipelines' on auth\/k8s-audience expects another audience than the token's \(aud https:\/\/kubernetes\.default\.svc\.cluster\.local\): invalid audience \(aud\) claim/,
      );
      assert.match(errors, /a projected serviceAccountToken volume with that audience, and its path in 'kubernetesTokenFile'/);
      // The first fix: a projected token for the role's audience.
      check(await run({ authMount: 'k8s-audience', kubernetesTokenFile: podToken() }), true);
      // The second: the role takes the token's audience.
      const fix = printedWrite(errors);
      assert.deepEqual(fix, ['write', 'auth/k8s-audience/role/azure-pipelines', 'audience=https://kubernetes.default.svc.cluster.local']);
      assert.equal((await bao(fix)).code, 0);
      check(await run({ authMount: 'k8s-audience', kubernetesTokenFile: file }), true);
    });

    it('the token file missing: refused before any request, naming automountServiceAccountToken and projected volumes', async () => {
      const reviewsBefore = k8s.reviews.length;
      const r = await run({ kubernetesTokenFile: join(dir, 'no-such-token') });
      const { errors } = check(r, false);
      assert.match(errors, /^Input 'kubernetesTokenFile': no file at '.*no-such-token'\. /);
      assert.match(errors, /automountServiceAccountToken: false on the pod or its service account: set it to true/);
      assert.equal(k8s.reviews.length, reviewsBefore);
      assert.doesNotMatch(r.stdout, /Logging in to/);
    });

    it("the TokenReview refused: the reviewer may not create TokenReviews (system:auth-delegator), as OpenBao's debug log says", async () => {
      k8s.createServiceAccount('vault', 'vault-weak');
      await mount('k8s-weak', { token_reviewer_jwt: k8s.secretToken('vault', 'vault-weak') });
      const file = podToken();
      // OpenBao's log at debug level, which the message points to.
      const monitor = spawn(s.bao.bin, ['monitor', '-log-level=debug'], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: dir,
          BAO_ADDR: OPENBAO_ADDRESS,
          BAO_CACERT: s.world.ca.certPath,
          BAO_TOKEN: s.bao.rootToken,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      monitor.stdout.on('data', (c: Buffer) => (log += c.toString()));
      try {
        let errors = '';
        for (let i = 0; i < 40 && !/login unauthorized/.test(log); i++) {
          errors = check(await run({ authMount: 'k8s-weak', kubernetesTokenFile: file }), false).errors;
          await new Promise((done) => setTimeout(done, 100));
        }
        assert.match(
          errors,
          /^Vault answered the login at auth\/k8s-weak with 403 permission denied: the Kubernetes API server did not confirm the token/,
        );
        assert.match(
          errors,
          /system:auth-delegator cluster role: kubectl create clusterrolebinding vault-tokenreview --clusterrole=system:auth-delegator --serviceaccount=<namespace>:<name>/,
        );
        assert.match(
          log,
          /login unauthorized: .*tokenreviews\.authentication\.k8s\.io is forbidden: User .{0,4}system:serviceaccount:vault:vault-weak.{0,4} cannot create resource/,
        );
      } finally {
        monitor.kill();
      }
      assert.equal(k8s.reviews.at(-1)?.status, 403);
      // The fix, on the cluster side.
      k8s.bindAuthDelegator('vault', 'vault-weak');
      check(await run({ authMount: 'k8s-weak', kubernetesTokenFile: file }), true);
    });

    it('the TokenReview unreachable: kubernetes_host names no API server', async () => {
      await mount('k8s-unreachable', { kubernetes_host: `https://${KUBERNETES_CERT_NAMES[0]}:6444` });
      const reviewsBefore = k8s.reviews.length;
      const { errors } = check(await run({ authMount: 'k8s-unreachable', kubernetesTokenFile: podToken() }), false);
      assert.match(errors, /^Vault answered the login at auth\/k8s-unreachable with 403 permission denied/);
      assert.match(errors, /'vault read auth\/k8s-unreachable\/config' shows kubernetes_host/);
      assert.equal(k8s.reviews.length, reviewsBefore, 'nothing reached the API server');
    });

    it("the TokenReview refused: the API server's CA is not kubernetes_ca_cert", async () => {
      await mount('k8s-ca', { kubernetes_ca_cert: s.bao.privateCa.certPem });
      const reviewsBefore = k8s.reviews.length;
      const { errors } = check(await run({ authMount: 'k8s-ca', kubernetesTokenFile: podToken() }), false);
      assert.match(errors, /403 permission denied: .*kubernetes_ca_cert, the cluster's CA certificate/);
      assert.equal(k8s.reviews.length, reviewsBefore);
    });

    it("without token_reviewer_jwt the job's own token reviews: a projected vault token cannot, the default token of a bound account can", async () => {
      await mount('k8s-self', { token_reviewer_jwt: undefined, disable_local_ca_jwt: true });
      const { errors } = check(await run({ authMount: 'k8s-self', kubernetesTokenFile: podToken() }), false);
      assert.match(errors, /with none, this job's own, azp:azp-agent, whose token must then be for the API server's audience/);
      assert.equal(k8s.reviews.at(-1)?.status, 401, 'the API server does not take a token for another audience as a bearer');
      await ok('role takes the default audience', s.bao.api('POST', `auth/k8s-self/role/${ROLE}`, { audience: k8s.issuer }));
      const defaultToken = tokenFile(k8s.boundToken('azp', 'azp-agent', { pod: 'azp-agent-0' }));
      check(await run({ authMount: 'k8s-self', kubernetesTokenFile: defaultToken }), false);
      assert.equal(k8s.reviews.at(-1)?.status, 403, 'the job account is not a reviewer yet');
      k8s.bindAuthDelegator('azp', 'azp-agent');
      check(await run({ authMount: 'k8s-self', kubernetesTokenFile: defaultToken }), true);
      assert.equal(k8s.reviews.at(-1)?.reviewer, 'system:serviceaccount:azp:azp-agent');
    });

    it('the pod deleted: its token no longer passes the TokenReview', async () => {
      k8s.createPod('azp', 'azp-agent-gone', 'azp-agent');
      const file = podToken('azp', 'azp-agent', 'azp-agent-gone');
      k8s.deletePod('azp', 'azp-agent-gone');
      const { errors } = check(await run({ kubernetesTokenFile: file }), false);
      assert.match(errors, /403 permission denied: .*4\) the pod and its service account still exist/);
      assert.deepEqual(k8s.reviews.at(-1), {
        reviewer: 'system:serviceaccount:vault:vault-auth',
        audiences: [AUDIENCE],
        status: 201,
        authenticated: false,
        error: '[invalid bearer token, service account token has been invalidated]',
        username: undefined,
      });
    });

    it('a mount that does not exist answers the same 403: the message names vault auth list first', async () => {
      const { errors } = check(await run({ authMount: 'k8s-typo', kubernetesTokenFile: podToken() }), false);
      assert.match(
        errors,
        /^Vault answered the login at auth\/k8s-typo with 403 permission denied: .*or no kubernetes auth method is enabled at that path\. Check: 1\) 'vault auth list' shows a kubernetes method at k8s-typo\//,
      );
    });

    it('a mount with a role but never configured', async () => {
      await mount('k8s-bare', undefined);
      const { errors } = check(await run({ authMount: 'k8s-bare', kubernetesTokenFile: podToken() }), false);
      assert.match(
        errors,
        /^The kubernetes auth method at auth\/k8s-bare is enabled but not configured \(could not load backend configuration\)\. .*vault write auth\/k8s-bare\/config kubernetes_host=/,
      );
    });

    it('no such role: the role the message prints logs in', async () => {
      const file = podToken();
      const { errors } = check(await run({ role: 'ci-k8s', kubernetesTokenFile: file }), false);
      assert.match(errors, /^Vault has no role 'ci-k8s' on the kubernetes auth mount 'auth\/kubernetes' \(invalid role name\)/);
      const fix = printedWrite(errors, { '<policy>': 'ci-read' });
      assert.deepEqual(fix, [
        'write',
        'auth/kubernetes/role/ci-k8s',
        'bound_service_account_names=azp-agent',
        'bound_service_account_namespaces=azp',
        'audience=vault',
        'token_policies=ci-read',
        'token_ttl=10m',
      ]);
      assert.equal((await bao(fix)).code, 0);
      const { vars } = check(await run({ role: 'ci-k8s', kubernetesTokenFile: file }), true);
      assert.equal(vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    });
  });
});

const MARK = '<!-- test:kubernetes-recipe -->';

/** `key: value` of the first line with that key at any depth (manifests of one kind of each object). */
function field(yaml: string, key: string, after = 0): string {
  const m = new RegExp(`^\\s*-?\\s*${key}:\\s*(\\S+)`, 'm').exec(yaml.slice(after));
  assert.ok(m, `the manifest sets ${key}`);
  return m[1];
}

/** A shell option `key=value` of the page's commands. */
function option(script: string, key: string): string {
  const m = new RegExp(`\\b${key}=(\\S+)`).exec(script);
  assert.ok(m, `the commands set ${key}`);
  return m[1];
}

describe('server: the kubernetes setup of docs/kubernetes.md, run as written against OpenBao', function () {
  this.timeout(120_000);
  const page = docsPage('kubernetes.md');
  const blocks = recipeBlocks(page, 'kubernetes-recipe');
  const shell = blocks.filter((b) => b.lang === 'sh');
  const yaml = blocks.filter((b) => b.lang === 'yaml');
  const [podManifests, reviewerManifests, pipeline] = [/kind: Deployment/, /kind: ClusterRoleBinding/, /- task: VaultAzureLogin@1/].map(
    (re) => yaml.find((b) => re.test(b.text))?.text ?? '',
  );
  const commands = shell.map((b) => `# docs/kubernetes.md line ${b.line}\n${b.text}`).join('\n');
  // The step's inputs: the lines under its `inputs:`, up to the next step.
  const stepInputs = /^ {2}inputs:\n((?: {4}.*\n)+)/m.exec(pipeline)?.[1] ?? '';
  const inputs = Object.fromEntries([...stepInputs.matchAll(/^ {4}(\w+): (.+?)\s*(?:#.*)?$/gm)].map((m) => [m[1], m[2]]));

  let world: World;
  let bao: OpenBao;
  let k8s: Kubernetes;
  let home: string;
  const expected: Record<string, string> = {};

  before(async () => {
    world = await startWorld();
    try {
      k8s = await startKubernetes({ tls: await world.ca.issue([...KUBERNETES_CERT_NAMES]) });
      bao = await namespacedOpenBao(world.ca);
    } catch (err) {
      await k8s?.close();
      await world.stop();
      throw err;
    }
    home = mkdtempSync(join(tmpdir(), 'val-k8s-recipe-'));
  });
  after(async () => {
    await bao?.stop();
    await k8s?.close();
    await world?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('the page marks the manifests, the Vault commands and the pipeline, and they agree with each other', () => {
    assert.equal(shell.length, 2, `shell blocks marked ${MARK}`);
    assert.equal(yaml.length, 3, `YAML blocks marked ${MARK}`);
    assert.ok(podManifests && reviewerManifests && pipeline);
    // The pod's service account, namespace and projected token are what the role binds and the task reads.
    const account = field(podManifests, 'name');
    const namespace = field(podManifests, 'namespace');
    assert.equal(field(podManifests, 'serviceAccountName'), account);
    assert.equal(option(commands, 'bound_service_account_names'), account);
    assert.equal(option(commands, 'bound_service_account_namespaces'), namespace);
    assert.equal(option(commands, 'audience'), field(podManifests, 'audience'));
    assert.equal(
      inputs.kubernetesTokenFile,
      `${field(podManifests, 'mountPath')}/${field(podManifests, 'path', podManifests.indexOf('serviceAccountToken'))}`,
    );
    assert.match(commands, /^vault auth enable kubernetes$/m, 'the default path, which authMount defaults to');
    assert.equal(inputs.authMount, undefined);
    assert.equal(inputs.authMethod, 'kubernetes');
    assert.match(commands, new RegExp(`^vault write auth/kubernetes/role/${inputs.role} `, 'm'));
    // The reviewer is bound to system:auth-delegator, and its Secret holds its token.
    assert.match(reviewerManifests, /kind: ClusterRole\n\s+name: system:auth-delegator/);
    assert.match(reviewerManifests, /kubernetes\.io\/service-account\.name: vault-auth\ntype: kubernetes\.io\/service-account-token/);
    assert.match(page, /kubectl get secret vault-auth-token -n vault -o jsonpath='\{\.data\.token\}' \| base64 -d > reviewer\.jwt/);
    assert.match(commands, /token_reviewer_jwt=@reviewer\.jwt/);
    assert.match(commands, /kubernetes_ca_cert=@k8s-ca\.crt/);
  });

  it("the page's commands run with the bao CLI on a fresh OpenBao, with the cluster's files the kubectl lines make", async () => {
    // The cluster the manifests describe.
    k8s.createServiceAccount('vault', 'vault-auth');
    k8s.bindAuthDelegator('vault', 'vault-auth');
    writeFileSync(join(home, 'reviewer.jwt'), k8s.secretToken('vault', 'vault-auth'));
    writeFileSync(join(home, 'k8s-ca.crt'), world.ca.certPem);
    // The policy of step 3 of the azure setup, which the page refers to.
    const policy = /^```sh\n(vault policy write ci-production - <<'EOF'\n[\s\S]*?^EOF)\n```/m.exec(docsPage('azure.md'))?.[1];
    assert.ok(policy, 'the page writes the ci-production policy');
    assert.ok(commands.includes('<api-server-url>'));
    const script = `${policy}\n${commands.split('<api-server-url>').join(k8s.url)}`;
    assert.deepEqual(script.match(/<[A-Za-z][\w -]*>/g) ?? [], [], 'every placeholder is one the page explains');
    const result = await new Promise<{ code: number | null; output: string }>((done, fail) => {
      const child = spawn('bash', ['-c', `set -euo pipefail\nset -x\nvault() { "$BAO_BIN" "$@"; }\n${script}`], {
        cwd: home,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: home,
          BAO_BIN: bao.bin,
          BAO_ADDR: OPENBAO_ADDRESS,
          BAO_CACERT: world.ca.certPath,
          BAO_TOKEN: bao.rootToken,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('error', fail);
      child.on('close', (code) => done({ code, output }));
    });
    assert.equal(result.code, 0, `the commands failed on OpenBao:\n${result.output}`);
    const config = await bao.api('GET', 'auth/kubernetes/config');
    assert.equal(config.body.data.kubernetes_host, k8s.url);
    assert.equal(config.body.data.token_reviewer_jwt_set, true);

    await bao.api('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } });
    const m = /^secret\/(\S+)\s+([\w-]+)\s*\|\s*([A-Za-z_]\w*)$/.exec(inputs.secrets);
    assert.ok(m, `a request of the form 'secret/<path> <key> | <NAME>': ${inputs.secrets}`);
    expected[m[3]] = `k8s-recipe-${randomUUID()}`;
    for (let i = 0; ; i++) {
      const put = await bao.api('POST', `secret/data/${m[1]}`, { data: { [m[2]]: expected[m[3]] } });
      if (put.status < 300) break;
      if (i > 50) throw new Error(`write secret/${m[1]}: ${put.status} ${JSON.stringify(put.body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it("the task with the page's inputs, in a pod of the page's Deployment, logs in and publishes the secret", async () => {
    assert.ok(Object.keys(expected).length, 'the commands ran');
    const namespace = field(podManifests, 'namespace');
    const account = field(podManifests, 'name');
    k8s.createServiceAccount(namespace, account);
    const pod = k8s.createPod(
      namespace,
      `${field(podManifests, 'name', podManifests.indexOf('kind: Deployment'))}-5f7c9d8b6-x2k4q`,
      account,
    );
    const token = k8s.boundToken(namespace, account, {
      pod: pod.name,
      audiences: [field(podManifests, 'audience')],
      expirationSeconds: Number(field(podManifests, 'expirationSeconds')),
    });
    // The projected volume's file, where this test can write it.
    const file = join(home, 'token');
    writeFileSync(file, token);
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...inputs, kubernetesTokenFile: file, vaultAddress: OPENBAO_ADDRESS, retries: '0' },
    });
    const issued = savedToken(run);
    const { vars, warnings } = checkRun(world, run, true, {
      extraSecrets: [
        { what: "OpenBao's root token", value: bao.rootToken },
        { what: "OpenBao's unseal key", value: bao.unsealKey },
        ...k8s.issuedTokens.map((value) => ({ what: 'a service account token', value })),
        ...(issued ? [{ what: 'a token OpenBao issued', value: issued }] : []),
      ],
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(Object.fromEntries(vars), expected);
    // The log line the page shows.
    assert.match(
      run.stdout,
      new RegExp(
        `^Kubernetes service account token: sub=system:serviceaccount:${namespace}:${account} namespace=${namespace} serviceaccount=${account} pod=${pod.name} aud=vault iss=\\S+ expires=\\S+$`,
        'm',
      ),
    );
    assert.match(run.stdout, /^Logged in to Vault: policies \[ci-production, default\], token type service, TTL 600s/m);
  });
});
