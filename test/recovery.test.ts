/** Recovery rules on hand-made journals: when the shop is back to health after a fault window ends. */
import { describe, expect, it } from 'vitest';
import { evaluateGate } from '../harness/score/gate.js';
import { recoveryReason } from '../core/report-reading.js';
import { completionsOf, evaluateRecovery, evaluateRule, genuinelySoldOut, loadStartOf } from '../harness/score/recovery.js';
import { foldJournal, scoreScenario } from '../harness/score/score.js';
import { type RecoveryRule } from '../core/report-types.js';
import { buildReport } from '../harness/score/report.js';
import { reportSchema } from '../core/report-schema.js';
import { renderConsole } from '../reports/console.js';
import { renderMarkdown } from '../reports/markdown.js';
import type { ScenarioInput } from '../core/scenario-schema.js';
import { JournalBuilder, makeScenario } from './score-journal.js';

/** Load starts at 1000 on the run clock; arrivals every 100 ms for 10 s of load time. */
const ORIGIN = 1000;
const ARRIVALS = Array.from({ length: 100 }, (_, index) => index * 100);

/** A normal buyer arriving at `at` (load time) whose order ends `outcome` after `latencyMs`. */
function order(journal: JournalBuilder, at: number, latencyMs: number, outcome: 'delivered' | 'failed' | 'timeout' = 'delivered'): void {
  const buyerId = `b${at}`;
  const orderId = `o${at}`;
  const t = ORIGIN + at;
  journal.buyer(t, buyerId).created(t + 10, buyerId, orderId).finished(t + latencyMs, buyerId, orderId, outcome, latencyMs);
}

/** Every arrival, with the latency and outcome `shape` gives it. */
function run(shape: (at: number) => { latencyMs: number; outcome?: 'delivered' | 'failed' | 'timeout' }): JournalBuilder {
  const journal = new JournalBuilder();
  for (const at of ARRIVALS) {
    const { latencyMs, outcome } = shape(at);
    order(journal, at, latencyMs, outcome);
  }
  return journal;
}

/** payment.latency in 2s..4s, and the given recovery rule after it. */
function scenarioWith(rule: Record<string, unknown>, extra: Partial<ScenarioInput> = {}) {
  return makeScenario({
    load: { stages: [{ rate: '10/s', duration: '10s' }] },
    faults: [{ id: 'payment.latency', delay: { fixed: '1s' }, window: '2s..4s' }],
    gate: { recovery: [rule as never] },
    ...extra,
  });
}

const during = (at: number): boolean => at >= 2000 && at < 4000;
const P95_RULE = { after: 0, within: '3s', p95: '800ms', successRate: 0.9, window: '1s' };

describe('evaluateRecovery', () => {
  it('recovers when the last slow order completes, and measures the time from the window end', async () => {
    // Orders that arrived in the window take 1.5 s: the last one (3.9 s) completes at 5.4 s.
    const journal = run((at) => ({ latencyMs: during(at) ? 1500 : 200 }));
    const scenario = scenarioWith(P95_RULE);
    const folded = await foldJournal(journal.events);
    expect(loadStartOf(folded, scenario)).toBe(ORIGIN);
    const [result] = evaluateRecovery(folded, scenario);
    expect(result).toEqual({
      rule: { after: 0, fault: 'payment.latency', within: 3000, p95: 800, successRate: 0.9, window: 1000 },
      windowEnd: 4000,
      // Completions after 4 s: fault-window orders from 2.5 s on, and every order from 3.8 s on.
      completions: ARRIVALS.filter((at) => (during(at) ? at + 1500 : at + 200) > 4000).length,
      recoveredAt: 5400,
      timeToRecoverMs: 1400,
      met: true,
      figures: { from: 5400, to: 6400, completions: 10, delivered: 10, successRate: 1, p95: 200 },
    });
  });

  it('is recovered at the window end when no window after it fails', async () => {
    const journal = run(() => ({ latencyMs: 200 }));
    const [result] = evaluateRecovery(await foldJournal(journal.events), scenarioWith(P95_RULE));
    expect(result).toMatchObject({ windowEnd: 4000, recoveredAt: 4000, timeToRecoverMs: 0, met: true });
  });

  it('never recovers when the last window still fails, and names that window', async () => {
    const journal = run((at) => ({ latencyMs: at >= 2000 ? 1500 : 200 }));
    const scenario = scenarioWith(P95_RULE);
    const score = await scoreScenario(journal.events, scenario);
    const [result] = score.recovery!;
    expect(result!.met).toBe(false);
    expect(result!.recoveredAt).toBeUndefined();
    expect(result!.timeToRecoverMs).toBeUndefined();
    // The last order arrives at 9.9 s and completes at 11.4 s: the last window is 10.4..11.4 s.
    expect(result!.figures).toEqual({ from: 10_400, to: 11_400, completions: 10, delivered: 10, successRate: 1, p95: 1500 });
    expect(evaluateGate(score, scenario).reasons).toEqual([
      'recovery after faults[0] payment.latency (window ended at 4.00s): not recovered: the window 10.4s..11.4s still had p95 1.50s > 800ms (10 completions; the last window to fail)',
    ]);
  });

  it('recovers, relapses, and recovers again: the time counts to the last recovery', async () => {
    // Slow in the fault window and again for arrivals 6–7 s (completing up to 8.4 s).
    const slow = (at: number): boolean => during(at) || (at >= 6000 && at < 7000);
    const journal = run((at) => ({ latencyMs: slow(at) ? 1500 : 200 }));
    const scenario = scenarioWith(P95_RULE);
    const score = await scoreScenario(journal.events, scenario);
    expect(score.recovery![0]).toMatchObject({ recoveredAt: 8400, timeToRecoverMs: 4400, met: false });
    expect(evaluateGate(score, scenario).reasons).toEqual([
      'recovery after faults[0] payment.latency (window ended at 4.00s): recovered after 4.40s > within 3.00s',
    ]);
    // Without the relapse it recovered at 5.4 s (the first test): the relapse moved recovery past it.
    // A relapse that lasts to the end: never recovered.
    const relapsed = run((at) => ({ latencyMs: during(at) || at >= 7000 ? 1500 : 200 }));
    expect((await scoreScenario(relapsed.events, scenario)).recovery![0]).toMatchObject({ met: false, figures: { p95: 1500 } });
    expect((await scoreScenario(relapsed.events, scenario)).recovery![0]!.recoveredAt).toBeUndefined();
  });

  it('checks only the thresholds a rule gives: success rate without p95', async () => {
    // Fault-window orders fail fast; every later order is delivered, but slowly (2 s).
    const journal = run((at) => (during(at) ? { latencyMs: 300, outcome: 'failed' } : { latencyMs: at >= 4000 ? 2000 : 200 }));
    const folded = await foldJournal(journal.events);
    const successOnly = scenarioWith({ after: 'payment.latency', within: '1s', successRate: 0.9, window: '1s' });
    const [result] = evaluateRecovery(folded, successOnly);
    // The last failure (3.9 s + 300 ms) leaves the window at 4.2 s; nothing completes until 6 s, all delivered.
    expect(result).toMatchObject({ rule: { after: 0, fault: 'payment.latency', successRate: 0.9 }, recoveredAt: 4200, timeToRecoverMs: 200, met: true });
    expect(result!.rule.p95).toBeUndefined();
    expect(result!.figures).toMatchObject({ from: 5000, completions: 1, delivered: 1, p95: 2000 });
    // The same journal with a p95 threshold never recovers: the slow deliveries go on to the end.
    const withP95 = scenarioWith({ after: 0, within: '1s', successRate: 0.9, p95: '800ms', window: '1s' });
    expect(evaluateRecovery(folded, withP95)[0]).toMatchObject({ met: false });
  });

  it('fails a rule when nothing completes after the window end', async () => {
    const journal = new JournalBuilder();
    for (const at of ARRIVALS.filter((at) => at < 2000)) order(journal, at, 200);
    const scenario = scenarioWith(P95_RULE);
    const score = await scoreScenario(journal.events, scenario);
    expect(score.recovery).toEqual([
      { rule: { after: 0, fault: 'payment.latency', within: 3000, p95: 800, successRate: 0.9, window: 1000 }, windowEnd: 4000, completions: 0, met: false },
    ]);
    expect(evaluateGate(score, scenario).reasons).toEqual([
      'recovery after faults[0] payment.latency (window ended at 4.00s): not recovered: no order completed after the window ended',
    ]);
  });

  it('leaves out genuine stock-outs, other behaviours and dropped arrivals; counts faulted orders', async () => {
    const journal = run((at) => ({ latencyMs: 200 }));
    // A genuine sell-out (the supplier refused, the shop said out_of_stock): a correct answer.
    journal.buyer(ORIGIN + 5000, 'sold').created(ORIGIN + 5010, 'sold', 'o-sold', { status: 'failed', reason: 'out_of_stock' }).stockRefused(ORIGIN + 5005, 'o-sold');
    journal.finished(ORIGIN + 5020, 'sold', 'o-sold', 'failed', 20);
    // A stale-stock fault's refusal is the fault's doing: it counts (as a failure).
    journal.buyer(ORIGIN + 5000, 'stale').created(ORIGIN + 5010, 'stale', 'o-stale', { status: 'failed', reason: 'out_of_stock' }).stockRefused(ORIGIN + 5005, 'o-stale');
    journal.fault(ORIGIN + 5005, 'stock.stale', { orderId: 'o-stale', buyerId: 'stale' }).finished(ORIGIN + 5020, 'stale', 'o-stale', 'failed', 20);
    // An abandoning buyer and a dropped arrival are not completions.
    journal.buyer(ORIGIN + 5000, 'gone', { behaviour: 'abandon_payment' }).finished(ORIGIN + 8000, 'gone', undefined, 'failed', 3000);
    journal.dropped(ORIGIN + 5000, 'dropped');
    const folded = await foldJournal(journal.events);
    expect([...genuinelySoldOut(folded)]).toEqual(['sold']);
    const completions = completionsOf(folded, ORIGIN);
    expect(completions).toHaveLength(ARRIVALS.length + 1);
    expect(completions.filter((completion) => !completion.delivered)).toEqual([{ at: 5020, latencyMs: 20, delivered: false }]);
  });

  it('measures from the end of a crash pause, and takes the load start from the schedule', async () => {
    // The first stage plans no arrival: the first buyer comes at 1 s of load time.
    const scenario = makeScenario({
      load: { stages: [{ rate: 0, duration: '1s' }, { rate: '10/s', duration: '9s' }] },
      faults: [{ id: 'target.crash', at: '3s', pause: '500ms' }],
      gate: { recovery: [{ after: 'target.crash', within: '2s', successRate: 1 }] },
    });
    const journal = new JournalBuilder();
    for (const at of ARRIVALS.filter((at) => at >= 1000)) order(journal, at, 200);
    const folded = await foldJournal(journal.events);
    expect(loadStartOf(folded, scenario)).toBe(ORIGIN);
    expect(evaluateRecovery(folded, scenario)[0]).toMatchObject({ windowEnd: 3500, recoveredAt: 3500, met: true, rule: { window: 5000, after: 0 } });
  });

  it('uses the only window there is when less than a window of completions follows the end', () => {
    const rule: RecoveryRule = { after: 0, fault: 'payment.error', within: 1000, p95: 500, window: 5000 };
    const result = evaluateRule(rule, 1000, [
      { at: 900, latencyMs: 5000, delivered: true },
      { at: 1200, latencyMs: 300, delivered: true },
      { at: 1500, latencyMs: 400, delivered: false },
    ]);
    expect(result).toEqual({
      rule,
      windowEnd: 1000,
      completions: 2,
      recoveredAt: 1000,
      timeToRecoverMs: 0,
      met: true,
      figures: { from: 1000, to: 1500, completions: 2, delivered: 1, successRate: 0.5, p95: 400 },
    });
  });

  it('writes a reason for each kind of miss', () => {
    const rule: RecoveryRule = { after: 2, fault: 'payment.error', within: 5000, p95: 800, successRate: 0.95, window: 5000 };
    expect(
      recoveryReason({
        rule,
        windowEnd: 6000,
        completions: 40,
        met: false,
        figures: { from: 9000, to: 14_000, completions: 40, delivered: 36, successRate: 0.9, p95: 1300 },
      }),
    ).toBe(
      'recovery after faults[2] payment.error (window ended at 6.00s): not recovered: the window 9.00s..14.0s still had p95 1.30s > 800ms, 90.0% delivered < 95.0% (40 completions; the last window to fail)',
    );
  });
});

describe('the steady state and genuine stock-outs', () => {
  it('leaves orders the supplier really refused out of the steady state, and counts them', async () => {
    const journal = new JournalBuilder();
    journal.happy(0, 'b1', 'o1').happy(10, 'b2', 'o2');
    journal.buyer(20, 'b3').stockRefused(25, 'o3').created(30, 'b3', 'o3', { status: 'failed', reason: 'out_of_stock' });
    journal.observed(40, 'o3', 'b3', 'failed', { reason: 'out_of_stock' }).finished(40, 'b3', 'o3', 'failed', 20);
    const score = await scoreScenario(journal.events, makeScenario());
    expect(score.steadyState).toMatchObject({ orders: 2, succeeded: 2, successRate: 1, soldOut: 1, ok: true });
    expect(score.recovery).toBeUndefined();
    // A shop that says out_of_stock while the supplier never refused: a failure.
    const lying = new JournalBuilder();
    lying.happy(0, 'b1', 'o1').buyer(20, 'b3').created(30, 'b3', 'o3', { status: 'failed', reason: 'out_of_stock' }).finished(40, 'b3', 'o3', 'failed', 20);
    const lied = await scoreScenario(lying.events, makeScenario());
    expect(lied.steadyState).toMatchObject({ orders: 2, succeeded: 1 });
    expect(lied.steadyState.soldOut).toBeUndefined();
  });
});

describe('recovery in the report', () => {
  it('validates, and the console and Markdown show the measured time to recover and the dropped arrivals', async () => {
    const scenario = scenarioWith(P95_RULE);
    const recovered = run((at) => ({ latencyMs: during(at) ? 1500 : 200 }));
    recovered.dropped(ORIGIN + 3000, 'late-comer');
    const never = scenarioWith({ after: 0, within: '3s', p95: '800ms', window: '1s' }, { name: 'relapse' });
    const scoreOf = async (journal: JournalBuilder, of: typeof scenario) => {
      const score = await scoreScenario(journal.events, of);
      return { scenario: of, score, gate: evaluateGate(score, of) };
    };
    const report = buildReport(
      [await scoreOf(recovered, scenario), await scoreOf(run((at) => ({ latencyMs: at >= 2000 ? 1500 : 200 })), never)],
      { seed: 1, replay: 'ordeal run', version: '0.0.0', createdAt: '2026-01-01T00:00:00.000Z' },
    );
    expect(reportSchema.parse(JSON.parse(JSON.stringify(report)))).toEqual(report);
    expect(report.scenarios[0]!.recovery![0]!.timeToRecoverMs).toBe(1400);
    expect(report.scenarios[0]!.load.dropped).toBe(1);

    const console = renderConsole(report, { color: false });
    expect(console).toContain('load 101 arrivals, 1 dropped');
    expect(console).toContain(
      '✓ recovery after faults[0] payment.latency (window ended at 4.00s): recovered in 1.40s (within 3.00s); window 5.40s..6.40s: p95 200ms (max 800ms), 100.0% delivered (min 90.0%), 10 completions',
    );
    expect(console).toContain(
      '✗ recovery after faults[0] payment.latency (window ended at 4.00s): not recovered (within 3.00s); last failing window 10.4s..11.4s: p95 1.50s (max 800ms), 100.0% delivered, 10 completions',
    );
    expect(console).toContain('• recovery after faults[0] payment.latency (window ended at 4.00s): not recovered: the window 10.4s..11.4s still had p95 1.50s > 800ms');

    const markdown = renderMarkdown(report);
    expect(markdown).toContain('1 dropped');
    expect(markdown).toContain('| rule | recovered in | within | window | p95 | delivered | completions |');
    expect(markdown).toContain('| recovery after faults[0] payment.latency (window ended at 4.00s) | 1.40s | 3.00s | 5.40s..6.40s | 200ms (max 800ms) | 100.0% (min 90.0%) | 10 | ✓ |');
    expect(markdown).toContain('| recovery after faults[0] payment.latency (window ended at 4.00s) | never | 3.00s | 10.4s..11.4s | 1.50s (max 800ms) | 100.0% | 10 | ✗ |');
  });
});
