// Pure parser of the `secrets` input into SecretRequest records, plus the
// variable-naming rules shared by everything that publishes those secrets.
//
// Syntax: one entry per line, or several separated by `;`.
//   <path>[@<version>] <selector> [| <target>]
// A target `file:NAME` writes the value to a file and publishes its path as NAME.
// Blank entries and lines whose first non-space character is `#` are ignored.

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

  constructor(problems: SpecProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'SecretSpecError';
    this.problems = problems;
  }
}

/** Renders a problem as `secrets line 3: "<entry>": <message>`. */
export function formatProblem(p: SpecProblem): string {
  return p.line > 0 ? `${describeEntry(p.line, p.entry)}: ${p.message}` : p.message;
}

/** Variable-name prefixes Azure DevOps withholds from tasks and scripts (compared ignoring case). */
export const RESERVED_PREFIXES: readonly string[] = ['endpoint', 'input', 'secret', 'path', 'securefile'];

const SYNTAX = '<path>[@<version>] <key | * | .> [| <variable>]';
const EXAMPLE = 'secret/ci/db password | DB_PASSWORD';

/** 'db-password' -> 'DB_PASSWORD': every character outside [A-Za-z0-9_] becomes '_', then upper-cased. */
export function normalizeKeyName(key: string): string {
  return key.replace(/[^A-Za-z0-9_]/gu, '_').toUpperCase();
}

/** Why `name` cannot be an Azure DevOps variable name, or undefined when it can. */
export function variableNameProblem(name: string): string | undefined {
  const reason = nameReason(name);
  return reason === undefined ? undefined : `the variable name "${name}" ${reason}`;
}

/** The reason a name is unusable, phrased to follow the quoted name; undefined when usable. */
function nameReason(name: string): string | undefined {
  if (name.length === 0) {
    return 'is empty; use letters, digits, "_" and "."';
  }
  const bad = Array.from(new Set(Array.from(name.replace(/[A-Za-z0-9_.]/g, ''))));
  if (bad.length > 0) {
    const shown = bad.map(c => (/\s/.test(c) ? 'a space' : `"${c}"`)).join(', ');
    return `contains ${shown}; only letters, digits, "_" and "." are allowed`;
  }
  const lower = name.toLowerCase();
  const reserved = RESERVED_PREFIXES.find(p => lower.startsWith(p));
  if (reserved !== undefined) {
    return (
      `starts with "${reserved}", and Azure DevOps hides variables whose names start with ` +
      `${RESERVED_PREFIXES.join(', ')} (in any capitalization) from tasks and scripts`
    );
  }
  return undefined;
}

/**
 * The variable a request publishes. For a key or `.` selector this is the target, or the
 * normalized key when there is none; for `*` it is (target ?? '') + the normalized `key` read.
 */
export function variableNameFor(req: SecretRequest, key?: string): string {
  switch (req.selector.kind) {
    case 'key':
      return req.target ?? normalizeKeyName(req.selector.key);
    case 'json':
      if (req.target === undefined) {
        throw new Error(`${describeEntry(req.line, req.entry)}: "." needs a variable name after "|"`);
      }
      return req.target;
    case 'all':
      if (key === undefined) {
        throw new Error(`${describeEntry(req.line, req.entry)}: a key read from the secret is needed to name a "*" variable`);
      }
      return (req.target ?? '') + normalizeKeyName(key);
  }
}

/**
 * Messages for variable names used more than once (compared ignoring case, as Azure DevOps
 * does). Each later use gets one message quoting its source and the first one's.
 */
export function findDuplicateNames(names: Array<{ name: string; source: string }>): string[] {
  return duplicatePairs(names.map(n => n.name)).map(({ first, later }) =>
    alreadyPublished(names[later].name, names[first].name, names[first].source, names[later].source),
  );
}

/** Parses the `secrets` input; throws one SecretSpecError listing every problem found. */
export function parseSecrets(text: string): SecretRequest[] {
  const problems: SpecProblem[] = [];
  const requests: SecretRequest[] = [];
  let entryCount = 0;

  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((lineText, index) => {
    const line = index + 1;
    if (lineText.trim().startsWith('#')) {
      return;
    }
    for (const raw of splitEntries(lineText)) {
      const entry = raw.trim();
      if (entry.length === 0) {
        continue;
      }
      entryCount++;
      const result = parseEntry(line, entry);
      if (typeof result === 'string') {
        problems.push({ line, entry, message: result });
      } else {
        requests.push(result);
      }
    }
  });

  if (entryCount === 0) {
    throw new SecretSpecError([
      { line: 0, entry: '', message: `the secrets input has no entries; add lines such as \`${EXAMPLE}\`` },
    ]);
  }

  // Names known before any read: key and `.` entries. `*` names are checked after reading.
  const named = requests.filter(r => r.selector.kind !== 'all');
  for (const { first, later } of duplicatePairs(named.map(r => variableNameFor(r)))) {
    const a = named[first];
    const b = named[later];
    problems.push({
      line: b.line,
      entry: b.entry,
      message: alreadyPublished(variableNameFor(b), variableNameFor(a), describeEntry(a.line, a.entry)),
    });
  }

  if (problems.length > 0) {
    problems.sort((x, y) => x.line - y.line);
    throw new SecretSpecError(problems);
  }
  return requests;
}

// ---------------------------------------------------------------------------------------------

function describeEntry(line: number, entry: string): string {
  return `secrets line ${line}: "${entry}"`;
}

/** `the variable "X"[ from <source>] is already published[ as "x"] by <firstSource>; ...` */
function alreadyPublished(name: string, firstName: string, firstSource: string, source?: string): string {
  const from = source === undefined ? '' : ` from ${source}`;
  const caseNote = name === firstName ? '' : ` as "${firstName}" (Azure DevOps variable names ignore case)`;
  return (
    `the variable "${name}"${from} is already published${caseNote} by ${firstSource}; ` +
    `each variable name may be used only once, so rename one of them with "| NAME"`
  );
}

/** For each name already used earlier (ignoring case): the index of its first use and of the repeat. */
function duplicatePairs(names: string[]): Array<{ first: number; later: number }> {
  const seen = new Map<string, number>();
  const pairs: Array<{ first: number; later: number }> = [];
  names.forEach((name, i) => {
    const folded = name.toLowerCase();
    const first = seen.get(folded);
    if (first === undefined) {
      seen.set(folded, i);
    } else {
      pairs.push({ first, later: i });
    }
  });
  return pairs;
}

/** Splits a line at `;` outside double quotes (a backslash escapes the next character inside quotes). */
function splitEntries(lineText: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < lineText.length; i++) {
    const c = lineText[i];
    if (quoted) {
      if (c === '\\') {
        i++;
      } else if (c === '"') {
        quoted = false;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ';') {
      parts.push(lineText.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(lineText.slice(start));
  return parts;
}

type Token = { kind: 'word'; text: string } | { kind: 'quoted'; text: string } | { kind: 'pipe' };

/** Tokenizes one entry into words, quoted strings and `|`; returns a message on malformed quoting. */
function tokenize(entry: string): Token[] | string {
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
        return `the quote opened at ${entry.slice(i)} is never closed; end a quoted key with '"' and write a quote inside it as \\"`;
      }
      if (j < entry.length && !isSpace(entry[j]) && entry[j] !== '|') {
        return `text follows the closing quote of "${text}" without a space; put the whole key inside the quotes`;
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
        return `"${text}" contains a quote; quote a whole key ("my key") and write a quote inside it as \\"`;
      }
      tokens.push({ kind: 'word', text });
      i = j;
    }
  }
  return tokens;
}

/** Parses one non-empty, trimmed entry into a request, or returns what is wrong with it. */
function parseEntry(line: number, entry: string): SecretRequest | string {
  const tokens = tokenize(entry);
  if (typeof tokens === 'string') {
    return tokens;
  }

  const pipes = tokens.filter(t => t.kind === 'pipe').length;
  if (pipes > 1) {
    return `an entry may contain only one "|"; write one entry per line (or separate entries with ";") as ${SYNTAX}`;
  }
  const pipeAt = tokens.findIndex(t => t.kind === 'pipe');
  const before = pipeAt === -1 ? tokens : tokens.slice(0, pipeAt);
  const after = pipeAt === -1 ? undefined : tokens.slice(pipeAt + 1);

  if (before.length === 0) {
    return `the path and key are missing before "|"; write ${SYNTAX}, such as ${EXAMPLE}`;
  }

  const pathToken = before[0];
  if (pathToken.kind !== 'word') {
    return `the path must come first and cannot be quoted or contain spaces; write ${SYNTAX}, such as ${EXAMPLE}`;
  }
  const parsedPath = parsePath(pathToken.text);
  if (typeof parsedPath === 'string') {
    return parsedPath;
  }

  if (before.length === 1) {
    return (
      `a selector must follow the path: a key name, "*" for every key, or "." for the whole secret as JSON; ` +
      `such as ${EXAMPLE}`
    );
  }
  if (before.length > 2) {
    const extra = before.slice(2).map(t => (t.kind === 'pipe' ? '|' : t.text)).join(' ');
    return (
      `expected only a path and one selector${after === undefined ? '' : ' before "|"'}, but "${extra}" follows the selector; ` +
      `quote a key that contains spaces ("my key") and put the variable name after "|", as ${SYNTAX}`
    );
  }

  const selTok = before[1];
  let selector: Selector;
  if (selTok.kind === 'quoted') {
    if (selTok.text.length === 0) {
      return `the quoted key is empty; name a key such as "password", or use "*" for every key or "." for the whole secret`;
    }
    selector = { kind: 'key', key: selTok.text };
  } else if (selTok.kind === 'word' && selTok.text === '*') {
    selector = { kind: 'all' };
  } else if (selTok.kind === 'word' && selTok.text === '.') {
    selector = { kind: 'json' };
  } else if (selTok.kind === 'word') {
    selector = { kind: 'key', key: selTok.text };
  } else {
    return `unexpected "|"`; // unreachable: pipes were split off above
  }

  let target: string | undefined;
  if (after !== undefined) {
    if (after.length === 0) {
      return selector.kind === 'all'
        ? `nothing follows "|"; give a variable-name prefix such as "* | API_", or drop the "|" to use the key names alone`
        : `nothing follows "|"; give a variable name such as "| DB_PASSWORD", or drop the "|"`;
    }
    if (after.length > 1 || after[0].kind !== 'word') {
      const written = after.map(t => (t.kind === 'pipe' ? '|' : t.text)).join(' ');
      return `"${written}" after "|" is not one variable name; use a single name of letters, digits, "_" and ".", such as DB_PASSWORD`;
    }
    target = after[0].text;
  }

  let toFile = false;
  if (target !== undefined && /^file:/i.test(target)) {
    toFile = true;
    target = target.slice('file:'.length);
    if (!target) return `nothing follows "file:"; give the variable that will hold the file's path, such as "| file:TLS_CERT"`;
    if (selector.kind === 'all') return `"*" publishes many keys and cannot go to one file; name a key, or use "." for the whole secret as JSON, before "| file:${target}"`;
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
        return `"." publishes the whole secret as JSON and needs a variable name after "|", such as "${parsedPath.path} . | APP_SECRET_JSON"`;
      }
      const problem = variableNameProblem(target);
      if (problem !== undefined) {
        return `${problem}; choose another name after "|"`;
      }
      break;
    }
    case 'all': {
      if (target !== undefined) {
        const reason = nameReason(target);
        if (reason !== undefined) {
          return `the variable-name prefix "${target}" ${reason}; every variable from "*" starts with it, so choose another prefix after "|"`;
        }
      }
      break;
    }
    case 'key': {
      if (target !== undefined) {
        const problem = variableNameProblem(target);
        if (problem !== undefined) {
          return `${problem}; choose another name after "|"`;
        }
      } else {
        const derived = normalizeKeyName(selector.key);
        const reason = nameReason(derived);
        if (reason !== undefined) {
          return `the key "${selector.key}" would be published as the variable "${derived}", which ${reason}; name it explicitly after "|", such as "| APP_${derived}"`;
        }
      }
      break;
    }
  }

  return request;
}

/** Splits `path[@version]`, trims slashes and checks the shape; returns a message when invalid. */
function parsePath(written: string): { path: string; version?: number } | string {
  if (written.startsWith('#')) {
    return `a comment must be on a line of its own, starting with "#"; it cannot follow ";"`;
  }
  let pathPart = written;
  let version: number | undefined;
  const at = written.indexOf('@');
  if (at !== -1) {
    pathPart = written.slice(0, at);
    const v = written.slice(at + 1);
    const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      return `the version after "@" must be a whole number of 1 or more, such as secret/app@3 (found "@${v}")`;
    }
    version = n;
  }

  const path = pathPart.replace(/^\/+|\/+$/g, '');
  if (path.length === 0) {
    return `the path is empty; write the Vault path as "vault kv get" takes it, such as secret/ci/db`;
  }
  const badChar = ['?', '#'].find(c => path.includes(c));
  if (badChar !== undefined) {
    return `the path "${path}" contains "${badChar}", which cannot appear in a Vault path; write it as "vault kv get" takes it, such as secret/ci/db`;
  }
  const segments = path.split('/');
  if (segments.some(s => s.length === 0 || s === '.' || s === '..')) {
    return `the path "${path}" has an empty, "." or ".." segment; write each segment once, such as secret/ci/db`;
  }
  if (segments.length < 2) {
    return `"${path}" names only a mount; add the secret's path within it, such as ${path}/app`;
  }
  return version === undefined ? { path } : { path, version };
}
