// A failed run points at the troubleshooting entry of each message its failure is made of: a line
// with the link before the error, the anchor one the page has. A warning links its entry after it,
// once a run. A run that works without a warning prints no link.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUTH_MOUNT, ROLE } from '../emulators/seed';
import { REPO, startWorld, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';

const PAGE = 'https://github.com/vault-azure-login/vault-azure-login/blob/main/docs/troubleshooting.md';
const anchors = new Set(
  [...readFileSync(join(REPO, 'docs', 'troubleshooting.md'), 'utf8').matchAll(/<a id="(msg-[a-z0-9]+)"><\/a>/g)].map((m) => m[1]),
);

/** The anchors the run's log links, in order. */
const linked = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('The cause and the fix, in more detail: '))
    .map((line) => {
      assert.ok(line.includes(`${PAGE}#msg-`), line);
      return line.slice(line.indexOf('#') + 1).trim();
    });

describe('e2e: a failure links its troubleshooting entries', function () {
  this.timeout(60_000);
  let world: World;
  before(async () => {
    world = await startWorld();
  });
  after(async () => world?.stop());

  const base = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE };

  it('a bad input: the entry of the message naming the input, one the page has', async () => {
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, secrets: 'secret/ci/production/db password | DB PASSWORD' },
    });
    checkRun(world, run, false);
    // The input's message, then the problem of the line it names (escaped where the input's message quotes it).
    assert.deepEqual(linked(run.stdout), ['msg-secretsinvalid', 'msg-spectargetnotonename']);
    for (const a of linked(run.stdout)) assert.ok(anchors.has(a), `${a} is an anchor of docs/troubleshooting.md`);
    assert.ok(
      run.stdout.indexOf('#msg-secretsinvalid') < run.stdout.indexOf('##vso[task.complete result=Failed'),
      'the link comes before the result',
    );
  });

  it("a secret Vault does not have: the entry of Vault's answer, one the page has", async () => {
    const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, secrets: 'secret/ci/production/none password' } });
    checkRun(world, run, false);
    const links = linked(run.stdout);
    assert.ok(links.length >= 1, run.stdout);
    for (const a of links) assert.ok(anchors.has(a), `${a} is an anchor of docs/troubleshooting.md`);
    assert.ok(links.includes('msg-readnotfound'), links.join(' '));
  });

  it('a warning links its entry too, once however often it is given', async () => {
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: {
        ...base,
        ignoreNotFound: 'true',
        secrets:
          'secret/ci/production/db password | DB_PASSWORD\nsecret/ci/production/none1 password | A\nsecret/ci/production/none2 password | B',
      },
    });
    checkRun(world, run, true);
    assert.equal(
      run.stdout.split('\n').filter((l) => l.startsWith('##vso[task.issue type=warning') && l.includes('ignoreNotFound')).length,
      2,
    );
    assert.deepEqual(linked(run.stdout), ['msg-skippednotfound']);
    assert.ok(anchors.has('msg-skippednotfound'));
    assert.ok(
      run.stdout.indexOf('#msg-skippednotfound') > run.stdout.indexOf('##vso[task.issue type=warning'),
      'the link follows the warning',
    );
  });

  it('a run that works links nothing', async () => {
    const run = await world.runTask({
      connection: world.ids.wif,
      inputs: { ...base, secrets: 'secret/ci/production/db password | DB_PASSWORD' },
    });
    checkRun(world, run, true);
    assert.deepEqual(linked(run.stdout), []);
  });
});
