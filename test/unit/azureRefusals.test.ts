// The azure method's explanations of the plugin's refusals that a run against the emulators does
// not meet (an IMDS token always has an appid, ARM always knows the VM IMDS names), and of IMDS
// failures: each names the value sent and the fix, none passes Vault's words on alone.
import * as assert from 'node:assert/strict';
import { azureMethod } from '../../tasks/VaultAzureLoginV1/src/auth/azure';
import { ImdsError } from '../../tasks/VaultAzureLoginV1/src/auth/azureImds';
import type { Proof } from '../../tasks/VaultAzureLoginV1/src/auth/method';
import { VaultHttpError } from '../../tasks/VaultAzureLoginV1/src/core/failures';
import { loc } from '../helpers/messages';

const target = { address: 'https://vault.example.com:8200', mount: 'azure', role: 'agents', nsNote: '' };
const vmProof: Proof = {
  body: {},
  secrets: [],
  notes: [],
  facts: {
    oid: 'oid-1',
    appid: 'app-1',
    tid: 'tid-1',
    identity: 'vm',
    subscription_id: 'sub-1',
    resource_group_name: 'rg-1',
    vm_name: 'vm-1',
    location: 'westeurope',
    instance: 'vm-1',
  },
};
const method = azureMethod(
  {
    method: 'azure',
    connection: '',
    connectionScheme: 'ManagedServiceIdentity',
    resource: 'https://management.azure.com/',
    managedIdentity: { clientId: '' },
  },
  async () => {
    throw new Error('not used');
  },
);
const refusal = (text: string) =>
  method.explainRefusal(new VaultHttpError(500, 'auth/azure/login', [text], undefined), vmProof, target, loc);

describe('azure plugin refusals the emulated runs do not meet', () => {
  const cases: Array<[string, string, string]> = [
    [
      'object id unknown and no app id',
      'token object id does not match expected identities, and no app id was found',
      loc('AzureIdentityNotOnVm', 'oid-1', 'app-1', 'vm_name', 'vm-1'),
    ],
    ['no identity on the VM in ARM', 'vm client did not return identity information', loc('AzureVmNoIdentity', 'vm_name', 'vm-1')],
    [
      'token claims name another VM',
      'xms_mirid token claim does not match vm_name vm-1',
      loc('AzureTokenNotFromVm', 'vm_name', 'vm-1', 'xms_mirid token claim does not match vm_name vm-1'),
    ],
    [
      'ARM does not know the VM',
      'unable to retrieve virtual machine metadata: GET https://management.azure.com/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Compute/virtualMachines/vm-1\n---\nRESPONSE 404: 404 Not Found\nERROR CODE: ResourceNotFound\n---\n{}',
      loc('AzureArmLookupFailed', 'vm_name', 'vm-1', 'ResourceNotFound', 'azure', 'sub-1', 'rg-1'),
    ],
  ];
  for (const [name, text, expected] of cases) it(name, () => assert.equal(refusal(text), expected));
});

describe('IMDS failures of the managed identity login', () => {
  const ctx = { timeoutSeconds: 30, attempts: 3 };
  it('no connection at all: not an Azure VM, or IMDS blocked', () => {
    assert.equal(
      method.explainProofFailure(new ImdsError('token', 'EHOSTUNREACH', 0, 'x'), ctx, loc),
      loc('AzureNotOnVm', '169.254.169.254', 'EHOSTUNREACH'),
    );
    assert.equal(method.isTransient(new ImdsError('token', 'ETIMEDOUT', 0, 'no connection')), false);
  });
  it('no identity that matches: the identity hint', () => {
    const err = new ImdsError('token', '', 400, 'invalid_request: Identity not found');
    assert.equal(
      method.explainProofFailure(err, ctx, loc),
      loc(
        'AzureImdsRefused',
        '169.254.169.254',
        loc('AzureImdsToken'),
        'HTTP 400',
        'invalid_request: Identity not found',
        ` ${loc('AzureImdsIdentityHint')}`,
      ),
    );
    assert.equal(method.isTransient(err), false);
  });
  it('throttled or failing IMDS is worth another attempt', () => {
    assert.equal(method.isTransient(new ImdsError('instance', '', 429, 'Too many requests')), true);
    assert.equal(method.isTransient(new ImdsError('token', '', 503, 'x')), true);
  });
});
