import assert from 'node:assert/strict';
import {
  envNameOf,
  findDuplicateNames,
  formatProblem,
  normalizeKeyName,
  parseSecrets,
  SecretRequest,
  SecretSpecError,
  variableNameFor,
  variableNameProblem,
} from '../../tasks/VaultAzureLoginV1/src/core/secretSpec';
import { loc } from '../helpers/messages';

/** The parts of a request a test cares about (line and entry are checked separately). */
type Shape = Pick<SecretRequest, 'path' | 'version' | 'selector' | 'target'>;

function shapes(reqs: SecretRequest[]): Shape[] {
  return reqs.map(({ path, version, selector, target }) => {
    const s: Shape = { path, selector };
    if (version !== undefined) s.version = version;
    if (target !== undefined) s.target = target;
    return s;
  });
}

function parseError(text: string): SecretSpecError {
  try {
    parseSecrets(text, loc);
  } catch (e) {
    assert.ok(e instanceof SecretSpecError, `expected SecretSpecError, got ${String(e)}`);
    return e;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('parseSecrets', () => {
  describe('accepts the documented forms', () => {
    const cases: Array<{ name: string; text: string; want: Shape[] }> = [
      {
        name: 'a key with a target',
        text: 'secret/ci/production/db password | DB_PASSWORD',
        want: [{ path: 'secret/ci/production/db', selector: { kind: 'key', key: 'password' }, target: 'DB_PASSWORD' }],
      },
      {
        name: 'a key without a target',
        text: 'kv/app db-password',
        want: [{ path: 'kv/app', selector: { kind: 'key', key: 'db-password' } }],
      },
      {
        name: 'a dynamic-secrets path',
        text: 'database/creds/ci username',
        want: [{ path: 'database/creds/ci', selector: { kind: 'key', key: 'username' } }],
      },
      {
        name: 'several lines',
        text: 'kv/a one\nkv/b two | TWO',
        want: [
          { path: 'kv/a', selector: { kind: 'key', key: 'one' } },
          { path: 'kv/b', selector: { kind: 'key', key: 'two' }, target: 'TWO' },
        ],
      },
      {
        name: 'entries separated by ";", including empty ones',
        text: 'kv/a one ; kv/b two | TWO;;  ;',
        want: [
          { path: 'kv/a', selector: { kind: 'key', key: 'one' } },
          { path: 'kv/b', selector: { kind: 'key', key: 'two' }, target: 'TWO' },
        ],
      },
      {
        name: 'comments and blank lines',
        text: '# database\n\n   \n  # indented comment; kv/x y\nkv/a one\n\t\n',
        want: [{ path: 'kv/a', selector: { kind: 'key', key: 'one' } }],
      },
      {
        name: 'CRLF line endings',
        text: 'kv/a one\r\nkv/b two\r\n# note\r\n',
        want: [
          { path: 'kv/a', selector: { kind: 'key', key: 'one' } },
          { path: 'kv/b', selector: { kind: 'key', key: 'two' } },
        ],
      },
      {
        name: 'a quoted key with spaces',
        text: 'kv/app "key with spaces" | SPACED',
        want: [{ path: 'kv/app', selector: { kind: 'key', key: 'key with spaces' }, target: 'SPACED' }],
      },
      {
        name: 'a quoted key with escaped quotes and backslashes',
        text: String.raw`kv/app "say \"hi\" \\ back"`,
        want: [{ path: 'kv/app', selector: { kind: 'key', key: 'say "hi" \\ back' } }],
      },
      {
        name: 'a quoted key containing ";", "|" and "#"',
        text: 'kv/app "a;b|c#d" | ABCD; kv/b x',
        want: [
          { path: 'kv/app', selector: { kind: 'key', key: 'a;b|c#d' }, target: 'ABCD' },
          { path: 'kv/b', selector: { kind: 'key', key: 'x' } },
        ],
      },
      {
        name: 'a quoted "*" as a literal key',
        text: 'kv/app "*" | STAR',
        want: [{ path: 'kv/app', selector: { kind: 'key', key: '*' }, target: 'STAR' }],
      },
      {
        name: 'a version',
        text: 'secret/app@3 password',
        want: [{ path: 'secret/app', version: 3, selector: { kind: 'key', key: 'password' } }],
      },
      {
        name: '"*" without a prefix',
        text: 'kv/app *',
        want: [{ path: 'kv/app', selector: { kind: 'all' } }],
      },
      {
        name: '"*" with a prefix',
        text: 'kv/app * | API_',
        want: [{ path: 'kv/app', selector: { kind: 'all' }, target: 'API_' }],
      },
      {
        name: '"." with a target',
        text: 'kv/app . | APP_JSON',
        want: [{ path: 'kv/app', selector: { kind: 'json' }, target: 'APP_JSON' }],
      },
      {
        name: 'leading and trailing slashes trimmed',
        text: '/secret/ci/db/ password',
        want: [{ path: 'secret/ci/db', selector: { kind: 'key', key: 'password' } }],
      },
      {
        name: 'leading slash with a version',
        text: '/secret/app/@12 password',
        want: [{ path: 'secret/app', version: 12, selector: { kind: 'key', key: 'password' } }],
      },
      {
        name: 'extra or no spaces around "|"',
        text: 'kv/a one    |     ONE\nkv/b two|TWO\n\tkv/c   three\t|\tTHREE  ',
        want: [
          { path: 'kv/a', selector: { kind: 'key', key: 'one' }, target: 'ONE' },
          { path: 'kv/b', selector: { kind: 'key', key: 'two' }, target: 'TWO' },
          { path: 'kv/c', selector: { kind: 'key', key: 'three' }, target: 'THREE' },
        ],
      },
      {
        name: 'targets with dots and digits',
        text: 'kv/a one | db.password2; kv/b two | 2FA',
        want: [
          { path: 'kv/a', selector: { kind: 'key', key: 'one' }, target: 'db.password2' },
          { path: 'kv/b', selector: { kind: 'key', key: 'two' }, target: '2FA' },
        ],
      },
      {
        name: 'the same key from two paths when one is renamed',
        text: 'kv/a password\nkv/b password | B_PASSWORD',
        want: [
          { path: 'kv/a', selector: { kind: 'key', key: 'password' } },
          { path: 'kv/b', selector: { kind: 'key', key: 'password' }, target: 'B_PASSWORD' },
        ],
      },
      {
        name: 'a quoted key with ";" after an escaped quote',
        text: String.raw`kv/app "a\";b" | X`,
        want: [{ path: 'kv/app', selector: { kind: 'key', key: 'a";b' }, target: 'X' }],
      },
      {
        name: 'a quoted key with a backslash before an ordinary character, kept',
        text: String.raw`kv/app "corp\svc" | U`,
        want: [{ path: 'kv/app', selector: { kind: 'key', key: 'corp\\svc' }, target: 'U' }],
      },
      {
        name: 'a quoted key ending with an escaped backslash',
        text: String.raw`kv/app "dir\\" | D`,
        want: [{ path: 'kv/app', selector: { kind: 'key', key: 'dir\\' }, target: 'D' }],
      },
      {
        name: 'a "|" right after a closing quote',
        text: 'kv/app "my key"|X',
        want: [{ path: 'kv/app', selector: { kind: 'key', key: 'my key' }, target: 'X' }],
      },
      {
        name: 'several leading and trailing slashes trimmed',
        text: '//secret/ci/db// password',
        want: [{ path: 'secret/ci/db', selector: { kind: 'key', key: 'password' } }],
      },
      {
        name: 'two "*" entries (their names are checked after reading)',
        text: 'kv/a *\nkv/b *',
        want: [
          { path: 'kv/a', selector: { kind: 'all' } },
          { path: 'kv/b', selector: { kind: 'all' } },
        ],
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        assert.deepEqual(shapes(parseSecrets(c.text, loc)), c.want);
      });
    }
  });

  it('records the 1-based line and the trimmed entry of each request', () => {
    const reqs = parseSecrets('# header\r\n\r\n  kv/a one ;  kv/b two | TWO  \nkv/c three', loc);
    assert.deepEqual(
      reqs.map((r) => [r.line, r.entry]),
      [
        [3, 'kv/a one'],
        [3, 'kv/b two | TWO'],
        [4, 'kv/c three'],
      ],
    );
  });

  it('leaves version and target undefined when absent', () => {
    const [req] = parseSecrets('kv/a one', loc);
    assert.equal('version' in req, false);
    assert.equal('target' in req, false);
  });

  describe('rejects each kind of mistake, quoting the entry and its line', () => {
    const cases: Array<{ name: string; text: string; line: number; entry: string; says: RegExp }> = [
      {
        name: 'a non-numeric version',
        text: 'secret/app@x password',
        line: 1,
        entry: 'secret/app@x password',
        says: /version after "@" must be a whole number.*secret\/app@3.*"@x"/,
      },
      { name: 'a zero version', text: 'secret/app@0 password', line: 1, entry: 'secret/app@0 password', says: /whole number of 1 or more/ },
      { name: 'a negative version', text: 'secret/app@-1 password', line: 1, entry: 'secret/app@-1 password', says: /whole number/ },
      { name: 'an empty version', text: 'secret/app@ password', line: 1, entry: 'secret/app@ password', says: /whole number/ },
      { name: 'a fractional version', text: 'secret/app@1.5 password', line: 1, entry: 'secret/app@1.5 password', says: /whole number/ },
      { name: 'a missing selector', text: 'kv/app', line: 1, entry: 'kv/app', says: /selector must follow the path.*"\*".*"\."/ },
      { name: 'a missing selector before "|"', text: 'kv/app | X', line: 1, entry: 'kv/app | X', says: /selector must follow the path/ },
      { name: 'nothing before "|"', text: '| X', line: 1, entry: '| X', says: /path and key are missing/ },
      { name: '"." without a target', text: 'kv/app .', line: 1, entry: 'kv/app .', says: /"\." .*needs a variable name after "\|"/ },
      {
        name: 'a bad character in a target',
        text: 'kv/app password | DB-PASSWORD',
        line: 1,
        entry: 'kv/app password | DB-PASSWORD',
        says: /"DB-PASSWORD" contains "-"; only letters, digits, "_" and "\." are allowed/,
      },
      { name: 'a bad character in a "." target', text: 'kv/app . | A$B', line: 1, entry: 'kv/app . | A$B', says: /contains "\$"/ },
      {
        name: 'a bad character in a "*" prefix',
        text: 'kv/app * | API-',
        line: 1,
        entry: 'kv/app * | API-',
        says: /prefix "API-" contains "-"/,
      },
      {
        name: 'a reserved prefix in a target',
        text: 'kv/app password | SECRET_PASSWORD',
        line: 1,
        entry: 'kv/app password | SECRET_PASSWORD',
        says: /"SECRET_PASSWORD" starts with "secret".*hides/,
      },
      {
        name: 'a reserved prefix in any capitalization',
        text: 'kv/app token | Endpoint_Token',
        line: 1,
        entry: 'kv/app token | Endpoint_Token',
        says: /starts with "endpoint"/,
      },
      {
        name: 'a reserved prefix in a "." target',
        text: 'kv/app . | input.json',
        line: 1,
        entry: 'kv/app . | input.json',
        says: /starts with "input"/,
      },
      {
        name: 'a reserved prefix in a "*" prefix',
        text: 'kv/app * | path_',
        line: 1,
        entry: 'kv/app * | path_',
        says: /prefix "path_" starts with "path".*every variable from "\*" starts with it/,
      },
      {
        name: 'a reserved prefix in a derived name',
        text: 'kv/app secret_key',
        line: 1,
        entry: 'kv/app secret_key',
        says: /key "secret_key" would be published as the variable "SECRET_KEY", which starts with "secret".*"\| APP_SECRET_KEY"/,
      },
      {
        name: 'a derived name starting with "securefile"',
        text: 'kv/app secureFile-id',
        line: 1,
        entry: 'kv/app secureFile-id',
        says: /"SECUREFILE_ID", which starts with "securefile"/,
      },
      { name: 'an unterminated quote', text: 'kv/app "my key | X', line: 1, entry: 'kv/app "my key | X', says: /never closed/ },
      {
        name: 'an unterminated quote swallowing ";"',
        text: 'kv/app "my key; kv/b x',
        line: 1,
        entry: 'kv/app "my key; kv/b x',
        says: /never closed/,
      },
      { name: 'an empty quoted key', text: 'kv/app ""', line: 1, entry: 'kv/app ""', says: /quoted key is empty/ },
      {
        name: 'text glued to a closing quote',
        text: 'kv/app "my"key',
        line: 1,
        entry: 'kv/app "my"key',
        says: /follows the closing quote/,
      },
      { name: 'a stray quote inside a word', text: 'kv/app my"key', line: 1, entry: 'kv/app my"key', says: /contains a quote/ },
      { name: 'a quoted path', text: '"kv/app" key', line: 1, entry: '"kv/app" key', says: /path must come first and cannot be quoted/ },
      {
        name: 'a bare mount',
        text: 'secret password',
        line: 1,
        entry: 'secret password',
        says: /"secret" names only a mount.*secret\/app/,
      },
      { name: 'a bare mount with slashes', text: '/secret/ password', line: 1, entry: '/secret/ password', says: /names only a mount/ },
      { name: 'an empty path', text: '/ password', line: 1, entry: '/ password', says: /path is empty/ },
      {
        name: 'an empty path segment',
        text: 'kv//app password',
        line: 1,
        entry: 'kv//app password',
        says: /empty, "\." or "\.\." segment/,
      },
      { name: 'a ".." path segment', text: 'kv/../sys/app password', line: 1, entry: 'kv/../sys/app password', says: /"\.\." segment/ },
      ...[
        'secret/%2e%2e/database/creds/ci',
        'secret/.%2e/database/creds/ci',
        'secret/%2E./x',
        'secret/a%2Fb',
        'secret/50%off',
        'secret\\ci\\db',
        'secret/ci\\..\\x',
        'secret/a\u0000b',
        'secret/a\u007fb',
      ].map((path) => ({
        name: `a path a URL or Vault would rewrite: ${JSON.stringify(path)}`,
        text: `${path} password | X`,
        line: 1,
        entry: `${path} password | X`,
        says: new RegExp(
          `^the path "${path.replace(/[\\.*+?^${}()|[\]]/g, '\\$&')}" contains "[\\\\%\\u0000\\u007f]", which a URL or Vault would turn into another path`,
        ),
      })),
      ...[
        'Agent.TempDirectory',
        'AGENT_TEMPDIRECTORY',
        'system.accesstoken',
        'System_Foo',
        'Build.SourcesDirectory',
        'RELEASE_X',
        'pipeline.workspace',
        'Environment.Name',
        'TASK_DISPLAYNAME',
      ].map((name) => ({
        name: `a target in the agent's own namespace: ${name}`,
        text: `secret/ci/db password | ${name}`,
        line: 1,
        entry: `secret/ci/db password | ${name}`,
        says: new RegExp(
          `^the variable name "${name}" is in the agent's own namespace (Agent|System|Build|Release|Pipeline|Environment|Task) `,
        ),
      })),
      {
        name: "a * prefix in the agent's own namespace",
        text: 'secret/ci/api * | SYSTEM_',
        line: 1,
        entry: 'secret/ci/api * | SYSTEM_',
        says: /"SYSTEM_" is in the agent's own namespace System/,
      },
      {
        name: "two targets that are one variable in a step's environment",
        text: 'secret/a k | db.pw\nsecret/b k | DB_PW',
        line: 2,
        entry: 'secret/b k | DB_PW',
        says: /"DB_PW" is already published as "db.pw" by secrets line 1/,
      },
      { name: 'a "?" in the path', text: 'kv/app?x=1 password', line: 1, entry: 'kv/app?x=1 password', says: /contains "\?"/ },
      { name: 'a comment after ";"', text: 'kv/app one; # note', line: 1, entry: '# note', says: /comment must be on a line of its own/ },
      { name: 'an empty target', text: 'kv/app password | ', line: 1, entry: 'kv/app password |', says: /nothing follows "\|"/ },
      {
        name: 'an empty "*" prefix',
        text: 'kv/app * |',
        line: 1,
        entry: 'kv/app * |',
        says: /nothing follows "\|"; give a variable-name prefix/,
      },
      {
        name: 'too many tokens (unquoted key with spaces)',
        text: 'kv/app key with spaces',
        line: 1,
        entry: 'kv/app key with spaces',
        says: /"with spaces" follows the selector; quote a key that contains spaces/,
      },
      {
        name: 'too many tokens after "|"',
        text: 'kv/app password | DB PASSWORD',
        line: 1,
        entry: 'kv/app password | DB PASSWORD',
        says: /"DB PASSWORD" after "\|" is not one variable name/,
      },
      {
        name: 'a quoted target',
        text: 'kv/app password | "X"',
        line: 1,
        entry: 'kv/app password | "X"',
        says: /after "\|" is not one variable name/,
      },
      { name: 'two "|"', text: 'kv/app password | A | B', line: 1, entry: 'kv/app password | A | B', says: /only one "\|"/ },
      {
        name: 'a duplicate target',
        text: 'kv/a one | X\nkv/b two | X',
        line: 2,
        entry: 'kv/b two | X',
        says: /variable "X" is already published by secrets line 1: "kv\/a one \| X"; each variable name may be used only once/,
      },
      {
        name: 'a duplicate derived name',
        text: 'kv/a password\nkv/b password',
        line: 2,
        entry: 'kv/b password',
        says: /"PASSWORD" is already published by secrets line 1: "kv\/a password"/,
      },
      {
        name: 'a derived name clashing with a target',
        text: 'kv/a db-password\nkv/b pw | DB_PASSWORD',
        line: 2,
        entry: 'kv/b pw | DB_PASSWORD',
        says: /"DB_PASSWORD" is already published by secrets line 1/,
      },
      {
        name: 'a duplicate name differing only in case',
        text: 'kv/a one | Token; kv/b two | TOKEN',
        line: 1,
        entry: 'kv/b two | TOKEN',
        says: /"TOKEN" is already published as "Token" by secrets line 1: "kv\/a one \| Token", and the two are one variable to the agent \(it ignores case/,
      },
      {
        name: 'a "." target clashing with a key name',
        text: 'kv/a . | CFG\nkv/b cfg',
        line: 2,
        entry: 'kv/b cfg',
        says: /"CFG" is already published by secrets line 1: "kv\/a \. \| CFG"/,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const err = parseError(c.text);
        assert.equal(err.problems.length, 1, err.message);
        const [p] = err.problems;
        assert.equal(p.line, c.line);
        assert.equal(p.entry, c.entry);
        assert.match(p.message, c.says);
        assert.equal(err.message, `secrets line ${c.line}: "${c.entry}": ${p.message}`);
      });
    }
  });

  describe('says exactly what is wrong', () => {
    const cases: Array<{ name: string; text: string; entry?: string; message: string }> = [
      { name: 'words after the selector', text: 'kv/app key with spaces', message: loc('SpecExtraWords', 'with spaces') },
      { name: 'words after the selector, before "|"', text: 'kv/app key with | X', message: loc('SpecExtraWordsBeforePipe', 'with') },
      { name: 'no name after "|"', text: 'kv/app password |', message: loc('SpecNameMissing') },
      { name: 'no prefix after "|" of "*"', text: 'kv/app * |', message: loc('SpecPrefixMissing') },
      {
        name: 'an unclosed quote, quoted from where it opens',
        text: 'kv/app "my key | X',
        message: loc('SpecQuoteNotClosed', '"my key | X'),
      },
      { name: 'a comment after ";" without a space', text: 'kv/app x; #note', entry: '#note', message: loc('SpecCommentAfterSemicolon') },
      { name: 'a "#" at the end of a path', text: 'kv/app# x', message: loc('SpecPathBadChar', 'kv/app#', '#') },
      { name: 'a "." path segment', text: 'kv/./app x', message: loc('SpecPathBadSegment', 'kv/./app') },
      ...['+1', '1e3', '0x1', '1x', 'x1'].map((v) => ({
        name: `the version "${v}"`,
        text: `secret/app@${v} x`,
        message: loc('SpecVersionNotNumber', v),
      })),
      {
        name: 'a target with "file:" inside it, which is no file target',
        text: 'kv/app k | profile:X',
        message: loc('SpecTargetInvalid', 'profile:X', loc('SpecNameBadChars', '":"')),
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const err = parseError(c.text);
        assert.deepEqual(err.problems, [{ line: 1, entry: c.entry ?? c.text, message: c.message }]);
      });
    }
  });

  describe('rejects an input with no entries', () => {
    for (const [name, text] of [
      ['empty', ''],
      ['only whitespace', '  \n\t\r\n'],
      ['only comments', '# one\n  # two'],
      ['only separators', ' ; ;; '],
    ]) {
      it(name, () => {
        const err = parseError(text);
        assert.deepEqual(err.problems, [
          {
            line: 0,
            entry: '',
            message: 'the secrets input has no entries; add lines such as `secret/ci/db password | DB_PASSWORD`',
          },
        ]);
        assert.equal(err.message, err.problems[0].message);
      });
    }
  });

  it('reports every problem in the input at once, in line order, one per message line', () => {
    const text = [
      'kv/ok one | ONE', //                     1 fine
      'secret/app@x password', //               2 bad version
      '# a comment', //                         3
      'kv/app . ; secret key', //               4 "." without target; bare mount
      'kv/b two | ONE', //                      5 duplicate of line 1
      'kv/c "open', //                          6 unterminated quote
    ].join('\r\n');
    const err = parseError(text);
    assert.deepEqual(
      err.problems.map((p) => [p.line, p.entry]),
      [
        [2, 'secret/app@x password'],
        [4, 'kv/app .'],
        [4, 'secret key'],
        [5, 'kv/b two | ONE'],
        [6, 'kv/c "open'],
      ],
    );
    assert.equal(err.name, 'SecretSpecError');
    assert.ok(err instanceof Error);
    const lines = err.message.split('\n');
    assert.equal(lines.length, 5);
    assert.equal(
      lines[0],
      'secrets line 2: "secret/app@x password": the version after "@" must be a whole number of 1 or more, such as secret/app@3 (found "@x")',
    );
    lines.forEach((l, i) => {
      assert.equal(l, formatProblem(err.problems[i], loc));
    });
  });

  it('reports each later repeat of a name against its first use', () => {
    const err = parseError('kv/a x | N\nkv/b y | N\nkv/c z | n');
    assert.deepEqual(
      err.problems.map((p) => p.line),
      [2, 3],
    );
    for (const p of err.problems) assert.match(p.message, /by secrets line 1: "kv\/a x \| N"/);
  });
});

describe('normalizeKeyName', () => {
  const cases: Array<[string, string]> = [
    ['password', 'PASSWORD'],
    ['db-password', 'DB_PASSWORD'],
    ['key with spaces', 'KEY_WITH_SPACES'],
    ['already_UPPER_9', 'ALREADY_UPPER_9'],
    ['a.b/c:d', 'A_B_C_D'],
    ['café', 'CAF_'],
    ['emoji😀key', 'EMOJI_KEY'],
    ['9lives', '9LIVES'],
  ];
  for (const [key, want] of cases) {
    it(`${JSON.stringify(key)} -> ${want}`, () => assert.equal(normalizeKeyName(key), want));
  }
});

describe('envNameOf', () => {
  const cases: Array<[string, string]> = [
    ['Agent.TempDirectory', 'AGENT_TEMPDIRECTORY'],
    ['db.pw', 'DB_PW'],
    ['my var', 'MY_VAR'],
    ['ALREADY_ENV', 'ALREADY_ENV'],
  ];
  for (const [name, env] of cases) {
    it(`${JSON.stringify(name)} is ${env} in a step's environment`, () => assert.equal(envNameOf(name), env));
  }
});

describe('variableNameProblem', () => {
  for (const name of ['DB_PASSWORD', 'db.password', '2FA', 'a', '_x', 'NDPOINT', 'my_secret', 'aths', 'sec']) {
    it(`accepts ${JSON.stringify(name)}`, () => assert.equal(variableNameProblem(name, loc), undefined));
  }
  it('names the reserved prefix and lists them all', () => {
    assert.equal(
      variableNameProblem('SECRET_X', loc),
      'the variable name "SECRET_X" starts with "secret", and Azure DevOps hides variables whose names start with endpoint, input, secret, path, securefile (in any capitalization) from tasks and scripts',
    );
  });
  it("names the agent's namespace and lists them all", () => {
    assert.equal(
      variableNameProblem('Build.Reason', loc),
      'the variable name "Build.Reason" is in the agent\'s own namespace Build (one of Agent, System, Build, Release, Pipeline, Environment, Task, dotted or as in AGENT_TEMPDIRECTORY, in any capitalization), where a secret would stand in for a predefined variable that later steps and tasks trust; choose a name of your own, such as one starting with APP_',
    );
  });
  const bad: Array<[string, RegExp]> = [
    ['', /is empty/],
    ['DB-PASSWORD', /contains "-"; only letters, digits, "_" and "\." are allowed/],
    ['A B', /contains a space/],
    ['a$b-c$', /contains "\$", "-"/],
    ['endpoint.url', /starts with "endpoint"/],
    ['INPUT_X', /starts with "input"/],
    ['Secret', /starts with "secret"/],
    ['pathway', /starts with "path"/],
    ['SecureFileName', /starts with "securefile"/],
  ];
  for (const [name, says] of bad) {
    it(`rejects ${JSON.stringify(name)}`, () => {
      const problem = variableNameProblem(name, loc);
      assert.ok(problem !== undefined);
      assert.match(problem, says);
      assert.ok(problem.includes(`"${name}"`), problem);
    });
  }
});

describe('variableNameFor', () => {
  /** The requests of one input, parsed inside each test: line 1 key with target, 2 key, 3 ".", 4 "*" with prefix, 5 "*". */
  const requests = () => parseSecrets('kv/a pw | DB_PW\nkv/a db-password\nkv/a . | CFG\nkv/a * | API_\nkv/a *', loc);
  const cases: Array<[string, number, string | undefined, string]> = [
    ['a key with a target uses the target', 0, undefined, 'DB_PW'],
    ['a key without a target uses the normalized key', 1, undefined, 'DB_PASSWORD'],
    ['"." uses the target', 2, undefined, 'CFG'],
    ['"*" with a prefix prepends it to the normalized key', 3, 'token', 'API_TOKEN'],
    ['"*" without a prefix uses the normalized key', 4, 'client-id', 'CLIENT_ID'],
  ];
  for (const [name, index, key, want] of cases) {
    it(name, () => assert.equal(variableNameFor(requests()[index], key, loc), want));
  }

  it('needs the key read for a "*" request', () => {
    assert.throws(() => variableNameFor(requests()[4], undefined, loc), {
      message: 'secrets line 5: "kv/a *": a key read from the secret is needed to name a "*" variable',
    });
  });

  it('needs a target for a "." request', () => {
    const unnamed: SecretRequest = { line: 2, entry: 'kv/a .', path: 'kv/a', selector: { kind: 'json' } };
    assert.throws(() => variableNameFor(unnamed, undefined, loc), {
      message: 'secrets line 2: "kv/a .": "." needs a variable name after "|"',
    });
  });
});

describe('findDuplicateNames', () => {
  it('returns nothing when every name is distinct', () => {
    assert.deepEqual(
      findDuplicateNames(
        [
          { name: 'A', source: 'one' },
          { name: 'B', source: 'two' },
        ],
        loc,
      ),
      [],
    );
  });

  it('quotes both sources of an exact repeat', () => {
    assert.deepEqual(
      findDuplicateNames(
        [
          { name: 'API_TOKEN', source: 'key "token" of secrets line 1: "kv/a * | API_"' },
          { name: 'X', source: 'elsewhere' },
          { name: 'API_TOKEN', source: 'secrets line 2: "kv/b t | API_TOKEN"' },
        ],
        loc,
      ),
      [
        'the variable "API_TOKEN" from secrets line 2: "kv/b t | API_TOKEN" is already published by ' +
          'key "token" of secrets line 1: "kv/a * | API_"; each variable name may be used only once, so rename one of them with "| NAME"',
      ],
    );
  });

  it('treats names differing only in case as the same variable', () => {
    const [msg, ...rest] = findDuplicateNames(
      [
        { name: 'token', source: 'first' },
        { name: 'TOKEN', source: 'second' },
      ],
      loc,
    );
    assert.equal(rest.length, 0);
    assert.match(
      msg,
      /"TOKEN" from second is already published as "token" by first, and the two are one variable to the agent \(it ignores case/,
    );
  });

  it('treats names that meet in a step\'s environment ("." as "_") as the same variable', () => {
    const msgs = findDuplicateNames(
      [
        { name: 'db.pw', source: 'first' },
        { name: 'DB_PW', source: 'second' },
        { name: 'Db.Pw', source: 'third' },
        { name: 'DBPW', source: 'fourth' },
      ],
      loc,
    );
    assert.deepEqual(
      msgs.map((m) => /from (\w+)/.exec(m)![1]),
      ['second', 'third'],
    );
    assert.match(msgs[0], /"DB_PW" from second is already published as "db.pw" by first/);
  });

  it('reports every later repeat against the first use', () => {
    const msgs = findDuplicateNames(
      ['N', 'n', 'M', 'N'].map((name, i) => ({ name, source: `s${i}` })),
      loc,
    );
    assert.equal(msgs.length, 2);
    assert.match(msgs[0], /from s1 .* by s0, and the two are one variable/);
    assert.match(msgs[1], /from s3 is already published by s0;/);
  });
});

describe('file: targets', () => {
  it('parses "| file:NAME" for a key and for "."', () => {
    const [a, b] = parseSecrets('secret/ci/tls cert | file:TLS_CERT\nsecret/ci/cfg . | file:CFG_JSON', loc);
    assert.equal(a.toFile, true);
    assert.equal(a.target, 'TLS_CERT');
    assert.equal(variableNameFor(a, 'cert', loc), 'TLS_CERT');
    assert.equal(b.toFile, true);
    assert.equal(b.target, 'CFG_JSON');
  });

  const bad: Array<[string, RegExp]> = [
    ['secret/ci/tls * | file:ALL', /"\*" publishes many keys and cannot go to one file/],
    ['secret/ci/tls cert | file:', /nothing follows "file:"/],
    ['secret/ci/tls cert | file:bad-name', /bad-name/],
    ['secret/ci/tls cert | file:SECRET_FILE', /starts with "secret"/],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseSecrets(text, loc),
        (err: Error) => {
          assert.match(err.message, message);
          assert.match(err.message, /secrets line 1/);
          return true;
        },
      );
    });
  }

  it('counts a file target against duplicate names', () => {
    assert.throws(() => parseSecrets('secret/a k | file:X\nsecret/b k | X', loc), /already published/);
  });

  describe('refuses a name that is not a file name on every agent, with the entry and the fix', () => {
    /** The whole message for `entry` on line 1 whose file name is made only of dots. */
    const dotsMessage = (entry: string, name: string) =>
      `secrets line 1: "${entry}": "file:${name}" names a folder, not a file: "." and ".." are folders on every agent, ` +
      `and Windows drops the trailing dots of a name; give the variable that will hold the file's path a name with a letter, ` +
      `digit or "_", such as "| file:TLS_CERT"`;
    /** The whole message for `entry` on line 1 whose file name is the Windows device `device`. */
    const deviceMessage = (entry: string, name: string, device: string) =>
      `secrets line 1: "${entry}": "file:${name}" names a file that Windows reserves for the device ${device} ` +
      `(with any extension, in any capitalization), and the same YAML may run on a Windows agent; ` +
      `choose another variable name after "file:", such as "| file:APP_${name}"`;

    const devices = ['CON', 'PRN', 'AUX', 'NUL', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) => [`COM${n}`, `LPT${n}`])];
    const rows: Array<{ name: string; text: string; want: string }> = [
      ...devices.map((device) => ({
        name: `the device ${device}`,
        text: `secret/ci/tls key | file:${device}`,
        want: deviceMessage(`secret/ci/tls key | file:${device}`, device, device),
      })),
      ...[
        ['nul', 'NUL', 'in lower case'],
        ['cOm9', 'COM9', 'in mixed case'],
        ['Con.txt', 'CON', 'with an extension'],
        ['LPT1.pem', 'LPT1', 'with an extension, as a certificate'],
        ['Nul.tar.gz', 'NUL', 'with two extensions'],
        ['aux.', 'AUX', 'with a trailing dot, which Windows drops'],
      ].map(([name, device, how]) => ({
        name: `the device ${device} ${how} ("${name}")`,
        text: `secret/ci/tls key | file:${name}`,
        want: deviceMessage(`secret/ci/tls key | file:${name}`, name, device),
      })),
      {
        name: 'a device name for the whole secret as JSON',
        text: 'secret/ci/cfg . | file:PRN.json',
        want: deviceMessage('secret/ci/cfg . | file:PRN.json', 'PRN.json', 'PRN'),
      },
      {
        name: 'a device name after "FILE:" in capitals',
        text: 'secret/ci/tls key | FILE:nul',
        want: deviceMessage('secret/ci/tls key | FILE:nul', 'nul', 'NUL'),
      },
      ...['.', '..', '...'].map((name) => ({
        name: `the name "${name}"`,
        text: `secret/ci/tls key | file:${name}`,
        want: dotsMessage(`secret/ci/tls key | file:${name}`, name),
      })),
      ...[
        ['a.', 'a'],
        ['KEY.pem.', 'KEY.pem'],
        ['x..', 'x'],
      ].map(([name, windows]) => ({
        name: `the name "${name}", which Windows shortens to "${windows}"`,
        text: `secret/ci/tls key | file:${name}`,
        want:
          `secrets line 1: "secret/ci/tls key | file:${name}": "file:${name}" ends with ".", which Windows drops from a file name, ` +
          `so on a Windows agent it would be the file "${windows}"; the same YAML may run there, so end the name with a letter, digit or "_"`,
      })),
      {
        name: 'the name ".." for the whole secret as JSON',
        text: 'secret/ci/cfg . | file:..',
        want: dotsMessage('secret/ci/cfg . | file:..', '..'),
      },
    ];
    for (const row of rows) {
      it(row.name, () => {
        const err = parseError(row.text);
        assert.equal(err.problems.length, 1, err.message);
        assert.equal(err.message, row.want);
      });
    }

    it('reports the file name beside the other problems of the input, each on its line', () => {
      const err = parseError('secret/ci/tls cert | file:TLS_CERT\nsecret/ci/tls key | file:con\nsecret/ci/cfg . | file:.');
      assert.deepEqual(
        err.problems.map((p) => [p.line, p.entry]),
        [
          [2, 'secret/ci/tls key | file:con'],
          [3, 'secret/ci/cfg . | file:.'],
        ],
      );
    });

    it('gives superscript digits (COM¹, LPT²) the variable-name error: they never reach a file name', () => {
      for (const name of ['COM¹', 'LPT²', 'com³.txt']) {
        const err = parseError(`secret/ci/tls key | file:${name}`);
        assert.match(err.message, /contains "[¹²³]"; only letters, digits, "_" and "\." are allowed; choose another name after "\|"/);
      }
    });
  });

  describe('accepts names that only resemble a device name or a folder', () => {
    const names = [
      'CONFIG',
      'com10',
      'nul_x',
      'LPT0',
      'COM0',
      'NULL',
      'CONSOLE',
      'AUXILIARY',
      'PRN_',
      '_CON',
      'CON_1',
      'LPT1_KEY.pem',
      'tls.con',
      'app.nul.json',
      '.env',
      '..x',
    ];
    for (const name of names) {
      it(`"file:${name}"`, () => {
        const [req] = parseSecrets(`secret/ci/tls key | file:${name}`, loc);
        assert.equal(req.toFile, true);
        assert.equal(req.target, name);
      });
    }

    it('a device name as a variable, not a file', () => {
      const reqs = parseSecrets('secret/ci/a key | NUL\nsecret/ci/b key | Con.txt\nsecret/ci/c . | LPT1', loc);
      assert.deepEqual(
        reqs.map((r) => [r.target, r.toFile]),
        [
          ['NUL', undefined],
          ['Con.txt', undefined],
          ['LPT1', undefined],
        ],
      );
    });
  });
});
