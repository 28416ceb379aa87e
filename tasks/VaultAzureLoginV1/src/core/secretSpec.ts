// Pure parser of the `secrets` input into SecretRequest records, plus the
// variable-naming rules shared by everything that publishes those secrets.
//
// Syntax: one entry per line, or several separated by `;`.
//   <path>[@<version>] <selector> [| <target>]
// A target `file:NAME` writes the value to a file named NAME and publishes its path as NAME;
// NAME must also be a file name on every agent (not `.`, `..` or a Windows device name).
// Blank entries and lines whose first non-space character is `#` are ignored.
//
// Every message comes from task.json through the `loc` function the caller passes (task-lib's
// tl.loc in the task), so this module stays free of the pipeline library.

import type { Text } from './text';

export type Selector = { kind: 'key'; key: string } | { kind: 'all' } | { kind: 'json' };

export interface SecretRequest {
  /** 1-based line of the input. */
  line: number;
  /** The entry as written, trimmed (for messages). */
  entry: string;
  /** Logical path, slashes trimmed, without @version. */
  path: string;
  version?: number;
  selector: Selector;
  /** As written after '|', trimmed and without a `file:` prefix; undefined when absent. */
  target?: string;
  /** The target was `file:NAME`: the value goes to a file and NAME holds its path. */
  toFile?: boolean;
}

export interface SpecProblem {
  /** 1-based line of the input; 0 when the problem concerns the input as a whole. */
  line: number;
  /** The entry as written, trimmed; empty when the problem concerns the input as a whole. */
  entry: string;
  /** What is wrong and what is allowed, without the line/entry prefix. */
  message: string;
}

export class SecretSpecError extends Error {
  readonly problems: SpecProblem[];

  constructor(problems: SpecProblem[], loc: Text) {
    super(problems.map((p) => formatProblem(p, loc)).join('\n'));
    this.name = 'SecretSpecError';
    this.problems = problems;
  }
}

/** Renders a problem as `secrets line 3: "<entry>": <message>`. */
export function formatProblem(p: SpecProblem, loc: Text): string {
  return p.line > 0 ? loc('SpecLineProblem', p.line, p.entry, p.message) : p.message;
}

/** Variable-name prefixes Azure DevOps withholds from tasks and scripts (compared ignoring case). */
export const RESERVED_PREFIXES: readonly string[] = ['endpoint', 'input', 'secret', 'path', 'securefile'];

/**
 * Namespaces of the agent's predefined variables (Agent.TempDirectory, System.AccessToken,
 * Build.SourcesDirectory…), which later steps and tasks read as the agent's own, dotted or in their
 * environment form (AGENT_TEMPDIRECTORY), in any capitalization.
 */
export const PREDEFINED_NAMESPACES: readonly string[] = ['Agent', 'System', 'Build', 'Release', 'Pipeline', 'Environment', 'Task'];

/** The name a step's environment gives a variable: "." (and space) as "_", upper-cased, as the agent does. */
export function envNameOf(name: string): string {
  return name.replace(/[. ]/g, '_').toUpperCase();
}

/** 'db-password' -> 'DB_PASSWORD': every character outside [A-Za-z0-9_] becomes '_', then upper-cased. */
export function normalizeKeyName(key: string): string {
  return key.replace(/[^A-Za-z0-9_]/gu, '_').toUpperCase();
}

/** Why `name` cannot be an Azure DevOps variable name, or undefined when it can. */
export function variableNameProblem(name: string, loc: Text): string | undefined {
  const reason = nameReason(name, loc);
  return reason === undefined ? undefined : loc('SpecNameInvalid', name, reason);
}

/** The reason a name is unusable, phrased to follow the quoted name; undefined when usable. */
function nameReason(name: string, loc: Text): string | undefined {
  if (name.length === 0) {
    return loc('SpecNameEmpty');
  }
  const bad = Array.from(new Set(Array.from(name.replace(/[A-Za-z0-9_.]/g, ''))));
  if (bad.length > 0) {
    const shown = bad.map((c) => (/\s/.test(c) ? loc('SpecNameSpace') : `"${c}"`)).join(', ');
    return loc('SpecNameBadChars', shown);
  }
  const lower = name.toLowerCase();
  const reserved = RESERVED_PREFIXES.find((p) => lower.startsWith(p));
  if (reserved !== undefined) {
    return loc('SpecNameReserved', reserved, RESERVED_PREFIXES.join(', '));
  }
  const predefined = PREDEFINED_NAMESPACES.find(
    (ns) => lower.startsWith(`${ns.toLowerCase()}.`) || lower.startsWith(`${ns.toLowerCase()}_`),
  );
  if (predefined !== undefined) {
    return loc('SpecNamePredefined', predefined, PREDEFINED_NAMESPACES.join(', '));
  }
  return undefined;
}

/**
 * The variable a request publishes. For a key or `.` selector this is the target, or the
 * normalized key when there is none; for `*` it is (target ?? '') + the normalized `key` read.
 */
export function variableNameFor(req: SecretRequest, key: string | undefined, loc: Text): string {
  switch (req.selector.kind) {
    case 'key':
      return req.target ?? normalizeKeyName(req.selector.key);
    case 'json':
      if (req.target === undefined) {
        throw new Error(formatProblem({ line: req.line, entry: req.entry, message: loc('SpecJsonUnnamed') }, loc));
      }
      return req.target;
    case 'all':
      if (key === undefined) {
        throw new Error(formatProblem({ line: req.line, entry: req.entry, message: loc('SpecAllNeedsKey') }, loc));
      }
      return (req.target ?? '') + normalizeKeyName(key);
  }
}

/**
 * Messages for variable names used more than once (compared ignoring case, as Azure DevOps
 * does). Each later use gets one message quoting its source and the first one's.
 */
export function findDuplicateNames(names: Array<{ name: string; source: string }>, loc: Text): string[] {
  return duplicatePairs(names.map((n) => n.name)).map(({ first, later }) => {
    const [a, b] = [names[first], names[later]];
    return b.name === a.name
      ? loc('SpecDuplicateRead', b.name, b.source, a.source)
      : loc('SpecDuplicateReadCase', b.name, b.source, a.name, a.source);
  });
}

/** Parses the `secrets` input; throws one SecretSpecError listing every problem found. */
export function parseSecrets(input: string, loc: Text): SecretRequest[] {
  const problems: SpecProblem[] = [];
  const requests: SecretRequest[] = [];
  let entryCount = 0;

  const lines = input.split(/\r\n|\r|\n/);
  lines.forEach((lineText, index) => {
    const line = index + 1;
    if (lineText.trim().startsWith('#')) {
      return;
    }
    for (const raw of splitOutsideQuotes(lineText, ';')) {
      const entry = raw.trim();
      if (entry.length === 0) {
        continue;
      }
      entryCount++;
      const result = parseEntry(line, entry, loc);
      if (typeof result === 'string') {
        problems.push({ line, entry, message: result });
      } else {
        requests.push(result);
      }
    }
  });

  if (entryCount === 0) {
    throw new SecretSpecError([{ line: 0, entry: '', message: loc('SpecNoEntries') }], loc);
  }

  // Names known before any read: key and `.` entries. `*` names are checked after reading.
  const named = requests.filter((r) => r.selector.kind !== 'all');
  for (const { first, later } of duplicatePairs(named.map((r) => variableNameFor(r, undefined, loc)))) {
    const a = named[first];
    const b = named[later];
    const name = variableNameFor(b, undefined, loc);
    const firstName = variableNameFor(a, undefined, loc);
    const firstSource = loc('SpecLine', a.line, a.entry);
    problems.push({
      line: b.line,
      entry: b.entry,
      message: name === firstName ? loc('SpecDuplicate', name, firstSource) : loc('SpecDuplicateCase', name, firstName, firstSource),
    });
  }

  if (problems.length > 0) {
    problems.sort((x, y) => x.line - y.line);
    throw new SecretSpecError(problems, loc);
  }
  return requests;
}

// ---------------------------------------------------------------------------------------------

/** For each name already used earlier (ignoring case): the index of its first use and of the repeat. */
function duplicatePairs(names: string[]): Array<{ first: number; later: number }> {
  const seen = new Map<string, number>();
  const pairs: Array<{ first: number; later: number }> = [];
  names.forEach((name, i) => {
    // One variable to the agent: names differing in case, or in "." against "_", meet in a step's environment.
    const folded = envNameOf(name);
    const first = seen.get(folded);
    if (first === undefined) {
      seen.set(folded, i);
    } else {
      pairs.push({ first, later: i });
    }
  });
  return pairs;
}

/**
 * Splits text at `separator` outside double quotes (a backslash escapes the next character inside
 * quotes): `;` between the entries of a secrets line, `|` in a certificates line, whose JSON
 * strings are double-quoted too.
 */
export function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') {
        i++;
      } else if (c === '"') {
        quoted = false;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

type Part = { kind: 'word'; text: string } | { kind: 'quoted'; text: string };
type Token = Part | { kind: 'pipe' };

/** Tokenizes one entry into words, quoted strings and `|`; returns a message on malformed quoting. */
function tokenize(entry: string, loc: Text): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  const isSpace = (c: string) => /\s/.test(c);
  while (i < entry.length) {
    const c = entry[i];
    if (isSpace(c)) {
      i++;
    } else if (c === '|') {
      tokens.push({ kind: 'pipe' });
      i++;
    } else if (c === '"') {
      let text = '';
      let j = i + 1;
      let closed = false;
      while (j < entry.length) {
        const d = entry[j];
        if (d === '\\' && (entry[j + 1] === '"' || entry[j + 1] === '\\')) {
          text += entry[j + 1];
          j += 2;
        } else if (d === '"') {
          closed = true;
          j++;
          break;
        } else {
          text += d;
          j++;
        }
      }
      if (!closed) {
        return loc('SpecQuoteNotClosed', entry.slice(i));
      }
      if (j < entry.length && !isSpace(entry[j]) && entry[j] !== '|') {
        return loc('SpecTextAfterQuote', text);
      }
      tokens.push({ kind: 'quoted', text });
      i = j;
    } else {
      let j = i;
      while (j < entry.length && !isSpace(entry[j]) && entry[j] !== '|') {
        j++;
      }
      const text = entry.slice(i, j);
      if (text.includes('"')) {
        return loc('SpecWordHasQuote', text);
      }
      tokens.push({ kind: 'word', text });
      i = j;
    }
  }
  return tokens;
}

/** Parses one non-empty, trimmed entry into a request, or returns what is wrong with it. */
function parseEntry(line: number, entry: string, loc: Text): SecretRequest | string {
  const tokens = tokenize(entry, loc);
  if (typeof tokens === 'string') {
    return tokens;
  }

  const pipes = tokens.filter((t) => t.kind === 'pipe').length;
  if (pipes > 1) {
    return loc('SpecTwoPipes');
  }
  // At most one "|" is left: what comes before and after it are words and quoted keys only.
  const pipeAt = tokens.findIndex((t) => t.kind === 'pipe');
  const parts = tokens.filter((t): t is Part => t.kind !== 'pipe');
  const before = pipeAt === -1 ? parts : parts.slice(0, pipeAt);
  const after = pipeAt === -1 ? undefined : parts.slice(pipeAt);

  if (before.length === 0) {
    return loc('SpecPathKeyMissing');
  }

  const pathToken = before[0];
  if (pathToken.kind !== 'word') {
    return loc('SpecPathNotFirst');
  }
  const parsedPath = parsePath(pathToken.text, loc);
  if (typeof parsedPath === 'string') {
    return parsedPath;
  }

  if (before.length === 1) {
    return loc('SpecSelectorMissing');
  }
  if (before.length > 2) {
    const extra = before
      .slice(2)
      .map((t) => t.text)
      .join(' ');
    return after === undefined ? loc('SpecExtraWords', extra) : loc('SpecExtraWordsBeforePipe', extra);
  }

  const selTok = before[1];
  let selector: Selector;
  if (selTok.kind === 'quoted') {
    if (selTok.text.length === 0) {
      return loc('SpecQuotedKeyEmpty');
    }
    selector = { kind: 'key', key: selTok.text };
  } else if (selTok.text === '*') {
    selector = { kind: 'all' };
  } else if (selTok.text === '.') {
    selector = { kind: 'json' };
  } else {
    selector = { kind: 'key', key: selTok.text };
  }

  let target: string | undefined;
  if (after !== undefined) {
    if (after.length === 0) {
      return loc(selector.kind === 'all' ? 'SpecPrefixMissing' : 'SpecNameMissing');
    }
    if (after.length > 1 || after[0].kind !== 'word') {
      return loc('SpecTargetNotOneName', after.map((t) => t.text).join(' '));
    }
    target = after[0].text;
  }

  let toFile = false;
  if (target !== undefined && /^file:/i.test(target)) {
    toFile = true;
    target = target.slice('file:'.length);
    if (!target) return loc('SpecFileNameMissing');
    if (selector.kind === 'all') return loc('SpecAllToFile', target);
  }

  const request: SecretRequest = { line, entry, path: parsedPath.path, selector };
  if (toFile) request.toFile = true;
  if (parsedPath.version !== undefined) {
    request.version = parsedPath.version;
  }
  if (target !== undefined) {
    request.target = target;
  }

  switch (selector.kind) {
    case 'json': {
      if (target === undefined) {
        return loc('SpecJsonNeedsName', parsedPath.path);
      }
      const reason = nameReason(target, loc);
      if (reason !== undefined) {
        return loc('SpecTargetInvalid', target, reason);
      }
      break;
    }
    case 'all': {
      if (target !== undefined) {
        const reason = nameReason(target, loc);
        if (reason !== undefined) {
          return loc('SpecPrefixInvalid', target, reason);
        }
      }
      break;
    }
    case 'key': {
      if (target !== undefined) {
        const reason = nameReason(target, loc);
        if (reason !== undefined) {
          return loc('SpecTargetInvalid', target, reason);
        }
      } else {
        const derived = normalizeKeyName(selector.key);
        const reason = nameReason(derived, loc);
        if (reason !== undefined) {
          return loc('SpecDerivedNameInvalid', selector.key, derived, reason, derived);
        }
      }
      break;
    }
  }

  if (toFile && target !== undefined) {
    const problem = fileNameProblem(target, loc);
    if (problem !== undefined) return problem;
  }

  return request;
}

/**
 * Device names Windows reserves in every folder, alone or before an extension (`NUL`, `con.txt`),
 * in any capitalization. Windows also reserves COM and LPT with a superscript 1, 2 or 3; a
 * `file:` name cannot hold them, as variable names are letters, digits, `_` and `.` only.
 */
const WINDOWS_DEVICE = /^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\.|$)/i;

/**
 * Why the variable name of a `file:` target, which is also the secret file's name, cannot name a
 * file on every agent; undefined when it can. The same YAML may run on Linux, macOS or Windows
 * agents, so the Windows rules apply everywhere. Called once the name is a valid variable name.
 */
export function fileNameProblem(name: string, loc: Text): string | undefined {
  // "." and ".." are folders everywhere; Windows drops a name's trailing dots, so "..." is "." there.
  if (/^\.+$/.test(name)) {
    return loc('SpecFileNameDots', name);
  }
  const device = WINDOWS_DEVICE.exec(name);
  if (device !== null) {
    return loc('SpecFileNameDevice', name, device[1].toUpperCase(), name);
  }
  // Windows drops the trailing dots of a name: "a." and "a" would be one file there.
  if (name.endsWith('.')) {
    return loc('SpecFileNameTrailingDot', name, name.replace(/\.+$/, ''));
  }
  return undefined;
}

/** Splits `path[@version]`, trims slashes and checks the shape; returns a message when invalid. */
function parsePath(written: string, loc: Text): { path: string; version?: number } | string {
  if (written.startsWith('#')) {
    return loc('SpecCommentAfterSemicolon');
  }
  let pathPart = written;
  let version: number | undefined;
  const at = written.indexOf('@');
  if (at !== -1) {
    pathPart = written.slice(0, at);
    const v = written.slice(at + 1);
    const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      return loc('SpecVersionNotNumber', v);
    }
    version = n;
  }

  const path = pathPart.replace(/^\/+|\/+$/g, '');
  if (path.length === 0) {
    return loc('SpecPathEmpty');
  }
  const badChar = ['?', '#'].find((c) => path.includes(c));
  if (badChar !== undefined) {
    return loc('SpecPathBadChar', path, badChar);
  }
  // What a URL parser or Vault would turn into another path than the one checked and logged: a
  // backslash becomes "/", "%2e%2e" becomes "..", "%2F" becomes "/", and control characters are
  // dropped. The path written is then the path requested, or an error.
  const rewritten = /[\\%\u0000-\u001f\u007f]/.exec(path);
  if (rewritten !== null) {
    return loc('SpecPathRewritten', path, rewritten[0]);
  }
  const segments = path.split('/');
  if (segments.some((s) => s.length === 0 || s === '.' || s === '..')) {
    return loc('SpecPathBadSegment', path);
  }
  if (segments.length < 2) {
    return loc('SpecPathOnlyMount', path, path);
  }
  return version === undefined ? { path } : { path, version };
}
