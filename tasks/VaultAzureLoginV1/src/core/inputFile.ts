// A file an input or agent setting names, as read for the task: its text, or why it was not read.
// The pipeline edge reads (pipeline/inputFile.ts); a method that reads again at login (kubernetes)
// gets that reader as a parameter. The words for the refusals every such file shares are here.
import type { Text } from './text';

/** Why a file was not read: not there, not readable, not a regular file, or above the cap. */
export type FileRefusal =
  | { refused: 'missing' | 'unreadable'; code: string }
  | { refused: 'notFile'; kind: string }
  | { refused: 'tooLarge' };

export type FileRead = { text: string } | FileRefusal;

/** Reads at most `maxBytes` of the regular file at `path` (links followed). */
export type ReadFile = (path: string, maxBytes: number) => FileRead;

/** The caps: no token, certificate, key or CA bundle comes near them. */
export const MAX_TOKEN_FILE_BYTES = 64 * 1024;
export const MAX_PEM_FILE_BYTES = 1024 * 1024;

/**
 * The message for a file that is not a regular file or is above the cap, naming who named it
 * (`named`: loc('InputNamed', …) or loc('AgentSettingNamed', …)), the path and the cap; undefined
 * for a missing or unreadable file, which each reader words in its own terms.
 */
export function fileRefusal(named: string, path: string, maxBytes: number, r: FileRefusal, loc: Text): string | undefined {
  if (r.refused === 'notFile') return loc('InputFileNotRegular', named, path, r.kind);
  if (r.refused === 'tooLarge') return loc('InputFileTooLarge', named, path, maxBytes / 1024);
  return undefined;
}
