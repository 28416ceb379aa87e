// The ed25519 key pair the task makes for an SSH certificate, in OpenSSH's formats: OpenSSH's own
// ssh-keygen reads the private key file and derives the same public key line from it; and the
// fields of a certificate ssh-keygen signed are read back as ssh-keygen -L shows them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSshCertificate, sshTime } from '../../tasks/VaultAzureLoginV1/src/core/openssh';
import { newSshKeyPair } from '../../tasks/VaultAzureLoginV1/src/vault/credentials';

describe('OpenSSH key pair and certificate formats', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'openssh-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('ssh-keygen reads the private key file and derives the public key line sent to Vault', () => {
    const pair = newSshKeyPair('SSH_KEY');
    assert.match(pair.publicLine, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/);
    assert.match(pair.privateFile, /^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,70}\n)+-----END OPENSSH PRIVATE KEY-----\n$/);
    const file = join(dir, 'key');
    writeFileSync(file, pair.privateFile, { mode: 0o600 });
    const derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
    assert.equal(derived.split(' ').slice(0, 2).join(' '), pair.publicLine);
    assert.equal(derived.split(' ')[2], 'SSH_KEY', 'the comment');
  });

  it('makes a new pair every time', () => {
    const [a, b] = [newSshKeyPair('k'), newSshKeyPair('k')];
    assert.notEqual(a.publicLine, b.publicLine);
  });

  it('reads key id, principals, serial, type and validity of a certificate ssh-keygen signed', () => {
    const pair = newSshKeyPair('k');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'ca')]);
    writeFileSync(join(dir, 'user.pub'), `${pair.publicLine}\n`);
    execFileSync('ssh-keygen', [
      '-q',
      '-s',
      join(dir, 'ca'),
      '-I',
      'job 42',
      '-n',
      'deploy,backup',
      '-z',
      '7',
      '-V',
      '20300101000000Z:20300101001500Z',
      join(dir, 'user.pub'),
    ]);
    const cert = parseSshCertificate(readFileSync(join(dir, 'user-cert.pub'), 'utf8'));
    assert.ok(cert);
    assert.equal(cert.type, 'ssh-ed25519-cert-v01@openssh.com');
    assert.equal(cert.keyId, 'job 42');
    assert.deepEqual(cert.principals, ['deploy', 'backup']);
    assert.equal(cert.serial, '7');
    assert.equal(cert.certType, 'user');
    assert.equal(cert.publicKey, pair.publicLine);
    assert.equal(sshTime(cert.validAfter), '2030-01-01T00:00:00Z');
    assert.equal(sshTime(cert.validBefore), '2030-01-01T00:15:00Z');
  });

  it('is not fooled by a public key or by garbage', () => {
    assert.equal(parseSshCertificate(newSshKeyPair('k').publicLine), undefined);
    assert.equal(parseSshCertificate('ssh-ed25519-cert-v01@openssh.com AAAA'), undefined);
    assert.equal(sshTime(0xffffffffffffffffn), 'forever');
  });
});
