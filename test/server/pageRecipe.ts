// A setup recipe of a docs page as the page writes it: the fenced blocks after a
// `<!-- test:<name> -->` line, the inputs of the VaultAzureLogin@1 step of its YAML block, and its
// shell blocks run with bash against OpenBao, `vault` being the `bao` CLI.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../emulators/world';
import type { OpenBao } from './openbao';
import { OPENBAO_ADDRESS } from './openbao';

export interface Block {
  lang: string;
  text: string;
  /** Line of the opening fence in the page. */
  line: number;
}

/** A page of docs/ as it is now (`azure.md`, `jwt.md`, …). */
export function docsPage(name: string): string {
  return readFileSync(join(REPO, 'docs', name), 'utf8');
}

/** The fenced blocks right after a `<!-- test:<name> -->` line, in page order. */
export function recipeBlocks(markdown: string, name: string): Block[] {
  const blocks: Block[] = [];
  const re = new RegExp(`^<!-- test:${name} -->[ \\t]*\\n\`\`\`(\\w*)\\n([\\s\\S]*?)^\`\`\`[ \\t]*$`, 'gm');
  for (const m of markdown.matchAll(re)) {
    blocks.push({ lang: m[1], text: m[2], line: markdown.slice(0, m.index).split('\n').length + 1 });
  }
  return blocks;
}

/** The inputs of the `- task: VaultAzureLogin@1` step of a YAML block: plain scalars and `|` block scalars. */
export function taskInputs(yaml: string): Record<string, string> {
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

/** The least-privilege policy `ci-production` of docs/azure.md (Set up Vault, step 3), which every method's role names. */
export function policyBlock(markdown: string): string {
  const [block, ...more] = [...markdown.matchAll(/^```sh\n(vault policy write ci-production - <<'EOF'\n[\s\S]*?)^```/gm)].map((m) => m[1]);
  assert.ok(block && more.length === 0, 'the page writes the policy ci-production once');
  return block;
}

/** Runs a shell script with bash in `cwd`; `vault` is the `bao` binary, logged in as root unless `env` says otherwise. */
export function runShell(
  bao: OpenBao,
  caPath: string,
  script: string,
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; output: string }> {
  const prelude = 'set -euo pipefail\nvault() { "$BAO_BIN" "$@"; }\n';
  return new Promise((done, fail) => {
    const child = spawn('bash', ['-c', prelude + script], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: cwd,
        BAO_BIN: bao.bin,
        BAO_ADDR: OPENBAO_ADDRESS,
        BAO_CACERT: caPath,
        BAO_TOKEN: bao.rootToken,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (c: Buffer) => ((stdout += c.toString()), (output += c.toString())));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, output }));
  });
}
