// Reading one task input: boolean, number, PEM, and the shapes of paths and names. Problems are
// collected, each naming the input and the fix, so that every bad input is told at once. The inputs
// come through a source (the agent's, from pipeline/adapter.ts; plain maps in tests).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { InputPort } from '../auth/method';
import { fileRefusal, MAX_PEM_FILE_BYTES, ReadFile } from '../core/inputFile';
import type { Text } from '../core/text';

/** Where inputs come from, the task's messages, and the bounded reader of the files inputs name. */
export interface InputSource {
  port: InputPort;
  loc: Text;
  readFile: ReadFile;
}

/** A mount or namespace path: names of letters, digits and - _ . separated by '/'. */
const plainPathPattern = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
export const rolePattern = /^\w([\w.-]*\w)?$/;

/** A mount or namespace path: names of letters, digits and - _ . separated by '/', none '.' or '..'. */
export function isPlainPath(path: string): boolean {
  return plainPathPattern.test(path) && !path.split('/').some((s) => s === '.' || s === '..');
}

export function trimSlashes(s: string): string {
  return s.trim().replace(/^\/+|\/+$/g, '');
}

export function booleanInput({ port, loc }: InputSource, name: string, fallback: boolean, problems: string[]): boolean {
  const raw = port.input(name).toLowerCase();
  if (!raw) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  problems.push(loc('BooleanInvalid', name, raw));
  return fallback;
}

export function numberInput(
  { port, loc }: InputSource,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = port.input(name);
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(loc('NumberInvalid', name, raw, min, max));
    return fallback;
  }
  return Number(raw);
}

/** PEM text, or the path of a PEM file (a regular file of at most 1 MiB). `kind` checks what it must hold. Never echoes key material. */
export function pemInput(
  { loc, readFile }: InputSource,
  name: string,
  raw: string,
  kind: 'certificate' | 'key',
  problems: string[],
  passphrase?: string,
): string | undefined {
  if (!raw) return undefined;
  let pem = raw;
  if (!raw.includes('-----BEGIN')) {
    const file = readFile(raw, MAX_PEM_FILE_BYTES);
    if (!('text' in file)) {
      if (file.refused === 'missing') problems.push(loc('PemFileMissing', name, raw));
      else if (file.refused === 'unreadable') problems.push(loc('PemFileUnreadable', name, raw, file.code));
      else problems.push(fileRefusal(loc('InputNamed', name), raw, MAX_PEM_FILE_BYTES, file, loc) ?? '');
      return undefined;
    }
    pem = file.text;
  }
  try {
    if (kind === 'certificate') new X509Certificate(pem);
    else createPrivateKey({ key: pem, passphrase });
  } catch {
    problems.push(loc(kind === 'certificate' ? 'PemNotCertificate' : 'PemNotKey', name));
    return undefined;
  }
  return pem;
}
