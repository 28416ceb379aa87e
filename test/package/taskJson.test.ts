// Every task.json against the rules the task schema, tfx-cli and the pipeline editor apply, which
// tfx only warns about: ids and names, inputs and groups, visible rules the editor can parse,
// messages that match the source's loc() calls, execution targets present in the build, and the
// version of package.json.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packaged, readJson, REPO } from './vsix';

interface Input {
  name: string;
  type: string;
  label: string;
  aliases?: string[];
  groupName?: string;
  visibleRule?: string;
  helpMarkDown?: string;
  defaultValue?: string | boolean;
  required?: boolean;
  options?: Record<string, string>;
}
interface TaskJson {
  id: string;
  name: string;
  friendlyName: string;
  description: string;
  helpMarkDown: string;
  author: string;
  category: string;
  instanceNameFormat: string;
  minimumAgentVersion: string;
  version: { Major: number; Minor: number; Patch: number };
  groups?: Array<{ name: string; displayName: string }>;
  inputs: Input[];
  execution?: Record<string, { target: string }>;
  prejobexecution?: Record<string, { target: string }>;
  postjobexecution?: Record<string, { target: string }>;
  messages: Record<string, string>;
}

const UUID = /^[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$/;
const CATEGORIES = [
  'Build',
  'Utility',
  'Test',
  'Package',
  'Deploy',
  'Azure Repos',
  'Azure Boards',
  'Azure Pipelines',
  'Azure Test Plans',
  'Azure Artifacts',
];
/** Handlers the agent still runs, and the agent version each needs. */
const HANDLERS: Record<string, string> = { Node20_1: '3.232.1', Node24: '4.265.1' };
const EXECUTION_SECTIONS = ['execution', 'prejobexecution', 'postjobexecution'] as const;

const pkg = readJson<{ version: string }>(join(REPO, 'package.json'));
const taskFolders = readdirSync(join(REPO, 'tasks')).filter((d) => existsSync(join(REPO, 'tasks', d, 'task.json')));

const compareVersions = (a: string, b: string): number => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};

/**
 * A visible rule as the pipeline editor parses it (VisibilityHelper in Azure DevOps' task editor):
 * predicates joined by && or by || (not both), each `<input> <op> <value>` with op one of
 * = == != < > <= >=, or Contains/StartsWith/EndsWith and their Not forms, and a value of letters,
 * digits, dots and spaces.
 */
function parseVisibleRule(
  rule: string,
): { joiner: '&&' | '||' | null; predicates: Array<{ input: string; op: string; value: string }> } | string {
  if (rule.includes('&&') && rule.includes('||')) return 'mixes && and ||, which the editor cannot evaluate';
  const joiner = rule.includes('&&') ? '&&' : rule.includes('||') ? '||' : null;
  const predicates = [];
  for (const part of joiner ? rule.split(joiner) : [rule]) {
    const m =
      /^\s*([A-Za-z0-9]+)\s*(==|=|!=|<=|>=|<|>)\s*([A-Za-z0-9.]+(?: [A-Za-z0-9.]+)*)\s*$/.exec(part) ??
      /^\s*([A-Za-z0-9]+)\s+(NotContains|NotStartsWith|NotEndsWith|Contains|StartsWith|EndsWith)\s+([A-Za-z0-9.]+(?: [A-Za-z0-9.]+)*)\s*$/.exec(
        part,
      );
    if (!m) return `'${part.trim()}' is not <input> <operator> <value> (the value: letters, digits, dots, spaces)`;
    predicates.push({ input: m[1], op: m[2], value: m[3] });
  }
  return { joiner, predicates };
}

/**
 * Message keys the task source passes to loc() / tl.loc(): a literal, a ternary of literals, a
 * local const chosen from literals, or a `[/pattern/, 'Key']` table looked up by index. A call
 * whose key cannot be told is reported, so a new form gets a rule here rather than slipping by.
 */
function locKeysUsed(sources: Array<{ file: string; text: string }>): { keys: Set<string>; unresolved: string[] } {
  const keys = new Set<string>();
  const unresolved: string[] = [];
  // The keys an expression can yield: its literal branches ('A', c ? 'A' : 'B', c ? 'A' : d ? 'B' : 'C').
  const branches = (expr: string) =>
    expr
      .split(/[?:]/)
      .map((part) => /^\s*'([A-Za-z][A-Za-z0-9_]*)'\s*$/.exec(part)?.[1])
      .filter((k): k is string => k !== undefined);
  for (const { file, text } of sources) {
    const lines = text.split('\n');
    for (const call of text.matchAll(/\bloc\(\s*([^,)]*(?:\([^)]*\)[^,)]*)?)\s*[,)]/g)) {
      const arg = call[1].trim();
      const line = text.slice(0, call.index).split('\n').length;
      const where = `${file}:${line} loc(${arg}`;
      if (/^'[A-Za-z][A-Za-z0-9_]*'$/.test(arg)) {
        keys.add(arg.slice(1, -1));
      } else if (/^[^?]+\?[^:]+:.+$/.test(arg) && branches(arg).length >= 2) {
        for (const k of branches(arg)) keys.add(k);
      } else if (/^[A-Za-z_$][\w$]*$/.test(arg)) {
        // A wrapper that forwards its own parameter, e.g. (key: string, ...args) => tl.loc(key, ...args).
        if (new RegExp(`\\(\\s*${arg}\\s*:\\s*string\\b`).test(lines[line - 1])) continue;
        const init = new RegExp(`(?:const|let)\\s+${arg}\\s*(?::[^=]+)?=\\s*([^;\\n]+)`).exec(text)?.[1];
        const found = init ? branches(init) : [];
        if (!found.length) unresolved.push(where);
        for (const k of found) keys.add(k);
      } else if (/^[A-Za-z_$][\w$]*\[\d+\]$/.test(arg)) {
        const table = [...text.matchAll(/\[\s*\/(?:\\.|[^/\n])+\/[a-z]*\s*,\s*'([A-Za-z][A-Za-z0-9_]*)'\s*\]/g)].map((m) => m[1]);
        if (!table.length) unresolved.push(where);
        for (const k of table) keys.add(k);
      } else {
        unresolved.push(where);
      }
    }
  }
  return { keys, unresolved };
}

describe('package: task.json rules', () => {
  it('locKeysUsed reads literal, ternary, const and table forms', () => {
    const { keys, unresolved } = locKeysUsed([
      {
        file: 'a.ts',
        text: [
          "log(tl.loc('Plain', x));",
          "problems.push(tl.loc(kind === 'certificate' ? 'PemA' : 'PemB', name));",
          "const key = p.compacted ? 'J' : p.secret ? 'S' : 'P';",
          'log(loc(key, p.source));',
          "const codes: Array<[RegExp, string]> = [[/AADSTS70021\\b/, 'Aad1'], [/X/i, 'Aad2']];",
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a line of TypeScript source for the message scanner to read, a template in it on purpose
          'return `${base}\\n${tl.loc(hint[1])}`;',
          'export const loc = (key: string, ...args: unknown[]): string => tl.loc(key, ...args);',
          'log(loc(mystery));',
        ].join('\n'),
      },
    ]);
    assert.deepEqual([...keys].sort(), ['Aad1', 'Aad2', 'J', 'P', 'PemA', 'PemB', 'Plain', 'S']);
    assert.deepEqual(unresolved, ['a.ts:8 loc(mystery']);
  });

  it('parseVisibleRule accepts the editor grammar and rejects what it cannot parse', () => {
    assert.deepEqual(parseVisibleRule('scriptType = ps || scriptType = pscore'), {
      joiner: '||',
      predicates: [
        { input: 'scriptType', op: '=', value: 'ps' },
        { input: 'scriptType', op: '=', value: 'pscore' },
      ],
    });
    assert.equal(typeof parseVisibleRule('a = 1 && b != 2'), 'object');
    assert.equal(typeof parseVisibleRule('clientCertificate != '), 'string', 'an empty value');
    assert.equal(typeof parseVisibleRule('a = 1 && b = 2 || c = 3'), 'string');
    assert.equal(typeof parseVisibleRule("url = 'https://x'"), 'string');
  });

  for (const folder of taskFolders) {
    describe(folder, () => {
      const task = readJson<TaskJson>(join(REPO, 'tasks', folder, 'task.json'));
      const inputNames = task.inputs.map((i) => i.name);

      it('id is a UUID, name has no spaces, friendlyName is at most 40 characters', () => {
        assert.match(task.id, UUID);
        assert.match(task.name, /^[A-Za-z0-9-]+$/);
        assert.ok(
          task.friendlyName.length > 0 && task.friendlyName.length <= 40,
          `friendlyName '${task.friendlyName}' is ${task.friendlyName.length} characters`,
        );
        for (const field of ['description', 'helpMarkDown', 'author', 'instanceNameFormat'] as const)
          assert.ok(task[field]?.trim(), `${field} is set`);
        assert.match(task.helpMarkDown, /\]\(https:\/\/[^)]+\)/, 'helpMarkDown links to the docs');
        assert.ok(CATEGORIES.includes(task.category), `category '${task.category}'`);
      });

      it('version is the version of package.json', () => {
        const { Major, Minor, Patch } = task.version;
        assert.equal(`${Major}.${Minor}.${Patch}`, pkg.version);
        const folderMajor = /V(\d+)$/.exec(folder)?.[1];
        if (folderMajor) assert.equal(Major, Number(folderMajor), `${folder} holds major version ${folderMajor}`);
      });

      it('inputs: unique names and aliases, a label and help each, in a real group', () => {
        const names = task.inputs.flatMap((i) => [i.name, ...(i.aliases ?? [])]);
        assert.deepEqual(
          names.filter((n, i) => names.findIndex((m) => m.toLowerCase() === n.toLowerCase()) !== i),
          [],
          'no name or alias twice (case-insensitive)',
        );
        const groups = (task.groups ?? []).map((g) => g.name);
        assert.equal(new Set(groups).size, groups.length, 'group names are unique');
        for (const input of task.inputs) {
          assert.match(input.name, /^[A-Za-z][A-Za-z0-9_]*$/);
          for (const alias of input.aliases ?? []) assert.match(alias, /^[A-Za-z][A-Za-z0-9_]*$/);
          assert.ok(input.label?.trim(), `${input.name} has a label`);
          assert.ok(input.helpMarkDown?.trim(), `${input.name} has helpMarkDown`);
          if (input.groupName !== undefined)
            assert.ok(groups.includes(input.groupName), `${input.name} is in group '${input.groupName}', which task.json does not define`);
          if (input.type === 'boolean' && input.defaultValue !== undefined)
            assert.match(String(input.defaultValue), /^(true|false)$/, `${input.name} default`);
        }
        for (const g of groups)
          assert.ok(
            task.inputs.some((i) => i.groupName === g),
            `group '${g}' holds an input`,
          );
      });

      it('visible rules parse as the editor parses them and name other inputs and their values', () => {
        for (const input of task.inputs.filter((i) => i.visibleRule !== undefined)) {
          const rule = parseVisibleRule(input.visibleRule!);
          assert.equal(typeof rule, 'object', `${input.name}: visibleRule '${input.visibleRule}' ${typeof rule === 'string' ? rule : ''}`);
          if (typeof rule === 'string') continue;
          for (const p of rule.predicates) {
            const other = task.inputs.find((i) => i.name === p.input);
            assert.ok(other, `${input.name}: visibleRule names '${p.input}', which is not an input`);
            assert.notEqual(p.input, input.name, `${input.name}: visibleRule names the input itself`);
            if (other!.type === 'boolean') assert.match(p.value, /^(true|false)$/, `${input.name}: ${p.input} is a boolean`);
            if (other!.options)
              assert.ok(Object.keys(other!.options).includes(p.value), `${input.name}: '${p.value}' is one of ${p.input}'s options`);
          }
        }
      });

      it('instanceNameFormat names real inputs', () => {
        for (const m of task.instanceNameFormat.matchAll(/\$\(([^)]+)\)/g)) assert.ok(inputNames.includes(m[1]), `$(${m[1]}) is an input`);
      });

      // An agent runs the newest handler it knows of those a section declares, and ignores those it
      // does not know: Node24 may be declared beside Node20_1 with a low minimumAgentVersion, as
      // Microsoft's own tasks do, as long as every agent the minimum admits has a handler it runs.
      it('handlers: supported Node handlers, one the minimum agent runs in each section, the same target for each, a target file in the build for each', async () => {
        const built = await packaged('public');
        const handlers = EXECUTION_SECTIONS.flatMap((s) =>
          Object.entries(task[s] ?? {}).map(([handler, { target }]) => ({ section: s, handler, target })),
        );
        assert.ok(
          handlers.some((h) => h.section === 'execution'),
          'an execution handler',
        );
        for (const h of handlers) {
          assert.ok(HANDLERS[h.handler], `${h.section}.${h.handler} is a handler the agent supports (${Object.keys(HANDLERS).join(', ')})`);
          assert.ok(
            existsSync(join(built.dir, 'tasks', folder, h.target)),
            `${h.section}.${h.handler} target ${h.target} is in the built task`,
          );
          assert.ok(
            existsSync(join(REPO, 'tasks', folder, 'src', h.target.replace(/\.js$/, '.ts'))),
            `${h.target} is built from src/${h.target.replace(/\.js$/, '.ts')}`,
          );
        }
        for (const section of EXECUTION_SECTIONS) {
          const declared = handlers.filter((h) => h.section === section);
          if (declared.length === 0) continue;
          const runnable = declared.filter((h) => compareVersions(task.minimumAgentVersion, HANDLERS[h.handler]) >= 0);
          assert.ok(
            runnable.length > 0,
            `${section}: minimumAgentVersion ${task.minimumAgentVersion} runs one of ${declared.map((h) => `${h.handler} (needs ${HANDLERS[h.handler]})`).join(', ')}`,
          );
          assert.deepEqual(
            [...new Set(declared.map((h) => h.target))],
            [declared[0].target],
            `${section}: every handler runs the same file`,
          );
        }
      });

      it('messages: every loc() key exists, and every message is used', () => {
        const srcDir = join(REPO, 'tasks', folder, 'src');
        const sources = readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
          .filter((f) => f.endsWith('.ts'))
          .map((f) => ({ file: `src/${f}`, text: readFileSync(join(srcDir, f), 'utf8') }));
        const { keys, unresolved } = locKeysUsed(sources);
        assert.deepEqual(unresolved, [], 'every loc() call names its key in a form this check reads');
        const messages = Object.keys(task.messages);
        assert.deepEqual([...keys].filter((k) => !messages.includes(k)).sort(), [], 'keys used but missing from messages');
        assert.deepEqual(messages.filter((k) => !keys.has(k)).sort(), [], 'messages never used');
      });
    });
  }
});
