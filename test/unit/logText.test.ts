// The log writer's escaping, read as the agent reads a task's output: any `##vso[` in a line is a
// command, a line that starts with `##[` is a formatting command, and `\r` and `\n` both end a
// line. Outside text, whatever it holds, may neither start a command nor add a line.
import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { escapeOutside, escapingArguments, hasUnsafeCharacters, safeForLog } from '../../tasks/VaultAzureLoginV1/src/core/logText';
import { formatProblem, parseSecrets, SecretSpecError } from '../../tasks/VaultAzureLoginV1/src/core/secretSpec';
import { loc as plainLoc } from '../helpers/messages';

/** The lines of a task's output as the agent splits them. */
const agentLines = (output: string): string[] => output.split(/\r\n|\r|\n/);
/** What the agent would take as a command in those lines. */
const commandsIn = (output: string): string[] => agentLines(output).filter((l) => /##vso\[/i.test(l) || l.startsWith('##['));

/** Text as an attacker would send it: the characters that matter, often, and anything else. */
const hostile = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      '\n',
      '\r',
      '\u001b',
      '\u2028',
      '\u202e',
      '\u0000',
      '\t',
      '#',
      '##vso[',
      '##VSO[',
      '##[',
      '[',
      ']',
      'vso',
      ';',
      '%0A',
      '\\',
    ),
    fc.string({ unit: 'grapheme', maxLength: 3 }),
    fc.string({ unit: 'binary', maxLength: 2 }),
  ),
  maxLength: 40,
});

const loc = escapingArguments(plainLoc);

describe('log text: what reaches the agent from outside', () => {
  const forms: Array<[string, string, string]> = [
    ['a line feed', 'a\n##vso[task.setvariable variable=EVIL]pwned\n', 'a\\n##vso\\[task.setvariable variable=EVIL]pwned\\n'],
    ['a carriage return', 'x\r##vso[task.prependpath]/opt/evil-bin', 'x\\r##vso\\[task.prependpath]/opt/evil-bin'],
    ['a forged error line', '\r##[error]forged', '\\r##\\[error]forged'],
    ['any case', '##VsO[task.complete result=Succeeded]', '##VsO\\[task.complete result=Succeeded]'],
    ['an ANSI escape', '\u001b[31mred\u001b[0m', '\\u001b[31mred\\u001b[0m'],
    ['a right-to-left override', 'abc\u202etxt.exe', 'abc\\u202etxt.exe'],
    ['a line separator', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['C1 and DEL', '\u0085\u009b\u007f', '\\u0085\\u009b\\u007f'],
    ['a tab and a NUL', 'a\tb\u0000', 'a\\tb\\u0000'],
  ];
  for (const [what, text, shown] of forms) {
    it(`shows ${what} escaped, visibly, and starts no command`, () => {
      assert.equal(escapeOutside(text), shown);
      assert.deepEqual(commandsIn(`Published ${escapeOutside(text)} → X`), []);
      assert.equal(hasUnsafeCharacters(text), /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/.test(text));
    });
  }

  it('keeps text that needs nothing as it is, and Unicode letters and emoji too', () => {
    for (const text of [
      'secret/ci/db password',
      'policies [ci-read, default]',
      'clé ünïcødé 日本 😀',
      'a\\nb (already escaped)',
      '#1 [x]',
    ]) {
      assert.equal(escapeOutside(text), text);
      assert.equal(hasUnsafeCharacters(text), false);
    }
  });

  it('keeps our own line breaks in a whole message and escapes the rest', () => {
    assert.equal(safeForLog('2 failed:\n  a: x\r##vso[task.complete]\n  b'), '2 failed:\n  a: x\\r##vso\\[task.complete]\n  b');
  });

  it('property: outside text placed in a message adds no line and no command, and escaping it again changes nothing', () => {
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        const message = safeForLog(loc('Published', a, b));
        assert.deepEqual(commandsIn(message), []);
        assert.equal(agentLines(message).length, 1);
        assert.equal(escapeOutside(escapeOutside(a)), escapeOutside(a));
        assert.equal(safeForLog(message), message);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a whole message from any text starts no command, and keeps exactly its own line feeds', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        const out = safeForLog(text);
        assert.deepEqual(commandsIn(out), []);
        assert.equal(agentLines(out).length, text.split('\n').length);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: the secrets parser quotes any input in its errors without a command or a line of its own', () => {
    fc.assert(
      fc.property(fc.array(hostile, { maxLength: 4 }), (entries) => {
        const input = entries.join('\n');
        let problems: string[];
        try {
          parseSecrets(input, loc);
          return;
        } catch (err) {
          assert.ok(err instanceof SecretSpecError, String(err));
          problems = err.problems.map((p) => formatProblem(p, loc));
        }
        // As the task prints them: a header, then one line per problem.
        const out = safeForLog([loc('SecretsInvalid', problems.length), ...problems.map((p) => `  ${p}`)].join('\n'));
        assert.deepEqual(commandsIn(out), []);
        assert.equal(agentLines(out).length, problems.length + 1);
      }),
      { numRuns: 1000 },
    );
  });
});
