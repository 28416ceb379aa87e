// The one reader of files that inputs and agent settings name (the kubernetes token file, PEM
// certificates, keys and CA bundles): regular files only, after following links, and never more
// than a cap, counted while reading, since a pipe, a device or a /proc file reports size 0. A named
// pipe is opened without waiting for a writer, so nothing here can hang the step.
import * as fs from 'node:fs';
import type { FileRead } from '../core/inputFile';

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSocket()) return 'socket';
  return 'special file';
}

function refusedBy(err: unknown): FileRead {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return { refused: 'missing', code };
  if (code === 'EISDIR') return { refused: 'notFile', kind: 'directory' };
  return { refused: 'unreadable', code };
}

/** The text (UTF-8) of the regular file at `path`, or why it was not read; reads at most `maxBytes` + 1 bytes. */
export function readInputFile(path: string, maxBytes: number): FileRead {
  let fd: number;
  try {
    // Checked before opening (opening a device may do something), and again on what was opened.
    const st = fs.statSync(path);
    if (!st.isFile()) return { refused: 'notFile', kind: kindOf(st) };
    // O_NONBLOCK: a named pipe put there since the check opens at once instead of waiting for a writer.
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    return refusedBy(err);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { refused: 'notFile', kind: kindOf(st) };
    const chunks: Buffer[] = [];
    let total = 0;
    const buffer = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1));
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, maxBytes + 1 - total), null);
      if (n === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
      total += n;
      if (total > maxBytes) return { refused: 'tooLarge' };
    }
    return { text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    return refusedBy(err);
  } finally {
    fs.closeSync(fd);
  }
}
