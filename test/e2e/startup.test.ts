// The start-up entry (main.js) opens the step's first connections before it loads the task
// (step.js), and the clients take them over: one connection per server, opened first. Under every
// Node an agent ships, through the agent's proxy (then no early connection at all), with Vault's
// own CA (TCP early, TLS by the client), and with a Vault that does not listen (the same
// explanation as without the early connection).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VAULT_HOST } from '../emulators/hosts';
import { ForwardProxy } from '../emulators/proxy';
import { AUTH_MOUNT, ROLE } from '../emulators/seed';
import { REPO, startWorld, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';

/**
 * Every connection the process opens (host:port), the moments the task's bundles are required, the
 * first turn of the event loop after MSAL's loading begins, and each client-credential token
 * request made through MSAL (its scope), in order.
 */
const RECORDER = `'use strict';
const fs = require('node:fs');
const net = require('node:net');
const Module = require('node:module');
const events = [];
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const o = typeof args[0] === 'object' && args[0] !== null ? (Array.isArray(args[0]) ? args[0][0] : args[0]) : { port: args[0], host: args[1] };
  if (!this.__recorded && !o.path) {
    this.__recorded = true;
    events.push('connect ' + (o.host || 'localhost') + ':' + o.port);
  }
  return connect.apply(this, args);
};
const load = Module.prototype.require;
Module.prototype.require = function (id) {
  // The first require of each bundle (arm-rest's own require of MSAL finds it loaded).
  if (/^\\.\\/(step|msal|armRest|azureDevOpsApi)\\.js$/.test(id) && !events.includes('require ' + id)) {
    events.push('require ' + id);
    // A turn of the event loop that begins after MSAL's loading: before the next require or after it.
    if (id === './msal.js') setImmediate(() => events.push('turn'));
  }
  const loaded = load.apply(this, arguments);
  if (id === './msal.js' && !loaded.__recorded) {
    loaded.__recorded = true;
    const proto = loaded.ConfidentialClientApplication.prototype;
    const acquire = proto.acquireTokenByClientCredential;
    proto.acquireTokenByClientCredential = function (request) {
      events.push('msal ' + request.scopes.join(' '));
      return acquire.apply(this, arguments);
    };
  }
  return loaded;
};
process.on('exit', () => fs.writeFileSync(process.env.VAL_RECORD, JSON.stringify(events)));
`;

/** The newest Node 24 scripts/runtimes.mjs has installed, if any. */
function node24(): string | undefined {
  const list = JSON.parse(execFileSync(process.execPath, [join(REPO, 'scripts', 'runtimes.mjs'), 'list'], { encoding: 'utf8' })) as Array<{
    version: string;
    binary: string;
    installed: boolean;
  }>;
  return list
    .filter((r) => r.installed && r.version.startsWith('24.'))
    .sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }))[0]?.binary;
}

describe('e2e: the start-up entry opens the first connections before the task loads', function () {
  this.timeout(120_000);
  let world: World;
  let dir: string;
  let recorder: string;
  before(async () => {
    world = await startWorld();
    dir = mkdtempSync(join(tmpdir(), 'val-startup-'));
    recorder = join(dir, 'recorder.js');
    writeFileSync(recorder, RECORDER);
  });
  after(async () => {
    await world?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const base = {
    vaultAddress: VAULT_ADDRESS,
    authMount: AUTH_MOUNT,
    role: ROLE,
    secrets: 'secret/ci/production/db password | DB_PASSWORD',
  };
  let n = 0;

  async function recorded(opts: Partial<Parameters<World['runTask']>[0]>): Promise<{ run: TaskRun; events: string[] }> {
    const record = join(dir, `events-${++n}.json`);
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: base,
      ...opts,
      nodeArgs: ['--require', recorder],
      variables: { ...opts.variables, VAL_RECORD: record },
    });
    return { run, events: JSON.parse(readFileSync(record, 'utf8')) as string[] };
  }

  const published = (run: TaskRun) => assert.equal(checkRun(world, run, true).vars.size, 1, run.stdout);
  const connects = (events: string[]) => events.filter((e) => e.startsWith('connect '));
  // In the order the step uses them: Azure DevOps' assertion first, its exchange at Entra ID, then Vault.
  const FIRST = ['connect dev.azure.com:443', 'connect login.microsoftonline.com:443', `connect ${VAULT_HOST}:8200`];

  const nodes: Array<[string, string | undefined]> = [[`Node ${process.versions.node}`, undefined]];
  const newest24 = node24();
  if (newest24) nodes.push(['Node 24', newest24]);
  for (const [name, node] of nodes) {
    it(`${name}: Azure DevOps, Entra ID and Vault each get one connection, opened in that order before step.js loads, which the task uses`, async () => {
      const { run, events } = await recorded({ node });
      published(run);
      const loaded = events.indexOf('require ./step.js');
      assert.ok(loaded > 0, events.join('\n'));
      assert.deepEqual(events.slice(0, loaded), FIRST, events.join('\n'));
      // Taken over: no second connection to any of them.
      assert.deepEqual([...connects(events)].sort(), [...FIRST].sort(), events.join('\n'));
    });
  }

  it('with the agent’s proxy: no connection before step.js loads, and none but to the proxy', async () => {
    const proxy = new ForwardProxy();
    const url = await proxy.start(0, '127.0.0.5');
    try {
      const { run, events } = await recorded({ variables: { 'Agent.ProxyUrl': url } });
      published(run);
      const loaded = events.indexOf('require ./step.js');
      assert.equal(loaded, 0, events.join('\n'));
      const to = new URL(url);
      assert.deepEqual(new Set(connects(events)), new Set([`connect ${to.hostname}:${to.port}`]), events.join('\n'));
      assert.deepEqual(
        new Set(proxy.tunnelTargets()),
        new Set([`${VAULT_HOST}:8200`, 'login.microsoftonline.com:443', 'dev.azure.com:443']),
      );
    } finally {
      await proxy.stop();
    }
  });

  it('Vault with a CA of its own: TCP opened early, TLS done by the task on it with that CA (one connection)', async () => {
    const { run, events } = await recorded({ inputs: { ...base, caCertificate: world.ca.certPem } });
    published(run);
    assert.equal(connects(events).filter((e) => e === `connect ${VAULT_HOST}:8200`).length, 1, events.join('\n'));
    assert.ok(events.indexOf(`connect ${VAULT_HOST}:8200`) < events.indexOf('require ./step.js'), events.join('\n'));
  });

  describe('arm-rest, loaded as the proof begins', () => {
    const onDemand = (events: string[]) => events.filter((e) => /^require \.\/(msal|armRest|azureDevOpsApi)\.js$|^turn$/.test(e));

    it('MSAL first, then arm-rest on a later turn of the event loop; azure-devops-node-api never, with System.OidcRequestUri', async () => {
      const { run, events } = await recorded({});
      published(run);
      assert.deepEqual(onDemand(events), ['require ./msal.js', 'turn', 'require ./armRest.js'], events.join('\n'));
    });

    it('azure-devops-node-api too where arm-rest asks Azure DevOps for the assertion (no System.OidcRequestUri)', async () => {
      const { run, events } = await recorded({ variables: { 'System.OidcRequestUri': '' } });
      published(run);
      assert.deepEqual(
        onDemand(events),
        ['require ./msal.js', 'turn', 'require ./armRest.js', 'require ./azureDevOpsApi.js'],
        events.join('\n'),
      );
    });

    it('a service principal connection: the same two parts, and nothing of azure-devops-node-api', async () => {
      const { run, events } = await recorded({ connection: world.ids.spKey });
      published(run);
      assert.deepEqual(onDemand(events), ['require ./msal.js', 'turn', 'require ./armRest.js'], events.join('\n'));
    });

    describe("MSAL's code, compiled while the assertion is on its way", () => {
      const msal = (events: string[]) => events.filter((e) => e.startsWith('msal '));
      const REAL = 'msal https://management.azure.com//.default';
      afterEach(() => (world.azdo.latencyMs = 0));

      for (const [name, node] of nodes) {
        it(`${name}: a token request of its own (nothing sent, nothing logged) before the real one, which alone reaches Entra ID`, async () => {
          world.azdo.latencyMs = 400;
          const before = world.entra.requests.length;
          const { run, events } = await recorded({ node });
          published(run);
          assert.deepEqual(msal(events), ['msal https://compile.invalid/.default', REAL], events.join('\n'));
          assert.deepEqual(
            world.entra.requests.slice(before).map((r) => `${r.method} ${r.path.replace(/^\/[^/]+/, '/<tenant>')}`),
            ['POST /<tenant>/oauth2/v2.0/token'],
          );
          assert.deepEqual(connects(events), FIRST);
          assert.doesNotMatch(run.stdout + run.stderr, /compile\.invalid/);
        });
      }

      it('not with a service principal, whose token request goes out at once', async () => {
        const { run, events } = await recorded({ connection: world.ids.spKey });
        published(run);
        assert.deepEqual(msal(events), [REAL], events.join('\n'));
      });
    });

    // arm-rest's ADAL path, which USE_MSAL=false still takes, requires what it uses when it uses it:
    // webClient for the request, jsonwebtoken for the certificate's assertion.
    for (const [name, who] of [
      ['key', 'spKey'],
      ['certificate', 'spCert'],
    ] as const) {
      it(`USE_MSAL=false, a service principal with a ${name}: arm-rest's ADAL request at Entra ID's v1 endpoint`, async () => {
        const before = world.entra.requests.length;
        const { run } = await recorded({ connection: world.ids[who], variables: { USE_MSAL: 'false' } });
        published(run);
        assert.deepEqual(
          world.entra.requests.slice(before).map((r) => `${r.method} ${r.host}${r.path.replace(/^\/[^/]+/, '/<tenant>')}`),
          ['POST login.windows.net/<tenant>/oauth2/token/'],
        );
      });
    }
  });

  it('a Vault that does not listen: the early connection fails unseen, the task explains it as always', async () => {
    const { run, events } = await recorded({ inputs: { ...base, vaultAddress: `https://${VAULT_HOST}:8201`, retries: '0' } });
    assert.match(checkRun(world, run, false).errors, /^Cannot reach Vault at https:\/\/vault.example.com:8201 \(ECONNREFUSED\)/);
    assert.ok(events.indexOf(`connect ${VAULT_HOST}:8201`) < events.indexOf('require ./step.js'), events.join('\n'));
  });
});
