// README.md against the tree: every path it names exists, and its first commands are the two a
// contributor runs on a fresh machine.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const REPO = join(__dirname, '..', '..');
const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
const TOP = ['tasks', 'test', 'scripts', 'bench', 'docs', 'images', '.ci'];

/** Paths the README names: in backticks, in links, and in its layout block (src/ is the task's). */
function namedPaths(): string[] {
  const found = new Set<string>();
  const add = (p: string) => found.add(p.replace(/[.,:;)]+$/, '').replace(/\/$/, ''));
  for (const m of readme.matchAll(/`([^`\s]+)`/g)) if (TOP.some((t) => m[1].startsWith(`${t}/`))) add(m[1]);
  for (const m of readme.matchAll(/\]\(((?:[\w.-]+\/)*[\w.-]+\/?)(#[^)]*)?\)/g)) if (!/^[a-z]+:/.test(m[1])) add(m[1]);
  const layout = /^## Layout\n\n```\n([\s\S]*?)^```/m.exec(readme)?.[1] ?? '';
  let parent = '';
  for (const line of layout.split('\n')) {
    const m = /^( {0,2})(\S.*?)(?:\s{2,}|$)/.exec(line);
    if (!m || !/[/.]/.test(m[2])) continue;
    const names = m[2].split(/,\s*/);
    if (m[1].length === 0) parent = names[0].endsWith('/') ? names[0] : '';
    const dir = names[0].slice(0, names[0].lastIndexOf('/') + 1); // "src/main.ts, post.ts": post.ts is in src/ too
    names.forEach((name, i) => {
      add((m[1].length === 0 ? '' : parent) + (i > 0 && !name.includes('/') ? dir : '') + name);
    });
  }
  for (const m of readme.matchAll(/(?:^|[\s`(])((?:src)\/[\w/]+\.ts)/g)) add(`tasks/VaultAzureLoginV1/${m[1]}`);
  return [...found].filter((p) => !p.includes('<') && !p.includes('*'));
}

describe('README.md', () => {
  it('names paths (the scan works)', () => {
    const paths = namedPaths();
    assert.ok(paths.includes('test/server/recipe.test.ts') && paths.includes('tasks/VaultAzureLoginV1/src/run.ts'), paths.join(', '));
    assert.ok(paths.length > 30, `${paths.length} paths`);
  });

  it('every path it names exists', () => {
    assert.deepEqual(
      namedPaths().filter((p) => !existsSync(join(REPO, p))),
      [],
    );
  });

  it('opens with the two commands, the demo and the tests', () => {
    const firstBlock = /^```sh\n([\s\S]*?)^```/m.exec(readme)?.[1] ?? '';
    assert.match(firstBlock, /^npm ci && npm run demo\b/m);
    assert.match(firstBlock, /^npm test\b/m);
    assert.ok(readme.indexOf(firstBlock) < readme.indexOf('Prerequisites'), 'the commands come before the prerequisites');
  });
});
