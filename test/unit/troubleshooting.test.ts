// The links a failure gets: the troubleshooting entry of each message the failure is made of, in
// the order they appear, a fragment inside another message linking through the outer one.
import * as assert from 'node:assert/strict';
import { failureKeys, NO_ENTRY, troubleshootingLink } from '../../tasks/VaultAzureLoginV1/src/core/troubleshooting';

describe('troubleshooting links of a failure', () => {
  const printed = [
    { key: 'LoggingIn', text: 'Logging in to https://vault.example.com at auth/ado/login' },
    { key: 'ReadDenied', text: 'permission denied on secret/data/ci/db' },
    { key: 'ReadNotFound', text: 'no secret at secret/ci/api' },
    { key: 'AtVersion', text: ' at version 3' },
    {
      key: 'ReadsFailed',
      text: 'Could not read 2 secrets: permission denied on secret/data/ci/db; no secret at secret/ci/api at version 3',
    },
  ];

  it('links the outer message of a failure, not the messages inside it', () => {
    assert.deepEqual(failureKeys(printed[4].text, printed), ['ReadsFailed']);
  });

  it('links each message a failure joins, in the order they appear, at most three', () => {
    const failure = `${printed[2].text}; ${printed[1].text}`;
    assert.deepEqual(failureKeys(failure, printed), ['ReadNotFound', 'ReadDenied']);
    const many = ['A', 'B', 'C', 'D'].map((key) => ({ key, text: `message ${key}.` }));
    assert.deepEqual(failureKeys(many.map((m) => m.text).join(' '), many), ['A', 'B', 'C']);
  });

  it('links nothing for a message with no entry, or a text the failure does not hold', () => {
    assert.ok(NO_ENTRY.has('AtVersion') && NO_ENTRY.has('LoggingIn'));
    assert.deepEqual(failureKeys('Logging in to https://vault.example.com at auth/ado/login  at version 3', printed), []);
    assert.deepEqual(failureKeys('an error of the Azure library', printed), []);
    assert.deepEqual(failureKeys('anything', [{ key: 'ReadHttp', text: '' }]), [], 'an empty text is in every failure');
  });

  it("links the entry's anchor: the key in lower case on the troubleshooting page", () => {
    assert.equal(
      troubleshootingLink('LoginAudience'),
      'https://github.com/vault-azure-login/vault-azure-login/blob/main/docs/troubleshooting.md#msg-loginaudience',
    );
  });
});
