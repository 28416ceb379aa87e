// A job as the agent runs it (azure-pipelines-agent JobExtension.cs, StepsRunner.cs): the pre-job
// step of every task that has one, in the order of the steps; then the steps, each only while no
// step has failed (the default condition, succeeded()); then the post-job steps in reverse order,
// always. A variable a step sets (##vso[task.setvariable]) exists for the steps after it: public
// ones in their environment, secret ones only where a step maps them; `$(NAME)` in a step's inputs
// or env is expanded when the step starts, and stays as written when no such variable exists yet.
// A task's task variables pass between its own pre-job, main and post-job steps.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { taskVariablesFrom, vsoCommands } from '../helpers/output';
import type { Identity, TaskRun, World } from './world';

export type JobStep =
  | { name: string; task: { connection: Identity; inputs: Record<string, string> } }
  | { name: string; script: string; env?: Record<string, string> };

export type Stage = 'prejob' | 'main' | 'post';

export interface StepRun {
  /** `Pre-job: <name>`, `<name>` or `Post-job: <name>`, as the job's log names the step. */
  title: string;
  name: string;
  stage: Stage;
  /** The step's result; NotRun when its condition (succeeded()) was false. */
  result: 'Succeeded' | 'Failed' | 'Skipped' | 'NotRun';
  run?: TaskRun;
}

export interface JobRun {
  steps: StepRun[];
  /** The step of that title. */
  step(title: string): StepRun;
  /** Every variable set during the job, by name (output variables as `<step>.<NAME>`). */
  variables: Map<string, { value: string; secret: boolean }>;
  tempDir: string;
  failed: boolean;
}

const ENTRY: Record<Stage, string> = { prejob: 'prejob.js', main: 'main.js', post: 'post.js' };

/** The result a task step ends with (task.complete); a script's by its exit code. */
function resultOf(run: TaskRun, isTask: boolean): StepRun['result'] {
  if (!isTask) return run.code === 0 ? 'Succeeded' : 'Failed';
  const complete = vsoCommands(run.stdout).find((c) => c.command === 'task.complete');
  const result = complete?.properties.result;
  return result === 'Succeeded' || result === 'Skipped' ? result : 'Failed';
}

export interface JobOptions {
  /** System.DefaultWorkingDirectory; default the world's sources folder. */
  workingDirectory?: string;
  /** The Node binary of the task's handler; default this process's. */
  node?: string;
  /** The pipeline's variables, there from the start of the job. */
  variables?: Record<string, string>;
  /** Called after each step, before the next starts (to look at the servers in between). */
  afterStep?: (step: StepRun) => void;
}

export async function runAgentJob(world: World, steps: JobStep[], opts: JobOptions = {}): Promise<JobRun> {
  // Agent.TempDirectory: made empty by the agent before the job's first step, pre-job included.
  const tempDir = mkdtempSync(join(tmpdir(), 'val-agent-job-'));
  const variables = new Map<string, { value: string; secret: boolean }>(
    Object.entries(opts.variables ?? {}).map(([k, value]) => [k, { value, secret: false }]),
  );
  const taskVariables = new Map<string, Record<string, string>>();
  const runs: StepRun[] = [];
  let failed = false;

  const expand = (text: string) => text.replace(/\$\(([\w.]+)\)/g, (macro, name: string) => variables.get(name)?.value ?? macro);
  const expandAll = (values: Record<string, string> = {}) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, expand(v)]));
  const publicVariables = () => Object.fromEntries([...variables].filter(([, v]) => !v.secret).map(([k, v]) => [k, v.value]));
  const secretVariables = () => Object.fromEntries([...variables].filter(([, v]) => v.secret).map(([k, v]) => [k, v.value]));

  async function runStep(step: JobStep, stage: Stage): Promise<void> {
    const title = stage === 'prejob' ? `Pre-job: ${step.name}` : stage === 'post' ? `Post-job: ${step.name}` : step.name;
    if (failed && stage !== 'post') {
      runs.push({ title, name: step.name, stage, result: 'NotRun' });
      opts.afterStep?.(runs[runs.length - 1]);
      return;
    }
    let run: TaskRun;
    if ('task' in step) {
      run = await world.runTask({
        connection: step.task.connection,
        inputs: expandAll(step.task.inputs),
        entry: ENTRY[stage],
        node: opts.node,
        tempDir,
        workingDirectory: opts.workingDirectory,
        variables: { ...publicVariables(), ...taskVariables.get(step.name) },
        secretVariables: secretVariables(),
      });
      taskVariables.set(step.name, { ...taskVariables.get(step.name), ...taskVariablesFrom(run.stdout) });
    } else {
      run = await world.runScript({
        script: step.script,
        env: expandAll(step.env),
        variables: publicVariables(),
        tempDir,
        workingDirectory: opts.workingDirectory,
      });
    }
    for (const c of vsoCommands(run.stdout)) {
      if (c.command !== 'task.setvariable') continue;
      const name = c.properties.isOutput === 'true' ? `${step.name}.${c.properties.variable}` : c.properties.variable;
      variables.set(name, { value: c.message, secret: c.properties.issecret === 'true' });
    }
    const result = resultOf(run, 'task' in step);
    if (result === 'Failed' && stage !== 'post') failed = true;
    runs.push({ title, name: step.name, stage, result, run });
    opts.afterStep?.(runs[runs.length - 1]);
  }

  for (const step of steps) if ('task' in step) await runStep(step, 'prejob');
  for (const step of steps) await runStep(step, 'main');
  for (const step of [...steps].reverse()) if ('task' in step) await runStep(step, 'post');

  return {
    steps: runs,
    step: (title) => {
      const found = runs.find((r) => r.title === title);
      if (!found) throw new Error(`no step '${title}' in ${runs.map((r) => r.title).join(', ')}`);
      return found;
    },
    variables,
    tempDir,
    failed,
  };
}
