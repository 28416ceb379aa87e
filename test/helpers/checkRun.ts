// The checks every e2e run passes: one result of the expected kind, nothing secret outside the
// commands that hand secrets to the agent, no stack trace, nothing on stderr, no agent command
// that the task did not write as one.
import * as assert from 'node:assert/strict';
import type { TaskRun, World } from '../emulators/world';
import { findLeaks, forgedCommands, publishedSecrets, vsoCommands, warnings } from './output';

export interface Checked {
  vars: Map<string, string>;
  /** The error issues joined, one per line. */
  errors: string;
  errorList: string[];
  warnings: string[];
}

export interface CheckOptions {
  /** More values that must not show, beyond the world's secrets and the published values. */
  extraSecrets?: Array<{ what: string; value: string }>;
  /**
   * Secret variables of the agent (e.g. a proxy password or a key given as a secret variable):
   * task-lib and arm-rest echo variables and inputs in `##vso[task.debug]` lines, where the agent
   * masks them, and the task keeps them for its post-job step in secret task variables, so they
   * may show there and in no other line.
   */
  agentMasked?: string[];
}

/** `ok`: the step succeeded (true), failed (false), or ended Skipped by the task's configuration. */
export function checkRun(world: World, run: TaskRun, ok: boolean | 'Skipped', opts: CheckOptions = {}): Checked {
  const commands = vsoCommands(run.stdout);
  const complete = commands.filter((c) => c.command === 'task.complete');
  assert.equal(complete.length, 1, 'exactly one task.complete');
  assert.equal(complete[0].properties.result, ok === 'Skipped' ? 'Skipped' : ok ? 'Succeeded' : 'Failed', run.stdout + run.stderr);
  let output = run.stdout + run.stderr;
  const agentMasked = opts.agentMasked ?? [];
  output.split(/\r?\n/).forEach((line, i) => {
    // Where the agent masks it: a debug line, or a command that hands it to the agent as a secret.
    if (
      line.startsWith('##vso[task.debug]') ||
      /^##vso\[task\.(setsecret|setvariable|settaskvariable)\b[^\]]*\bissecret=true\b/.test(line) ||
      line.startsWith('##vso[task.setsecret]')
    )
      return;
    for (const piece of agentMasked) assert.ok(!line.includes(piece), `line ${i + 1} shows a secret variable outside a debug line`);
  });
  for (const piece of agentMasked) output = output.split(piece).join('***');
  const vars = publishedSecrets(run.stdout);
  const leaks = findLeaks(output, [
    ...world.secrets(),
    ...(opts.extraSecrets ?? []),
    ...[...vars.values()].map((value) => ({ what: 'a published value', value })),
  ]);
  assert.deepEqual(leaks, [], 'no secret, token or JWT outside setsecret/setvariable');
  assert.doesNotMatch(output, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
  assert.equal(run.stderr, '', 'nothing on stderr');
  assert.deepEqual(forgedCommands(run.stdout), [], 'no agent command the task did not write as one');
  const errorList = commands.filter((c) => c.command === 'task.issue' && c.properties.type === 'error').map((c) => c.message);
  return { vars, errors: errorList.join('\n'), errorList, warnings: warnings(run.stdout) };
}
