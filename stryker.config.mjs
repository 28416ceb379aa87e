// Mutation testing (`npm run mutate`, not part of CI) of the pure modules against the unit layer.
// The report goes to reports/mutation/ (JSON and HTML), the sandbox to .stryker-tmp/.
// StrykerJS 10 needs Node 22 or later (a Node 24 from `node scripts/runtimes.mjs path 24.22.3`).
import Module from 'node:module';

// @stryker-mutator/mocha-runner 10.0.0 requires Mocha's cli files without an extension, and
// Mocha 12 ships them as .cjs (stryker-js#6205): let require find .cjs files as it finds .js, here
// for the plugin's load in this process and, through the node arguments below, in the worker
// processes (test runners, and the checker process Stryker starts even with no checker).
const cjsAsJs = 'import Module from "node:module"; Module._extensions[".cjs"] ??= Module._extensions[".js"];';
Module._extensions['.cjs'] ??= Module._extensions['.js'];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/mocha-runner'],
  testRunner: 'mocha',
  mutate: [
    'tasks/VaultAzureLoginV1/src/core/secretSpec.ts',
    'tasks/VaultAzureLoginV1/src/vault/retry.ts',
    'tasks/VaultAzureLoginV1/src/pipeline/publish.ts',
    'tasks/VaultAzureLoginV1/src/core/tokenClaims.ts',
    'tasks/VaultAzureLoginV1/src/core/concurrency.ts',
    'tasks/VaultAzureLoginV1/src/vault/reader.ts',
    'tasks/VaultAzureLoginV1/src/core/errors.ts',
    'tasks/VaultAzureLoginV1/src/core/logText.ts',
    'tasks/VaultAzureLoginV1/src/core/tlsFailures.ts',
  ],
  // Each mutant runs only the tests that reach it.
  coverageAnalysis: 'perTest',
  concurrency: 2,
  mochaOptions: {
    // Not .mocharc.json: it loads every layer, and its summary hook prints at exit.
    'no-config': true,
    'no-package': true,
    'no-opts': true,
    spec: ['test/unit/**/*.test.ts'],
    ignore: [
      // Spawns mocha over every spec file of the project.
      'test/unit/quietTests.test.ts',
      // Reads the sources as text to check the documentation; in the sandbox they are instrumented.
      'test/unit/docs.test.ts',
      // Test none of the mutated modules (the first one with real sockets and servers).
      'test/unit/transport.test.ts',
      'test/unit/vaultAzure.test.ts',
      'test/unit/agentEnv.test.ts',
      'test/unit/deadline.test.ts',
      'test/unit/legacyUrl.test.ts',
      'test/unit/scheduling.test.ts',
    ],
    extension: ['ts'],
    // As .mocharc.json loads TypeScript: no type check, which `npm run typecheck` does.
    require: ['ts-node/register/transpile-only'],
  },
  testRunnerNodeArgs: ['--import', `data:text/javascript,${cjsAsJs}`],
  checkerNodeArgs: ['--import', `data:text/javascript,${cjsAsJs}`],
  disableTypeChecks: '{tasks,test}/**/*.ts',
  // Not copied to the sandbox: build output, downloaded servers and other files no unit test reads.
  ignorePatterns: ['dist', 'out', 'bench', 'images', 'reports', '.ci', '.tmp', '.openbao', '*.vsix'],
  tempDirName: '.stryker-tmp',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
};
