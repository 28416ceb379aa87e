// Masking and publishing: the only place that sets pipeline variables.
import { SecretValue } from './reader';

export interface VariableSink {
  setSecret(value: string): void;
  setVariable(name: string, value: string, secret: boolean): void;
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

export function maskAll(values: SecretValue[], sink: VariableSink): void {
  for (const v of values) for (const piece of maskPiecesOf(publishedForm(v.value).value)) sink.setSecret(piece);
}

/**
 * Publishes every value as a secret variable. Multi-line values are allowed for this process only;
 * the flag is restored afterwards and never becomes a pipeline variable.
 */
export interface Published {
  name: string;
  source: string;
  compacted: boolean;
}

export function publishAll(values: SecretValue[], sink: VariableSink): Published[] {
  const published: Published[] = [];
  const before = process.env[multiLineFlag];
  try {
    for (const v of values) {
      const { value, compacted } = publishedForm(v.value);
      if (/[\r\n]/.test(value)) process.env[multiLineFlag] = 'true';
      else if (before === undefined) delete process.env[multiLineFlag];
      else process.env[multiLineFlag] = before;
      sink.setVariable(v.name, value, true);
      published.push({ name: v.name, source: v.source, compacted });
    }
  } finally {
    if (before === undefined) delete process.env[multiLineFlag];
    else process.env[multiLineFlag] = before;
  }
  return published;
}
