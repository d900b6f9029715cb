/**
 * The layers and which way they may import (docs/ARCHITECTURE.md). `npm test` runs this check
 * (test/architecture.test.ts): any cycle or forbidden import fails the build.
 */
const SOURCE = '^(core|memory|mocks|harness|reports|shop|examples)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'Modules import each other one way only.',
      severity: 'error',
      from: { path: SOURCE },
      to: { circular: true },
    },
    {
      name: 'core-imports-only-core',
      comment: 'core/ is what every layer shares (journal, scenario, report types, errors, units): it depends on no other layer.',
      severity: 'error',
      from: { path: '^core/' },
      to: { path: '^(memory|mocks|harness|reports|shop|test|bench)/' },
    },
    {
      name: 'memory-imports-only-core',
      comment: 'memory/ (archives, heap bounds) sits under the mocks and the scorer and knows neither.',
      severity: 'error',
      from: { path: '^memory/' },
      to: { path: '^(mocks|harness|reports|shop|test|bench)/' },
    },
    {
      name: 'mocks-never-import-the-harness',
      comment: 'The mocks play the providers; they know nothing of scoring, reports or how the run is driven.',
      severity: 'error',
      from: { path: '^mocks/' },
      to: { path: '^(harness|reports|shop|test|bench)/' },
    },
    {
      name: 'renderers-take-report-data',
      comment: 'reports/ turn report data into text; reading journals and writing files is the harness\'s job.',
      severity: 'error',
      from: { path: '^reports/' },
      to: { path: '^(memory|mocks|harness|shop|test|bench)/' },
    },
    {
      name: 'scoring-never-imports-the-run',
      comment: 'The scorer is a pure function of (journal, scenario): no mocks, no driver, no renderers.',
      severity: 'error',
      from: { path: '^harness/score/' },
      to: { path: '^(mocks|reports|shop|test|bench)/|^harness/(drive|output|scenario)/|^harness/[^/]+$' },
    },
    {
      name: 'scenario-loading-is-input-only',
      comment: 'Loading and validating scenarios needs only the schema.',
      severity: 'error',
      from: { path: '^harness/scenario/' },
      to: { path: '^(memory|mocks|reports|shop|test|bench)/|^harness/(drive|output|score)/|^harness/[^/]+$' },
    },
    {
      name: 'output-never-drives',
      comment: 'Writing reports reads a finished run folder; it never starts or drives a run.',
      severity: 'error',
      from: { path: '^harness/output/' },
      to: { path: '^(mocks|shop|test|bench)/|^harness/drive/|^harness/[^/]+$' },
    },
    {
      name: 'the-shop-is-a-black-box',
      comment: 'The reference shop is a target like any other: it imports nothing of Ordeal, and Ordeal imports nothing of it.',
      severity: 'error',
      from: { path: '^shop/' },
      to: { path: '^(core|memory|mocks|harness|reports|test|bench)/' },
    },
    {
      name: 'nothing-imports-the-shop',
      severity: 'error',
      from: { path: '^(core|memory|mocks|harness|reports)/' },
      to: { path: '^shop/' },
    },
    {
      name: 'examples-shops-are-black-boxes',
      comment: 'An example shop is built the way a third-party shop is: it imports nothing of Ordeal (not even the reference shop).',
      severity: 'error',
      from: { path: '^examples/[^/]+/shop/' },
      to: { path: '^(core|memory|mocks|harness|reports|shop)/' },
    },
    {
      name: 'example-adapters-use-the-public-target-api',
      comment: 'An example adapter is written the way a shop owner writes one: against harness/targets and nothing deeper.',
      severity: 'error',
      from: { path: '^examples/[^/]+/[^/]+$' },
      to: { path: '^(core|memory|mocks|reports|shop)/|^harness/(?!targets/)' },
    },
    {
      name: 'nothing-imports-the-examples',
      severity: 'error',
      from: { path: '^(core|memory|mocks|harness|reports|shop)/' },
      to: { path: '^examples/' },
    },
    {
      name: 'no-unresolvable-imports',
      severity: 'error',
      from: { path: SOURCE },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|bench/\\.build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
