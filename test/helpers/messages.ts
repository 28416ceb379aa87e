// The task's messages as task-lib's loc() gives them (task.json `messages`, util.format'ed with
// the arguments), for tests of the pure modules, without loading task-lib: its load and its
// resource loading print ##vso lines, which a pipeline running the tests would execute.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';

const messages = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'tasks', 'VaultAzureLoginV1', 'task.json'), 'utf8')) as {
    messages: Record<string, string>;
  }
).messages;

export function loc(key: string, ...args: unknown[]): string {
  if (!Object.hasOwn(messages, key)) throw new Error(`task.json has no message ${key}`);
  return args.length > 0 ? format(messages[key], ...args) : messages[key];
}
