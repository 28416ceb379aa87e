// Entry of the pre-job step (prejobexecution), which the agent runs before the job's first step,
// checkout included: the task's work when runAsPreJob is true, else nothing. Like main.js, it opens
// the first connections before it loads the task (step.js).
import { pollOnce } from './pipeline/scheduling';
import { FIRST_CONNECTION_WAIT_MS, openEarlyConnections } from './pipeline/startup';
import type * as Step from './step';
import { whenFirstConnected } from './vault/early';

export const prejob = async (): Promise<void> => {
  const step = require('./step') as typeof Step;
  await pollOnce();
  await whenFirstConnected(FIRST_CONNECTION_WAIT_MS);
  return step.taskStep('prejob');
};

if (require.main === module) void openEarlyConnections(process.env, 'prejob').then(prejob);
