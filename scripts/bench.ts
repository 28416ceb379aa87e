// npm run bench: the bundled task, run as the agent runs it (a child process with the agent's
// environment), against the Azure DevOps and Entra ID emulators and real OpenBao, each behind a
// delaying TCP proxy in the private network namespace (one RTT per connection before its first
// byte, RTT/2 per chunk each way): the task against the round-trip limit at RTT 0, 20 and 60 ms
// for 1, 10 and 200 secrets, with Vault over TLS and over plain http, under Node 20 and Node 24;
// the task's timeline; Vault's cost per job from OpenBao's audit log; the manual flow (az and the
// bao CLI) side by side; package and bundle sizes; peak memory. Prints a summary and writes every
// figure, with its samples, to bench/results.json. Offline.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { publishedSecrets, taskVariablesFrom } from '../test/helpers/output';
import { startArmServer } from '../test/emulators/arm';
import { DelayProxy } from '../test/emulators/delayProxy';
import { createCa } from '../test/emulators/pki';
import { verifyJwt } from '../test/emulators/jwt';
import { AZDO_IP, ENTRA_IP, VAULT_HOST, VAULT_IP } from '../test/emulators/hosts';
import { DEFAULT_RESOURCE, TENANT_ID } from '../test/emulators/seed';
import { BUILT_TASK, REPO, startWorld, TaskRun, World } from '../test/emulators/world';
import { OPENBAO_PORT, OpenBao, startOpenBao } from '../test/server/openbao';
import { JWT_MOUNT, JWT_ROLE, seedOpenBao } from '../test/server/seed';

const RTTS = [0, 20, 60];
const COUNTS = [1, 10, 200];
const MANUAL_COUNTS = [1, 10];
/** Runs per figure (after one round not counted, which warms caches). */
const RUNS = Number(process.env.BENCH_RUNS) || 7;
/** Where Entra ID and Azure DevOps listen; their own addresses are the proxies'. */
const BEHIND = { entra: '127.0.0.101', azdo: '127.0.0.102', arm: '127.0.0.104' };
/**
 * Azure Resource Manager for az (startArmServer): `az login` lists the subscriptions there. Its
 * public name has no place in the namespace's hosts file, so az reaches it as the resource manager
 * endpoint of a cloud registered for the bench, by address.
 */
const ARM = { host: '127.0.0.1', port: 8444 };
/** OpenBao's plain http listener, and the proxies in front of its TLS and plain listeners. */
const OPENBAO_PLAIN_PORT = 8303;
const VAULT_TLS_PORT = 8400;
const VAULT_PLAIN_PORT = 8401;
const VAULT_ADDRESS = { tls: `https://${VAULT_HOST}:${VAULT_TLS_PORT}`, plain: `http://${VAULT_HOST}:${VAULT_PLAIN_PORT}` };
const taskJson = JSON.parse(readFileSync(join(BUILT_TASK, 'task.json'), 'utf8')) as {
  inputs: Array<{ name: string; defaultValue: string }>;
};
/** The task's default `concurrency`. */
const CONCURRENCY = Number(taskJson.inputs.find((i) => i.name === 'concurrency')?.defaultValue);
/** HTTP/1.1 connections the task opens to Vault at most (vault/transport.ts MAX_HTTP1_CONNECTIONS). */
const HTTP1_CONNECTIONS = 8;
/** Round trips every connection's handshake costs when all are opened at t = 0: TCP, then TLS 1.3. */
const HANDSHAKE_RTTS = 2;

interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], samples };
}

const round = (v: number) => Math.round(v);
const fmt = (s: Stats) => `${round(s.median)} ms (${round(s.min)}–${round(s.max)})`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

/**
 * `warm` rounds not counted, then `runs` rounds, each running every one of `series` once, in turn:
 * the machine's speed drifts, and series compared with each other then drift alike. The `cold`
 * series run in the counted rounds only (they warm nothing the others need); their figures follow.
 */
async function interleaved(
  runs: number,
  series: Array<() => Promise<number>>,
  warm = 1,
  cold: Array<() => Promise<number>> = [],
): Promise<Stats[]> {
  for (let i = 0; i < warm; i++) for (const once of series) await once();
  const all = [...series, ...cold];
  const samples = all.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) for (const [k, once] of all.entries()) samples[k].push(await once());
  return samples.map(stats);
}

/** The Node builds agents ship, as scripts/runtimes.mjs lists them. */
function agentRuntimes(): Array<{ version: string; binary: string; installed: boolean }> {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'runtimes.mjs'), 'list'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/runtimes.mjs list failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<{ version: string; binary: string; installed: boolean }>;
}

const benchPath = (i: number) => `secret/ci/bench/p${i}`;
/**
 * The task's paths: as `kv get` takes them, or as KV version 2's API paths (secret/data/…), which
 * the task reads beside the mount's lookup.
 */
const taskPath = (i: number, api = false) => (api ? `secret/data/ci/bench/p${i}` : benchPath(i));

function inputsFor(n: number, tls: boolean, api = false): Record<string, string> {
  return {
    vaultAddress: tls ? VAULT_ADDRESS.tls : VAULT_ADDRESS.plain,
    authMount: JWT_MOUNT,
    role: JWT_ROLE,
    secrets: Array.from({ length: n }, (_, i) => `${taskPath(i, api)} value | BENCH_P${i}`).join('\n'),
  };
}

interface Run {
  n: number;
  tls: boolean;
  /** The paths written as API paths (secret/data/…). */
  api?: boolean;
  node?: string;
  /** Preload bench/probe.js; its record is written to this file. */
  probe?: string;
  /** Preload bench/vmhwm.js; the peak memory of the run is appended to this file. */
  vmhwm?: string;
  entry?: string;
  tempDir?: string;
  variables?: Record<string, string>;
}

/** A preload that sets globalThis[`global`] to `out` and loads bench/<script>. */
function preloadLoader(script: string, global: string, out: string): string {
  const loader = `${out}.loader.js`;
  writeFileSync(loader, `globalThis.${global} = ${JSON.stringify(out)};\nrequire(${JSON.stringify(join(REPO, 'bench', script))});\n`);
  return loader;
}

/**
 * Node options that preload bench/tcpRtt.js with the proxies' RTT into a run of the task or of
 * the barest client: its TCP handshakes take their round trip on its own side too. None at RTT 0.
 */
let tcpRtt: string[] = [];
function setTcpRtt(ms: number, dir: string): void {
  if (ms <= 0) {
    tcpRtt = [];
    return;
  }
  const loader = join(dir, `tcpRtt-${ms}.loader.js`);
  writeFileSync(loader, `globalThis.__tcpRttMs = ${ms};\nrequire(${JSON.stringify(join(REPO, 'bench', 'tcpRtt.js'))});\n`);
  tcpRtt = ['--require', loader];
}

async function runTask(world: World, r: Run): Promise<{ ms: number; run: TaskRun }> {
  const nodeArgs = r.probe
    ? [
        ...tcpRtt,
        '--require',
        preloadLoader('probe.js', '__probeOut', r.probe),
        ...(process.env.BENCH_CPU_PROFILE
          ? ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', process.env.BENCH_CPU_PROFILE]
          : []),
      ]
    : r.vmhwm
      ? [...tcpRtt, '--require', preloadLoader('vmhwm.js', '__vmhwmOut', r.vmhwm)]
      : tcpRtt;
  const { ms, value: run } = await timed(() =>
    world.runTask({
      connection: world.ids.wif,
      inputs: inputsFor(r.n, r.tls, r.api),
      node: r.node,
      entry: r.entry,
      tempDir: r.tempDir,
      variables: r.variables,
      nodeArgs,
    }),
  );
  return { ms, run };
}

/** Fails the bench unless `run` (of `what`) exited 0 having published all `n` secrets. */
function checkPublished(what: string, run: TaskRun, n: number): void {
  const published = publishedSecrets(run.stdout).size;
  if (run.code !== 0 || published !== n) {
    throw new Error(
      `${what} failed or published ${published} of ${n} (exit ${run.code}):\n${(run.stdout + run.stderr).split('\n').slice(-15).join('\n')}`,
    );
  }
}

/** A timed run of the main step; fails the bench unless every secret was published. */
function taskOnce(world: World, r: Run): () => Promise<number> {
  return async () => {
    const { ms, run } = await runTask(world, r);
    checkPublished('the task', run, r.n);
    return ms;
  };
}

/** An empty script started exactly as the task is (same runner, agent environment): `node -e 0` for an agent. */
function emptyOnce(world: World, node?: string): () => Promise<number> {
  writeFileSync(join(world.taskDir, 'empty.js'), '');
  return async () => {
    const { ms, value: run } = await timed(() => world.runTask({ connection: world.ids.wif, inputs: {}, entry: 'empty.js', node }));
    if (run.code !== 0) throw new Error(`node empty.js exited with ${run.code}`);
    return ms;
  };
}

/**
 * The task's job done by the barest client (bench/floor.js), started exactly as the task is: what
 * no client can go below here, with the same servers and network. Fails the bench unless every
 * secret was published.
 */
function floorOnce(world: World, r: { n: number; node?: string; api?: boolean }): () => Promise<number> {
  return async () => {
    const { ms, value: got } = await timed(() =>
      world.runTask({
        connection: world.ids.wif,
        inputs: inputsFor(r.n, true, r.api),
        program: join(REPO, 'bench', 'floor.js'),
        node: r.node,
        nodeArgs: tcpRtt,
      }),
    );
    checkPublished('bench/floor.js', got, r.n);
    return ms;
  };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Why the manual flow cannot be timed here, or undefined when az is present. */
function manualSkipped(): string | undefined {
  if (spawnSync('az', ['version'], { stdio: 'ignore' }).error)
    return 'az is not installed (Debian package azure-cli: npm run bench installs it with apt-get when it can; CI does not run the bench)';
  return undefined;
}

/** The cloud AzureCLI@2's connection names in the bench, with az's resource manager at the ARM emulator. */
const BENCH_CLOUD = 'ValBench';
/** The subscription of the bench's connection, which `az login` lists and `az account set` picks. */
const BENCH_SUBSCRIPTION = '5f0c8e1a-6a3d-4c3e-9a57-2b1f0d7c4e11';

/**
 * az's definition of the bench's cloud: Entra ID at its public name (the namespace's loopback), the
 * resource manager at the ARM emulator's proxy. AzureCloud is built into az; a cloud of the bench's
 * own is registered, and each run's fresh configuration folder starts with this file alone.
 */
async function benchCloud(home: string, armUrl: string, caPath: string): Promise<string> {
  const dir = mkdtempSync(join(home, 'az-cloud-'));
  const env = { PATH: process.env.PATH ?? '', HOME: home, REQUESTS_CA_BUNDLE: caPath, AZURE_CONFIG_DIR: dir };
  // biome-ignore format: one option per line
  const r = await run('az', [
    'cloud', 'register', '-n', BENCH_CLOUD,
    '--endpoint-resource-manager', armUrl,
    '--endpoint-active-directory', 'https://login.microsoftonline.com',
    '--endpoint-active-directory-resource-id', 'https://management.core.windows.net/',
    '--endpoint-active-directory-graph-resource-id', 'https://graph.windows.net/',
  ], { ...env, AZURE_CORE_COLLECT_TELEMETRY: 'false' });
  if (r.code !== 0) throw new Error(`az cloud register: ${r.stderr}`);
  return join(dir, 'clouds.config');
}

/** The parts of AzureCLI@2's run as bench/azureCli2.js times them, in milliseconds. */
type ManualParts = Record<string, number>;

/**
 * The documented manual flow as the agent runs it: an AzureCLI@2 step (bench/azureCli2.js, the
 * same calls in the same order) whose inline bash script runs `az account get-access-token`,
 * `bao write auth/<mount>/login` and one `bao kv get` per secret and publishes each value with a
 * `##vso[task.setvariable]` line. Timed as the task is, from the process's start to its exit, in a
 * fresh Agent.TempDirectory (the agent empties it for every job, and AzureCLI@2 keeps az's
 * configuration there). Fails the bench unless every value was published.
 */
function manualFlowOnce(world: World, bao: OpenBao, n: number, home: string, cloud: string, parts: ManualParts[]): () => Promise<number> {
  const lines = [
    'set -eu',
    `jwt=$(az account get-access-token --resource ${DEFAULT_RESOURCE} --query accessToken --output tsv)`,
    `token=$(${bao.bin} write -field=token auth/${JWT_MOUNT}/login role=${JWT_ROLE} jwt="$jwt")`,
    'export BAO_TOKEN="$token"',
    ...Array.from({ length: n }, (_, i) => [
      `value=$(${bao.bin} kv get -field=value ${benchPath(i)})`,
      `echo "##vso[task.setvariable variable=BENCH_P${i};issecret=true]$value"`,
    ]).flat(),
  ];
  const id = world.ids.wif.connectionId;
  return async () => {
    const tempDir = mkdtempSync(join(home, 'agent-temp-'));
    mkdirSync(join(tempDir, '.azclitask'));
    cpSync(cloud, join(tempDir, '.azclitask', 'clouds.config'));
    const partsFile = join(home, 'parts.json');
    try {
      const { ms, value: r } = await timed(() =>
        world.runTask({
          connection: world.ids.wif,
          program: join(REPO, 'bench', 'azureCli2.js'),
          // Its Node part as the task's: the handshake's round trip on its own side too (az and bao
          // are not Node: their connections are up at once, the proxy holding their first bytes).
          nodeArgs: tcpRtt,
          tempDir,
          inputs: { connectedServiceNameARM: id, scriptType: 'bash', scriptLocation: 'inlineScript', inlineScript: lines.join('\n') },
          env: {
            [`ENDPOINT_DATA_${id}_ENVIRONMENT`]: BENCH_CLOUD,
            [`ENDPOINT_DATA_${id}_SUBSCRIPTIONID`]: BENCH_SUBSCRIPTION,
            HOME: home,
            REQUESTS_CA_BUNDLE: world.ca.certPath,
            AZURE_CORE_COLLECT_TELEMETRY: 'false',
            AZURE_CORE_SURVEY_MESSAGE: 'false',
            BAO_ADDR: VAULT_ADDRESS.tls,
            BAO_CACERT: world.ca.certPath,
            BENCH_PARTS_FILE: partsFile,
          },
        }),
      );
      const published = publishedSecrets(r.stdout);
      const wrong = Array.from({ length: n }, (_, i) => i).filter((i) => published.get(`BENCH_P${i}`) !== `bench-value-${i}`);
      if (r.code !== 0 || wrong.length)
        throw new Error(
          `AzureCLI@2 failed or missed ${wrong.length} of ${n} (exit ${r.code}):\n${(r.stdout + r.stderr).split('\n').slice(-15).join('\n')}`,
        );
      const timings = JSON.parse(readFileSync(partsFile, 'utf8')) as Array<{ name: string; ms: number }>;
      parts.push(Object.fromEntries(timings.map((t) => [t.name, t.ms])));
      return ms;
    } finally {
      rmSync(tempDir, { recursive: true, force: true });
    }
  };
}

/**
 * The vault CLI's part of the documented manual flow, for the requests it sends: `bao write
 * auth/<mount>/login role=… jwt=…`, then `bao kv get -field=value <path>` per secret, against the
 * same proxied OpenBao. The Entra token it logs in with is minted beforehand (az's part). The reads
 * run four at a time: what is counted is the requests, not the time.
 */
async function baoFlow(world: World, bao: OpenBao, n: number, home: string): Promise<void> {
  const env = { PATH: process.env.PATH ?? '', HOME: home, BAO_ADDR: VAULT_ADDRESS.tls, BAO_CACERT: world.ca.certPath };
  const jwt = connectionJwt(world);
  const login = await run(bao.bin, ['write', '-field=token', `auth/${JWT_MOUNT}/login`, `role=${JWT_ROLE}`, `jwt=${jwt}`], env);
  if (login.code !== 0) throw new Error(`bao write auth/${JWT_MOUNT}/login: ${login.stderr}`);
  const token = login.stdout.trim();
  let next = 0;
  const reader = async () => {
    for (let i = next++; i < n; i = next++) {
      const got = await run(bao.bin, ['kv', 'get', '-field=value', benchPath(i)], { ...env, BAO_TOKEN: token });
      if (got.code !== 0 || !got.stdout.trim()) throw new Error(`bao kv get ${benchPath(i)}: ${got.stderr}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, reader));
}

/** An Entra access token for the bench's connection, as az and the task get one: what the role logs in with. */
function connectionJwt(world: World): string {
  return world.entra.mintAccessToken({
    tenantId: TENANT_ID,
    objectId: world.ids.wif.objectId,
    appId: world.ids.wif.clientId,
    audience: DEFAULT_RESOURCE,
    appidacr: '2',
  }).token;
}

/** From a timeline: the first read of a secret sent to the last one answered. */
function readPhaseMs(events: ProbeEvent[]): number {
  const reads = events.filter((e) => (e.what === 'send' || e.what === 'answer') && e.detail.includes('/v1/secret/data/'));
  const sent = reads.find((e) => e.what === 'send');
  const answers = reads.filter((e) => e.what === 'answer');
  return (answers[answers.length - 1]?.t ?? Number.NaN) - (sent?.t ?? Number.NaN);
}

/**
 * The read phase of N secrets over TLS at the current RTT, `runs` times in turn: the task's (from
 * its timeline, with the probe) beside the same reads by the barest HTTP/2 client
 * (bench/bareReads.js, under the same Node, with a token of the bench's role, which is revoked
 * after). What the bare client needs beyond ⌈N/C⌉ round trips is Vault's and the network's; what
 * the task needs beyond the bare client is its own.
 */
async function readPhases(world: World, bao: OpenBao, probeDir: string, n: number, runs: number, node?: string, api?: boolean) {
  const login = await bao.api('POST', `auth/${JWT_MOUNT}/login`, { role: JWT_ROLE, jwt: connectionJwt(world) }, '');
  const token: string | undefined = login.body?.auth?.client_token;
  if (!token) throw new Error(`auth/${JWT_MOUNT}/login: ${login.status}`);
  const taskMs: number[] = [];
  const task = async () => {
    const file = join(probeDir, `reads-${taskMs.length}.json`);
    await taskOnce(world, { n, tls: true, node, api, probe: file })();
    taskMs.push(readPhaseMs((JSON.parse(readFileSync(file, 'utf8')) as { events: ProbeEvent[] }).events));
    return 0;
  };
  const bare = async () => {
    const env = {
      NODE_EXTRA_CA_CERTS: world.ca.certPath,
      BARE_ORIGIN: VAULT_ADDRESS.tls,
      BARE_TOKEN: token,
      BARE_N: String(n),
      BARE_CONCURRENCY: String(CONCURRENCY),
    };
    const got = await run(node ?? process.execPath, [join(REPO, 'bench', 'bareReads.js')], env);
    if (got.code !== 0) throw new Error(`bench/bareReads.js: ${got.stderr}`);
    return (JSON.parse(got.stdout) as { ms: number }).ms;
  };
  try {
    const [, bareClient] = await interleaved(runs, [task, bare], 0);
    return { task: stats(taskMs), bareClient };
  } finally {
    await bao.api('POST', 'auth/token/revoke-self', {}, token);
  }
}

/** Token accessors and the login mount's leases OpenBao holds now. */
async function held(bao: OpenBao): Promise<{ tokens: number; leases: number }> {
  const list = async (path: string) => {
    const a = await bao.api('LIST', path);
    return a.status === 404 ? 0 : (a.body?.data?.keys?.length ?? 0);
  };
  return { tokens: await list('auth/token/accessors'), leases: await list(`sys/leases/lookup/auth/${JWT_MOUNT}/login`) };
}

interface Vsix {
  /** Where the size comes from, or why there is none. */
  source: string;
  bytes?: number;
}

interface Sizes {
  vsix: Vsix;
  entries: Array<{ file: string; bytes: number; gzipBytes: number }>;
  taskFolderBytes: number;
}

type PackageExtension = (opts: { outDir?: string }) => Promise<{ vsix: string; size: number }>;

// ts-node compiles import() to require(); the packaging script is an ES module.
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<Record<string, unknown>>;

/**
 * The VSIX as scripts/package.mjs makes it from the current sources (into a temporary folder),
 * else the newest out/*.vsix, else none.
 */
async function vsixSize(): Promise<Vsix> {
  const script = join(REPO, 'scripts', 'package.mjs');
  if (existsSync(script)) {
    const { packageExtension } = await importModule(pathToFileURL(script).href);
    if (typeof packageExtension === 'function') {
      const outDir = mkdtempSync(join(tmpdir(), 'val-bench-vsix-'));
      try {
        const { size } = await (packageExtension as PackageExtension)({ outDir });
        return { source: 'scripts/package.mjs', bytes: size };
      } catch (err) {
        return { source: `packaging failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` };
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
    }
  }
  const outDir = join(REPO, 'out');
  const built = existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith('.vsix')) : [];
  const newest = built.map((f) => join(outDir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  return newest ? { source: relative(REPO, newest), bytes: statSync(newest).size } : { source: 'not built' };
}

/** Size of the packaged extension and of every bundled file. */
async function sizes(): Promise<Sizes> {
  const files = readdirSync(BUILT_TASK);
  const entries = files
    .filter((f) => f.endsWith('.js'))
    .map((f) => {
      const body = readFileSync(join(BUILT_TASK, f));
      return { file: f, bytes: body.length, gzipBytes: gzipSync(body).length };
    });
  const taskFolderBytes = files.reduce((sum, f) => sum + statSync(join(BUILT_TASK, f)).size, 0);
  return { vsix: await vsixSize(), entries, taskFolderBytes };
}

type ProbeEvent = { t: number; what: string; detail: string };

/**
 * Where the time of a timeline's run goes (N = 1: its requests follow one another, but for those
 * sent together): when the first connection was opened; how long the handshakes took beyond their
 * round trips, to the first request; each request's (or group's) wait beyond one RTT (the server's own time, the proxy's hops and the
 * client's reading of the answer); and the task's own time from each answer to the next request,
 * and from the last one to its exit.
 */
function chainBreakdown(events: ProbeEvent[], rtt: number) {
  const sorted = [...events].sort((a, b) => a.t - b.t);
  const at = (what: string) => sorted.find((e) => e.what === what)?.t ?? Number.NaN;
  const sends = sorted.filter((e) => e.what === 'send');
  const exit = at('exit');
  // "POST dev.azure.com/…", "GET https://vault.example.com:8400/… (h2)": the host name alone.
  const firstHost = (sends[0]?.detail.split(' ')[1] ?? '').replace(/^https?:\/\//, '').split(/[/:]/)[0];
  const answerOf = (send: ProbeEvent) =>
    sorted.find((e) => e.what === 'answer' && e.t >= send.t && e.detail.slice(e.detail.indexOf(' ') + 1) === send.detail)?.t ?? Number.NaN;
  // Requests sent before any answer of the ones before them came back went out together: one round
  // trip for all of them (the mount lookup and a read that need not wait for it).
  const groups: ProbeEvent[][] = [];
  for (const send of sends) {
    const last = groups.at(-1);
    if (last && send.t < Math.min(...last.map(answerOf))) last.push(send);
    else groups.push([send]);
  }
  const hops = groups.map((group, i) => {
    const answered = Math.max(...group.map(answerOf));
    return {
      request: group
        .map((send) => send.detail.replace(/^(\S+) (https:\/\/)?([^/]+)/, '$1 $3').replace(/\/[0-9a-f-]{36}/g, '/<id>'))
        .join(' + '),
      beyondRttMs: round1(answered - group[0].t - rtt),
      thenMs: round1((groups[i + 1]?.[0].t ?? exit) - answered),
    };
  });
  const sum = (k: 'beyondRttMs' | 'thenMs') => round1(hops.reduce((a, h) => a + h[k], 0));
  return {
    firstConnectMs: at('connect'),
    handshakesBeyondRttMs: round1((sends[0]?.t ?? Number.NaN) - at('connect') - HANDSHAKE_RTTS * rtt),
    // Of which: from the end of the first connection's TLS handshake to its request.
    firstSendAfterTlsMs: round1(
      (sends[0]?.t ?? Number.NaN) - (sorted.find((e) => e.what === 'tls up' && e.detail.startsWith(`${firstHost}:`))?.t ?? Number.NaN),
    ),
    roundTrips: HANDSHAKE_RTTS + hops.length,
    serversBeyondRttMs: sum('beyondRttMs'),
    taskBetweenMs: sum('thenMs'),
    exitMs: exit,
    hops,
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The medians of chainBreakdown's parts over runs, in one line. */
function medianChain(runs: ReturnType<typeof chainBreakdown>[]): string {
  const m = (f: (c: ReturnType<typeof chainBreakdown>) => number) => round1(stats(runs.map(f)).median);
  const hops = runs[0].hops.map((_, i) => m((c) => c.hops[i]?.thenMs ?? Number.NaN));
  return `handshakes beyond their RTTs ${m((c) => c.handshakesBeyondRttMs)} ms (the first request ${m((c) => c.firstSendAfterTlsMs)} ms after its TLS handshake), servers ${m((c) => c.serversBeyondRttMs)} ms, task ${m((c) => c.taskBetweenMs)} ms (after each answer: ${hops.join(', ')}), exit at ${m((c) => c.exitMs)} ms`;
}

/** The lines that say where a timeline's time goes (chainBreakdown). */
function chainLines(c: ReturnType<typeof chainBreakdown>, rtt: number): string[] {
  return [
    `first connection opened at ${c.firstConnectMs} ms; ${c.roundTrips} round trips on the chain (${c.roundTrips * rtt} ms at RTT ${rtt});`,
    `beyond them: the handshakes ${c.handshakesBeyondRttMs} ms (to the first request, sent ${c.firstSendAfterTlsMs} ms after its TLS handshake), the servers ${c.serversBeyondRttMs} ms (each answer's wait beyond one RTT), the task ${c.taskBetweenMs} ms (from each answer to the next request or its exit); exit at ${c.exitMs} ms`,
    ...c.hops.map((h) => `  ${h.request}: server ${h.beyondRttMs} ms beyond the RTT, then the task ${h.thenMs} ms`),
  ];
}

function countPaths(entries: Array<{ path: string; operation: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) {
    const key = `${e.operation} ${e.path.replace(/^secret\/data\/ci\/bench\/p\d+$/, 'secret/data/ci/bench/p*').replace(/^sys\/internal\/ui\/mounts\/.*/, 'sys/internal/ui/mounts/…')}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

async function main(): Promise<void> {
  const started = Date.now();
  const results: Record<string, unknown> = { node: process.version, runs: RUNS, concurrency: CONCURRENCY };
  // The sizes (packaging the VSIX takes seconds) are measured while the servers start, which is
  // mostly OpenBao's waiting for its election: nothing is timed then.
  // `--timeline` or `--manual`: one part of the bench alone (below).
  const only = ['--timeline', '--manual'].find((a) => process.argv.includes(a));
  const sizing = only ? undefined : sizes();
  sizing?.catch(() => undefined);
  // The world and the bench's own OpenBao (HTTP/2 over TLS, a plain listener, an audit device)
  // start side by side: most of an OpenBao's start is its one-node election.
  const ca = await createCa();
  const [world, bao] = await Promise.all([
    startWorld({ ca, listenHosts: BEHIND }),
    startOpenBao(ca, { audit: true, plainPort: OPENBAO_PLAIN_PORT }),
  ]);
  const proxies = {
    entra: new DelayProxy({ host: ENTRA_IP, port: 443 }, { host: BEHIND.entra, port: 443 }),
    azdo: new DelayProxy({ host: AZDO_IP, port: 443 }, { host: BEHIND.azdo, port: 443 }),
    vaultTls: new DelayProxy({ host: VAULT_IP, port: VAULT_TLS_PORT }, { host: VAULT_IP, port: OPENBAO_PORT }),
    vaultPlain: new DelayProxy({ host: VAULT_IP, port: VAULT_PLAIN_PORT }, { host: VAULT_IP, port: OPENBAO_PLAIN_PORT }),
    arm: new DelayProxy(ARM, { host: BEHIND.arm, port: ARM.port }),
  };
  const arm = await startArmServer({
    tls: await world.ca.issue([], [ARM.host]),
    host: BEHIND.arm,
    port: ARM.port,
    publicUrl: `https://${ARM.host}:${ARM.port}/`,
    verifyToken: (token) => verifyJwt(token, world.entra.jwks()),
    subscriptions: [
      { subscriptionId: BENCH_SUBSCRIPTION, tenantId: TENANT_ID, displayName: 'Bench', principals: [world.ids.wif.objectId] },
    ],
  });
  const home = mkdtempSync(join(tmpdir(), 'val-bench-home-'));
  const probeDir = mkdtempSync(join(tmpdir(), 'val-bench-probe-'));
  const setRtt = (ms: number) => {
    for (const p of Object.values(proxies)) p.rttMs = ms;
    setTcpRtt(ms, probeDir);
  };
  try {
    for (const p of Object.values(proxies)) await p.start();
    await seedOpenBao(bao, world.ca, world.ids.wif.objectId);
    for (let i = 0; i < Math.max(...COUNTS); i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, Math.max(...COUNTS) - i) }, async (_, k) => {
          const a = await bao.api('POST', `secret/data/ci/bench/p${i + k}`, { data: { value: `bench-value-${i + k}` } });
          if (a.status >= 300) throw new Error(`seed ${benchPath(i + k)}: ${a.status}`);
        }),
      );
    }
    console.log(`servers started and seeded (${((Date.now() - started) / 1000).toFixed(0)} s)`);

    // `npm run bench -- --timeline`: only N = 1 (or BENCH_N) over TLS at RTT 60 (or BENCH_RTT), a few
    // times beside the empty script, and its timeline, for looking at one change's effect in a minute.
    // With BENCH_BASELINE=<a built task folder> (another build's dist/tasks/VaultAzureLoginV1),
    // that build runs in the same rounds, for the change's effect apart from the machine's drift.
    // With BENCH_PATHS=api the task's paths are API paths (secret/data/…), and the same paths as
    // `kv get` takes them run in the same rounds.
    if (only === '--timeline') {
      const rtt = process.env.BENCH_RTT ? Number(process.env.BENCH_RTT) : 60;
      setRtt(rtt);
      const n = Number(process.env.BENCH_N) || 1;
      // BENCH_NODE: another Node binary for the task and the empty script (an agent's Node 24, say).
      const node = process.env.BENCH_NODE || undefined;
      const api = process.env.BENCH_PATHS === 'api';
      const series = [taskOnce(world, { n, tls: true, node, api }), emptyOnce(world, node)];
      if (api) series.push(taskOnce(world, { n, tls: true, node }));
      // BENCH_FLOOR=1: the barest client (bench/floor.js) in the same rounds, with the same paths.
      const floor = process.env.BENCH_FLOOR === '1';
      if (floor) series.push(floorOnce(world, { n, node, api }));
      const baseline = process.env.BENCH_BASELINE;
      if (baseline) {
        cpSync(baseline, join(world.taskDir, '..', 'baseline'), { recursive: true });
        series.push(taskOnce(world, { n, tls: true, node, entry: join('..', 'baseline', 'main.js') }));
      }
      const [task, empty, ...others] = await interleaved(RUNS, series);
      const kvPaths = api ? others.shift() : undefined;
      const floorStats = floor ? others.shift() : undefined;
      const base = others.shift();
      const limit = empty.median + (HANDSHAKE_RTTS + 3 + Math.ceil(n / CONCURRENCY)) * rtt;
      const ratio = (s: Stats) => `${(s.median / limit).toFixed(2)}× the limit (${round(limit)} ms)`;
      console.log(`task ${fmt(task)}, empty script ${fmt(empty)}: ${ratio(task)}`);
      if (kvPaths) console.log(`the same paths as kv get takes them ${fmt(kvPaths)}: ${ratio(kvPaths)}`);
      if (floorStats)
        console.log(
          `the barest client ${fmt(floorStats)}: ${ratio(floorStats)}; the task is ${(task.median / floorStats.median).toFixed(2)}× it`,
        );
      if (base) console.log(`baseline ${fmt(base)}: ${ratio(base)}`);
      const probeFile = join(probeDir, 'timeline.json');
      await taskOnce(world, { n, tls: true, node, api, probe: probeFile })();
      const { events } = JSON.parse(readFileSync(probeFile, 'utf8')) as { events: ProbeEvent[] };
      for (const e of events) console.log(`  ${String(e.t.toFixed(1)).padStart(7)}  ${e.what.padEnd(8)} ${e.detail}`);
      if (n !== 1) {
        // Many reads: the read phase, the task's beside the barest client's, RUNS times each.
        const reads = await readPhases(world, bao, probeDir, n, RUNS, node, api);
        console.log(
          `the reads alone (⌈N/C⌉ round trips: ${Math.ceil(n / CONCURRENCY) * rtt} ms): task ${fmt(reads.task)}, a bare HTTP/2 client ${fmt(reads.bareClient)}`,
        );
        return;
      }
      for (const line of chainLines(chainBreakdown(events, rtt), rtt)) console.log(line);
      // The same split, median of RUNS more runs with the probe (the baseline's in the same rounds):
      // the task's own time on the chain, apart from the servers' and the network's.
      const chains = [undefined, ...(baseline ? [join('..', 'baseline', 'main.js')] : [])].map((entry, k) => {
        const got: ReturnType<typeof chainBreakdown>[] = [];
        const once = async () => {
          const file = join(probeDir, `chain-${k}-${got.length}.json`);
          await taskOnce(world, { n, tls: true, node, api, entry, probe: file })();
          got.push(chainBreakdown((JSON.parse(readFileSync(file, 'utf8')) as { events: ProbeEvent[] }).events, rtt));
          return 0;
        };
        return { name: k === 0 ? 'task' : 'baseline', got, once };
      });
      await interleaved(
        RUNS,
        chains.map((c) => c.once),
        0,
      );
      for (const { name, got } of chains) console.log(`${name}, medians of ${got.length} probed runs: ${medianChain(got)}`);
      return;
    }

    // `npm run bench -- --manual`: only the manual flow beside the task, N = 1 (or BENCH_N) at RTT 0
    // (or BENCH_RTT), with the median of each part of AzureCLI@2's run.
    if (only === '--manual') {
      const skipped = manualSkipped();
      if (skipped) throw new Error(skipped);
      setRtt(process.env.BENCH_RTT ? Number(process.env.BENCH_RTT) : 0);
      const n = Number(process.env.BENCH_N) || 1;
      const parts: ManualParts[] = [];
      const cloud = await benchCloud(home, arm.url, world.ca.certPath);
      const [task, flow] = await interleaved(RUNS, [taskOnce(world, { n, tls: true }), manualFlowOnce(world, bao, n, home, cloud, parts)]);
      console.log(`task ${fmt(task)}, manual flow ${fmt(flow)}: ${(flow.median / task.median).toFixed(1)}×`);
      for (const k of Object.keys(parts[0])) console.log(`  ${k.padEnd(18)} ${fmt(stats(parts.map((p) => p[k])))}`);
      return;
    }

    // Node 20 (the bench's own) and the newest Node 24 an agent ships.
    const node24 = agentRuntimes()
      .filter((r) => r.installed && r.version.startsWith('24.'))
      .sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }))[0];
    // Each variant at the RTTs it is measured at: Node 20 over TLS at every RTT; plain http at RTT 0
    // (for the chain's round trips) and 60; Node 24 at RTT 60, where the target lies. The manual
    // flow's runs take more than half of the bench: without the other RTTs it stays within five
    // minutes on a slow hour.
    const nodes: Array<{ name: string; binary?: string; variants: Array<{ tls: boolean; rtts: number[] }> }> = [
      {
        name: process.version.slice(1),
        variants: [
          { tls: true, rtts: RTTS },
          { tls: false, rtts: [0, 60] },
        ],
      },
    ];
    if (node24) nodes.push({ name: node24.version, binary: node24.binary, variants: [{ tls: true, rtts: [60] }] });
    else results.node24 = { skipped: 'no Node 24 installed (node scripts/runtimes.mjs install)' };

    // Latency: every case and an empty script per Node, in the same rounds, at each RTT; and in
    // those rounds the manual flow, compared with the same case of the task (Node 20, TLS).
    const skipped = manualSkipped();
    const cloud = skipped ? undefined : await benchCloud(home, arm.url, world.ca.certPath);
    const cells: Array<{ node: string; binary?: string; tls: boolean; n: number; rtts: number[] }> = [];
    for (const nd of nodes)
      for (const { tls, rtts } of nd.variants) for (const n of COUNTS) cells.push({ node: nd.name, binary: nd.binary, tls, n, rtts });
    const measured = new Map<string, Stats>();
    const peakFile = join(probeDir, 'vmhwm.txt');
    const empties = new Map<string, Stats>();
    const manual = [];
    for (const rtt of RTTS) {
      setRtt(rtt);
      // Peak memory: from the runs of the N = 200 case over TLS under Node 20 at RTT 0.
      const memoryCell = (c: (typeof cells)[number]) => rtt === 0 && c.n === Math.max(...COUNTS) && c.tls && !c.binary;
      const here = cells.filter((c) => c.rtts.includes(rtt));
      const nodesHere = nodes.filter((nd) => nd.variants.some((v) => v.rtts.includes(rtt)));
      const series = [
        ...here.map((c) => taskOnce(world, { n: c.n, tls: c.tls, node: c.binary, vmhwm: memoryCell(c) ? peakFile : undefined })),
        ...nodesHere.map((nd) => emptyOnce(world, nd.binary)),
      ];
      const counts = cloud ? MANUAL_COUNTS.filter((n) => n === 1 || rtt === 0) : [];
      const parts = counts.map(() => [] as ManualParts[]);
      const flows = counts.map((n, i) => manualFlowOnce(world, bao, n, home, cloud!, parts[i]));
      // One round not counted before the first RTT's rounds: it warms the caches for all of them.
      const got = await interleaved(RUNS, series, rtt === RTTS[0] ? 1 : 0, flows);
      here.forEach((c, i) => {
        measured.set(`${c.node}/${c.tls}/${rtt}/${c.n}`, got[i]);
      });
      nodesHere.forEach((nd, i) => {
        empties.set(`${nd.name}/${rtt}`, got[here.length + i]);
      });
      for (const [i, n] of counts.entries()) {
        const task = measured.get(`${nodes[0].name}/true/${rtt}/${n}`)!;
        const flow = got[series.length + i];
        const names = Object.keys(parts[i][0]);
        manual.push({
          rtt,
          n,
          taskMs: round(task.median),
          manualMs: round(flow.median),
          ratio: Number((flow.median / task.median).toFixed(1)),
          parts: Object.fromEntries(names.map((k) => [k, round(stats(parts[i].map((p) => p[k])).median)])),
          task,
          manual: flow,
        });
      }
      console.log(`RTT ${rtt} ms measured (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    results.manual = skipped ? { skipped } : manual;
    const latency = [];
    for (const c of cells) {
      for (const rtt of c.rtts) {
        const task = measured.get(`${c.node}/${c.tls}/${rtt}/${c.n}`)!;
        const empty = empties.get(`${c.node}/${rtt}`)!;
        const waves = Math.ceil(c.n / (c.tls ? CONCURRENCY : Math.min(CONCURRENCY, HTTP1_CONNECTIONS)));
        const limitRtts = HANDSHAKE_RTTS + 1 + 1 + 1 + waves;
        const limitMs = empty.median + limitRtts * rtt;
        const atZero = measured.get(`${c.node}/${c.tls}/0/${c.n}`);
        const chainRtts = rtt > 0 && atZero ? (task.median - atZero.median) / rtt : null;
        latency.push({
          node: c.node,
          tls: c.tls,
          rtt,
          n: c.n,
          taskMs: round(task.median),
          limitMs: round(limitMs),
          chainRtts: chainRtts === null ? null : Number(chainRtts.toFixed(1)),
          ratio: Number((task.median / limitMs).toFixed(2)),
          limitRtts,
          nodeStartMs: round(empty.median),
          task,
        });
      }
    }
    results.latency = latency;

    // The timeline of one run, N = 1 over TLS at RTT 60 (the last RTT).
    setRtt(60);
    const probeFile = join(probeDir, 'timeline.json');
    await taskOnce(world, { n: 1, tls: true, probe: probeFile })();
    const timeline = JSON.parse(readFileSync(probeFile, 'utf8')) as { events: ProbeEvent[] };
    results.timeline = { rtt: 60, n: 1, tls: true, events: timeline.events, chain: chainBreakdown(timeline.events, 60) };
    console.log(`timeline recorded (${((Date.now() - started) / 1000).toFixed(0)} s)`);

    // Vault's cost per job, from the audit log, at RTT 0: the main step, its post-job step, and
    // what is left; the bao CLI's flow beside it.
    setRtt(0);
    const taskCost = [];
    const manualCost = [];
    for (const n of COUNTS) {
      const before = await held(bao);
      let mark = bao.auditedRequests().length;
      const main = await runTask(world, { n, tls: true });
      if (main.run.code !== 0) throw new Error(`main step failed (exit ${main.run.code})`);
      const mainReqs = bao.auditedRequests().slice(mark);
      mark += mainReqs.length;
      const post = await runTask(world, {
        n,
        tls: true,
        entry: 'post.js',
        tempDir: main.run.tempDir,
        variables: taskVariablesFrom(main.run.stdout),
      });
      if (post.run.code !== 0) throw new Error(`post-job step failed (exit ${post.run.code})`);
      const postReqs = bao.auditedRequests().slice(mark);
      const after = await held(bao);
      taskCost.push({
        n,
        requests: mainReqs.length,
        postRequests: postReqs.length,
        byPath: countPaths(mainReqs),
        tokensLeft: after.tokens - before.tokens,
        leasesLeft: after.leases - before.leases,
      });
      const manualBefore = await held(bao);
      const m0 = bao.auditedRequests().length;
      await baoFlow(world, bao, n, home);
      const manualReqs = bao.auditedRequests().slice(m0);
      const manualAfter = await held(bao);
      manualCost.push({
        n,
        requests: manualReqs.length,
        byPath: countPaths(manualReqs),
        tokensLeft: manualAfter.tokens - manualBefore.tokens,
        leasesLeft: manualAfter.leases - manualBefore.leases,
      });
    }
    results.vaultCost = { task: taskCost, manual: manualCost };
    console.log(`Vault's cost measured (${((Date.now() - started) / 1000).toFixed(0)} s)`);

    // Peak memory of the task process (its VmHWM) at N = 200, RTT 0: every run of that case, the
    // round not counted included.
    const rss = readFileSync(peakFile, 'utf8').trim().split('\n').map(Number);
    results.peakRss = { n: Math.max(...COUNTS), vmHwm: stats(rss) };
    results.sizes = await sizing;
  } finally {
    for (const p of Object.values(proxies)) await p.stop();
    await arm.close();
    await bao.stop();
    await world.stop();
    await ca.dispose();
    rmSync(home, { recursive: true, force: true });
    rmSync(probeDir, { recursive: true, force: true });
  }
  results.seconds = round((Date.now() - started) / 1000);
  report(results);
  mkdirSync(join(REPO, 'bench'), { recursive: true });
  writeFileSync(join(REPO, 'bench', 'results.json'), JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2) + '\n');
  console.log('written to bench/results.json');
}

/** The summary: what README's Performance table and bench/README.md quote. */
// biome-ignore lint/suspicious/noExplicitAny: the results file's figures, read by path
function report(r: Record<string, any>): void {
  console.log(
    `\nVaultAzureLogin bench: ${r.runs} runs per figure, medians (min–max); limit = empty script + (${HANDSHAKE_RTTS} handshake + 1 Azure DevOps + 1 Entra + 1 login + ⌈N/C⌉) × RTT\n`,
  );
  console.log('| Node | Vault | RTT | N | task | limit | task / limit | chain RTTs |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const l of r.latency) {
    console.log(
      `| ${l.node} | ${l.tls ? 'TLS (h2)' : 'plain http'} | ${l.rtt} ms | ${l.n} | ${fmt(l.task)} | ${l.limitMs} ms | ${l.ratio.toFixed(2)}× | ${l.chainRtts ?? '–'} |`,
    );
  }
  console.log('\nTimeline, N = 1, TLS, RTT 60 ms (ms since the process started):');
  for (const e of r.timeline.events) console.log(`  ${String(e.t.toFixed(1)).padStart(7)}  ${e.what.padEnd(8)} ${e.detail}`);
  for (const line of chainLines(r.timeline.chain, r.timeline.rtt)) console.log(line);
  console.log('\nThe manual flow (AzureCLI@2: az login, then az account get-access-token, bao write, bao kv get per secret):');
  if (!Array.isArray(r.manual)) console.log(`  skipped: ${r.manual.skipped}`);
  else
    for (const m of r.manual)
      console.log(
        `  RTT ${m.rtt} ms, N = ${m.n}: task ${fmt(m.task)}, manual ${fmt(m.manual)} (${m.ratio}×; ${Object.entries(m.parts)
          .map(([k, v]) => `${k} ${v} ms`)
          .join(', ')})`,
      );
  console.log('\nVault cost per job (audit log):');
  for (const c of r.vaultCost.task)
    console.log(
      `  task N = ${c.n}: ${c.requests} requests (+${c.postRequests} post-job), tokens left ${c.tokensLeft}, leases left ${c.leasesLeft}; ${JSON.stringify(c.byPath)}`,
    );
  for (const c of r.vaultCost.manual)
    console.log(`  bao CLI N = ${c.n}: ${c.requests} requests, tokens left ${c.tokensLeft}, leases left ${c.leasesLeft}`);
  console.log(
    `\nPeak RSS (VmHWM) at N = ${r.peakRss.n}: ${(r.peakRss.vmHwm.median / 1048576).toFixed(1)} MB (${(r.peakRss.vmHwm.min / 1048576).toFixed(1)}–${(r.peakRss.vmHwm.max / 1048576).toFixed(1)})`,
  );
  const s = r.sizes;
  console.log(
    // biome-ignore lint/suspicious/noExplicitAny: the results file's entries
    `VSIX ${s.vsix.bytes ? `${(s.vsix.bytes / 1024).toFixed(0)} KB` : s.vsix.source}; ${s.entries.map((e: any) => `${e.file} ${(e.bytes / 1024).toFixed(0)} KB (gzip ${(e.gzipBytes / 1024).toFixed(0)} KB)`).join(', ')}`,
  );
  console.log(`(${r.seconds} s)`);
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
