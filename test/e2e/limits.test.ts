// What one run may ask of Vault, end to end with the bundled task: at most 8 connections over
// HTTP/1.1 however many reads are in flight (one over HTTP/2), and no answer read beyond 32 MiB.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VAULT_HOST } from '../emulators/hosts';
import { ForwardProxy } from '../emulators/proxy';
import { AUTH_MOUNT, ROLE } from '../emulators/seed';
import { startWorld, startOtherVault, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import type { VaultFront } from '../server/vaultFront';
import { checkRun } from '../helpers/checkRun';

/** A Vault behind a load balancer that speaks HTTP/1.1 only. */
const HTTP1_VAULT = `https://${VAULT_HOST}:8216`;
const PROXY_IP = '127.0.0.5';
const PATHS = 100;
const MiB = 1024 * 1024;

describe('e2e: limits on what one run asks of Vault', function () {
  this.timeout(180_000);
  let world: World;
  let http1Vault: VaultFront;
  let proxy: ForwardProxy | undefined;
  let dir: string;

  before(async () => {
    world = await startWorld();
    dir = mkdtempSync(join(tmpdir(), 'val-limits-'));
    const leaf = await world.ca.issue([VAULT_HOST]);
    http1Vault = await startOtherVault(world, Number(new URL(HTTP1_VAULT).port), {
      tls: { cert: leaf.certPem, key: leaf.keyPem },
      http1Only: true,
    });
    for (const vault of [world.vault, http1Vault]) {
      await Promise.all(Array.from({ length: PATHS }, (_, i) => vault.putSecret(`secret/ci/many/p${i}`, { value: `many-value-${i}` })));
      await vault.putSecret('secret/ci/big', { value: 'small in the store' });
    }
  });
  afterEach(async () => {
    world.vault.clearFaults();
    http1Vault.clearFaults();
    await proxy?.stop();
    proxy = undefined;
  });
  after(async () => {
    await http1Vault?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await world?.stop();
  });

  const base = { authMount: AUTH_MOUNT, role: ROLE };
  const manySecrets = Array.from({ length: PATHS }, (_, i) => `secret/ci/many/p${i} value | MANY_${i}`).join('\n');

  /** The client token of the run's reads (each run logs in anew), to find its requests in flight. */
  const tokenOfRun = (vault: VaultFront, since: number) =>
    vault.requests.slice(since).find((r) => r.path.startsWith('secret/data/ci/many/'))?.token ?? '';

  describe(`${PATHS} paths with the default concurrency (64)`, () => {
    const cases: Array<{ title: string; vault: () => VaultFront; address: string; viaProxy?: boolean; http: string; most: number }> = [
      { title: 'a Vault that offers HTTP/1.1 only', vault: () => http1Vault, address: HTTP1_VAULT, http: '1.1', most: 8 },
      {
        title: "Vault through the agent's proxy (HTTP/1.1 in CONNECT tunnels)",
        vault: () => world.vault,
        address: VAULT_ADDRESS,
        viaProxy: true,
        http: '1.1',
        most: 8,
      },
      { title: "Vault's own listener (HTTP/2)", vault: () => world.vault, address: VAULT_ADDRESS, http: '2.0', most: 1 },
    ];
    for (const c of cases) {
      it(`${c.title}: ${c.most === 1 ? 'exactly one connection' : `at most ${c.most} connections`}, every value published`, async () => {
        const vault = c.vault();
        const since = vault.requests.length;
        const connectionsBefore = vault.connections;
        let variables: Record<string, string> | undefined;
        if (c.viaProxy) {
          proxy = new ForwardProxy();
          variables = { 'Agent.ProxyUrl': await proxy.start(0, PROXY_IP) };
        }
        // Answers take a while, as over a network, so that reads pile up behind the connections.
        vault.latencyMs = 20;
        let run: TaskRun;
        try {
          run = await world.runTask({
            connection: world.ids.wif,
            variables,
            inputs: { ...base, vaultAddress: c.address, secrets: manySecrets },
          });
        } finally {
          vault.latencyMs = 0;
        }
        const { vars } = checkRun(world, run, true);
        assert.equal(vars.size, PATHS);
        assert.equal(vars.get('MANY_99'), 'many-value-99');
        assert.deepEqual([...new Set(vault.requests.slice(since).map((r) => r.httpVersion))], [c.http]);
        const connections = vault.connections - connectionsBefore;
        const inFlight = vault.maxInFlightByToken.get(tokenOfRun(vault, since));
        if (c.most === 1) {
          assert.equal(connections, 1, 'one connection for the whole run');
          assert.ok((inFlight ?? 0) > 8, `${inFlight} reads in flight on it`);
        } else {
          assert.ok(connections <= c.most, `${connections} connections to Vault`);
          assert.equal(inFlight, c.most, 'the reads still go side by side, one per connection');
        }
        if (proxy) {
          const tunnels = proxy.tunnelTargets().filter((t) => t === `${VAULT_HOST}:8200`);
          assert.equal(tunnels.length, connections, `${tunnels.length} tunnels to Vault`);
        }
      });
    }
  });

  describe('an answer larger than 32 MiB', () => {
    /** Valid JSON of `bytes` bytes, shaped as a KV version 2 read. */
    const kvAnswer = (bytes: number) => {
      const head = '{"data":{"data":{"value":"';
      const tail = '"},"metadata":{"version":1}}}';
      return head + 'a'.repeat(bytes - head.length - tail.length) + tail;
    };
    const ANSWER_BYTES = 96 * MiB;
    let answer: string;
    before(() => (answer = kvAnswer(ANSWER_BYTES)));

    /**
     * The task's peak resident set size, written at exit by a preloaded file (never on stdout).
     * VmHWM, not resourceUsage().maxRSS: Linux carries a parent's peak into the child it spawns,
     * and this test process holds the big answer.
     */
    let measured = 0;
    async function runMeasured(inputs: Record<string, string>): Promise<{ run: TaskRun; maxRss: number }> {
      const out = join(dir, `rss-${++measured}`);
      const reporter = `${out}.js`;
      const peak = `Number(/VmHWM:\\s*(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024`;
      writeFileSync(
        reporter,
        `const fs = require('fs');\nprocess.on('exit', () => fs.writeFileSync(${JSON.stringify(out)}, String(${peak})));\n`,
      );
      const run = await world.runTask({ connection: world.ids.wif, nodeArgs: ['--require', reporter], inputs });
      return { run, maxRss: Number(readFileSync(out, 'utf8')) };
    }

    const cases: Array<{ title: string; vault: () => VaultFront; address: string; unsized: boolean }> = [
      { title: 'over HTTP/2, with its Content-Length', vault: () => world.vault, address: VAULT_ADDRESS, unsized: false },
      {
        title: 'over HTTP/2, without Content-Length (counted as it arrives)',
        vault: () => world.vault,
        address: VAULT_ADDRESS,
        unsized: true,
      },
      { title: 'over HTTP/1.1, with its Content-Length', vault: () => http1Vault, address: HTTP1_VAULT, unsized: false },
      { title: 'over HTTP/1.1, chunked (counted as it arrives)', vault: () => http1Vault, address: HTTP1_VAULT, unsized: true },
    ];
    it("from Azure DevOps, for the jwt method's OIDC token: says the answer was too large, not that Azure DevOps cannot be reached", async () => {
      world.azdo.failNext(200, 1, { match: /\/oidctoken$/, body: { oidcToken: 'a'.repeat(33 * MiB) } });
      const since = world.azdo.requests.length;
      const run = await world.runTask({
        connection: world.ids.wif,
        inputs: {
          ...base,
          vaultAddress: VAULT_ADDRESS,
          authMethod: 'jwt',
          jwtSource: 'pipeline',
          secrets: 'secret/ci/production/db password | DB_PASSWORD',
        },
      });
      const { errors } = checkRun(world, run, false);
      assert.match(
        errors,
        /^Azure DevOps' answer to the request for the pipeline's OIDC token at https:\/\/dev\.azure\.com\/\S+ is larger than 32 MiB, the most the task reads .*it was stopped there and not retried\./,
      );
      assert.doesNotMatch(errors, /Cannot reach|check the agent's network/i);
      assert.equal(world.azdo.requests.slice(since).filter((r) => r.path.endsWith('/oidctoken')).length, 1, 'asked once');
    });

    for (const c of cases) {
      it(`${c.title}: fails naming the path and the limit, without a retry, publishing nothing, and is not read whole`, async () => {
        const vault = c.vault();
        const inputs = {
          ...base,
          vaultAddress: c.address,
          secrets: 'secret/ci/production/db password | DB_PASSWORD\nsecret/ci/big value | BIG',
        };
        // The same run without the big answer: what the task holds anyway.
        const { run: plain, maxRss: plainRss } = await runMeasured(inputs);
        checkRun(world, plain, true);

        vault.inject({
          path: 'secret/data/ci/big',
          status: 200,
          body: answer,
          headers: { 'Content-Type': 'application/json' },
          unsized: c.unsized,
        });
        const since = vault.requests.length;
        const cutOffBefore = vault.cutOff.length;
        const { run, maxRss } = await runMeasured(inputs);
        // First what is cheap to check: a task that read the answer whole prints it, hundreds of megabytes.
        assert.deepEqual(
          vault.cutOff.slice(cutOffBefore).map((r) => r.path),
          ['secret/data/ci/big'],
          'Vault could not write the whole answer: the task stopped the stream or closed the connection',
        );
        assert.equal(
          vault.requests.slice(since).filter((r) => r.path === 'secret/data/ci/big').length,
          1,
          'asked once: not retried (retries: 2 by default)',
        );
        const { errors, vars } = checkRun(world, run, false);
        assert.match(
          errors,
          new RegExp(
            `secret/ci/big value: The answer of Vault at ${c.address.replace(/\./g, '\\.')} for secret/data/ci/big is larger than 32 MiB, the most the task reads; it was stopped there and not retried\\.`,
          ),
        );
        assert.equal(vars.size, 0, 'nothing published, not even the secret that was read');
        assert.doesNotMatch(run.stdout, /retrying/i);
        // The old reading held the whole answer at least twice (the chunks, then one buffer and its text).
        assert.ok(
          maxRss < plainRss + ANSWER_BYTES,
          `peak RSS ${(maxRss / MiB).toFixed(0)} MiB, ${(plainRss / MiB).toFixed(0)} MiB without the big answer`,
        );
      });
    }
  });
});
