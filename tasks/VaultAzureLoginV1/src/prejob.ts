// Entry of the pre-job step (prejobexecution), which the agent runs before the job's first step,
// checkout included: the task's work when runAsPreJob is true, else nothing.
import { taskStep } from './step';

export const prejob = (): Promise<void> => taskStep('prejob');

if (require.main === module) void prejob();
