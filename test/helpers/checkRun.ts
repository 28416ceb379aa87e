// The checks every e2e run passes: one result of the expected kind, nothing secret outside the
// commands that hand secrets to the agent, no stack trace, nothing on stderr.
import * as assert from 'node:assert/strict';
import type { TaskRun, World } from '../emulators/world';
import { findLeaks, publishedSecrets, vsoCommands, warnings } from './output';

export interface Checked {
  vars: Map<string, string>;
  errors: string;
  warnings: string[];
}

export function checkRun(world: World, run: TaskRun, ok: boolean, extraSecrets: Array<{ what: string; value: string }> = []): Checked {
  const commands = vsoCommands(run.stdout);
  const complete = commands.filter((c) => c.command === 'task.complete');
  assert.equal(complete.length, 1, 'exactly one task.complete');
  assert.equal(complete[0].properties.result, ok ? 'Succeeded' : 'Failed', run.stdout + run.stderr);
  const vars = publishedSecrets(run.stdout);
  const leaks = findLeaks(run.stdout + run.stderr, [
    ...world.secrets(),
    ...extraSecrets,
    ...[...vars.values()].map((value) => ({ what: 'a published value', value })),
  ]);
  assert.deepEqual(leaks, [], 'no secret, token or JWT outside setsecret/setvariable');
  assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
  assert.equal(run.stderr, '', 'nothing on stderr');
  const errors = commands.filter((c) => c.command === 'task.issue' && c.properties.type === 'error').map((c) => c.message).join('\n');
  return { vars, errors, warnings: warnings(run.stdout) };
}
