// Entry of the pre-job step (prejobexecution), which the agent runs before the job's first step,
// checkout included: the task's work when runAsPreJob is true, else nothing. Like main.js, it opens
// the first connections before it loads the task (step.js).
import { openEarlyConnections, readyToStart } from './pipeline/startup';
import type * as Step from './step';

export const prejob = async (): Promise<void> => {
  const step = require('./step') as typeof Step;
  await readyToStart();
  return step.taskStep('prejob');
};

if (require.main === module) void openEarlyConnections(process.env, 'prejob').then(prejob);
