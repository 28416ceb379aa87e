// Entry of the main step (execution): the task's work, unless runAsPreJob gave it to the pre-job step.
// A small file: it opens the step's first connections, then loads the task (step.js), whose
// loading they overlap.
import { openEarlyConnections, readyToStart } from './pipeline/startup';
import type * as Step from './step';

export const main = async (): Promise<void> => {
  const step = require('./step') as typeof Step;
  await readyToStart();
  return step.taskStep('main');
};

if (require.main === module) void openEarlyConnections(process.env, 'main').then(main);
