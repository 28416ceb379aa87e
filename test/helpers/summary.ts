// Root hooks: one closing line "N passed, N failed" for the whole run, whatever the reporter.
let passed = 0;
let failed = 0;

export const mochaHooks = {
  afterEach(this: Mocha.Context) {
    const state = this.currentTest?.state;
    if (state === 'passed') passed++;
    else if (state === 'failed') failed++;
  },
  afterAll() {
    process.on('exit', () => console.log(`${passed} passed, ${failed} failed`));
  },
};
