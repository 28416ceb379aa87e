// The pipeline side shared by the main and post-job entries: task-lib resources, the input port
// the login methods read through, logging, task variables and the retry policy with real time.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import * as tl from 'azure-pipelines-task-lib/task';
import type { InputPort } from '../auth/method';
import type { ConfigSource } from './inputs';
import { readInputFile } from './inputFile';
import { escapingArguments, safeForLog } from '../core/logText';
import { failureKeys, Printed, troubleshootingLink } from '../core/troubleshooting';
import { RetryPolicy } from '../vault/retry';
import { VariableSink } from './publish';
import { StateStore } from './state';

/** The task's task.json: beside the bundle in a package; one folder up when run from source. */
const taskJsonIn = (dir: string): string | undefined =>
  [path.join(dir, 'task.json'), path.join(dir, '..', 'task.json')].find((p) => fs.existsSync(p));

export function loadMessages(dir: string): void {
  const taskJson = taskJsonIn(dir);
  if (taskJson) tl.setResourcePath(taskJson);
}

/** The names of the task's inputs, as its task.json declares them. */
export function taskInputNames(dir: string): string[] {
  const taskJson = taskJsonIn(dir);
  if (!taskJson) return [];
  return (JSON.parse(fs.readFileSync(taskJson, 'utf8')) as { inputs?: Array<{ name: string }> }).inputs?.map((i) => i.name) ?? [];
}

/**
 * The task's messages (task.json). Every argument is text from outside our messages (Vault,
 * Entra, the network, the inputs) and is escaped where it is placed: it cannot break a line or
 * start an agent command.
 */
export const loc = escapingArguments((key: string, ...args: unknown[]): string => remember(key, tl.loc(key, ...args)));

/** The messages printed or built so far (the most recent ones), for the links a failure gets. */
const printed = new Map<string, Printed>();
const PRINTED_KEPT = 1000;
function remember(key: string, text: string): string {
  printed.delete(text);
  printed.set(text, { key, text });
  if (printed.size > PRINTED_KEPT) printed.delete(printed.keys().next().value as string);
  return text;
}
/**
 * Every line the task prints passes here or through warn: whatever a message was built from, no
 * control character but our own line breaks and no agent command sequence reaches the agent.
 */
export const log = (line: string): void => console.log(safeForLog(line));
/** The troubleshooting entries a warning linked: a run with many warnings of one kind links it once. */
const linkedByWarnings = new Set<string>();
/** A warning, then a line linking the troubleshooting entry of each message it is made of, once a run. */
export const warn = (line: string): void => {
  tl.warning(safeForLog(line));
  for (const key of failureKeys(line, printed.values())) {
    if (linkedByWarnings.has(key)) continue;
    linkedByWarnings.add(key);
    log(loc('SeeTroubleshooting', troubleshootingLink(key)));
  }
};
/**
 * The step's failure, as the one error line and the result, after a line linking the
 * troubleshooting entry of each message it is made of.
 */
export const fail = (message: string): void => {
  for (const key of failureKeys(message, printed.values())) log(loc('SeeTroubleshooting', troubleshootingLink(key)));
  tl.setResult(tl.TaskResult.Failed, safeForLog(message));
};
export const succeed = (): void => tl.setResult(tl.TaskResult.Succeeded, '');
/** The step did nothing, by the task's configuration: shown as skipped, not counted against the job. */
export const skip = (message: string): void => tl.setResult(tl.TaskResult.Skipped, safeForLog(message));
/** A debug line (shown with System.Debug): for what is not the user's to act on, such as a stack. */
export const debug = (line: string): void => tl.debug(safeForLog(line));
/** Registers a value for the agent to mask in every later line of the job. */
export const mask = (value: string): void => tl.setSecret(value);

/**
 * A field of a service connection's authorization (the AppRole secret_id, the certificate PEM),
 * read from the agent's ENDPOINT_AUTH_<id> as arm-rest reads System.AccessToken:
 * getEndpointAuthorizationParameter would print the value in a debug line. Keys are matched without
 * regard to case, as the agent stores them.
 */
export function endpointAuthField(connection: string, key: string): string {
  const parameters = tl.getEndpointAuthorization(connection, true)?.parameters ?? {};
  const found = Object.keys(parameters).find((k) => k.toLowerCase() === key.toLowerCase());
  return found === undefined ? '' : (parameters[found] ?? '');
}

/** Inputs, variables and service connections, through the agent: what every input reader sees. */
export const inputPort: InputPort = {
  input: (name) => (tl.getInput(name, false) ?? '').trim(),
  variable: (name) => (tl.getVariable(name) ?? '').trim(),
  endpoint: (id) => ({
    url: tl.getEndpointUrl(id, true) ?? '',
    scheme: tl.getEndpointAuthorizationScheme(id, true) ?? '',
    data: (key) => (tl.getEndpointDataParameter(id, key, true) ?? '').trim(),
    auth: (key) => endpointAuthField(id, key),
  }),
};

/** The step's configuration as the agent holds it: inputs, connections, variables, its certificate and proxy settings. */
export const configSource: ConfigSource = {
  port: inputPort,
  loc,
  readFile: readInputFile,
  rawInput: (name) => tl.getInput(name, false) ?? '',
  agentCertificates: () => tl.getHttpCertConfiguration() ?? undefined,
  proxyFor: (url) => {
    const p = tl.getHttpProxyConfiguration(url);
    return p?.proxyUrl ? { url: p.proxyUrl, username: p.proxyUsername || undefined, password: p.proxyPassword || undefined } : undefined;
  },
};

/**
 * Pipeline variables, through the agent. A secret one is task-lib's `task.setvariable` command, the
 * line tl.setVariable writes, without what else it does for a secret: it keeps the value encrypted
 * for getVariable in this process, which the step never asks for, and reads its key file from disk
 * to do so (10 ms for 200 secrets, on the way to the step's end), and it refuses a multi-line value
 * unless SYSTEM_UNSAFEALLOWMULTILINESECRET is true, where the task publishes every value as read.
 */
export const variableSink: VariableSink = {
  setSecret: mask,
  setVariable: (name, value, secret, isOutput) =>
    secret
      ? tl.command('task.setvariable', { variable: name, isOutput: String(isOutput), issecret: 'true' }, value)
      : tl.setVariable(name, value, false, isOutput),
};

/** The job's own temporary folder, emptied by the agent after the job. */
export const agentTempDirectory = (): string => tl.getVariable('Agent.TempDirectory') || process.cwd();

const discard = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});

export const taskState: StateStore = {
  set: (name, value, secret) => tl.setTaskVariable(name, value, secret),
  // task-lib prints every task variable it reads in a debug line, secret or not.
  get: (name) => {
    tl.setStdStream(discard);
    try {
      return tl.getTaskVariable(name);
    } finally {
      tl.setStdStream(process.stdout);
    }
  },
};

export function retryPolicy(retries: number): RetryPolicy {
  return {
    retries,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random: Math.random,
    onRetry: (what, attempt, attempts, cause, waitMs) => log(loc('Retrying', what, attempt, attempts, cause, (waitMs / 1000).toFixed(1))),
  };
}
