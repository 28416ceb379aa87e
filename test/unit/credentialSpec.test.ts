// The certificates and sshCertificates inputs: what each line asks Vault for, which variables it
// publishes, and every mistake caught before any request, quoting the line.
import assert from 'node:assert/strict';
import {
  CredentialKind,
  CredentialSpecError,
  durationSeconds,
  outputNames,
  parseCredentials,
} from '../../tasks/VaultAzureLoginV1/src/core/credentialSpec';
import { loc } from '../helpers/messages';

function problems(kind: CredentialKind, text: string): string[] {
  try {
    parseCredentials(kind, text, loc);
  } catch (err) {
    assert.ok(err instanceof CredentialSpecError);
    return err.message.split('\n');
  }
  assert.fail(`no error for ${JSON.stringify(text)}`);
}

describe('certificates input (PKI)', () => {
  it('reads mount, role, key=value parameters and a prefix; names the four variables', () => {
    const [r] = parseCredentials(
      'pki',
      'pki_int/issue/web-server common_name=app.example.com alt_names=a.example.com,b.example.com ttl=1h | WEB_',
      loc,
    );
    assert.equal(r.mount, 'pki_int');
    assert.equal(r.role, 'web-server');
    assert.equal(r.path, 'pki_int/issue/web-server');
    assert.deepEqual(r.params, { common_name: 'app.example.com', alt_names: 'a.example.com,b.example.com', ttl: '1h' });
    assert.deepEqual(r.unknownParams, []);
    assert.equal(r.toFile, false);
    assert.deepEqual(outputNames(r), ['WEB_CERTIFICATE', 'WEB_PRIVATE_KEY', 'WEB_ISSUING_CA', 'WEB_CA_CHAIN']);
  });

  it('takes a JSON object with lists, numbers and booleans, a nested mount, and a file: prefix', () => {
    const [r] = parseCredentials(
      'pki',
      'team/pki/issue/api {"common_name": "api.example.com", "ip_sans": ["10.0.0.1", "10.0.0.2"], "ttl": 3600, "exclude_cn_from_sans": true} | file:API_',
      loc,
    );
    assert.equal(r.mount, 'team/pki');
    assert.deepEqual(r.params, {
      common_name: 'api.example.com',
      ip_sans: ['10.0.0.1', '10.0.0.2'],
      ttl: 3600,
      exclude_cn_from_sans: true,
    });
    assert.equal(r.toFile, true);
    assert.equal(r.prefix, 'API_');
  });

  it('quoted values may hold spaces and quotes; the role names the variables when no prefix is given', () => {
    const [r] = parseCredentials('pki', 'pki/issue/web-server common_name="my app.example.com" user_ids="a \\"b\\""', loc);
    assert.deepEqual(r.params, { common_name: 'my app.example.com', user_ids: 'a "b"' });
    assert.equal(r.prefix, 'WEB_SERVER_');
  });

  it('keeps unknown parameter names, to be named in the log', () => {
    const [r] = parseCredentials('pki', 'pki/issue/web common_name=a.example.com colour=blue | WEB_', loc);
    assert.deepEqual(r.unknownParams, ['colour']);
    assert.equal(r.params.colour, 'blue');
  });

  it('skips blank lines and comments; an empty input asks for nothing', () => {
    assert.deepEqual(parseCredentials('pki', '\n  # none\n', loc), []);
    assert.equal(
      parseCredentials('pki', '# web\npki/issue/web common_name=a.example.com | A_\n\npki/issue/web common_name=b.example.com | B_', loc)
        .length,
      2,
    );
  });

  const bad: Array<[string, string, RegExp]> = [
    ['not an issue path', 'pki/sign/web common_name=a | W_', /is not <mount>\/issue\/<role>/],
    ['role missing', 'pki/issue common_name=a | W_', /"pki\/issue" is not <mount>\/issue\/<role>/],
    ['a path below the role', 'pki/issue/web/x common_name=a | W_', /is not <mount>\/issue\/<role>/],
    ['bad JSON', 'pki/issue/web {"common_name": } | W_', /the parameters are not a JSON object \(.*\): write \{"common_name"/],
    ['JSON that is a list', 'pki/issue/web [1] | W_', /"\[1\]" is not name=value/],
    ['a null value', 'pki/issue/web {"common_name": null} | W_', /parameter 'common_name' has the value null: a value is a string/],
    ['a nested object', 'pki/issue/web {"x": {"y": {"z": 1}}} | W_', /parameter 'x' has the value \{"y":\{"z":1\}\}/],
    ['a word without =', 'pki/issue/web common_name app.example.com | W_', /"common_name" is not name=value/],
    [
      'a parameter twice',
      'pki/issue/web alt_names=a alt_names=b | W_',
      /parameter 'alt_names' is given twice; give it once \(a list as one comma-separated value/,
    ],
    ['an upper-case name', 'pki/issue/web Common_Name=a | W_', /'Common_Name' is not a parameter name/],
    ['an open quote', 'pki/issue/web common_name="a | W_', /the value of 'common_name' is not quoted right/],
    ['a bad ttl', 'pki/issue/web common_name=a ttl=1 hour | W_', /"hour" is not name=value/],
    [
      'a ttl that is no duration',
      'pki/issue/web common_name=a ttl=soon | W_',
      /ttl 'soon' is not a duration: write seconds \(900\) or a number with a unit/,
    ],
    [
      'DER format',
      'pki/issue/web common_name=a format=der | W_',
      /parameter format 'der' is not supported: the task publishes PEM text; use pem/,
    ],
    [
      'an unknown key format',
      'pki/issue/web common_name=a private_key_format=pem | W_',
      /parameter private_key_format 'pem' is not supported: the task publishes PEM text; use der or pkcs8/,
    ],
    ['two pipes', 'pki/issue/web common_name=a | W_ | X_', /only one "\|"/],
    [
      'a role whose name makes no variable name, without a prefix',
      'pki/issue/secret-web common_name=a',
      /without "\| PREFIX_" the variables start with SECRET_WEB_, which cannot be used: the variable name "SECRET_WEB_CERTIFICATE" starts with "secret"/,
    ],
    ['an empty prefix', 'pki/issue/web common_name=a |', /nothing follows "\|"/],
    ['a reserved prefix', 'pki/issue/web common_name=a | SECRET_', /the variable name "SECRET_CERTIFICATE" starts with "secret"/],
    ['a prefix with a space', 'pki/issue/web common_name=a | W_ X', /"W_ X" after "\|" is not one prefix/],
    ['file: without a name', 'pki/issue/web common_name=a | file:', /nothing follows "file:"/],
  ];
  for (const [what, line, expected] of bad) {
    it(`refuses ${what}, quoting the line`, () => {
      const [first, ...rest] = problems('pki', `# first\n${line}`);
      assert.equal(rest.length, 0);
      assert.ok(first.startsWith(`certificates line 2: "${line.trim()}": `), first);
      assert.match(first, expected);
    });
  }

  it('refuses two requests publishing the same variable, naming the first', () => {
    const [p] = problems('pki', 'pki/issue/web common_name=a | W_\npki/issue/api common_name=b | w_');
    assert.match(
      p,
      /^certificates line 2: .*: the variable w_CERTIFICATE is published by line 1 \("pki\/issue\/web common_name=a \| W_"\) already/,
    );
  });

  it('lists every bad line at once', () => {
    assert.equal(problems('pki', 'pki/issue/web ttl=x | A_\nok\npki/issue/web common_name=a | A_').length, 2);
  });
});

describe('sshCertificates input', () => {
  it('reads a sign request; the key and certificate are always files named PREFIX_KEY and PREFIX_CERT', () => {
    const [r] = parseCredentials('ssh', 'ssh-client-signer/sign/deploy valid_principals=deploy,backup ttl=15m | SSH_', loc);
    assert.equal(r.kind, 'ssh');
    assert.equal(r.path, 'ssh-client-signer/sign/deploy');
    assert.deepEqual(r.params, { valid_principals: 'deploy,backup', ttl: '15m' });
    assert.equal(r.toFile, true);
    assert.deepEqual(outputNames(r), ['SSH_KEY', 'SSH_CERT']);
  });

  it('takes extensions as a JSON object of strings', () => {
    const [r] = parseCredentials('ssh', 'ssh/sign/deploy {"valid_principals": "deploy", "extensions": {"permit-pty": ""}}', loc);
    assert.deepEqual(r.params.extensions, { 'permit-pty': '' });
    assert.equal(r.prefix, 'DEPLOY_');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['an issue path', 'ssh/issue/deploy ttl=1m | S_', /is not <mount>\/sign\/<role>/],
    ['a public_key of its own', 'ssh/sign/deploy public_key="ssh-ed25519 AAAA" | S_', /public_key is the task's own/],
    ['a file: target', 'ssh/sign/deploy ttl=1m | file:S_', /always files: write "\| S_" without "file:"/],
    ['an unknown cert_type', 'ssh/sign/deploy cert_type=robot | S_', /parameter cert_type 'robot' is not supported/],
  ];
  for (const [what, line, expected] of bad) {
    it(`refuses ${what}`, () => {
      const [p] = problems('ssh', line);
      assert.ok(p.startsWith(`sshCertificates line 1: "${line}": `), p);
      assert.match(p, expected);
    });
  }
});

describe('durationSeconds: a ttl as Vault reads it', () => {
  it('seconds, units and combinations', () => {
    assert.equal(durationSeconds(900), 900);
    assert.equal(durationSeconds('900'), 900);
    assert.equal(durationSeconds('15m'), 900);
    assert.equal(durationSeconds('1h30m'), 5400);
    assert.equal(durationSeconds('2d'), 172800);
    assert.equal(durationSeconds('1.5h'), 5400);
    assert.equal(durationSeconds('soon'), undefined);
    assert.equal(durationSeconds(['1h']), undefined);
  });
});
