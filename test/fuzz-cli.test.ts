/**
 * The CLI's arguments under fast-check: commands, known and unknown options, and values that are
 * empty, huge, negative, NaN-like, of the wrong kind or full of control characters. Fuzzed
 * in-process (the built CLI's `main` in a worker thread, which the test ends if a call hangs), and
 * a few cases in real processes: no input gives exit 3 or 4, a stack trace or a hang; a refusal
 * says what was wrong. A `run` is always given a broken scenario first, so no case starts a shop.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from './helpers/cli.js';

/** Another seed or more runs to hunt with: ORDEAL_FUZZ_SEED=… ORDEAL_FUZZ_RUNS=… npx vitest run test/fuzz-cli.test.ts --testTimeout=0 */
const SEED = Number(process.env.ORDEAL_FUZZ_SEED ?? 20261207);
const RUNS = Number(process.env.ORDEAL_FUZZ_RUNS ?? 250);
/**
 * Longest one call may take. Parsing and refusing arguments is milliseconds of work, but checking
 * `--flaws` asks the built-in shop for its list (a process, up to 30 s on a busy machine).
 */
const CASE_BOUND_MS = 35_000;
const STACK_TRACE = /\n\s+at .+[:(]\d+:\d+|ORDEAL_ERR_HARNESS|ORDEAL_ERR_INTERNAL/;

interface Answer {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/** The built CLI's `main` in a worker thread: one call at a time, each bounded. */
class CliWorker {
  private worker!: Worker;
  private next = 0;

  async start(): Promise<void> {
    this.worker = new Worker(new URL('./fixtures/cli-fuzz-worker.mjs', import.meta.url), { argv: ['schema', 'report'], stdout: true, stderr: true, env: { ...process.env, NO_COLOR: '1' } });
    this.worker.stdout.resume();
    this.worker.stderr.resume();
    await new Promise<void>((resolve, reject) => {
      this.worker.once('error', reject);
      this.worker.once('message', () => resolve());
    });
  }

  call(argv: readonly string[]): Promise<Answer> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.worker.off('message', onMessage);
        reject(new Error(`ordeal ${JSON.stringify(argv)} did not end within ${CASE_BOUND_MS} ms`));
      }, CASE_BOUND_MS);
      const onMessage = (message: Answer & { id: number }): void => {
        if (message.id !== id) return;
        clearTimeout(timer);
        this.worker.off('message', onMessage);
        resolve(message);
      };
      this.worker.on('message', onMessage);
      this.worker.postMessage({ id, argv });
    });
  }

  async stop(): Promise<void> {
    await this.worker?.terminate();
  }
}

let work: Awaited<ReturnType<typeof tempDir>>;
let broken: string;
const cli = new CliWorker();

beforeAll(async () => {
  work = await tempDir('ordeal-fuzz-cli-');
  broken = join(work.path, 'broken.yaml');
  await writeFile(broken, 'name: broken\nload: { stages: [{ rate: -1/s, duration: 1e12s }] }\n');
  await cli.start();
}, 30_000);

afterAll(async () => {
  await cli.stop();
  await work?.remove();
});

const VALUES = fc.oneof(
  fc.constantFrom('', ' ', '0', '-1', '1.5', '17', '101', 'NaN', 'Infinity', '-Infinity', '1e999', '0x10', '1e9', '2e5', 'true', 'false', '--', '-', '=', ','),
  fc.constantFrom('native', 'alipay,stripe', 'epay,', ',', 'naive', 'no-reconcile', 'bogus,naive', 'json,md', 'html,', 'console', 'md', 'xml', 'scenario', 'report', 'target', 'env'),
  fc.constantFrom('pay.example.cn=epay', 'x=alipay', '=', 'host=', 'a.b=c', 'does/not/exist.yaml', 'nowhere/', '/proc/x', '\u001b[2J\u001b]0;t\u0007', '\u202eevil', 'a\nb', '日本語', 'x'.repeat(5000)),
  fc.string({ maxLength: 20 }),
);
const FLAGS = fc.constantFrom(
  '--seed', '--protocol', '--flaws', '--out', '--min-score', '--parallel', '--max-drop', '--threshold', '--format', '--intercept-host', '--target-command', '--target', '--baseline',
  '--sed', '--seeds', '--parallel-runs', '--x', '-x', '--no-seed', '--min_score', '--minScore',
);
const SWITCHES = fc.constantFrom('--intercept', '--quiet', '--no-intercept', '--no-quiet', '--', '-q', '--help=no', '--version=1');
const OPTIONS = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(FLAGS, VALUES).map(([flag, value]) => [flag, value]) },
    { weight: 2, arbitrary: fc.tuple(FLAGS, VALUES).map(([flag, value]) => [`${flag}=${value}`]) },
    { weight: 1, arbitrary: SWITCHES.map((flag) => [flag]) },
    { weight: 1, arbitrary: VALUES.map((value) => [value]) },
  ),
  { maxLength: 6 },
);

/** A command line: a command and its operands (a `run` gets the broken scenario first), then options. */
const ARGV = fc
  .tuple(fc.constantFrom('run', 'validate', 'compare', 'report', 'schema', 'target', 'target env', 'runn', 'help', ''), fc.array(VALUES, { maxLength: 3 }), OPTIONS)
  .map(([command, operands, options]) => {
    const head = command === '' ? [] : command.split(' ');
    const first = command === 'run' || command === 'validate' ? ['BROKEN'] : [];
    return [...head, ...first, ...operands, ...options.flat()];
  });

const expectTidyEnd = (argv: readonly string[], answer: Answer | CliResult): void => {
  const shown = `${JSON.stringify(argv)} → ${answer.code}\n${answer.stderr.slice(0, 2000)}`;
  expect([0, 1, 2], shown).toContain(answer.code);
  expect(answer.stderr, shown).not.toMatch(STACK_TRACE);
  // A refusal is an Ordeal error with its code and a message, not a bare usage dump.
  if (answer.code === 2) expect(answer.stderr, shown).toMatch(/ORDEAL_ERR_[A-Z_]+: \S/);
};

describe('fuzzing the CLI arguments', () => {
  it('in-process: every command line ends in a few seconds with 0, 1 or 2 and a clear refusal', async () => {
    await fc.assert(
      fc.asyncProperty(ARGV, async (template) => {
        const argv = template.map((arg) => (arg === 'BROKEN' ? broken : arg));
        const answer = await cli.call(argv);
        expectTidyEnd(argv, answer);
        // No case gets as far as a run: the broken scenario (or an earlier check) stops it.
        if (argv[0] === 'run') expect(answer.code, answer.stdout).toBe(2);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 300_000);

  it('in real processes: help, version and a few nasty lines end tidily', async () => {
    const lines: string[][] = [
      ['--help'],
      ['run', '--help'],
      ['--version'],
      ['run', 'BROKEN', '--seed', 'NaN', '--parallel', '1e999'],
      ['compare'],
      ['run', 'BROKEN', 'x'.repeat(20_000), '--out', '\u001b[2J'],
    ];
    const answers = await Promise.all(
      lines.map((template) => {
        const argv = template.map((arg) => (arg === 'BROKEN' ? broken : arg));
        return runCli(argv, 30_000).then((answer) => ({ argv, answer }));
      }),
    );
    for (const { argv, answer } of answers) expectTidyEnd(argv, answer);
    expect(answers[0]!.answer.stdout).toMatch(/Commands:/);
    expect(answers[2]!.answer.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  }, 60_000);
});

