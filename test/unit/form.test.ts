// The task's form as the classic editor and the YAML assistant show it: what a user sees for each
// login method before opening a collapsed group, what is marked required, and the help beside each
// field. The visibleRules are evaluated with the inputs' defaults, as the editor does for a new step.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const REPO = join(__dirname, '..', '..');
const REPO_URL = 'https://github.com/vault-azure-login/vault-azure-login/blob/main/';

interface Input {
  name: string;
  type: string;
  label: string;
  required?: boolean;
  defaultValue?: string | boolean;
  groupName?: string;
  visibleRule?: string;
  helpMarkDown: string;
  options?: Record<string, string>;
}
interface Group {
  name: string;
  isExpanded?: boolean;
}
const task = JSON.parse(readFileSync(join(REPO, 'tasks', 'VaultAzureLoginV1', 'task.json'), 'utf8')) as {
  inputs: Input[];
  groups: Group[];
};
const METHODS = Object.keys(task.inputs.find((i) => i.name === 'authMethod')?.options ?? {});

/** The form's values: the defaults, with `set` on top. */
function valuesWith(set: Record<string, string>): Map<string, string> {
  return new Map(task.inputs.map((i) => [i.name, set[i.name] ?? String(i.defaultValue ?? '')]));
}

/** Whether a visibleRule shows its input: clauses `a = x`, `a == x` or `a != x`, joined by `&&` or by `||`. */
function visible(input: Input, values: Map<string, string>): boolean {
  if (!input.visibleRule) return true;
  const clause = (text: string) => {
    const m = /^\s*(\w+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(text);
    assert.ok(m, `${input.name}: a clause this test reads: ${text}`);
    return (values.get(m[1]) === m[3]) === (m[2] !== '!=');
  };
  return input.visibleRule.includes('&&') ? input.visibleRule.split('&&').every(clause) : input.visibleRule.split('||').some(clause);
}

/** The inputs shown before any collapsed group is opened. */
function shownAtFirst(values: Map<string, string>): string[] {
  const expanded = new Set(task.groups.filter((g) => g.isExpanded).map((g) => g.name));
  return task.inputs.filter((i) => (i.groupName === undefined || expanded.has(i.groupName)) && visible(i, values)).map((i) => i.name);
}

/** The inputs a method needs that have no default: the form must mark them, and show them. */
const NEEDED: Record<string, string[]> = {
  // The connection is not marked: with azureIdentity agentVm the agent VM's own identity logs in
  // (the editor cannot show an input for azure-and-connection or jwt-from-a-connection alone); the
  // task asks for it by name when the azure method needs it.
  azure: ['role'],
  jwt: ['role'],
  kubernetes: ['role'],
  approle: ['role'],
  cert: [],
  aws: ['role'],
  gcp: ['role'],
};

describe('the form (task.json inputs as the editor shows them)', () => {
  it('the default path (azure) shows at most 8 inputs before a collapsed group is opened', () => {
    const shown = shownAtFirst(valuesWith({}));
    assert.ok(shown.length <= 8, `${shown.length} inputs: ${shown.join(', ')}`);
    for (const name of ['authMethod', 'azureSubscription', 'vaultAddress', 'authMount', 'role', 'secrets'])
      assert.ok(shown.includes(name), `${name} is shown`);
  });

  it('namespaces, the audience, timeouts and concurrency wait in a collapsed group', () => {
    const collapsed = new Set(task.groups.filter((g) => !g.isExpanded).map((g) => g.name));
    for (const name of ['vaultNamespace', 'authNamespace', 'resource', 'timeoutSeconds', 'retries', 'concurrency']) {
      assert.ok(collapsed.has(task.inputs.find((i) => i.name === name)?.groupName ?? ''), `${name} is in a collapsed group`);
    }
  });

  for (const method of METHODS) {
    it(`${method}: the method's own inputs are shown when it is chosen, and no other method's`, () => {
      const shown = shownAtFirst(valuesWith({ authMethod: method }));
      const collapsed = new Set(task.groups.filter((g) => !g.isExpanded).map((g) => g.name));
      // A method's fine-tuning (the azure method's audience) may wait in a collapsed group; the rest is shown.
      const own = task.inputs
        .filter((i) => i.visibleRule?.includes(`authMethod = ${method}`) && !collapsed.has(i.groupName ?? ''))
        .map((i) => i.name);
      assert.ok(method === 'azure' || own.length > 0 || method === 'cert', 'the method has inputs of its own');
      assert.deepEqual(
        own.filter((n) => !shown.includes(n)),
        [],
        'own inputs hidden',
      );
      const others = task.inputs.filter(
        (i) =>
          /authMethod = \w+/.test(i.visibleRule ?? '') &&
          !i.visibleRule?.includes(`authMethod = ${method}`) &&
          !/ \|\| (?!authMethod)/.test(i.visibleRule ?? ''),
      );
      assert.deepEqual(
        others.map((i) => i.name).filter((n) => shown.includes(n)),
        [],
        "another method's inputs shown",
      );
      assert.ok(shown.length <= 9, `${shown.length} inputs: ${shown.join(', ')}`);
    });

    it(`${method}: what it needs is marked required and shown`, () => {
      const values = valuesWith({ authMethod: method });
      for (const name of NEEDED[method]) {
        const input = task.inputs.find((i) => i.name === name);
        assert.ok(input?.required, `${name} is required`);
        assert.ok(visible(input, values), `${name} is shown`);
      }
      // A required input the method does not need must be hidden for it: the editor demands only what it shows.
      const demanded = task.inputs
        .filter((i) => i.required && (i.defaultValue === undefined || i.defaultValue === '') && visible(i, values))
        .map((i) => i.name);
      assert.deepEqual(
        demanded.filter((n) => !NEEDED[method].includes(n)),
        [],
        'required but not needed',
      );
    });
  }

  it('the cert login certificate is shown with the cert method, and with mutual TLS for the others', () => {
    for (const name of ['clientCertificate', 'clientKey']) {
      const input = task.inputs.find((i) => i.name === name)!;
      assert.ok(visible(input, valuesWith({ authMethod: 'cert' })));
      assert.ok(!visible(input, valuesWith({})));
      assert.ok(visible(input, valuesWith({ mutualTls: 'true' })));
    }
  });

  it('every help text is short and links to the page that says more', () => {
    for (const input of task.inputs) {
      assert.ok(input.helpMarkDown.length <= 250, `${input.name}: ${input.helpMarkDown.length} characters`);
      const link = /\]\((https:\/\/[^)#]+)(#[^)]*)?\)\s*$/.exec(input.helpMarkDown);
      assert.ok(link, `${input.name}: the help ends with a link`);
      assert.ok(link[1].startsWith(REPO_URL), `${input.name}: links to this extension's pages`);
      assert.ok(existsSync(join(REPO, link[1].slice(REPO_URL.length))), `${input.name}: ${link[1]} exists`);
    }
  });
});
