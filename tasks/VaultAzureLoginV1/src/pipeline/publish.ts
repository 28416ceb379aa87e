// Masking and publishing: the only place that sets pipeline variables.
import { SecretValue } from '../vault/reader';

export interface VariableSink {
  setSecret(value: string): void;
  setVariable(name: string, value: string, secret: boolean, isOutput: boolean): void;
}

export interface Variable {
  name: string;
  value: string;
  /** "path key" or what else produced it, for the log. */
  source: string;
  secret: boolean;
}

/** A line that is only JSON punctuation and white space (`{`, `],`): structure, nothing secret. */
const structureOnly = /^[\s{}[\],:"]*$/;

/**
 * Every string that must be hidden in the log for `value`: the value itself, or, for a multi-line
 * value, each line of it (trimmed, once each). White space alone is never a mask (it would star
 * every blank in the log), nor is a line of a multi-line value that is only JSON punctuation.
 */
export function maskPiecesOf(value: string): string[] {
  if (!/[\r\n]/.test(value)) return value.trim() ? [value] : [];
  return [
    ...new Set(
      value
        .split(/\r?\n|\r/)
        .map((l) => l.trim())
        .filter((l) => l && !structureOnly.test(l)),
    ),
  ];
}

/** Masks every value read, in the form it will be published: exactly as read. */
export function maskAll(values: SecretValue[], sink: VariableSink): void {
  for (const v of values) {
    for (const piece of maskPiecesOf(v.value)) sink.setSecret(piece);
  }
}

/** Values too short for the log's masking to be of use: one or two characters, once trimmed. */
export function tooShortToMask(values: SecretValue[]): SecretValue[] {
  return values.filter((v) => {
    const length = [...v.value.trim()].length;
    return length > 0 && length <= 2;
  });
}

export interface Published {
  name: string;
  source: string;
  secret: boolean;
}

/** Publishes every variable, its value unchanged, multi-line ones included. */
export function publishAll(vars: Variable[], sink: VariableSink, isOutput: boolean): Published[] {
  const published: Published[] = [];
  for (const v of vars) {
    sink.setVariable(v.name, v.value, v.secret, isOutput);
    published.push({ name: v.name, source: v.source, secret: v.secret });
  }
  return published;
}
