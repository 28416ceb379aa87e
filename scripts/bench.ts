// npm run bench: the bundled task, run as the agent runs it (a child process with the agent's
// environment) against the loopback emulators, measured four ways: start-up against bare Node
// (P1), many paths behind added latency against one request at a time and against the
// round-trip limit (P2), package and bundle size (P3), peak memory (P4). Prints one table and
// writes it, with every sample, to bench/results.json.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { publishedSecrets, taskVariablesFrom } from '../test/helpers/output';
import { VAULT_HOST, VAULT_IP } from '../test/emulators/hosts';
import { AUTH_MOUNT, ROLE, seedVault } from '../test/emulators/seed';
import { VaultEmulator } from '../test/emulators/vault';
import { BUILT_TASK, REPO, startWorld, VAULT_ADDRESS, World } from '../test/emulators/world';

/** The Node builds agents ship, as scripts/runtimes.mjs lists them (installed by npm test). */
function agentRuntimes(): Array<{ version: string; binary: string; installed: boolean }> {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'runtimes.mjs'), 'list'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/runtimes.mjs list failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<{ version: string; binary: string; installed: boolean }>;
}

/** Runs per figure. One request at a time takes seconds and varies by about 1%, so it needs fewer. */
const RUNS = { p1: 11, p2: 11, p2Serial: 5, p4: 3 };
const LATENCY_MS = 20;
const PATH_COUNTS = [1, 10, 100, 200];
/** The task's default `concurrency` (task.json), and the most the input allows. */
const DEFAULT_CONCURRENCY = Number(
  (JSON.parse(readFileSync(join(BUILT_TASK, 'task.json'), 'utf8')) as { inputs: Array<{ name: string; defaultValue: string }> }).inputs.find((i) => i.name === 'concurrency')?.defaultValue,
);
const MAX_CONCURRENCY = 128;
/** The default before reads went over one HTTP/2 connection, for comparison. */
const OLD_DEFAULT_CONCURRENCY = 8;
/** Round trips before the reads: OIDC location + OIDC token (Azure DevOps), Entra token, Vault login. */
const SETUP_ROUND_TRIPS = 2 + 1 + 1;
const MOUNT_LOOKUPS = 1;
const TARGETS = { startRatio: 2.5, limitRatio: 1.5, speedUp: 10, packageBytes: 2 * 1024 * 1024, rssBytes: 120 * 1024 * 1024 };

interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

interface Row {
  figure: string;
  case: string;
  value: string;
  range: string;
  against: string;
  ratio: string;
  target: string;
  met: string;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], samples };
}

const ms = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const msRange = (s: Stats) => `${Math.round(s.min)}–${Math.round(s.max)} ms`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
const ratio = (v: number) => `${v.toFixed(2)}×`;
const met = (ok: boolean) => (ok ? 'yes' : 'NO');

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

/** Runs a command with its output piped (as the task is run) and resolves its exit code. */
function runQuiet(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout.resume();
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', resolve);
  });
}

/**
 * One round not counted (it warms the file cache), then `runs` rounds, each running every one of
 * `series` once, in turn. The machine's speed drifts by a few per cent over minutes; series that
 * are compared with each other are therefore sampled in the same rounds, so drift moves them alike.
 */
async function interleaved(runs: number, series: Array<() => Promise<number>>): Promise<Stats[]> {
  for (const once of series) await once();
  const samples = series.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [k, once] of series.entries()) samples[k].push(await once());
  }
  return samples.map(stats);
}

async function sampled(runs: number, once: () => Promise<number>): Promise<Stats> {
  return (await interleaved(runs, [once]))[0];
}

function commandOnce(command: string, args: string[], env?: NodeJS.ProcessEnv): () => Promise<number> {
  return async () => {
    const { ms: took, value: code } = await timed(() => runQuiet(command, args, env));
    if (code !== 0) throw new Error(`\`${command} ${args.join(' ')}\` exited with ${code}`);
    return took;
  };
}

const azInstalled = (): boolean => !spawnSync('az', ['version'], { stdio: 'ignore' }).error;

function benchPaths(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `secret/ci/bench/p${i}`);
}

function seedBenchPaths(world: World, n: number): void {
  for (const path of benchPaths(n)) world.vault.putSecret(path, { value: `bench-${randomUUID()}` });
}

interface Case {
  paths: number;
  /** The Node binary that runs the task (an agent's); default the bench's own. */
  node?: string;
  /** The `concurrency` input; the task's default when absent. */
  concurrency?: number;
  /** The `caCertificate` input (a private CA, as most Vault servers have). */
  caCertificate?: string;
  /** Another Vault than the world's (address and emulator). */
  vault?: { address: string; emulator: VaultEmulator };
}

/** A Vault whose TLS listener offers HTTP/1.1 only, as some load balancers in front of Vault do. */
const HTTP1_VAULT_PORT = 8213;
async function startHttp1Vault(world: World, paths: number): Promise<{ address: string; emulator: VaultEmulator }> {
  const leaf = await world.ca.issue([VAULT_HOST]);
  const emulator = new VaultEmulator({ tls: { cert: leaf.certPem, key: leaf.keyPem }, http1Only: true });
  seedVault(emulator, { jwks: () => world.entra.jwks() as never, boundOids: [world.ids.wif.objectId] });
  for (const path of benchPaths(paths)) emulator.putSecret(path, { value: `bench-${randomUUID()}` });
  await emulator.start(HTTP1_VAULT_PORT, VAULT_IP);
  return { address: `https://${VAULT_HOST}:${HTTP1_VAULT_PORT}`, emulator };
}

/**
 * Bare Node started exactly as the task is: an empty script run by the same runner, with the same
 * agent environment. That environment matters: with NODE_EXTRA_CA_CERTS set (the emulated agent
 * trusts the test CA through it, as an agent set up with a private CA does), Node loads its root
 * certificates at start-up, about 25 ms here; a shell that sets it to the system bundle pays
 * about 50 ms. `node -e 0` run from the bench's own shell would carry whatever that shell has.
 */
const NODE_START_ENTRY = 'node-start.js';
function nodeStartOnce(world: World, node?: string): () => Promise<number> {
  writeFileSync(join(world.taskDir, NODE_START_ENTRY), '');
  return async () => {
    const { ms: took, value: run } = await timed(() => world.runTask({ connection: world.ids.wif, inputs: {}, entry: NODE_START_ENTRY, node }));
    if (run.code !== 0) throw new Error(`node ${NODE_START_ENTRY} exited with ${run.code}`);
    return took;
  };
}

/**
 * The requests a run of the task for `c` makes, made with Node alone (bench/floor.js), started as
 * the task is: what a Node process doing this job costs before any library, check or log line.
 */
const FLOOR_ENTRY = 'floor.js';
function floorOnce(world: World, c: Case): () => Promise<number> {
  copyFileSync(join(REPO, 'bench', FLOOR_ENTRY), join(world.taskDir, FLOOR_ENTRY));
  return async () => {
    const { ms: took, value: run } = await timed(() => world.runTask({ connection: world.ids.wif, inputs: inputsFor(c), entry: FLOOR_ENTRY }));
    if (run.code !== 0 || publishedSecrets(run.stdout).size !== c.paths) throw new Error(`bench/${FLOOR_ENTRY} failed (exit ${run.code}):\n${run.stdout.slice(-1500)}`);
    return took;
  };
}

function inputsFor(c: Case): Record<string, string> {
  return {
    vaultAddress: c.vault?.address ?? VAULT_ADDRESS,
    authMount: AUTH_MOUNT,
    role: ROLE,
    secrets: benchPaths(c.paths)
      .map((p, i) => `${p} value | BENCH_P${i}`)
      .join('\n'),
    ...(c.concurrency ? { concurrency: String(c.concurrency) } : {}),
    ...(c.caCertificate ? { caCertificate: c.caCertificate } : {}),
  };
}

interface TaskSample {
  ms: number;
  requests: { azdo: number; entra: number; vault: number };
}

/** One run of the bundled task (WIF connection); fails the bench if the task did not publish every path. */
async function runTaskOnce(world: World, c: Case, nodeArgs?: string[]): Promise<TaskSample> {
  const vault = c.vault?.emulator ?? world.vault;
  const before = { azdo: world.azdo.requests.length, entra: world.entra.requests.length, vault: vault.requests.length };
  const { ms: took, value: run } = await timed(() => world.runTask({ connection: world.ids.wif, inputs: inputsFor(c), nodeArgs, node: c.node }));
  const published = publishedSecrets(run.stdout).size;
  if (run.code !== 0 || published !== c.paths) {
    const tail = (run.stdout + run.stderr).split('\n').slice(-15).join('\n');
    throw new Error(`the task failed or published ${published} of ${c.paths} variables (exit ${run.code}):\n${tail}`);
  }
  return {
    ms: took,
    requests: {
      azdo: world.azdo.requests.length - before.azdo,
      entra: world.entra.requests.length - before.entra,
      vault: vault.requests.length - before.vault,
    },
  };
}

/** A timed run of the task for `c`; the requests of the first run are kept in `requests`. */
function taskOnce(world: World, c: Case, requests: { of?: TaskSample['requests'] } = {}): () => Promise<number> {
  return async () => {
    const sample = await runTaskOnce(world, c);
    requests.of ??= sample.requests;
    return sample.ms;
  };
}

async function timeTask(world: World, runs: number, c: Case): Promise<{ stats: Stats; requests: TaskSample['requests'] }> {
  const requests: { of?: TaskSample['requests'] } = {};
  const taken = await sampled(runs, taskOnce(world, c, requests));
  return { stats: taken, requests: requests.of! };
}

/**
 * A timed post-job step (it revokes the Vault token) after an untimed main step with one secret:
 * the other start every job with this task pays.
 */
function postOnce(world: World): () => Promise<number> {
  const c: Case = { paths: 1 };
  return async () => {
    const main = await world.runTask({ connection: world.ids.wif, inputs: inputsFor(c) });
    if (main.code !== 0) throw new Error(`the main step failed (exit ${main.code})`);
    const before = world.vault.requests.length;
    const { ms: took, value: post } = await timed(() =>
      world.runTask({ connection: world.ids.wif, inputs: inputsFor(c), entry: 'post.js', tempDir: main.tempDir, variables: taskVariablesFrom(main.stdout) }),
    );
    const revoked = world.vault.requests.slice(before).some((r) => r.path === 'auth/token/revoke-self') && !post.stdout.includes('##vso[task.logissue type=warning');
    if (post.code !== 0 || !revoked) throw new Error(`the post-job step failed or did not revoke the token (exit ${post.code}):\n${post.stdout.slice(-1500)}`);
    return took;
  };
}

/** Peak resident set size of the task process, reported at exit by a preloaded file (never on stdout). */
async function peakRss(world: World, runs: number, n: number): Promise<Stats> {
  const dir = mkdtempSync(join(tmpdir(), 'val-bench-rss-'));
  try {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const out = join(dir, `rss-${i}`);
      const reporter = join(dir, `reporter-${i}.js`);
      writeFileSync(reporter, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, String(process.resourceUsage().maxRSS * 1024)));\n`);
      await runTaskOnce(world, { paths: n }, ['--require', reporter]);
      samples.push(Number(readFileSync(out, 'utf8')));
    }
    return stats(samples);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

function printTable(rows: Row[]): void {
  const head: Row = { figure: 'Figure', case: 'Case', value: 'Median', range: 'Min–max', against: 'Compared with (median)', ratio: 'Ratio', target: 'Target', met: 'Met' };
  const keys = Object.keys(head) as Array<keyof Row>;
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...[head, ...rows].map((r) => r[k].length))])) as Record<keyof Row, number>;
  const line = (r: Row) => `| ${keys.map((k) => r[k].padEnd(width[k])).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${keys.map((k) => '-'.repeat(width[k] + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const started = Date.now();
  const rows: Row[] = [];
  const results: Record<string, unknown> = { node: process.version, latencyMs: LATENCY_MS, runs: RUNS };
  const world = await startWorld();
  let http1Vault: { address: string; emulator: VaultEmulator } | undefined;
  try {
    seedBenchPaths(world, Math.max(...PATH_COUNTS));

    // P1: start-up, one secret, no added latency.
    // The task, its post-job step, Node alone making the same requests and both bare Nodes, in
    // the same rounds.
    const [p1, postStats, floor, node, bareNode] = await interleaved(RUNS.p1, [
      taskOnce(world, { paths: 1 }),
      postOnce(world),
      floorOnce(world, { paths: 1 }),
      nodeStartOnce(world),
      commandOnce(process.execPath, ['-e', '0'], { PATH: process.env.PATH }),
    ]);
    const startRatio = p1.median / node.median;
    /** A P1 row: `what`'s runs against `base`'s (none: not measured here), by their medians. */
    const p1Row = (label: string, what: Stats, baseLabel: string, base: Stats | undefined, target = '–', isMet = '–'): Row => ({
      figure: 'P1',
      case: label,
      value: ms(what.median),
      range: msRange(what),
      against: base ? `${baseLabel}: ${ms(base.median)} (${msRange(base)})` : `${baseLabel}: not installed`,
      ratio: base ? ratio(what.median / base.median) : '–',
      target,
      met: isMet,
    });
    const emptyScript = 'node, empty script, agent env';
    const floorLabel = 'the same requests by Node alone (bench/floor.js)';
    let az: Stats | undefined;
    if (azInstalled()) az = await sampled(3, commandOnce('az', ['version']));
    rows.push(
      p1Row('cold run, 1 secret, no added latency', p1, emptyScript, node, `≤ ${TARGETS.startRatio}×`, met(startRatio <= TARGETS.startRatio)),
      p1Row('the same runs', p1, 'node -e 0, no NODE_EXTRA_CA_CERTS', bareNode),
      p1Row('the same runs', p1, floorLabel, floor),
      p1Row('Node alone making those requests (bench/floor.js)', floor, emptyScript, node),
      p1Row('the same runs', p1, 'az version', az),
      p1Row('post-job step: revoking the token of such a run', postStats, emptyScript, node),
    );
    results.p1 = { task: p1, postJob: postStats, nodeAloneSameRequests: floor, node: node, bareNode, az: az ?? 'not installed', ratio: startRatio };

    // P1 under each Node an agent ships (scripts/runtimes.mjs), each against an empty script run by
    // that Node, in rounds of their own.
    const runtimes: unknown[] = [];
    for (const { version, binary } of agentRuntimes().filter((r) => r.installed)) {
      const [task, empty] = await interleaved(RUNS.p1, [taskOnce(world, { paths: 1, node: binary }), nodeStartOnce(world, binary)]);
      rows.push(p1Row(`the same under Node ${version}`, task, `Node ${version}, empty script, agent env`, empty));
      runtimes.push({ version, task, node: empty, ratio: task.median / empty.median });
    }
    results.p1Runtimes = runtimes;

    // P2: N paths, every request to Azure DevOps, Entra and Vault delayed by LATENCY_MS.
    world.setLatency(LATENCY_MS);
    http1Vault = await startHttp1Vault(world, Math.max(...PATH_COUNTS));
    http1Vault.emulator.latencyMs = LATENCY_MS;
    const p2: unknown[] = [];
    const largest = Math.max(...PATH_COUNTS);
    const cases: Array<Case & { label: string }> = [
      ...PATH_COUNTS.map((paths) => ({ paths, label: `N=${paths}, concurrency ${DEFAULT_CONCURRENCY} (default)` })),
      { paths: largest, concurrency: OLD_DEFAULT_CONCURRENCY, label: `N=${largest}, concurrency ${OLD_DEFAULT_CONCURRENCY}` },
      { paths: largest, concurrency: MAX_CONCURRENCY, label: `N=${largest}, concurrency ${MAX_CONCURRENCY} (the most allowed)` },
      { paths: largest, vault: http1Vault, label: `N=${largest}, concurrency ${DEFAULT_CONCURRENCY}, a Vault that offers HTTP/1.1 only` },
      { paths: largest, caCertificate: world.ca.certPem, label: `N=${largest}, concurrency ${DEFAULT_CONCURRENCY}, caCertificate input` },
    ];
    // One request at a time, per N (the caCertificate case is compared with the limit only).
    const oneAtATime = new Map<number, Stats>();
    for (const c of cases) {
      // At the default concurrency, Node alone making the same requests runs in the same rounds.
      const withFloor = !c.concurrency && !c.caCertificate && !c.vault;
      let task: { stats: Stats; requests: TaskSample['requests'] };
      let floor: Stats | undefined;
      if (withFloor) {
        const requests: { of?: TaskSample['requests'] } = {};
        const [taskStats, floorStats] = await interleaved(RUNS.p2, [taskOnce(world, c, requests), floorOnce(world, c)]);
        task = { stats: taskStats, requests: requests.of! };
        floor = floorStats;
      } else {
        task = await timeTask(world, RUNS.p2, c);
      }
      if (!oneAtATime.has(c.paths)) oneAtATime.set(c.paths, (await timeTask(world, RUNS.p2Serial, { paths: c.paths, concurrency: 1 })).stats);
      const serial = oneAtATime.get(c.paths)!;
      const concurrency = c.concurrency ?? DEFAULT_CONCURRENCY;
      const roundTrips = SETUP_ROUND_TRIPS + MOUNT_LOOKUPS + Math.ceil(c.paths / concurrency);
      const limit = node.median + roundTrips * LATENCY_MS;
      const speedUp = serial.median / task.stats.median;
      const overLimit = task.stats.median / limit;
      // The targets are set for the largest N at the default concurrency.
      const variant = Boolean(c.caCertificate || c.vault);
      const judged = c.paths === largest && !c.concurrency && !variant;
      const sent = task.requests.azdo + task.requests.entra + task.requests.vault;
      if (!variant) {
        rows.push({
          figure: 'P2',
          case: c.label,
          value: ms(task.stats.median),
          range: msRange(task.stats),
          against: `one at a time: ${ms(serial.median)} (${msRange(serial)})`,
          ratio: `${speedUp.toFixed(1)}× faster`,
          target: judged ? `≥ ${TARGETS.speedUp}× faster` : '–',
          met: judged ? met(speedUp >= TARGETS.speedUp) : '–',
        });
      }
      rows.push({
        figure: 'P2',
        case: `${c.label}: ${sent} requests`,
        value: ms(task.stats.median),
        range: msRange(task.stats),
        against: `limit: ${ms(limit)} (node + ${roundTrips} × ${LATENCY_MS} ms)`,
        ratio: ratio(overLimit),
        target: judged ? `≤ ${TARGETS.limitRatio}×` : '–',
        met: judged ? met(overLimit <= TARGETS.limitRatio) : '–',
      });
      if (floor) {
        rows.push({
          figure: 'P2',
          case: `${c.label}: the same requests by Node alone (bench/floor.js)`,
          value: ms(floor.median),
          range: msRange(floor),
          against: `limit: ${ms(limit)}; the task is ${ratio(task.stats.median / floor.median)} this`,
          ratio: ratio(floor.median / limit),
          target: '–',
          met: '–',
        });
      }
      p2.push({ case: c.label, paths: c.paths, concurrency, task: task.stats, nodeAloneSameRequests: floor, oneAtATime: variant ? undefined : serial, requests: task.requests, roundTrips, limitMs: limit, speedUp, overLimit });
    }
    results.p2 = p2;

    // P3: package and bundle size.
    const size = await sizes();
    const vsixBytes = size.vsix.bytes;
    rows.push({
      figure: 'P3',
      case: 'VSIX',
      value: vsixBytes === undefined ? 'not built' : mb(vsixBytes),
      range: '–',
      against: size.vsix.source,
      ratio: '–',
      target: `≤ ${mb(TARGETS.packageBytes)}`,
      met: vsixBytes === undefined ? '–' : met(vsixBytes <= TARGETS.packageBytes),
    });
    for (const e of size.entries) {
      const size = (bytes: number) => (bytes < 100 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : mb(bytes));
      rows.push({ figure: 'P3', case: `bundle ${e.file}`, value: size(e.bytes), range: '–', against: `gzip: ${size(e.gzipBytes)}`, ratio: '–', target: '–', met: '–' });
    }
    rows.push({
      figure: 'P3',
      case: 'task folder, unpacked (bundles, task.json, resources)',
      value: mb(size.taskFolderBytes),
      range: '–',
      against: '–',
      ratio: '–',
      target: '–',
      met: '–',
    });
    results.p3 = size;

    // P4: peak memory at the largest N.
    const n = Math.max(...PATH_COUNTS);
    const rss = await peakRss(world, RUNS.p4, n);
    rows.push({
      figure: 'P4',
      case: `peak RSS, N=${n}, concurrency ${DEFAULT_CONCURRENCY}`,
      value: mb(rss.median),
      range: `${mb(rss.min)}–${mb(rss.max)}`,
      against: '–',
      ratio: '–',
      target: `≤ ${mb(TARGETS.rssBytes)}`,
      met: met(rss.median <= TARGETS.rssBytes),
    });
    results.p4 = { paths: n, maxRssBytes: rss };
  } finally {
    await http1Vault?.emulator.stop();
    await world.stop();
  }

  console.log(`\nVaultAzureLogin bench: Node ${process.version}, ${LATENCY_MS} ms per request in P2, runs per figure: P1 ${RUNS.p1}, P2 ${RUNS.p2} (one at a time: ${RUNS.p2Serial}), P4 ${RUNS.p4}\n`);
  printTable(rows);
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  const outDir = join(REPO, 'bench');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.json'), JSON.stringify({ at: new Date().toISOString(), ...results, table: rows }, null, 2) + '\n');
  console.log(`written to bench/results.json`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
