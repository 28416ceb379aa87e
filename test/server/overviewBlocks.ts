// The fenced blocks overview.md marks for a test (`<!-- test:<name> -->` on the line before the
// fence), and the inputs of a YAML block's VaultAzureLogin@1 step: so that a test runs the page's
// commands and YAML as they are written.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../emulators/world';

export interface Block {
  lang: string;
  text: string;
  /** Line of the opening fence in overview.md. */
  line: number;
}

/** The fenced blocks right after a `<!-- test:<mark> -->` line of overview.md, in page order. */
export function markedBlocks(mark: string): Block[] {
  const markdown = readFileSync(join(REPO, 'overview.md'), 'utf8');
  const re = new RegExp(`^<!-- test:${mark} -->[ \\t]*\\n\`\`\`(\\w*)\\n([\\s\\S]*?)^\`\`\`[ \\t]*$`, 'gm');
  return [...markdown.matchAll(re)].map((m) => ({ lang: m[1], text: m[2], line: markdown.slice(0, m.index).split('\n').length + 1 }));
}

/** The inputs of the `- task: VaultAzureLogin@1` step of a YAML block: plain scalars and `|` block scalars. */
export function stepInputs(yaml: string): Record<string, string> {
  const lines = yaml.split('\n');
  const indent = (l: string) => l.length - l.trimStart().length;
  const at = lines.findIndex((l) => /^\s*- task: VaultAzureLogin@1\s*(#.*)?$/.test(l));
  assert.ok(at >= 0, 'the YAML block has a VaultAzureLogin@1 step');
  const inputsAt = lines.findIndex((l, i) => i > at && /^\s*inputs:\s*$/.test(l));
  assert.ok(inputsAt > at, 'the step has inputs:');
  const out: Record<string, string> = {};
  let inputIndent: number | undefined;
  for (let i = inputsAt + 1; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*(#.*)?$/.test(line)) continue;
    if (indent(line) <= indent(lines[inputsAt])) break;
    inputIndent ??= indent(line);
    const m = /^\s*([A-Za-z]\w*):\s*(.*)$/.exec(line);
    assert.ok(m && indent(line) === inputIndent, `not an input: ${line}`);
    const value = m[2].replace(/\s+#.*$/, '').trim();
    if (value === '|') {
      const body: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1].trim() === '' || indent(lines[i + 1]) > inputIndent)) body.push(lines[++i].trim());
      out[m[1]] = body.join('\n').trim();
    } else {
      out[m[1]] = value;
    }
  }
  return out;
}
