// Runs the command a failure message prints as its fix, as a user would paste it: with bash, `vault`
// being the real `bao` CLI against the test's OpenBao. The jwt refusals print a role update as JSON
// on standard input (`echo '{…}' | vault write auth/<mount>/role/<role> -`) or a config write
// (`vault write auth/<mount>/config oidc_discovery_url='…' bound_issuer='…'`).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import type { OpenBao } from './openbao';
import { OPENBAO_ADDRESS } from './openbao';

/** The fix command in a message: the role update or the config write it ends with. */
export function printedFix(message: string): string {
  const role = /echo '[^']*' \| vault write auth\/[\w.-]+\/role\/[\w.-]+ -/.exec(message);
  const config = /vault write auth\/[\w.-]+\/config oidc_discovery_url='[^']*' bound_issuer='[^']*'/.exec(message);
  const found = role ?? config;
  assert.ok(found, `the message prints a fix: ${message}`);
  return found[0];
}

export interface FixOptions {
  /** Placeholders the message explains, with the value this server needs (e.g. <policy>). */
  placeholders?: Record<string, string>;
  /** Text appended to the command, as the message tells (e.g. oidc_discovery_ca_pem=@ca.pem). */
  append?: string;
}

/** Runs the printed fix with the bao CLI; fails the test when the server refuses it. */
export async function runPrintedFix(bao: OpenBao, caPath: string, message: string, opts: FixOptions = {}): Promise<string> {
  let command = printedFix(message);
  for (const [placeholder, value] of Object.entries(opts.placeholders ?? {})) command = command.split(placeholder).join(value);
  assert.deepEqual(command.match(/<[A-Za-z][\w -]*>/g) ?? [], [], `no placeholder left in: ${command}`);
  if (opts.append) command += ` ${opts.append}`;
  const { code, output } = await runWithCli(bao, caPath, command);
  assert.equal(code, 0, `the printed fix failed on OpenBao:\n$ ${command}\n${output}`);
  assert.match(output, /^Success! Data written to: auth\//m);
  return command;
}

/**
 * Runs a bash script in which `vault` is the bao CLI, with the root token, against the test's
 * OpenBao (asynchronously: the emulators the server asks answer in this process).
 */
export function runWithCli(bao: OpenBao, caPath: string, script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn('bash', ['-c', `set -euo pipefail\nvault() { "$BAO_BIN" "$@"; }\n${script}\n`], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: tmpdir(),
        BAO_BIN: bao.bin,
        BAO_ADDR: OPENBAO_ADDRESS,
        BAO_CACERT: caPath,
        BAO_TOKEN: bao.rootToken,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.on('error', fail);
    child.on('close', (exit) => done({ code: exit, output: text }));
  });
}
