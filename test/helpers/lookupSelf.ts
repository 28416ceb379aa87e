// Whether the emulated Vault still honours a token: GET auth/token/lookup-self with it, as any later
// user of a leaked token would. Resolves with the status (200 live, 403 revoked or unknown).
import { request } from 'node:https';
import { VAULT_ADDRESS, World } from '../emulators/world';

export function lookupSelf(world: World, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${VAULT_ADDRESS}/v1/auth/token/lookup-self`,
      { headers: { 'X-Vault-Token': token }, ca: world.ca.certPem },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
