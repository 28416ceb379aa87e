// The documentation against the code: every failure or warning the task can print has a
// troubleshooting entry (docs/troubleshooting.md), every input is documented (docs/inputs.md),
// every YAML example parses and uses only inputs the task has, every link and anchor resolves,
// the Marketplace page (overview.md) stays a five-minute page, and every picture it shows is in
// the package and rendered from its current source.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { marked } from 'marked';
import { parseAllDocuments } from 'yaml';
import { NO_ENTRY, TROUBLESHOOTING_URL } from '../../tasks/VaultAzureLoginV1/src/core/troubleshooting';

const REPO = join(__dirname, '..', '..');
const TASK_DIR = join(REPO, 'tasks', 'VaultAzureLoginV1');
const read = (...parts: string[]) => readFileSync(join(REPO, ...parts), 'utf8');

interface TaskInput {
  name: string;
  type: string;
  aliases?: string[];
  required?: boolean;
  defaultValue?: string | boolean;
  visibleRule?: string;
  options?: Record<string, string>;
}
const task = JSON.parse(readFileSync(join(TASK_DIR, 'task.json'), 'utf8')) as { inputs: TaskInput[]; messages: Record<string, string> };
const messageKeys = new Set(Object.keys(task.messages));
const overview = read('overview.md');
const readme = read('README.md');
/** The documentation pages, by path from the repository root: overview.md and docs/*.md. */
const pages = new Map<string, string>([
  ['overview.md', overview],
  ...readdirSync(join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f): [string, string] => [`docs/${f}`, read('docs', f)]),
]);
const troubleshooting = read('docs', 'troubleshooting.md');
/** Where the repository's files are published; overview.md links there, since the Marketplace shows no other file of the repository. */
const REPO_URL = 'https://github.com/vault-azure-login/vault-azure-login/blob/main/';

/** Source files whose messages end a run, warn, or tell the post-job outcome. */
const SOURCES = [
  'core/errors.ts',
  'pipeline/inputs.ts',
  'vault/reader.ts',
  'run.ts',
  'cleanup.ts',
  'post.ts',
  'step.ts',
  'core/secretSpec.ts',
  'pipeline/azureToken.ts',
  'pipeline/inputFields.ts',
  'core/inputFile.ts',
  'auth/index.ts',
  'auth/azure.ts',
  'auth/jwtRefusals.ts',
  'auth/jwt.ts',
  'auth/approle.ts',
  'auth/cert.ts',
  'auth/kubernetes.ts',
  'auth/aws.ts',
  'auth/gcp.ts',
  'auth/azureRefusals.ts',
  'core/credentialSpec.ts',
  'vault/credentials.ts',
];

/**
 * Message keys a source file can print: every string literal in it that names a message. This
 * finds `tl.loc('X', …)` and `loc('X', …)`, keys chosen by a conditional, and tables such as the
 * AADSTS codes of errors.ts.
 */
function messagesOf(file: string): string[] {
  const text = readFileSync(join(TASK_DIR, 'src', file), 'utf8');
  const literals = [...text.matchAll(/'([A-Za-z0-9]+)'|"([A-Za-z0-9]+)"/g)].map((m) => m[1] ?? m[2]);
  return [...new Set(literals.filter((l) => messageKeys.has(l)))];
}

const emitted = new Map<string, string>(); // key → first file that prints it
for (const file of SOURCES) for (const key of messagesOf(file)) if (!emitted.has(key)) emitted.set(key, file);

/**
 * The troubleshooting entries: `<a id="msg-<key in lower case>"></a>` before the text of each, an
 * anchor a message or a page can link to (`troubleshooting.md#msg-loginaudience`).
 */
const keyOfLower = new Map([...messageKeys].map((k) => [k.toLowerCase(), k]));
const markers = [...troubleshooting.matchAll(/<a id="msg-([a-z0-9]+)"><\/a>/g)].map((m) => keyOfLower.get(m[1]) ?? m[1]);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

/** The PNG tEXt chunks of a file, keyword → text. */
function pngText(file: string): Map<string, string> {
  const png = readFileSync(file);
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${file} is a PNG`);
  const out = new Map<string, string>();
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type === 'tEXt') {
      const data = png.subarray(at + 8, at + 8 + length);
      const nul = data.indexOf(0);
      out.set(data.toString('latin1', 0, nul), data.toString('latin1', nul + 1));
    }
    at += 12 + length;
  }
  return out;
}

/** A `- task: VaultAzureLogin@1` step of a YAML example: its step keys and its inputs. */
interface TaskStep {
  where: string;
  stepKeys: string[];
  inputs: Map<string, string>;
}

const indentOf = (line: string) => line.length - line.trimStart().length;
const isBlankOrComment = (line: string) => /^\s*(#.*)?$/.test(line);

/** Every VaultAzureLogin@1 step of the ```yaml blocks of a markdown text, read by indentation. */
function taskSteps(markdown: string, doc: string): TaskStep[] {
  const steps: TaskStep[] = [];
  const blocks = [...markdown.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)];
  blocks.forEach((block, b) => {
    const lines = block[1].split('\n');
    lines.forEach((line, i) => {
      const task = /^(\s*)- task: VaultAzureLogin@1\s*(#.*)?$/.exec(line);
      if (!task) return;
      const keyIndent = task[1].length + 2;
      const step: TaskStep = { where: `${doc} yaml block ${b + 1}, line ${i + 1}`, stepKeys: ['task'], inputs: new Map() };
      for (let j = i + 1; j < lines.length; j++) {
        if (isBlankOrComment(lines[j])) continue;
        const indent = indentOf(lines[j]);
        if (indent < keyIndent) break;
        if (indent > keyIndent) continue;
        const key = /^\s*([A-Za-z][\w]*):/.exec(lines[j]);
        assert.ok(key, `${step.where}: '${lines[j].trim()}' is not a key of the step`);
        step.stepKeys.push(key[1]);
        if (key[1] !== 'inputs') continue;
        let inputIndent: number | undefined;
        for (let k = j + 1; k < lines.length; k++) {
          if (isBlankOrComment(lines[k])) continue;
          const kIndent = indentOf(lines[k]);
          if (kIndent <= keyIndent) break;
          inputIndent ??= kIndent;
          if (kIndent > inputIndent) continue; // the text of a block scalar (secrets: |)
          const input = /^\s*([A-Za-z][\w]*):\s*(.*)$/.exec(lines[k]);
          assert.ok(input, `${step.where}: '${lines[k].trim()}' is not an input`);
          step.inputs.set(input[1], input[2].replace(/\s+#.*$/, '').trim());
        }
      }
      steps.push(step);
    });
  });
  return steps;
}

describe('docs: overview.md, docs/ and README.md match the task', () => {
  it('the source files name messages that exist (the scan works)', () => {
    for (const file of SOURCES) assert.ok(messagesOf(file).length > 0, `${file} prints no message of task.json`);
    assert.ok(emitted.has('LoginAudience') && emitted.has('Aadsts70021') && emitted.has('PemNotKey'));
  });

  it('every failure and warning the task can print has a troubleshooting entry <a id="msg-<key>"></a>', () => {
    const documented = new Set(markers);
    const missing = [...emitted].filter(([key]) => !NO_ENTRY.has(key) && !documented.has(key)).map(([key, file]) => `${key} (${file})`);
    assert.deepEqual(missing, [], 'add an entry starting <a id="msg-<key in lower case>"></a> to docs/troubleshooting.md');
  });

  it('a failure links the troubleshooting page where the docs publish it', () => {
    assert.equal(TROUBLESHOOTING_URL, `${REPO_URL}docs/troubleshooting.md`);
  });

  it('every troubleshooting entry names a message of task.json, once', () => {
    assert.deepEqual(
      markers.filter((m) => !messageKeys.has(m)),
      [],
      'entries for messages task.json does not have',
    );
    assert.deepEqual(
      markers.filter((m, i) => markers.indexOf(m) !== i),
      [],
      'messages with two entries',
    );
  });

  it('the list of messages needing no entry is current', () => {
    assert.deepEqual(
      [...NO_ENTRY].filter((k) => !messageKeys.has(k)),
      [],
      'keys no longer in task.json',
    );
    assert.deepEqual(
      [...NO_ENTRY].filter((k) => markers.includes(k)),
      [],
      'keys both excluded and documented',
    );
  });

  it('every image a page shows exists, and overview.md shows only images in the package', () => {
    const manifest = JSON.parse(read('vss-extension.json')) as { files?: Array<{ path: string; addressable?: boolean }> };
    const addressable = (manifest.files ?? []).filter((f) => f.addressable).map((f) => normalize(f.path));
    const imagesOf = (text: string) =>
      [...text.matchAll(/!\[[^\]]*\]\(\s*([^)\s]+)[^)]*\)|<img[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1] ?? m[2]);
    assert.ok(imagesOf(overview).includes('images/flow.png'), 'overview.md shows the flow picture');
    for (const image of imagesOf(overview)) {
      assert.doesNotMatch(image, /^[a-z]+:/i, `${image}: the Marketplace shows only images that are in the package`);
      assert.ok(
        addressable.some((dir) => normalize(image).startsWith(dir + '/')),
        `${image} is under a folder vss-extension.json packages as addressable (${addressable.join(', ')})`,
      );
    }
    for (const [page, text] of pages)
      for (const image of imagesOf(text)) assert.ok(existsSync(join(REPO, dirname(page), image)), `${page}: ${image} exists`);
  });

  it('images/flow.png is rendered from the current scripts/diagram.dot (node scripts/diagram.mjs)', () => {
    const source = createHash('sha256')
      .update(readFileSync(join(REPO, 'scripts', 'diagram.dot')))
      .digest('hex');
    const stamp = pngText(join(REPO, 'images', 'flow.png')).get('source-sha256');
    assert.equal(stamp, source, 'scripts/diagram.dot changed since images/flow.png was rendered: run node scripts/diagram.mjs');
  });

  describe('links', () => {
    /** The heading anchors of a markdown page, as GitHub makes them. */
    const anchorsOf = (text: string) =>
      new Set([...text.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1])));
    /** Every markdown link of a page outside code: its target. */
    const linksOf = (text: string) =>
      [
        ...text
          .replace(/^```[\s\S]*?^```/gm, '')
          .replace(/`[^`\n]*`/g, '')
          .matchAll(/(?<!!)\[[^\]]*\]\(\s*([^)\s]+)\s*\)/g),
      ].map((m) => m[1]);

    it('the pages have links to check', () => {
      assert.ok(linksOf(overview).filter((l) => l.startsWith(REPO_URL + 'docs/')).length >= 10, 'overview.md links the docs pages');
    });

    it('every link to a file of this repository and its #anchor resolves', () => {
      const broken: string[] = [];
      for (const [page, text] of pages) {
        for (const link of linksOf(text)) {
          let target: string;
          if (link.startsWith(REPO_URL)) target = link.slice(REPO_URL.length);
          else if (/^[a-z]+:/i.test(link))
            continue; // another site
          else if (link.startsWith('#')) target = page + link;
          else target = normalize(join(dirname(page), link));
          const [file, anchor] = target.split('#');
          if (!existsSync(join(REPO, file))) broken.push(`${page}: ${link} (no file ${file})`);
          else if (anchor !== undefined && !anchorsOf(read(file)).has(anchor))
            broken.push(`${page}: ${link} (no heading #${anchor} in ${file})`);
        }
      }
      assert.deepEqual(broken, []);
    });

    it('overview.md links the other files of the repository by their published address', () => {
      // The Marketplace shows overview.md alone: a relative link to docs/ would lead nowhere there.
      const relative = linksOf(overview).filter((l) => !/^[a-z]+:/i.test(l) && !l.startsWith('#'));
      assert.deepEqual(relative, []);
    });

    it('every docs page is linked from overview.md', () => {
      const linked = new Set(
        linksOf(overview)
          .filter((l) => l.startsWith(REPO_URL))
          .map((l) => l.slice(REPO_URL.length).split('#')[0]),
      );
      assert.deepEqual(
        [...pages.keys()].filter((p) => p !== 'overview.md' && !linked.has(p)),
        [],
      );
    });
  });

  describe('the pages as a reader sees them', () => {
    it('overview.md is a five-minute page: at most 22 KB', () => {
      const size = Buffer.byteLength(overview);
      assert.ok(size <= 22 * 1024, `overview.md is ${size} bytes: move reference material to docs/`);
    });

    it('overview.md shows the task in YAML before any Vault command', () => {
      const blocks = [...overview.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => ({ lang: m[1], text: m[2] }));
      const firstYaml = blocks.findIndex((b) => b.lang === 'yaml' && b.text.includes('VaultAzureLogin@1'));
      const firstVault = blocks.findIndex((b) => /^\s*vault /m.test(b.text));
      assert.ok(firstYaml >= 0 && firstVault >= 0, 'overview.md has both');
      assert.ok(firstYaml < firstVault, 'the first YAML example comes before the first vault command');
    });

    it('rendered as GitHub-flavoured markdown, no comment, marker or raw HTML shows as text', () => {
      for (const [page, text] of pages) {
        const html = marked.parse(text, { gfm: true, async: false });
        // What the renderer escaped is text a reader sees: it must hold no tag or comment.
        const shown = html.replace(/<code[^>]*>[\s\S]*?<\/code>/g, '').replace(/<!--[\s\S]*?-->/g, ''); // code, and the comments a browser hides
        assert.doesNotMatch(shown, /&lt;!--|msg:[A-Z]|test:[a-z]/, `${page}: a comment or marker shows as text`);
        assert.doesNotMatch(shown, /&lt;\/?[a-z]+[ >]/i, `${page}: raw HTML shows as text`);
        const tables = (html.match(/<table>/g) ?? []).length;
        const pipes = text.replace(/^```[\s\S]*?^```/gm, '').match(/^\| --- /gm)?.length ?? 0;
        assert.equal(tables, pipes, `${page}: every table renders as a table`);
      }
    });

    it('overview.md holds no raw HTML, and docs/ pages only the test: comments and the msg- anchors', () => {
      // The Marketplace may show raw HTML, comments included, as text; GitHub hides comments.
      for (const [page, text] of pages) {
        const html: string[] = [];
        marked.walkTokens(marked.lexer(text, { gfm: true }), (token) => {
          if (token.type === 'html') html.push(token.raw.trim());
        });
        const allowed = (raw: string) => page !== 'overview.md' && /^(<!--\s*test:[a-z-]+\s*-->|<a id="msg-[a-z0-9]+">|<\/a>)$/.test(raw);
        assert.deepEqual(
          html.filter((raw) => !allowed(raw)),
          [],
          `${page}: raw HTML`,
        );
      }
    });

    it('every YAML example parses', () => {
      for (const [page, text] of [...pages, ['README.md', readme] as [string, string]]) {
        for (const m of text.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)) {
          for (const doc of parseAllDocuments(m[1]))
            assert.deepEqual(
              doc.errors.map((e) => e.message),
              [],
              `${page}: a YAML block does not parse:\n${m[1]}`,
            );
        }
      }
    });
  });

  it('every input of task.json has a row in docs/inputs.md, and every row is an input', () => {
    const rows = [...read('docs', 'inputs.md').matchAll(/^\| `([A-Za-z]\w*)`/gm)].map((m) => m[1]);
    assert.deepEqual(
      task.inputs.map((i) => i.name).filter((name) => !rows.includes(name)),
      [],
      'inputs without a row',
    );
    assert.deepEqual(
      rows.filter((r) => !task.inputs.some((i) => i.name === r)),
      [],
      'rows for inputs task.json does not have',
    );
  });

  describe('the YAML examples use the task as task.json defines it', () => {
    const inputs = new Map<string, TaskInput>();
    for (const input of task.inputs) for (const name of [input.name, ...(input.aliases ?? [])]) inputs.set(name, input);
    const stepKeys = new Set([
      'task',
      'name',
      'displayName',
      'inputs',
      'condition',
      'continueOnError',
      'enabled',
      'env',
      'timeoutInMinutes',
      'retryCountOnTaskFailure',
      'target',
    ]);
    const steps = [...[...pages].flatMap(([page, text]) => taskSteps(text, page)), ...taskSteps(readme, 'README.md')];

    it('the documents have examples to check', () => {
      assert.ok(taskSteps(overview, 'overview.md').length >= 2, 'overview.md shows the task in YAML');
      assert.ok(steps.length >= 20, 'the docs pages have a YAML example for each use');
    });

    it('only input names that exist, each set once', () => {
      for (const step of steps) {
        const unknown = [...step.inputs.keys()].filter((k) => !inputs.has(k));
        assert.deepEqual(unknown, [], `${step.where}: inputs task.json does not have`);
        assert.equal(step.stepKeys.filter((k) => k === 'inputs').length, 1, `${step.where}: one inputs: mapping`);
      }
    });

    it('only keys a step can have', () => {
      for (const step of steps)
        assert.deepEqual(
          step.stepKeys.filter((k) => !stepKeys.has(k)),
          [],
          step.where,
        );
    });

    /** An input's value in a step: what the step sets, else its default (as the agent passes it). */
    const valueIn = (step: TaskStep, name: string) => step.inputs.get(name) ?? String(inputs.get(name)?.defaultValue ?? '');

    /** Whether a visibleRule (`a = x || b = y`, or with `&&`; `=`, `==` or `!=`) shows the input for the step's values. */
    function visibleIn(step: TaskStep, rule: string | undefined): boolean {
      if (!rule) return true;
      const test = (clause: string) => {
        const m = /^\s*(\w+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(clause);
        assert.ok(m, `a visibleRule clause this test reads: ${clause}`);
        return (valueIn(step, m[1]) === m[3]) === (m[2] !== '!=');
      };
      return rule.includes('&&') ? rule.split('&&').every(test) : rule.split('||').some(test);
    }

    it('every required input without a default is set, where its visibleRule shows it', () => {
      const required = task.inputs.filter((i) => i.required && (i.defaultValue === undefined || i.defaultValue === ''));
      for (const step of steps) {
        for (const input of required) {
          if (!visibleIn(step, input.visibleRule)) continue;
          const names = [input.name, ...(input.aliases ?? [])];
          assert.ok(
            names.some((n) => step.inputs.get(n)),
            `${step.where}: sets ${input.name}`,
          );
        }
      }
    });

    it('boolean inputs are true or false, and the Vault is named exactly one way', () => {
      for (const step of steps) {
        for (const [name, value] of step.inputs) {
          if (inputs.get(name)?.type === 'boolean') assert.match(value, /^(true|false)$/, `${step.where}: ${name}: ${value}`);
        }
        assert.ok(
          !(step.inputs.has('vaultAddress') && step.inputs.has('vaultConnection')),
          `${step.where}: vaultAddress or vaultConnection, not both`,
        );
      }
    });

    it('picklist inputs take one of their options', () => {
      for (const step of steps) {
        for (const [name, value] of step.inputs) {
          const options = inputs.get(name)?.type.toLowerCase() === 'picklist' ? inputs.get(name)?.options : undefined;
          if (options)
            assert.ok(
              Object.keys(options).includes(value),
              `${step.where}: ${name}: ${value} is not one of ${Object.keys(options).join(', ')}`,
            );
        }
      }
    });
  });
});
