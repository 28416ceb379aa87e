// scripts/shims/legacy-url.cjs stands in for Node's `url` in the bundled Azure DevOps client
// libraries: its parse, resolve and format must give what Node's own give, for every shape of
// address those libraries handle (the warning it avoids shows only under Node 24, in the runtime
// e2e suite).
import * as assert from 'node:assert/strict';
import * as url from 'node:url';
// require: the shim is CommonJS, as the bundle loads it.
const shim = require('../../scripts/shims/legacy-url.cjs') as typeof url;

const ADDRESSES = [
  'https://dev.azure.com/contoso/',
  'https://dev.azure.com/contoso/_apis/distributedtask?api-version=7.1',
  'https://user:p%40ss@proxy.example.com:8080/path;p?q=1&q=2#frag',
  'http://[::1]:8200/v1/sys/health',
  'HTTPS://Dev.Azure.COM/Contoso/../x/./y',
  'https://login.microsoftonline.com/tenant/oauth2/v2.0/token',
  '//host/no-scheme',
  '/relative/path?x=1',
  'relative/path',
  'mailto:someone@example.com',
  '',
];
const RELATIVES = ['_apis/x', '/abs', '../up', '?q=1', '#h', 'https://other.example.com/p', '//other/p', ''];

describe('legacy-url shim (Node url.parse, resolve and format without DEP0169)', () => {
  for (const address of ADDRESSES) {
    it(`parses ${JSON.stringify(address)} as Node does, with and without query parsing and slashes as host`, () => {
      for (const args of [[], [true], [false, true], [true, true]] as Array<[boolean?, boolean?]>) {
        assert.deepEqual({ ...shim.parse(address, ...(args as [true])) }, { ...url.parse(address, ...(args as [true])) });
      }
      assert.equal(shim.format(address), url.format(address));
    });
    it(`resolves against ${JSON.stringify(address)} as Node does`, () => {
      for (const relative of RELATIVES) assert.equal(shim.resolve(address, relative), url.resolve(address, relative), relative);
    });
  }

  it('returns a Url it is given, formats objects and WHATWG URLs as Node does, and keeps the rest of the module', () => {
    const parsed = url.parse('https://a.example.com/x');
    assert.equal(shim.parse(parsed as unknown as string), parsed);
    const object = { protocol: 'https:', hostname: 'a.example.com', port: '8200', pathname: '/v1/x', search: '?a=1' };
    assert.equal(shim.format(object), url.format(object));
    const whatwg = new URL('https://u:p@a.example.com/x?y#z');
    assert.equal(shim.format(whatwg, { auth: false, fragment: false }), url.format(whatwg, { auth: false, fragment: false }));
    assert.equal(shim.URL, url.URL);
    assert.equal(shim.fileURLToPath, url.fileURLToPath);
  });

  it('throws as Node does on what Node refuses', () => {
    assert.throws(
      () => url.parse('http://xn--/'),
      (e: Error & { code?: string }) => {
        assert.throws(() => shim.parse('http://xn--/'), { name: e.name, code: e.code, message: e.message });
        return true;
      },
    );
    assert.throws(() => shim.parse(42 as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});
