// Text that came from outside (Vault, Entra, the network, the inputs) made safe for the agent's
// log. The agent runs any `##vso[` found anywhere in a line of a task's output as a command, takes
// `##[` at the start of a line as a formatting command, and ends a line at `\r` as at `\n`; a
// terminal shows ANSI escapes and bidirectional overrides. Escaping is visible (`\n`, `\u001b`),
// so the log still shows what was sent, and idempotent, so text escaped twice reads the same.

/** Control characters, DEL, C1 controls, line and paragraph separators, bidi and BOM marks. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
/** The same, except the line feed: in a whole message of ours, `\n` is a line break we wrote. */
const UNSAFE_BUT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
/** What starts an agent command: `##vso[` (any case) or `##[`. */
const COMMAND = /##(vso)?\[/gi;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function visible(c: string): string {
  return NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

const defuse = (text: string): string => text.replace(COMMAND, (m) => `${m.slice(0, -1)}\\[`);

/** Outside text for a place inside one of our lines: one line, no command, nothing hidden. */
export function escapeOutside(text: string): string {
  return defuse(text.replace(UNSAFE, visible));
}

/**
 * A whole message for the log: our own line breaks stay; every other control character and every
 * command sequence is escaped, whatever the message was built from.
 */
export function safeForLog(message: string): string {
  return defuse(message.replace(UNSAFE_BUT_LF, visible));
}

/** True when the text holds a character escapeOutside would escape (a key name that hides things). */
export function hasUnsafeCharacters(text: string): boolean {
  return new RegExp(UNSAFE.source).test(text);
}

/** A message function whose every string argument is outside text, escaped before it is placed. */
export function escapingArguments<L extends (key: string, ...args: unknown[]) => string>(loc: L): L {
  return ((key: string, ...args: unknown[]) => loc(key, ...args.map((a) => (typeof a === 'string' ? escapeOutside(a) : a)))) as L;
}
