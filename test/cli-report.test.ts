/**
 * End to end (the built CLI on the built-in shop): re-scoring a run folder with `ordeal report`,
 * `ordeal compare`, `ordeal run --baseline`, a suite with one combined report and gate, and the
 * plain progress lines when stderr is not a terminal.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedComparison } from '../harness/score/compare.js';
import { readReport, runCli, tempDir, type CliResult } from './helpers/cli.js';

let work: { path: string; remove(): Promise<void> };
let resilientDir: string;
let flawedDir: string;
let suiteDir: string;
let resilient: CliResult;
let flawed: CliResult;
let suite: CliResult;

beforeAll(async () => {
  work = await tempDir('ordeal-cli-report-');
  resilientDir = join(work.path, 'resilient');
  flawedDir = join(work.path, 'flawed');
  suiteDir = join(work.path, 'suite');
  // The resilient run and the suite at once; the flawed run then gates on the resilient one.
  [resilient, suite] = await Promise.all([
    runCli(['run', 'scenarios/callback-drop.yaml', '--quiet', '--out', resilientDir]),
    runCli(['run', 'test/fixtures/suite/suite-drop.yaml', 'test/fixtures/suite/suite-strict.yaml', '--parallel', '2', '--out', suiteDir]),
  ]);
  flawed = await runCli(['run', 'scenarios/callback-drop.yaml', '--flaws', 'no-reconcile', '--baseline', resilientDir, '--max-drop', '10', '--quiet', '--out', flawedDir]);
}, 80_000);

afterAll(async () => {
  await work.remove();
});

describe('ordeal report RUN_DIR', () => {
  it('rebuilds report.json byte for byte from the journals, on the intact folder and after report.json is deleted', async () => {
    expect(resilient.code, resilient.stdout + resilient.stderr).toBe(0);
    const originalJson = await readFile(join(resilientDir, 'report.json'), 'utf8');
    const originalMd = await readFile(join(resilientDir, 'report.md'), 'utf8');

    const again = await runCli(['report', resilientDir, '--format', 'json,md']);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(join(resilientDir, 'report.json'), 'utf8')).toBe(originalJson);
    expect(await readFile(join(resilientDir, 'report.md'), 'utf8')).toBe(originalMd);

    await rm(join(resilientDir, 'report.json'));
    await rm(join(resilientDir, 'report.md'));
    const rebuilt = await runCli(['report', resilientDir, '--format', 'json']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(await readFile(join(resilientDir, 'report.json'), 'utf8')).toBe(originalJson);
    // Only the format asked for is written; the paths are printed.
    expect(existsSync(join(resilientDir, 'report.md'))).toBe(false);
    expect(rebuilt.stdout).toContain(`Reports: ${join(resilientDir, 'report.json')}`);
    expect(rebuilt.stdout).toContain('callback-drop');
  });

  it('exits with the re-scored gate, and reproduces a gate that failed on a baseline', async () => {
    expect(flawed.code).toBe(1);
    const original = await readFile(join(flawedDir, 'report.json'), 'utf8');
    await rm(join(flawedDir, 'report.json'));
    const rebuilt = await runCli(['report', flawedDir, '--format', 'json', '--quiet']);
    expect(rebuilt.code, rebuilt.stderr).toBe(1);
    expect(await readFile(join(flawedDir, 'report.json'), 'utf8')).toBe(original);
    expect(rebuilt.stdout.trim()).toBe(`Reports: ${join(flawedDir, 'report.json')}`);
  });

  it('exits 2 on a folder that is not a run, and on an unknown format', async () => {
    const notRun = await runCli(['report', join(work.path)]);
    expect(notRun.code).toBe(2);
    expect(notRun.stderr).toContain('ORDEAL_ERR_RUN_DIR');
    expect(notRun.stderr).toContain(join(work.path, 'run.json'));
    const badFormat = await runCli(['report', resilientDir, '--format', 'json,pdf']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain('ORDEAL_ERR_USAGE');
  });
});

describe('ordeal compare BASE NEW', () => {
  it('a resilient base and a flawed run: exit 1, naming the class that dropped and the invariants broken', async () => {
    const result = await runCli(['compare', resilientDir, flawedDir]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/payment\.callback\.drop\s+\d+\.\d\s+\d+\.\d\s+-\d+\.\d ✘/);
    expect(result.stdout).toMatch(/• callback-drop: class payment\.callback\.drop [\d.]+ → [\d.]+ \(-[\d.]+ points, max drop 5\)/);
    expect(result.stdout).toContain('invariants newly broken: paid-orders-settled');
    expect(result.stdout).toContain('gate passed → failed');
  });

  it('the reverse and a self comparison exit 0; report files work as well as folders', async () => {
    const reverse = await runCli(['compare', join(flawedDir, 'report.json'), resilientDir]);
    expect(reverse.code, reverse.stdout + reverse.stderr).toBe(0);
    expect(reverse.stdout).toContain('✔ no regression');
    const self = await runCli(['compare', resilientDir, join(resilientDir, 'report.json')]);
    expect(self.code, self.stdout + self.stderr).toBe(0);
    expect(self.stdout).toMatch(/payment\.callback\.drop\s+([\d.]+)\s+\1\s+±0\.0/);
  });

  it('--threshold 100 lets any score drop through (the broken invariants still regress); --format md renders Markdown', async () => {
    const loose = await runCli(['compare', resilientDir, flawedDir, '--threshold', '100', '--format', 'md']);
    expect(loose.code).toBe(1);
    expect(loose.stdout).toContain('# Ordeal comparison');
    expect(loose.stdout).toContain('invariant paid-orders-settled newly broken');
    expect(loose.stdout).not.toMatch(/class payment\.callback\.drop .* max drop/);
  });

  it('exits 2 naming a path that is not a report', async () => {
    const bogus = join(work.path, 'bogus.json');
    await writeFile(bogus, '{"hello": 1}');
    const result = await runCli(['compare', bogus, resilientDir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ORDEAL_ERR_REPORT_FILE');
    expect(result.stderr).toContain(bogus);
  });
});

describe('ordeal run --baseline', () => {
  it('fails the gate on the regressions, lists them as gate reasons and records the comparison', async () => {
    expect(flawed.code, flawed.stdout + flawed.stderr).toBe(1);
    const report = await readReport(flawedDir);
    expect(report.gate.passed).toBe(false);
    expect(report.gate.reasons).toEqual(
      expect.arrayContaining([expect.stringMatching(/^callback-drop: regression vs baseline: class payment\.callback\.drop [\d.]+ → [\d.]+ \(-[\d.]+ points, max drop 10\)$/)]),
    );
    expect(report.replay).toContain(`--baseline ${resilientDir} --max-drop 10`);
    const recorded = JSON.parse(await readFile(join(flawedDir, 'comparison.json'), 'utf8')) as RecordedComparison;
    expect(recorded.baseline).toBe(resilientDir);
    expect(recorded.threshold).toBe(10);
    expect(recorded.regressions.some((regression) => regression.subject === 'payment.callback.drop')).toBe(true);
    expect(existsSync(join(flawedDir, 'baseline.json'))).toBe(true);
    expect(flawed.stdout).toContain('regression');
  });

  it('exits 2 before running when the baseline is not a report', async () => {
    const outDir = join(work.path, 'bad-baseline');
    const result = await runCli(['run', 'test/fixtures/suite/suite-drop.yaml', '--baseline', join(work.path, 'missing'), '--out', outDir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ORDEAL_ERR_REPORT_FILE');
    expect(existsSync(outDir)).toBe(false);
  });
});

describe('a suite', () => {
  it('two scenario files give one report with a section each and one gate', async () => {
    expect(suite.code, suite.stdout + suite.stderr).toBe(1);
    const report = await readReport(suiteDir);
    expect(report.scenarios.map((scenario) => scenario.name)).toEqual(['suite-drop', 'suite-strict']);
    expect(report.scenarios.map((scenario) => scenario.gate.passed)).toEqual([true, false]);
    expect(report.gate.passed).toBe(false);
    expect(report.gate.reasons.length).toBeGreaterThan(0);
    expect(report.gate.reasons.every((reason) => reason.startsWith('suite-strict: '))).toBe(true);
    const markdown = await readFile(join(suiteDir, 'report.md'), 'utf8');
    expect(markdown).toContain('suite-drop');
    expect(markdown).toContain('suite-strict');
    expect(suite.stdout).toContain('gate ✘ FAILED (1/2 scenarios passed)');
    for (const name of ['suite-drop', 'suite-strict']) expect(existsSync(join(suiteDir, name, 'journal.ndjson'))).toBe(true);
  });
});

describe('progress', () => {
  it('writes plain lines to stderr when it is not a terminal: each phase, then the score', () => {
    const lines = suite.stderr.split('\n');
    for (const name of ['suite-drop', 'suite-strict']) {
      for (const phase of ['starting', 'load', 'settle', 'scoring']) {
        expect(lines.some((line) => line.startsWith(name) && line.includes(` ${phase} `)), `${name} ${phase}`).toBe(true);
      }
    }
    expect(lines).toContainEqual(expect.stringMatching(/^suite-drop\s+done\s+✔ score 100\.0/));
    expect(lines).toContainEqual(expect.stringMatching(/^suite-strict\s+done\s+✘ score/));
    expect(suite.stderr).not.toMatch(/\u001b/);
    // stdout keeps the report only.
    expect(suite.stdout).not.toMatch(/ load {2,}/);
  });

  it('--quiet writes none', () => {
    expect(resilient.stderr).toBe('');
    expect(flawed.stderr).toBe('');
  });
});

describe('ordeal schema report', () => {
  it('prints the report JSON Schema, the same as docs/report.schema.json', async () => {
    const result = await runCli(['schema', 'report']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(await readFile('docs/report.schema.json', 'utf8')));
  });
});
