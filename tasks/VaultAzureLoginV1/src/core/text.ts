// The message function every layer below the pipeline edge is handed: task.json's messages by key.

/** Formats the task.json message `key` with `args`, as task-lib's `loc` does. */
export type Text = (key: string, ...args: unknown[]) => string;
