// Entry of the main step (execution): the task's work, unless runAsPreJob gave it to the pre-job step.
import { taskStep } from './step';

export const main = (): Promise<void> => taskStep('main');

if (require.main === module) void main();
