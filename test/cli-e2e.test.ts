/**
 * End to end: the built CLI against the built-in shop (a separate process on a real SQLite file),
 * with every mock embedded — resilient and flawed.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalEvent } from '../core/journal.js';
import { readReport, readScenarioJournal, runCli, tempDir } from './helpers/cli.js';

let work: { path: string; remove(): Promise<void> };
beforeAll(async () => {
  work = await tempDir('ordeal-e2e-');
});
afterAll(async () => {
  await work.remove();
});

function hitBuyers(events: JournalEvent[], fault: string): string[] {
  const buyers = new Set<string>();
  for (const event of events) {
    if (event.type === 'fault.injected' && event.fault === fault && event.buyerId) buyers.add(event.buyerId);
  }
  return [...buyers].sort();
}

describe('ordeal validate', () => {
  it('accepts a valid scenario with exit 0', async () => {
    const result = await runCli(['validate', 'scenarios/smoke.yaml']);
    expect(result.stdout).toContain('valid scenario "smoke"');
    expect(result.code).toBe(0);
  });

  it('exits 2 on a typo, naming the file and the field', async () => {
    const result = await runCli(['validate', 'test/fixtures/typo.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ORDEAL_ERR_SCENARIO_INVALID');
    expect(result.stderr).toContain('test/fixtures/typo.yaml:9: faults[0].probabilty: unknown field "probabilty"');
  });

  it('exits 2 when `run` is given a bad scenario, before starting anything', async () => {
    const result = await runCli(['run', 'test/fixtures/typo.yaml', '--out', join(work.path, 'typo')]);
    expect(result.code).toBe(2);
    expect(existsSync(join(work.path, 'typo', 'report.json'))).toBe(false);
  });

  it('exits 2 on an unknown protocol, listing the known ones', async () => {
    const result = await runCli(['run', 'scenarios/smoke.yaml', '--protocol', 'paypal', '--out', join(work.path, 'protocol')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('native');
    expect(result.stderr).toContain('stripe');
  });

  it('exits 2 on an unknown flaw, listing the known ones', async () => {
    const result = await runCli(['run', 'scenarios/smoke.yaml', '--flaws', 'no-such-flaw', '--out', join(work.path, 'flaw')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ORDEAL_ERR_UNKNOWN_FLAW');
    expect(result.stderr).toContain('no-reconcile');
  });
});

describe('ordeal run against the built-in shop', () => {
  it('callback-drop: the resilient shop passes; without reconciliation the class collapses and paid orders are named', async () => {
    const resilientDir = join(work.path, 'drop-resilient');
    const flawedDir = join(work.path, 'drop-flawed');
    const [resilient, flawed] = [
      await runCli(['run', 'scenarios/callback-drop.yaml', '--out', resilientDir]),
      await runCli(['run', 'scenarios/callback-drop.yaml', '--flaws', 'no-reconcile', '--out', flawedDir]),
    ];
    expect(resilient.stderr).not.toContain('ORDEAL_ERR');
    expect(resilient.code, resilient.stdout + resilient.stderr).toBe(0);
    expect(flawed.code, flawed.stdout + flawed.stderr).toBe(1);

    const good = (await readReport(resilientDir)).scenarios[0]!;
    const bad = (await readReport(flawedDir)).scenarios[0]!;
    const goodClass = good.classes['payment.callback.drop']!;
    const badClass = bad.classes['payment.callback.drop']!;
    expect(goodClass.incidents).toBeGreaterThan(5);
    expect(goodClass.score).toBeGreaterThan(80);
    expect(badClass.score).toBeLessThan(goodClass.score! - 40);

    const settled = bad.invariants.find((invariant) => invariant.id === 'paid-orders-settled')!;
    expect(settled.ok).toBe(false);
    const named = settled.violations.flatMap((violation) => violation.orderIds);
    expect(named.length).toBeGreaterThan(0);
    // The orders named are exactly orders whose callback was dropped and that the buyer paid for.
    const events = await readScenarioJournal(flawedDir, 'callback-drop');
    const dropped = new Set(events.filter((e) => e.type === 'fault.injected' && e.fault === 'payment.callback.drop').map((e) => (e as { orderId?: string }).orderId));
    for (const orderId of named) expect(dropped.has(orderId)).toBe(true);
    expect(good.invariants.every((invariant) => invariant.ok)).toBe(true);

    // The report carries what CI and later tools read.
    const report = await readReport(resilientDir);
    expect(report.schemaVersion).toBe(1);
    expect(report.seed).toBe(7);
    expect(report.gate).toEqual({ passed: true, reasons: [] });
    expect(good.score).toBeGreaterThanOrEqual(0);
    expect(good.score).toBeLessThanOrEqual(100);
    for (const stage of ['detect', 'notify', 'recover'] as const) {
      expect(goodClass.stages[stage].met).toBeGreaterThan(0);
      expect(goodClass.stages[stage].p50).toEqual(expect.any(Number));
      expect(goodClass.stages[stage].p95).toEqual(expect.any(Number));
    }
    expect(good.steadyState.ok).toBe(true);
    expect(good.invariants.map((invariant) => invariant.id)).toEqual(expect.arrayContaining(['no-double-charge', 'paid-orders-settled']));
    expect(existsSync(join(resilientDir, 'report.md'))).toBe(true);
    expect(resilient.stdout).toContain('callback-drop');

    // The shop's payment keys are in the run folder, named in a README, and in no report.
    const keys = join(resilientDir, 'callback-drop', 'keys');
    const secret = (await readFile(join(keys, 'native-secret.txt'), 'utf8')).trim();
    expect(secret).toMatch(/^[0-9a-f]{48}$/);
    expect(await readFile(join(keys, 'README.txt'), 'utf8')).toContain('native-secret.txt  ORDEAL_PAYMENT_SECRET');
    for (const file of ['report.json', 'report.md']) expect(await readFile(join(resilientDir, file), 'utf8')).not.toContain(secret);
  });

  it('callback-duplicate: without idempotent callbacks an order gets cards twice and the run fails', async () => {
    const outDir = join(work.path, 'dup-flawed');
    const summary = join(work.path, 'step-summary.md');
    const result = await runCli(['run', 'scenarios/callback-duplicate.yaml', '--flaws', 'no-idempotent-callbacks', '--out', outDir], 90_000, {
      GITHUB_STEP_SUMMARY: summary,
    });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    // In GitHub Actions the Markdown report becomes the job summary.
    const jobSummary = await readFile(summary, 'utf8');
    expect(jobSummary).toContain('gate failed');
    expect(jobSummary).toContain('no-double-delivery');
    const scenario = (await readReport(outDir)).scenarios[0]!;
    const broken = scenario.invariants.filter((invariant) => !invariant.ok).map((invariant) => invariant.id);
    expect(broken).toContain('no-double-delivery');
    const doubled = scenario.invariants.find((invariant) => invariant.id === 'no-double-delivery')!;
    expect(doubled.violations.flatMap((violation) => violation.orderIds).length).toBeGreaterThan(0);
  });

  it('the same seed hits the same buyers; another seed hits others', async () => {
    const runs = await Promise.all(
      [
        ['a', '5'],
        ['b', '5'],
        ['c', '6'],
      ].map(async ([name, seed]) => {
        const outDir = join(work.path, `seed-${name}`);
        const result = await runCli(['run', 'test/fixtures/e2e/determinism.yaml', '--seed', seed!, '--out', outDir, '--quiet']);
        expect(result.stderr).not.toContain('ORDEAL_ERR');
        return readScenarioJournal(outDir, 'determinism');
      }),
    );
    const [a, b, c] = runs as [JournalEvent[], JournalEvent[], JournalEvent[]];
    for (const fault of ['payment.callback.drop', 'payment.limit.single']) {
      expect(hitBuyers(a, fault).length).toBeGreaterThan(3);
      expect(hitBuyers(a, fault)).toEqual(hitBuyers(b, fault));
      expect(hitBuyers(a, fault)).not.toEqual(hitBuyers(c, fault));
    }
    const report = await readReport(join(work.path, 'seed-a'));
    expect(report.seed).toBe(5);
    expect(report.replay).toContain('--seed 5');
  });

  it('the whole suite: the resilient shop passes every gate; the naive shop (every flaw) fails far below it, naming broken invariants', async () => {
    const goodDir = join(work.path, 'suite-resilient');
    const badDir = join(work.path, 'suite-naive');
    const good = await runCli(['run', 'scenarios/', '--parallel', '3', '--quiet', '--out', goodDir], 240_000);
    const bad = await runCli(['run', 'scenarios/', '--flaws', 'naive', '--parallel', '3', '--quiet', '--out', badDir], 240_000);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(bad.code, bad.stderr).toBe(1);
    const goodReport = await readReport(goodDir);
    const badReport = await readReport(badDir);
    const mean = (report: typeof goodReport): number => report.scenarios.reduce((sum, scenario) => sum + scenario.score!, 0) / report.scenarios.length;
    expect(goodReport.scenarios.length).toBeGreaterThanOrEqual(14);
    expect(mean(goodReport)).toBeGreaterThan(95);
    expect(mean(badReport)).toBeLessThan(mean(goodReport) - 30);
    const broken = new Set(badReport.scenarios.flatMap((scenario) => scenario.invariants.filter((invariant) => !invariant.ok).map((invariant) => invariant.id)));
    for (const id of ['paid-orders-settled', 'no-double-charge', 'no-delivery-without-payment', 'no-oversell', 'no-fake-success', 'conservation']) {
      expect(broken.has(id as never), `naive run breaks ${id}`).toBe(true);
    }
    expect(badReport.gate.reasons.some((reason) => /invariant \S+ broken by \d+ orders?: ord_/.test(reason))).toBe(true);
  }, 300_000);

  it('exits 3 when the target never becomes ready', async () => {
    const outDir = join(work.path, 'unreachable');
    const result = await runCli(['run', 'scenarios/smoke.yaml', '--target-command', 'exit 1', '--out', outDir]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('ORDEAL_ERR_TARGET_START');
  });

  it('a shop that dies mid-run still gets a report of what happened before', async () => {
    const outDir = join(work.path, 'crash');
    const shop = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(process.cwd(), 'dist/shop/main.js'))}`;
    const result = await runCli(['run', 'scenarios/smoke.yaml', '--target-command', `timeout -s KILL 2 ${shop}`, '--out', outDir]);
    expect(result.code).toBe(1);
    const report = await readReport(outDir);
    const scenario = report.scenarios[0]!;
    expect(scenario.load.arrivals).toBeGreaterThan(5);
    expect(report.gate.passed).toBe(false);
    const events = await readScenarioJournal(outDir, 'smoke');
    expect(events.some((event) => event.type === 'target.exited' && !event.expected)).toBe(true);
    expect(events.some((event) => event.type === 'stock.fulfilled')).toBe(true);
  });
});
