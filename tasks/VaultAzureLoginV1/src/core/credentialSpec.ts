// Pure parser of the `certificates` and `sshCertificates` inputs: requests for credentials Vault
// makes for this job (a TLS certificate from the PKI engine, an SSH certificate from the SSH
// engine), checked before any request is sent.
//
// Syntax: one request per line; blank lines and lines starting with `#` are ignored.
//   certificates:     <mount>/issue/<role> [key=value ... | {JSON}] [| PREFIX_ | file:PREFIX_]
//   sshCertificates:  <mount>/sign/<role>  [key=value ... | {JSON}] [| PREFIX_]
// Values are strings (quoted with "…" when they hold spaces), numbers, booleans, lists of strings
// or numbers, or (SSH's critical_options and extensions) maps of strings; JSON for the last three.
import { fileNameProblem, normalizeKeyName, SpecProblem, splitOutsideQuotes, variableNameProblem } from './secretSpec';
import type { Text } from './text';

export type CredentialKind = 'pki' | 'ssh';

export type ParamValue = string | number | boolean | Array<string | number> | Record<string, string>;

export interface CredentialRequest {
  kind: CredentialKind;
  /** 1-based line of its input. */
  line: number;
  /** The line as written, trimmed (for messages). */
  entry: string;
  mount: string;
  role: string;
  /** `<mount>/issue/<role>` or `<mount>/sign/<role>`. */
  path: string;
  params: Record<string, ParamValue>;
  /** Parameter names Vault's documentation does not list for this endpoint: sent, and named in the log. */
  unknownParams: string[];
  /** Prefix of the variables published. */
  prefix: string;
  /** PKI `file:`: the certificate, key and CA are written to files whose paths the variables hold. SSH: always. */
  toFile: boolean;
}

/** The variables a request publishes, suffix → what it holds; in this order. */
export const PKI_OUTPUTS = ['CERTIFICATE', 'PRIVATE_KEY', 'ISSUING_CA', 'CA_CHAIN'] as const;
export const SSH_OUTPUTS = ['KEY', 'CERT'] as const;

export function outputNames(req: Pick<CredentialRequest, 'kind' | 'prefix'>): string[] {
  return (req.kind === 'pki' ? PKI_OUTPUTS : SSH_OUTPUTS).map((s) => `${req.prefix}${s}`);
}

/** Parameters of `POST <pki>/issue/<role>` as Vault documents them. */
const PKI_PARAMS = new Set([
  'common_name',
  'alt_names',
  'ip_sans',
  'uri_sans',
  'other_sans',
  'ttl',
  'not_after',
  'format',
  'private_key_format',
  'exclude_cn_from_sans',
  'remove_roots_from_chain',
  'user_ids',
  'issuer_ref',
  'cert_metadata',
  'not_before_duration',
]);
/** Parameters of `POST <ssh>/sign/<role>`; `public_key` is the task's own. */
const SSH_PARAMS = new Set(['ttl', 'valid_principals', 'cert_type', 'key_id', 'critical_options', 'extensions']);

const ENDPOINT: Record<CredentialKind, { verb: string; input: string }> = {
  pki: { verb: 'issue', input: 'certificates' },
  ssh: { verb: 'sign', input: 'sshCertificates' },
};

export class CredentialSpecError extends Error {
  constructor(
    readonly input: string,
    readonly problems: SpecProblem[],
    loc: Text,
  ) {
    super(problems.map((p) => loc('CredentialLineProblem', input, p.line, p.entry, p.message)).join('\n'));
    this.name = 'CredentialSpecError';
  }
}

const mountSegment = /^[A-Za-z0-9_.-]+$/;
const roleName = /^[A-Za-z0-9_.@-]+$/;
const paramName = /^[a-z][a-z0-9_]*$/;
/** A Vault duration: seconds as a number, or a Go duration such as `90s`, `15m`, `1h30m`, `2d` accepted by Vault. */
const duration = /^(\d+|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+)$/;

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };

/** A `ttl` as Vault reads it, in seconds: a number of seconds, or a duration such as `1h30m`; undefined when neither. */
export function durationSeconds(value: ParamValue): number | undefined {
  const text = String(value);
  if (typeof value !== 'number' && typeof value !== 'string') return undefined;
  if (!duration.test(text)) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_SECONDS[m[2]];
  return total;
}

/** Parses one of the two inputs; throws one CredentialSpecError listing every problem found. */
export function parseCredentials(kind: CredentialKind, input: string, loc: Text): CredentialRequest[] {
  const problems: SpecProblem[] = [];
  const requests: CredentialRequest[] = [];
  input.split(/\r\n|\r|\n/).forEach((text, index) => {
    const entry = text.trim();
    if (!entry || entry.startsWith('#')) return;
    const result = parseLine(kind, index + 1, entry, loc);
    if (typeof result === 'string') problems.push({ line: index + 1, entry, message: result });
    else requests.push(result);
  });
  const seen = new Map<string, CredentialRequest>();
  for (const r of requests) {
    for (const name of outputNames(r)) {
      const first = seen.get(name.toUpperCase());
      if (first && first !== r) {
        problems.push({ line: r.line, entry: r.entry, message: loc('CredentialNameTwice', name, first.line, first.entry) });
        break;
      }
      seen.set(name.toUpperCase(), r);
    }
  }
  if (problems.length)
    throw new CredentialSpecError(
      ENDPOINT[kind].input,
      problems.sort((a, b) => a.line - b.line),
      loc,
    );
  return requests;
}

function parseLine(kind: CredentialKind, line: number, entry: string, loc: Text): CredentialRequest | string {
  const { verb } = ENDPOINT[kind];
  const parts = splitOutsideQuotes(entry, '|');
  if (parts.length > 2) return loc('CredentialTwoPipes');
  const head = parts[0].trim();
  const space = head.search(/\s/);
  const path = (space === -1 ? head : head.slice(0, space)).replace(/^\/+|\/+$/g, '');
  const rest = space === -1 ? '' : head.slice(space + 1).trim();

  const segments = path.split('/');
  const at = segments.lastIndexOf(verb);
  if (at < 1 || at !== segments.length - 2) return loc('CredentialPathShape', path, verb, kind);
  const mountSegments = segments.slice(0, at);
  if (mountSegments.some((s) => !mountSegment.test(s) || s === '.' || s === '..')) return loc('CredentialPathShape', path, verb, kind);
  const role = segments[at + 1];
  if (!roleName.test(role)) return loc('CredentialPathShape', path, verb, kind);
  const mount = mountSegments.join('/');

  const params = rest.startsWith('{') ? parseJson(rest, loc) : parsePairs(rest, loc);
  if (typeof params === 'string') return params;
  const problem = checkParams(kind, params, loc);
  if (problem) return problem;

  let target = parts.length === 2 ? parts[1].trim() : '';
  if (parts.length === 2 && !target) return loc('CredentialPrefixMissing');
  let toFile = kind === 'ssh';
  if (/^file:/i.test(target)) {
    if (kind === 'ssh') return loc('SshCertificateAlwaysFiles', target.slice(5));
    toFile = true;
    target = target.slice(5);
    if (!target) return loc('SpecFileNameMissing');
  }
  if (/\s/.test(target)) return loc('CredentialTargetNotOne', target);
  const prefix = target || `${normalizeKeyName(role)}_`;
  const request: CredentialRequest = {
    kind,
    line,
    entry,
    mount,
    role,
    path: `${mount}/${verb}/${role}`,
    params,
    unknownParams: Object.keys(params).filter((n) => !(kind === 'pki' ? PKI_PARAMS : SSH_PARAMS).has(n)),
    prefix,
    toFile,
  };
  for (const name of outputNames(request)) {
    const bad = variableNameProblem(name, loc) ?? (toFile ? fileNameProblem(name, loc) : undefined);
    if (bad) return target ? bad : loc('CredentialDefaultPrefix', prefix, bad);
  }
  return request;
}

function parseJson(text: string, loc: Text): Record<string, ParamValue> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return loc('CredentialJsonInvalid', (err as Error).message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return loc('CredentialJsonInvalid', 'not an object');
  const out: Record<string, ParamValue> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (!isParamValue(v)) return loc('CredentialValueType', name, JSON.stringify(v));
    out[name] = v;
  }
  return out;
}

const scalar = (v: unknown): v is string | number => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

function isParamValue(v: unknown): v is ParamValue {
  if (scalar(v) || typeof v === 'boolean') return true;
  if (Array.isArray(v)) return v.every(scalar);
  return v !== null && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'string');
}

/** `key=value` words; a value in double quotes may hold spaces (`\"` and `\\` inside). */
function parsePairs(text: string, loc: Text): Record<string, ParamValue> | string {
  const out: Record<string, ParamValue> = {};
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i])) {
      i++;
      continue;
    }
    const eq = text.indexOf('=', i);
    const nextSpace = text.slice(i).search(/\s/);
    const wordEnd = nextSpace === -1 ? text.length : i + nextSpace;
    if (eq === -1 || eq > wordEnd) return loc('CredentialPairInvalid', text.slice(i, wordEnd));
    const name = text.slice(i, eq);
    let value = '';
    let j = eq + 1;
    if (text[j] === '"') {
      j++;
      let closed = false;
      while (j < text.length) {
        if (text[j] === '\\' && (text[j + 1] === '"' || text[j + 1] === '\\')) {
          value += text[j + 1];
          j += 2;
        } else if (text[j] === '"') {
          closed = true;
          j++;
          break;
        } else value += text[j++];
      }
      if (!closed) return loc('CredentialQuoteInvalid', name);
      if (j < text.length && !/\s/.test(text[j])) return loc('CredentialQuoteInvalid', name);
    } else {
      while (j < text.length && !/\s/.test(text[j])) value += text[j++];
      if (value.includes('"')) return loc('CredentialQuoteInvalid', name);
    }
    if (Object.hasOwn(out, name)) return loc('CredentialParamTwice', name);
    out[name] = value;
    i = j;
  }
  return out;
}

function checkParams(kind: CredentialKind, params: Record<string, ParamValue>, loc: Text): string | undefined {
  for (const name of Object.keys(params)) if (!paramName.test(name)) return loc('CredentialParamName', name);
  const text = (name: string) => (params[name] === undefined ? undefined : String(params[name]));
  const ttl = text('ttl');
  if (ttl !== undefined && !duration.test(ttl)) return loc('CredentialTtlInvalid', ttl);
  if (kind === 'pki') {
    // The task publishes PEM text: a DER answer is base64 of binary, and pem_bundle puts the key into the certificate.
    const format = text('format');
    if (format !== undefined && format !== 'pem') return loc('CredentialParamValue', 'format', format, 'pem');
    const keyFormat = text('private_key_format');
    // With format=pem both give PEM text: der a PKCS#1 or SEC 1 key, pkcs8 a PKCS#8 one.
    if (keyFormat !== undefined && keyFormat !== 'pkcs8' && keyFormat !== 'der')
      return loc('CredentialParamValue', 'private_key_format', keyFormat, 'der or pkcs8');
  } else {
    if (params.public_key !== undefined) return loc('SshPublicKeyOwn');
    const certType = text('cert_type');
    if (certType !== undefined && certType !== 'user' && certType !== 'host')
      return loc('CredentialParamValue', 'cert_type', certType, 'user, host');
  }
  return undefined;
}
