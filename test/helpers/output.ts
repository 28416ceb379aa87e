// Reading a task's stdout as the agent does: ##vso commands, and a scan for leaked secrets.

export interface VsoCommand {
  command: string;
  properties: Record<string, string>;
  message: string;
}

// task-lib 5 writes '%' as '%AZP25' (older versions as '%25'); the agent turns both back last.
const unescapeProperty = (s: string) =>
  s
    .replace(/%3B/g, ';')
    .replace(/%5D/g, ']')
    .replace(/%0D/g, '\r')
    .replace(/%0A/g, '\n')
    .replace(/%AZP25/g, '%')
    .replace(/%25/g, '%');
const unescapeMessage = (s: string) =>
  s
    .replace(/%0D/g, '\r')
    .replace(/%0A/g, '\n')
    .replace(/%AZP25/g, '%')
    .replace(/%25/g, '%');

export function vsoCommands(stdout: string): VsoCommand[] {
  const out: VsoCommand[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /##vso\[([\w.]+)([^\]]*)\](.*)$/.exec(line);
    if (!m) continue;
    const properties: Record<string, string> = {};
    for (const part of m[2].trim().split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) properties[part.slice(0, eq).trim()] = unescapeProperty(part.slice(eq + 1));
    }
    out.push({ command: m[1], properties, message: unescapeMessage(m[3]) });
  }
  return out;
}

/**
 * The lines the agent would take as commands although the task did not write them as commands:
 * the agent ends a line at `\r` as at `\n`, runs a `##vso[` found anywhere in a line (any case),
 * and takes a line starting with `##[` as a formatting command. The task and task-lib write every
 * command at the start of a line of their own, and no formatting command at all.
 */
export function forgedCommands(stdout: string): string[] {
  return stdout.split(/\r\n|\r|\n/).filter((line) => (/##vso\[/i.test(line) && !line.startsWith('##vso[')) || line.startsWith('##['));
}

/** Secret variables the run published: name → value. */
export function publishedSecrets(stdout: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const c of vsoCommands(stdout)) {
    if (c.command === 'task.setvariable' && c.properties.issecret === 'true') vars.set(c.properties.variable, c.message);
  }
  return vars;
}

export function masks(stdout: string): Set<string> {
  return new Set(
    vsoCommands(stdout)
      .filter((c) => c.command === 'task.setsecret')
      .map((c) => c.message),
  );
}

const carriers = /##vso\[task\.(setsecret|setvariable|settaskvariable)[^\]]*\]/;

/**
 * Every place a secret shows outside the commands that hand secrets to the agent: returns
 * "line N contains <what>" without repeating the secret. Multi-line secrets are checked line by
 * line, JWTs also by their signature.
 */
export function findLeaks(stdout: string, secrets: Array<{ what: string; value: string }>): string[] {
  const needles: Array<{ what: string; value: string }> = [];
  for (const s of secrets) {
    if (!s.value) continue;
    needles.push(s);
    const lines = s.value
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length >= 8);
    if (lines.length > 1)
      lines.forEach((l, i) => {
        needles.push({ what: `${s.what} (line ${i + 1})`, value: l });
      });
    const parts = s.value.split('.');
    if (parts.length === 3 && parts[2].length > 16) needles.push({ what: `${s.what} (signature)`, value: parts[2] });
  }
  const leaks: string[] = [];
  stdout.split(/\r?\n/).forEach((line, i) => {
    if (carriers.test(line)) return;
    for (const n of needles) if (line.includes(n.value)) leaks.push(`line ${i + 1} contains ${n.what}`);
  });
  return leaks;
}

/**
 * The task variables a step set, as the agent hands them to the same task's later steps
 * (the post-job step): env VSTS_TASKVARIABLE_<NAME>, '.' → '_', upper case.
 */
export function taskVariablesFrom(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const c of vsoCommands(stdout)) {
    if (c.command === 'task.settaskvariable')
      env[`VSTS_TASKVARIABLE_${c.properties.variable.replace(/[. ]/g, '_').toUpperCase()}`] = c.message;
  }
  return env;
}

export function warnings(stdout: string): string[] {
  return vsoCommands(stdout)
    .filter((c) => c.command === 'task.issue' && c.properties.type === 'warning')
    .map((c) => c.message);
}
