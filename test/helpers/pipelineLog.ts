// Renders a task's stdout the way the pipeline log shows it: commands are consumed, registered
// secrets become ***, debug lines are hidden unless System.Debug is on, issues become ##[error].
import { vsoCommands } from './output';

export function renderPipelineLog(stdout: string, opts: { debug?: boolean } = {}): { lines: string[]; result: string } {
  const secrets: string[] = [];
  for (const c of vsoCommands(stdout)) {
    if (c.command === 'task.setsecret' || (c.command === 'task.setvariable' && c.properties.issecret === 'true')) {
      for (const piece of c.message.split(/\r?\n/)) if (piece.trim()) secrets.push(piece.trim());
    }
  }
  secrets.sort((a, b) => b.length - a.length);
  const mask = (text: string) => secrets.reduce((t, s) => t.split(s).join('***'), text);

  const lines: string[] = [];
  let result = 'Succeeded';
  for (const line of stdout.split(/\r?\n/)) {
    const [c] = line.includes('##vso[') ? vsoCommands(line) : [];
    if (!c) {
      if (line) lines.push(mask(line));
      continue;
    }
    switch (c.command) {
      case 'task.debug':
        if (opts.debug) lines.push(mask(`##[debug]${c.message}`));
        break;
      case 'task.issue':
        for (const l of c.message.split('\n')) lines.push(mask(`##[${c.properties.type ?? 'error'}]${l}`));
        break;
      case 'task.complete':
        result = c.properties.result ?? result;
        break;
      default:
        break;
    }
  }
  return { lines, result };
}
