// Secret files: values of `file:` targets, written with mode 0600 in a private folder under
// Agent.TempDirectory, and removed by the post-job step.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface FileStore {
  /** Writes `value` to a new file named after the variable; returns its path. */
  write(name: string, value: string): string;
}

export function secretFileStore(tempDir: string): FileStore {
  let dir: string | undefined;
  return {
    write(name, value) {
      if (!dir) {
        dir = path.join(tempDir, `VaultAzureLogin-${randomUUID()}`);
        fs.mkdirSync(dir, { mode: 0o700 });
      }
      const file = path.join(dir, name);
      fs.writeFileSync(file, value, { mode: 0o600, flag: 'wx' });
      return file;
    },
  };
}

/** Removes a secret file and, once empty, its folder. Returns false when there was nothing to remove. */
export function removeSecretFile(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  fs.rmSync(file, { force: true });
  const dir = path.dirname(file);
  if (path.basename(dir).startsWith('VaultAzureLogin-') && fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  return true;
}
