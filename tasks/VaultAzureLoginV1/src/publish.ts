// Masking and publishing: the only place that sets pipeline variables.
import { SecretValue } from './reader';

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

const multiLineFlag = 'SYSTEM_UNSAFEALLOWMULTILINESECRET';

/** Every string that must be hidden in the log for `value`: the value, or each non-empty line of it. */
export function maskPiecesOf(value: string): string[] {
  if (!/[\r\n]/.test(value)) return value ? [value] : [];
  return [...new Set(value.split(/\r?\n|\r/).map((l) => l.trim()).filter(Boolean))];
}

/**
 * A multi-line value that is JSON is published as compact JSON, one line, as Microsoft's Key Vault
 * task does: masking each line of pretty-printed JSON would mask lone braces across the whole log.
 */
export function publishedForm(value: string): { value: string; compacted: boolean } {
  if (!/[\r\n]/.test(value)) return { value, compacted: false };
  try {
    const parsed = JSON.parse(value);
    if (parsed !== null && typeof parsed === 'object') return { value: JSON.stringify(parsed), compacted: true };
  } catch {
    // not JSON: published as it is, each line masked
  }
  return { value, compacted: false };
}

/** Masks every value read, in the form it will be published (a file's content as written). */
export function maskAll(values: SecretValue[], sink: VariableSink): void {
  for (const v of values) {
    const form = v.toFile ? v.value : publishedForm(v.value).value;
    for (const piece of maskPiecesOf(form)) sink.setSecret(piece);
  }
}

export interface Published {
  name: string;
  source: string;
  compacted: boolean;
  secret: boolean;
}

/**
 * Publishes every variable. Multi-line secret values are allowed for this process only; the flag
 * is restored afterwards and never becomes a pipeline variable.
 */
export function publishAll(vars: Variable[], sink: VariableSink, isOutput: boolean): Published[] {
  const before = process.env[multiLineFlag];
  const restore = () => {
    if (before === undefined) delete process.env[multiLineFlag];
    else process.env[multiLineFlag] = before;
  };
  const published: Published[] = [];
  try {
    for (const v of vars) {
      const { value, compacted } = v.secret ? publishedForm(v.value) : { value: v.value, compacted: false };
      if (/[\r\n]/.test(value)) process.env[multiLineFlag] = 'true';
      else restore();
      sink.setVariable(v.name, value, v.secret, isOutput);
      published.push({ name: v.name, source: v.source, compacted, secret: v.secret });
    }
  } finally {
    restore();
  }
  return published;
}
