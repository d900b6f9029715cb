/**
 * Baselines: the pure comparison of two reports (deltas, the threshold, newly broken invariants,
 * gates, one-sided scenarios and classes), its renderings, and loading a report from disk.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { marked } from 'marked';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyComparison, compareReports, loadReport, regressionReason } from '../harness/score/compare.js';
import { OrdealError } from '../core/errors.js';
import type { ClassScore, InvariantResult, Report, ScenarioReport, StageSummary } from '../core/report-types.js';
import { formatDelta, renderComparison, renderComparisonMarkdown } from '../reports/compare.js';
import { renderJson } from '../reports/json.js';
import { tempDir } from './helpers/cli.js';

const stage = (met: number): StageSummary => ({ met, reached: met, p50: 100, p95: 200 });

function classScore(score: number, incidents = 10): ClassScore {
  return {
    score,
    weight: 1000,
    incidents,
    deadlines: { detect: 1000, notify: 2000, recover: 3000 },
    stages: { detect: stage(incidents), notify: stage(incidents), recover: stage(incidents) },
  };
}

function invariant(id: InvariantResult['id'], ok: boolean, orderIds: string[] = []): InvariantResult {
  return { id, ok, description: id, violations: ok ? [] : [{ orderIds, message: `${id} broken` }] };
}

interface ScenarioShape {
  score: number;
  classes?: Record<string, number>;
  broken?: Array<InvariantResult['id']>;
  successRate?: number;
  p95?: number | null;
  passed?: boolean;
  reasons?: string[];
}

function scenario(name: string, shape: ScenarioShape): ScenarioReport {
  const broken = new Set(shape.broken ?? []);
  const ids: Array<InvariantResult['id']> = ['no-double-charge', 'paid-orders-settled', 'conservation'];
  const successRate = shape.successRate ?? 1;
  const passed = shape.passed ?? true;
  return {
    name,
    seed: 7,
    score: shape.score,
    classes: Object.fromEntries(Object.entries(shape.classes ?? {}).map(([id, score]) => [id, classScore(score)])),
    invariants: ids.map((id) => invariant(id, !broken.has(id), broken.has(id) ? ['ord_a', 'ord_b'] : [])),
    steadyState: {
      orders: 100,
      succeeded: Math.round(successRate * 100),
      successRate,
      latency: { p50: 100, p95: shape.p95 === undefined ? 250 : shape.p95, p99: 400 },
      thresholds: { successRate: 0.99 },
      ok: successRate >= 0.99,
    },
    load: { arrivals: 100, dropped: 0, ordersCreated: 100, httpErrors: 0, rejected: 0, unattachedFaults: 0 },
    incidents: [],
    gate: { passed, reasons: shape.reasons ?? (passed ? [] : ['score too low']) },
  };
}

function report(...scenarios: ScenarioReport[]): Report {
  return {
    schemaVersion: 1,
    tool: { name: 'ordeal', version: '0.1.0' },
    createdAt: '2026-01-01T00:00:00.000Z',
    seed: 7,
    replay: 'ordeal run',
    scenarios,
    gate: { passed: scenarios.every((entry) => entry.gate.passed), reasons: scenarios.flatMap((entry) => entry.gate.reasons.map((reason) => `${entry.name}: ${reason}`)) },
  };
}

describe('compareReports', () => {
  const base = report(
    scenario('callback-drop', { score: 96, classes: { 'payment.callback.drop': 95, 'payment.latency': 100 } }),
    scenario('stock', { score: 90, classes: { 'stock.stale': 90 } }),
  );

  it('gives signed per-scenario and per-class deltas and no regression within the threshold', () => {
    const current = report(
      scenario('callback-drop', { score: 93, classes: { 'payment.callback.drop': 91, 'payment.latency': 100 } }),
      scenario('stock', { score: 95, classes: { 'stock.stale': 95 } }),
    );
    const comparison = compareReports(base, current, { threshold: 5 });
    expect(comparison.threshold).toBe(5);
    expect(comparison.regressed).toBe(false);
    expect(comparison.regressions).toEqual([]);
    const drop = comparison.scenarios[0]!;
    expect(drop.name).toBe('callback-drop');
    expect(drop.score).toEqual({ base: 96, current: 93, delta: -3, regression: false });
    expect(drop.classes.map((entry) => [entry.class, entry.delta])).toEqual([
      ['payment.callback.drop', -4],
      ['payment.latency', 0],
    ]);
    expect(comparison.scenarios[1]!.score.delta).toBe(5);
    expect(comparison.overall.base).toBeCloseTo(93);
    expect(comparison.overall.current).toBeCloseTo(94);
    expect(comparison.gate).toEqual({ base: true, current: true });
  });

  it('a drop greater than the threshold regresses; equal to it does not; the default threshold is 5', () => {
    const current = report(
      scenario('callback-drop', { score: 91, classes: { 'payment.callback.drop': 80, 'payment.latency': 100 } }),
      scenario('stock', { score: 90, classes: { 'stock.stale': 90 } }),
    );
    const comparison = compareReports(base, current);
    expect(comparison.threshold).toBe(5);
    // 96 → 91 is exactly 5 points: not a regression. 95 → 80 is 15: a regression.
    expect(comparison.scenarios[0]!.score.regression).toBe(false);
    expect(comparison.regressions).toEqual([
      {
        scenario: 'callback-drop',
        kind: 'class',
        subject: 'payment.callback.drop',
        message: 'class payment.callback.drop 95.0 → 80.0 (-15.0 points, max drop 5)',
      },
    ]);
    expect(comparison.regressed).toBe(true);
    // A looser threshold lets it through; a stricter one also catches the scenario's score.
    expect(compareReports(base, current, { threshold: 20 }).regressed).toBe(false);
    const strict = compareReports(base, current, { threshold: 1 });
    expect(strict.regressions.map((regression) => `${regression.kind}:${regression.subject}`)).toEqual(['score:score', 'class:payment.callback.drop']);
  });

  it('a newly broken invariant regresses, whatever the scores; one broken on both sides does not; a fixed one is listed', () => {
    const before = report(scenario('s', { score: 90, broken: ['conservation'] }));
    const after = report(scenario('s', { score: 90, broken: ['paid-orders-settled', 'conservation'] }));
    const comparison = compareReports(before, after, { threshold: 5 });
    expect(comparison.scenarios[0]!.newlyBroken).toEqual(['paid-orders-settled']);
    expect(comparison.regressions).toEqual([
      { scenario: 's', kind: 'invariant', subject: 'paid-orders-settled', message: 'invariant paid-orders-settled newly broken (2 orders)' },
    ]);
    const reverse = compareReports(after, before, { threshold: 5 });
    expect(reverse.regressed).toBe(false);
    expect(reverse.scenarios[0]!.fixed).toEqual(['paid-orders-settled']);
  });

  it('a gate that passed before and fails now regresses, naming why it fails', () => {
    const before = report(scenario('s', { score: 90, successRate: 1 }));
    const after = report(scenario('s', { score: 89, successRate: 0.9, p95: 900, passed: false, reasons: ['steady state success rate 90.0% < 99.0%'] }));
    const comparison = compareReports(before, after, { threshold: 5 });
    expect(comparison.regressions).toEqual([
      { scenario: 's', kind: 'gate', subject: 'gate', message: 'gate passed before, fails now (steady state success rate 90.0% < 99.0%)' },
    ]);
    const steady = comparison.scenarios[0]!.steadyState;
    expect(steady.worsened).toBe(true);
    expect(steady.successRateDelta).toBeCloseTo(-0.1);
    expect(steady.p95Delta).toBe(650);
    expect(comparison.gate).toEqual({ base: true, current: false });
    // Failing on both sides is no regression.
    expect(compareReports(after, after).regressed).toBe(false);
  });

  it('lists scenarios and classes present on one side only, without counting them as regressions', () => {
    const before = report(scenario('a', { score: 90, classes: { 'payment.decline': 90 } }), scenario('gone', { score: 100 }));
    const after = report(scenario('new', { score: 10, passed: false }), scenario('a', { score: 90, classes: { 'risk.review': 20 } }));
    const comparison = compareReports(before, after, { threshold: 5 });
    expect(comparison.onlyInBase).toEqual(['gone']);
    expect(comparison.onlyInCurrent).toEqual(['new']);
    expect(comparison.scenarios.map((entry) => entry.name)).toEqual(['a']);
    const classes = comparison.scenarios[0]!.classes;
    expect(classes).toEqual([
      { class: 'payment.decline', base: 90, current: null, delta: null, regression: false, baseIncidents: 10, currentIncidents: null },
      { class: 'risk.review', base: null, current: 20, delta: null, regression: false, baseIncidents: null, currentIncidents: 10 },
    ]);
    expect(comparison.regressed).toBe(false);
    expect(comparison.overall).toEqual({ base: 90, current: 90, delta: 0, regression: false });
  });

  it('comparing a report with itself finds nothing', () => {
    const comparison = compareReports(base, base);
    expect(comparison.regressed).toBe(false);
    expect(comparison.scenarios.every((entry) => entry.score.delta === 0 && entry.newlyBroken.length === 0)).toBe(true);
  });
});

describe('applyComparison', () => {
  it('fails the gate with each regression as a reason, keeping the reasons it had; leaves a clean report alone', () => {
    const before = report(scenario('s', { score: 100, classes: { 'payment.callback.drop': 100 } }));
    const after = report(scenario('s', { score: 50, classes: { 'payment.callback.drop': 50 }, passed: true }));
    const comparison = compareReports(before, after, { threshold: 5 });
    const gated = applyComparison(after, comparison);
    expect(gated.gate.passed).toBe(false);
    expect(gated.gate.reasons).toEqual(comparison.regressions.map(regressionReason));
    expect(gated.gate.reasons[1]).toBe('s: regression vs baseline: class payment.callback.drop 100.0 → 50.0 (-50.0 points, max drop 5)');
    expect(after.gate).toEqual({ passed: true, reasons: [] });
    expect(gated.scenarios).toBe(after.scenarios);
    const clean = compareReports(after, after);
    expect(applyComparison(after, clean)).toBe(after);
  });
});

describe('renderComparison', () => {
  const before = report(scenario('callback-drop', { score: 100, classes: { 'payment.callback.drop': 100 } }), scenario('b', { score: 80 }));
  const after = report(
    scenario('callback-drop', { score: 0, classes: { 'payment.callback.drop': 0 }, broken: ['paid-orders-settled'], passed: false }),
    scenario('b', { score: 82.5 }),
  );
  const comparison = compareReports(before, after, { threshold: 5 });

  it('prints a table with base, new and signed delta, and names the regressions', () => {
    const text = renderComparison(comparison, { color: false, labels: { base: 'runs/a', current: 'runs/b' } });
    expect(text).toContain('base runs/a');
    expect(text).toMatch(/callback-drop\s+100\.0\s+0\.0\s+-100\.0 ✘/);
    expect(text).toMatch(/ {2}payment\.callback\.drop\s+100\.0\s+0\.0\s+-100\.0 ✘/);
    expect(text).toMatch(/b\s+80\.0\s+82\.5\s+\+2\.5/);
    expect(text).toMatch(/overall \(mean of 2\)\s+90\.0\s+41\.3\s+-48\.8/);
    expect(text).toContain('invariants newly broken: paid-orders-settled');
    expect(text).toContain('gate passed → failed');
    expect(text).toContain('✘ 4 regressions (max drop 5 points)');
    expect(text).toContain('  • callback-drop: class payment.callback.drop 100.0 → 0.0 (-100.0 points, max drop 5)');
    expect(text).not.toMatch(/\u001b\[/);
    expect(renderComparison(comparison, { color: true })).toMatch(/\u001b\[31m/);
  });

  it('says so when nothing regressed', () => {
    const text = renderComparison(compareReports(after, before), { color: false });
    expect(text).toContain('✔ no regression (max drop 5 points)');
    expect(text).toContain('invariants fixed: paid-orders-settled');
  });

  it('formats deltas with a sign, and one-sided scores as new or gone', () => {
    expect(formatDelta({ base: 1, current: 3.25, delta: 2.25, regression: false })).toBe('+2.3');
    expect(formatDelta({ base: 3, current: 1, delta: -2, regression: false })).toBe('-2.0');
    expect(formatDelta({ base: 3, current: 3.01, delta: 0.01, regression: false })).toBe('±0.0');
    expect(formatDelta({ base: null, current: 3, delta: null, regression: false })).toBe('new');
    expect(formatDelta({ base: 3, current: null, delta: null, regression: false })).toBe('gone');
  });

  it('has a Markdown variant for pull-request comments', () => {
    const text = renderComparisonMarkdown(comparison, { labels: { base: 'runs/a', current: 'runs/b' } });
    expect(text).toContain('❌ **4 regressions** (max drop 5 points)');
    expect(text).toContain('| **callback-drop** | 100.0 | 0.0 | -100.0 ❌ |');
    expect(text).toContain('| &nbsp;&nbsp;`payment.callback.drop` | 100.0 | 0.0 | -100.0 ❌ |');
    expect(text).toContain('- **callback-drop**: invariant paid-orders-settled newly broken (2 orders)');
    expect(text.endsWith('\n')).toBe(true);
    expect(renderComparisonMarkdown(compareReports(before, before))).toContain('✅ **no regression**');
  });
});

describe('comparisons of hostile names', () => {
  // A report.json is a file anyone can hand to `ordeal compare`; a scenario's name is free text.
  const names = ['![x](http://evil.example/i.png)', '[a](javascript:alert(1))', '<img src=x onerror=alert(2)>', 'a | b', '`tick` **bold**', '\u001b[2J\r\n\u202eowned'];
  const classId = '<script>alert(3)</script>';
  const before = report(...names.map((name) => scenario(name, { score: 100, classes: { [classId]: 100 } })));
  const after = report(...names.map((name) => scenario(name, { score: 10, classes: { [classId]: 10 }, broken: ['conservation'], passed: false })));
  const comparison = compareReports(before, after);

  it('renders Markdown in which a GFM renderer finds no image, link, HTML or broken table of theirs', async () => {
    const markdown = renderComparisonMarkdown(comparison, { labels: { base: '![b](http://evil.example/b)', current: 'runs/`b`' } });
    expect(markdown).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202a-\u202e]/);
    const html = await marked.parse(markdown, { gfm: true });
    expect(html).not.toMatch(/<img|<a |<script|<strong>bold<\/strong>|<code>tick<\/code>/i);
    for (const table of html.match(/<table>[\s\S]*?<\/table>/g) ?? []) {
      const widths = (table.match(/<tr>[\s\S]*?<\/tr>/g) ?? []).map((row) => (row.match(/<t[dh][ >]/g) ?? []).length);
      expect(new Set(widths).size, table).toBe(1);
    }
    expect(html).toContain('evil.example');
  });

  it('prints them on the console with every control shown as its escape', () => {
    const text = renderComparison(comparison, { color: false, labels: { base: '\u001b]0;title\u0007', current: 'b' } });
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202a-\u202e]/);
    expect(text).toContain('\\x1b[2J\\x0d\\x0a\\u202eowned');
  });
});

describe('loadReport', () => {
  let work: { path: string; remove(): Promise<void> };
  const sample = report(scenario('s', { score: 90, classes: { 'payment.decline': 90 } }));
  beforeAll(async () => {
    work = await tempDir('ordeal-compare-');
    await mkdir(join(work.path, 'run'));
    await writeFile(join(work.path, 'run', 'report.json'), renderJson(sample));
    await writeFile(join(work.path, 'broken.json'), '{ "schemaVersion": 1, ');
    await writeFile(join(work.path, 'other.json'), JSON.stringify({ ...sample, scenarios: [{ ...sample.scenarios[0], score: 'high' }] }));
    await writeFile(join(work.path, 'future.json'), JSON.stringify({ ...sample, schemaVersion: 2 }));
  });
  afterAll(async () => {
    await work.remove();
  });

  it('reads a report.json, or a run folder by its report.json', async () => {
    expect(await loadReport(join(work.path, 'run', 'report.json'))).toEqual(sample);
    expect(await loadReport(join(work.path, 'run'))).toEqual(sample);
  });

  it.each([
    ['missing', 'nope.json', /nope\.json: no such file or folder/],
    ['a folder without a report', '.', /report\.json: cannot read the report/],
    ['not JSON', 'broken.json', /broken\.json: not valid JSON/],
    ['not a report', 'other.json', /other\.json: not an Ordeal report: scenarios\[0\]\.score: .*expected number/],
    ['another schema version', 'future.json', /future\.json: not an Ordeal report: schemaVersion 2 \(expected 1\)/],
  ])('rejects %s with ORDEAL_ERR_REPORT_FILE (exit 2), naming the path', async (_what, name, message) => {
    const error = await loadReport(join(work.path, name)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OrdealError);
    expect((error as OrdealError).code).toBe('ORDEAL_ERR_REPORT_FILE');
    expect((error as OrdealError).exitCode).toBe(2);
    expect((error as OrdealError).message).toMatch(message);
  });
});
