/** buildReport and the renderers: JSON (stable), console (colour only on request), Markdown (verdict first). */
import { describe, expect, it } from 'vitest';
import { evaluateGate } from '../harness/gate.js';
import { buildReport, type Report } from '../harness/report-types.js';
import { scoreScenario } from '../harness/score.js';
import { renderConsole } from '../reports/console.js';
import { renderJson } from '../reports/json.js';
import { renderMarkdown } from '../reports/markdown.js';
import { JournalBuilder, contactOf, makeScenario } from './score-journal.js';

const META = { seed: 7, replay: 'ordeal run scenarios/ --seed 7', version: '0.1.0', createdAt: '2024-05-01T00:00:00.000Z' };

/** A failing scenario (score 65 < 80; o1 paid and stuck) and a passing one. */
async function sampleReport(): Promise<Report> {
  const failing = makeScenario({ name: 'callback-drop', description: 'charged, callback lost', gate: { minScore: 80 } });
  const journal = new JournalBuilder()
    .happy(0, 'b10', 'o10')
    .buyer(0, 'b1')
    .created(10, 'b1', 'ord_stuck')
    .paid(1000, 'ord_stuck')
    .fault(1000, 'payment.callback.drop', { orderId: 'ord_stuck' })
    .queried(1500, 'ord_stuck')
    .buyer(0, 'b3')
    .fault(100, 'stock.stale', { orderId: 'o3' })
    .created(150, 'b3', 'o3', { status: 'failed', reason: 'out_of_stock' })
    .message(400, 'o3', contactOf('b3'), 'out_of_stock');
  const failingScore = await scoreScenario(journal.events, failing);
  const passing = makeScenario({ name: 'smoke' });
  const passingScore = await scoreScenario(new JournalBuilder().happy(0, 'b1', 'o1').events, passing);
  return buildReport(
    [
      { scenario: failing, score: failingScore, gate: evaluateGate(failingScore, failing, {}) },
      { scenario: passing, score: passingScore, gate: evaluateGate(passingScore, passing, {}) },
    ],
    META,
  );
}

async function passingReport(): Promise<Report> {
  const scenario = makeScenario({ name: 'smoke' });
  const score = await scoreScenario(new JournalBuilder().happy(0, 'b1', 'o1').events, scenario);
  return buildReport([{ scenario, score, gate: evaluateGate(score, scenario, {}) }], META);
}

describe('buildReport', () => {
  it('assembles the versioned report and combines the gates', async () => {
    const report = await sampleReport();
    expect(report).toMatchObject({
      schemaVersion: 1,
      tool: { name: 'ordeal', version: '0.1.0' },
      createdAt: META.createdAt,
      seed: 7,
      replay: META.replay,
    });
    expect(report.scenarios.map((scenario) => [scenario.name, scenario.score, scenario.gate.passed])).toEqual([
      ['callback-drop', 65, false],
      ['smoke', 100, true],
    ]);
    expect(report.scenarios[0]?.description).toBe('charged, callback lost');
    expect('description' in (report.scenarios[1] ?? {})).toBe(false);
    expect(report.scenarios[0]?.classes['payment.callback.drop']?.incidents).toBe(1);
    expect(report.scenarios[0]?.incidents).toHaveLength(2);
    expect(report.gate.passed).toBe(false);
    expect(report.gate.reasons).toEqual([
      'callback-drop: score 65.0 < min 80',
      'callback-drop: invariant paid-orders-settled broken by 1 order: ord_stuck',
      'callback-drop: invariant conservation broken by 1 order: ord_stuck',
    ]);
  });
});

describe('renderJson', () => {
  it('round-trips, with 2-space indent and a trailing newline', async () => {
    const report = await sampleReport();
    const text = renderJson(report);
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(report)));
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')[1]).toBe('  "schemaVersion": 1,');
  });

  it('writes keys in a stable order, however the objects were built', async () => {
    const report = await sampleReport();
    const reversed = JSON.parse(JSON.stringify(report), (_key, value: unknown) =>
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value as Record<string, unknown>).reverse())
        : value,
    ) as Report;
    expect(renderJson(reversed)).toBe(renderJson(report));
    const keys = Object.keys(JSON.parse(renderJson(report)) as Record<string, unknown>);
    expect(keys).toEqual(['schemaVersion', 'tool', 'createdAt', 'seed', 'replay', 'scenarios', 'gate']);
    const scenarioKeys = Object.keys((JSON.parse(renderJson(report)) as { scenarios: Array<Record<string, unknown>> }).scenarios[0] ?? {});
    expect(scenarioKeys).toEqual(['name', 'description', 'seed', 'score', 'classes', 'invariants', 'steadyState', 'load', 'incidents', 'gate']);
  });
});

describe('renderConsole', () => {
  it('shows scores, classes, invariants with the violating orders, steady state and the verdict', async () => {
    const text = renderConsole(await sampleReport(), { color: false });
    expect(text).not.toMatch(/\u001b\[/);
    expect(text).toContain('callback-drop  score 65.0');
    expect(text).toMatch(/payment\.callback\.drop\s+30\.0\s+3000\s+1\s+1\/1\s+0\/1\s+0\/1/);
    expect(text).toMatch(/stock\.stale\s+100\.0/);
    expect(text).toContain('✗ paid-orders-settled: 1 order (ord_stuck)');
    expect(text).toContain('✓ no-double-charge');
    expect(text).toContain('steady state ✓ 1/1 delivered, 100.0% (min 99.0%)');
    expect(text).toContain('• score 65.0 < min 80');
    expect(text).toContain('smoke  score 100.0');
    expect(text).toContain('gate ✘ FAILED (1/2 scenarios passed)');
    expect(text).toContain('replay: ordeal run scenarios/ --seed 7');
  });

  it('names only the first few violating orders', async () => {
    const scenario = makeScenario();
    const journal = new JournalBuilder();
    for (const id of ['a1', 'a2', 'a3', 'a4', 'a5']) journal.buyer(0, `b-${id}`).created(10, `b-${id}`, id).paid(100, id);
    const score = await scoreScenario(journal.events, scenario);
    const report = buildReport([{ scenario, score, gate: evaluateGate(score, scenario, {}) }], META);
    expect(renderConsole(report, { color: false })).toContain('✗ paid-orders-settled: 5 orders (a1, a2, a3, …)');
    expect(renderConsole(report, { color: false, maxIds: 5 })).toContain('(a1, a2, a3, a4, a5)');
  });

  it('uses ANSI colours only when asked', async () => {
    const report = await passingReport();
    const coloured = renderConsole(report, { color: true });
    expect(coloured).toMatch(/\u001b\[32m/);
    const plain = renderConsole(report, { color: false });
    expect(plain).not.toMatch(/\u001b/);
    expect(plain).toContain('gate ✔ PASSED');
    expect(coloured.replace(/\u001b\[[0-9;]*m/g, '')).toBe(plain);
  });
});

describe('renderMarkdown', () => {
  it('puts the verdict and reasons first, then tables', async () => {
    const text = renderMarkdown(await sampleReport());
    const lines = text.split('\n');
    expect(lines[0]).toBe('## ❌ Ordeal: gate failed');
    expect(lines[2]).toBe('- callback-drop: score 65.0 < min 80');
    expect(text).toContain('| callback-drop | 65.0 | ✗ paid-orders-settled, conservation | ✓ 100.0% | ❌ failed |');
    expect(text).toContain('| smoke | 100.0 | ✓ all hold | ✓ 100.0% | ✅ passed |');
    expect(text).toContain('### ❌ callback-drop — score 65.0');
    expect(text).toContain('| `payment.callback.drop` | 30.0 | 3000 | 1 | 1/1 · 500ms / 500ms | 0/1 · – / – | 0/1 · – / – | 3.00s / 5.00s / 6.00s |');
    expect(text).toMatch(/\| `paid-orders-settled` \| ✗ \| 1 order: `ord_stuck` — order ord_stuck paid, neither delivered nor refunded/);
    expect(text).toContain('```sh\nordeal run scenarios/ --seed 7\n```');
    expect(text).not.toMatch(/\u001b/);
  });

  it('says the gate passed', async () => {
    const text = renderMarkdown(await passingReport());
    expect(text.startsWith('## ✅ Ordeal: gate passed\n')).toBe(true);
    expect(text).toContain('_No incidents: no fault or buyer mistake hit an order; the score is the steady-state success rate._');
  });

  it('escapes pipes in table cells', async () => {
    const scenario = makeScenario();
    const score = await scoreScenario([], scenario);
    score.invariants[0] = { ...score.invariants[0]!, ok: false, violations: [{ orderIds: ['x|y'], message: 'a | b' }] };
    const report = buildReport([{ scenario, score, gate: evaluateGate(score, scenario, {}) }], META);
    expect(renderMarkdown(report)).toContain('1 order: `x\\|y` — a \\| b');
  });
});

describe('new incident classes and invariants in the renderers', () => {
  /** A buyer mistake scored next to a fault, and a shop that reports delivered without a card. */
  async function mixedReport(): Promise<Report> {
    const scenario = makeScenario({ name: 'buyers' });
    const journal = new JournalBuilder()
      .happy(0, 'b10', 'o10')
      .buyer(0, 'b1', { behaviour: 'typo_recipient' })
      .fault(10, 'buyer.typo_recipient', { buyerId: 'b1' })
      .createFailed(20, 'b1', { httpStatus: 400, errorCode: 'invalid_recipient', intent: 'mistake' })
      .created(40, 'b1', 'o1', { intent: 'correction' })
      .paid(100, 'o1')
      .fulfilled(300, 'o1')
      .buyer(0, 'b2')
      .created(10, 'b2', 'ord_fake')
      .paid(100, 'ord_fake')
      .observed(200, 'ord_fake', 'b2', 'delivered', { cards: 1 });
    const score = await scoreScenario(journal.events, scenario);
    return buildReport([{ scenario, score, gate: evaluateGate(score, scenario, {}) }], META);
  }

  it('renders buyer classes and the new invariants in the console', async () => {
    const text = renderConsole(await mixedReport(), { color: false });
    expect(text).toMatch(/buyer\.typo_recipient\s+100\.0\s+3000\s+1\s+1\/1\s+1\/1\s+1\/1/);
    expect(text).toContain('✗ no-fake-success: 1 order (ord_fake)');
    expect(text).toContain('✓ no-silent-late-delivery');
    expect(text).toContain('✓ no-delivery-on-forged-callback');
  });

  it('renders them in Markdown, with the class table headed by class', async () => {
    const text = renderMarkdown(await mixedReport());
    expect(text).toContain('**Incident classes** (faults and buyer behaviours)');
    expect(text).toMatch(/\| `buyer\.typo_recipient` \|/);
    expect(text).toMatch(/\| `no-fake-success` \| ✗ \| 1 order: `ord_fake` — order ord_fake reported delivered with no card issued \|/);
  });

  it('keeps report.json keys stable for the new fields', async () => {
    const report = await mixedReport();
    expect(JSON.parse(renderJson(report))).toEqual(JSON.parse(JSON.stringify(report)));
    expect(report.scenarios[0]?.invariants.map((invariant) => invariant.id)).toContain('no-fake-success');
  });
});
