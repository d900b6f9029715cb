/** buildReport and the renderers: JSON (stable), console (colour only on request), Markdown (verdict first, fit for a PR comment), the step summary. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluateGate } from '../harness/score/gate.js';
import { type Report } from '../core/report-types.js';
import { buildReport } from '../harness/score/report.js';
import { scoreScenario } from '../harness/score/score.js';
import { renderConsole } from '../reports/console.js';
import { renderJson } from '../reports/json.js';
import { STEP_SUMMARY_LIMIT, writeStepSummary } from '../harness/cli/github.js';
import { GITHUB_COMMENT_LIMIT, renderMarkdown, truncateMarkdown } from '../reports/markdown.js';
import { marked } from 'marked';
import { JournalBuilder, makeScenario, sampleReport as sharedSampleReport } from './score-journal.js';

const META = { seed: 7, replay: 'ordeal run scenarios/ --seed 7', version: '0.1.0', createdAt: '2024-05-01T00:00:00.000Z' };

async function sampleReport(): Promise<Report> {
  return sharedSampleReport(META);
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
    expect(scenarioKeys).toEqual(['name', 'description', 'seed', 'score', 'classes', 'invariants', 'steadyState', 'load', 'incidents', 'gate', 'accounting', 'metrics']);
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

  it('shows control characters in shop-given ids as escapes: no fake verdict line, no screen clear, no title change', async () => {
    // Before: an order id with a newline and ANSI escapes printed a fake "gate ✔ PASSED" line and cleared the screen.
    const hostile = 'o1\n\u001b[2J\u001b]0;pwned\u0007gate \u001b[32m✔ PASSED\u001b[0m\u202e';
    const scenario = makeScenario();
    const score = await scoreScenario(new JournalBuilder().buyer(0, 'b1').created(10, 'b1', hostile).paid(100, hostile).events, scenario);
    const report = buildReport([{ scenario, score, gate: evaluateGate(score, scenario, {}) }], META);
    for (const color of [false, true]) {
      const text = renderConsole(report, { color });
      // Our own colours are the only escapes, and every line is ours: the id stays on its line.
      expect(text.replace(/\u001b\[[0-9;]*m/g, '')).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
      const lines = text.split('\n');
      expect(lines.filter((line) => line.includes('PASSED')).every((line) => line.includes('o1\\x0a\\x1b[2J'))).toBe(true);
      expect(lines.filter((line) => line.replace(/\u001b\[[0-9;]*m/g, '').startsWith('gate '))).toEqual([expect.stringMatching(/FAILED/)]);
      expect(text).toContain('\\x1b]0;pwned\\x07gate \\x1b[32m✔ PASSED\\x1b[0m\\u202e');
    }
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

describe('latency in the console and in Markdown', () => {
  /** Two buyers: one answered at once, one whose create waited 900 ms from its intended arrival. */
  async function latencyReport(): Promise<Report> {
    const scenario = makeScenario({ name: 'latency' });
    const journal = new JournalBuilder().happy(0, 'b1', 'o1', { latencyMs: 100 }).buyer(500, 'b2');
    journal.add(1400, 'order.create.answered', {
      buyerId: 'b2',
      idempotencyKey: 'key-b2',
      latencyMs: 30,
      httpStatus: 201,
      orderId: 'o2',
      status: 'pending_payment',
      amount: 3000,
      intendedAt: 500,
    });
    journal.paid(1600, 'o2').fulfilled(1700, 'o2').observed(1800, 'o2', 'b2', 'delivered', { cards: 1 }).finished(1800, 'b2', 'o2', 'delivered', 1300);
    const score = await scoreScenario(journal.events, scenario);
    return buildReport([{ scenario, score, gate: evaluateGate(score, scenario, {}) }], META);
  }

  it('gives one console line: order stages p50/p95/p99 from intended start, and throughput', async () => {
    const text = renderConsole(await latencyReport(), { color: false });
    const line = text.split('\n').find((entry) => entry.startsWith('  latency'));
    expect(line).toMatch(/created 10ms\/900ms\/900ms · paid 60ms\/1\.10s\/1\.10s · delivered 100ms\/1\.30s\/1\.30s; 1\.0 delivered\/s \(peak 1\), create errors 0\.0%/);
    expect(renderConsole(await sampleReport(), { color: false })).toContain('  latency');
  });

  it('gives a Markdown table of stages and endpoints, the throughput, and the per-second series folded', async () => {
    const text = renderMarkdown(await latencyReport());
    expect(text).toContain('**Latency** (from intended start');
    expect(text).toContain('| order created | 2 | 10ms | 900ms | 900ms | 900ms | – |');
    expect(text).toContain('| order delivered | 2 | 100ms | 1.30s | 1.30s | 1.30s | – |');
    expect(text).toContain('| buyer done | 2 | 100ms | 1.30s | 1.30s | 1.30s | – |');
    expect(text).toContain('| `create` request | 2 | 10ms | 900ms | 900ms | 900ms | 10ms / 30ms |');
    expect(text).not.toContain('`cancel` request');
    expect(text).toContain('**Throughput**: 1.0 orders delivered/s (peak 1/s) · create errors 0.0% · slowest second 0: create p99 900ms');
    expect(text).toContain('<details><summary>Per second (2 seconds)');
    expect(text).toContain('| 0 | 2 | 0 | 2 | 0 | 1 | 0 | 10ms | 900ms | 900ms |');
    expect(text).toContain('| 1 | 0 | 0 | 0 | 0 | 1 | 0 | – | – | – |');
  });

  it('leaves both out for a report written before metrics were recorded', async () => {
    const report = await latencyReport();
    delete report.scenarios[0]!.metrics;
    expect(renderConsole(report, { color: false })).not.toContain('  latency');
    expect(renderMarkdown(report)).not.toContain('**Latency**');
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

describe('renderMarkdown as a pull-request comment', () => {
  /** The failing scenario of sampleReport with `extra` more paid-and-stuck orders under paid-orders-settled. */
  async function reportWithViolations(extra: number, message = (id: string) => `order ${id} paid, neither delivered nor refunded`): Promise<Report> {
    const report = await sampleReport();
    const settled = report.scenarios[0]!.invariants.find((invariant) => invariant.id === 'paid-orders-settled')!;
    for (let i = 0; i < extra; i++) settled.violations.push({ orderIds: [`ord_${i}`], message: message(`ord_${i}`) });
    return report;
  }

  const opened = (text: string): number => (text.match(/<details>/g) ?? []).length;
  const closed = (text: string): number => (text.match(/<\/details>/g) ?? []).length;

  it('shows failing scenarios open and folds passing ones and long violation lists into <details>', async () => {
    const text = renderMarkdown(await reportWithViolations(60));
    const failing = text.slice(text.indexOf('### ❌ callback-drop'), text.indexOf('### ✅ smoke'));
    expect(failing).toContain('**Invariants**');
    expect(failing).toMatch(/\| `paid-orders-settled` \| ✗ \| 61 orders: `ord_stuck`, `ord_0`, .*`ord_8`, … — order ord_stuck paid, neither delivered nor refunded.* \(\+60 more\) \|/);
    expect(failing).toContain('<details><summary>paid-orders-settled: 61 violations</summary>\n\n- `ord_stuck` — order ord_stuck paid');
    expect(failing).toContain('- `ord_48` — order ord_48 paid, neither delivered nor refunded');
    expect(failing).not.toContain('`ord_49`');
    expect(failing).toContain('- … 11 more violations in report.json');
    expect(failing).toMatch(/✓ 11 invariants hold: `no-double-charge`, /);
    expect(text).toContain('### ✅ smoke — score 100.0\n\n<details><summary>0 incident classes, 13 invariants checked, steady state 100.0%</summary>\n\n**Incident classes**');
    expect(opened(text)).toBe(closed(text));
  });

  it('keeps what the shop wrote from breaking the comment', async () => {
    const report = await reportWithViolations(2, (id) => `order ${id} </details><script>alert(1)</script>\u0007 | end`);
    report.scenarios[0]!.description = 'line one\nline two <img src=x onerror=alert(1)>';
    report.scenarios[0]!.invariants.find((invariant) => invariant.id === 'paid-orders-settled')!.violations[1]!.orderIds = ['ord`x|y'];
    report.replay = 'ordeal run ```danger``` --seed 7';
    const text = renderMarkdown(report);
    expect(text).not.toMatch(/<script|<img|\u0007/);
    expect(opened(text)).toBe(closed(text));
    expect(text).toContain('> line one line two &lt;img src=x onerror=alert(1)>');
    expect(text).toContain("- `ord'x|y` — order ord_0 &lt;/details>&lt;script>alert(1)&lt;/script> \\| end");
    expect(text).toContain('````sh\nordeal run ```danger``` --seed 7\n````');
  });

  it('fits GitHub\'s comment limit, dropping detail in steps and saying so (per-second series, fewer violations, none, passing tables, every table)', async () => {
    const report = await reportWithViolations(40, (id) => `order ${id} paid, neither delivered nor refunded: ${'x'.repeat(150)}`);
    for (let i = 0; i < 40; i++) {
      report.scenarios.push({ ...structuredClone(report.scenarios[0]!), name: `failing-${i}` });
      report.scenarios.push({ ...structuredClone(report.scenarios[1]!), name: `passing-${i}` });
    }
    const note = /_Shortened to fit a GitHub comment: the whole report is in the run folder \(report\.json, report\.html\)\._/;

    const full = renderMarkdown(report, { maxLength: 10_000_000 });
    expect(full.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT);
    expect(full).not.toMatch(note);
    expect(full).toContain('violations</summary>');
    expect(full).toContain('<details><summary>Per second (');

    const noSeries = renderMarkdown(report, { maxLength: full.length - 1 });
    expect(noSeries).not.toContain('<details><summary>Per second (');
    expect(noSeries).toContain('**Throughput**');
    expect(noSeries).toContain('- `ord_9` — order ord_9');

    const fitting = renderMarkdown(report);
    expect(fitting.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(fitting.startsWith('## ❌ Ordeal: gate failed\n')).toBe(true);
    expect(fitting).toMatch(note);

    const few = renderMarkdown(report, { maxLength: noSeries.length - 1 });
    expect(few).toContain('<details><summary>paid-orders-settled: 41 violations</summary>');
    expect(few).toContain('- `ord_8` — order ord_8');
    expect(few).not.toContain('- `ord_9` — order ord_9');
    expect(few).toContain('- … 31 more violations in report.json');

    const compact = renderMarkdown(report, { maxLength: few.length - 1 });
    expect(compact).not.toContain('violations</summary>');
    expect(compact).toContain('### ❌ failing-39');
    expect(compact).toContain('<summary>0 incident classes');

    const folded = renderMarkdown(report, { maxLength: compact.length - 1 });
    expect(folded).toContain('### ❌ failing-39');
    expect(folded).toContain('### ✅ passing-38 — score 100.0\n\n### ❌ failing-39');
    expect(folded).not.toContain('<summary>0 incident classes');

    const summary = renderMarkdown(report, { maxLength: folded.length - 1 });
    expect(summary).not.toContain('###');
    expect(summary).toContain('| failing-39 | 65.0 |');
    expect(summary).toContain('```sh\nordeal run scenarios/ --seed 7\n```');

    const cut = renderMarkdown(report, { maxLength: 3000 });
    expect(cut.length).toBeLessThanOrEqual(3000);
    expect(cut.startsWith('## ❌ Ordeal: gate failed\n')).toBe(true);
    expect(cut.trimEnd()).toMatch(new RegExp(`${note.source}$`));
    expect(opened(cut)).toBe(closed(cut));
    for (const text of [fitting, noSeries, few, compact, folded, summary]) {
      expect(text).toMatch(note);
      expect(opened(text)).toBe(closed(text));
      expect((text.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
  });

  it('folds gate reasons beyond the first twenty', async () => {
    const report = await sampleReport();
    report.gate.reasons = Array.from({ length: 25 }, (_, i) => `reason ${i}`);
    const text = renderMarkdown(report);
    expect(text).toContain('- reason 19\n\n<details><summary>5 more reasons</summary>\n\n- reason 20\n');
  });
});

describe('truncateMarkdown', () => {
  it('cuts at a line, closing an open code fence and <details>, and ends with the note', () => {
    const text = ['# title', '<details><summary>s</summary>', '', '```sh', 'a'.repeat(50), 'b'.repeat(50), '```', '</details>'].join('\n');
    const cut = truncateMarkdown(text, 90, 'NOTE');
    expect(cut).toBe(['# title', '<details><summary>s</summary>', '', '```sh', '```', '</details>', '', 'NOTE', ''].join('\n'));
    expect(truncateMarkdown(text, 1000, 'NOTE')).toBe(text);
    expect(truncateMarkdown(text, 2, 'NOTE')).toBe('NO');
  });

  it('measures as asked (bytes for the step summary)', () => {
    const text = `${'🃏'.repeat(10)}\n${'🃏'.repeat(10)}`;
    const bytes = (value: string): number => Buffer.byteLength(value);
    const cut = truncateMarkdown(text, 60, '!', bytes);
    expect(cut).toBe(`${'🃏'.repeat(10)}\n\n!\n`);
    expect(bytes(cut)).toBeLessThanOrEqual(60);
  });
});

describe('writeStepSummary', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ordeal-summary-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('does nothing without GITHUB_STEP_SUMMARY', async () => {
    expect(await writeStepSummary('## report\n', {})).toBe(false);
    expect(await writeStepSummary('## report\n', { GITHUB_STEP_SUMMARY: '' })).toBe(false);
  });

  it('appends the report to the summary file, after what earlier steps wrote', async () => {
    const path = join(dir, 'summary.md');
    const markdown = renderMarkdown(await sampleReport());
    expect(await writeStepSummary(markdown, { GITHUB_STEP_SUMMARY: path })).toBe(true);
    expect(await readFile(path, 'utf8')).toBe(markdown);
    await writeFile(path, '# build\nok');
    expect(await writeStepSummary('## second', { GITHUB_STEP_SUMMARY: path })).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('# build\nok\n## second\n');
  });

  it('keeps the step\'s summary within 1 MiB, cutting the report with a note', async () => {
    const path = join(dir, 'summary.md');
    await writeFile(path, 'x'.repeat(STEP_SUMMARY_LIMIT - 2000));
    const markdown = Array.from({ length: 200 }, (_, i) => `- line ${i} 🃏🃏🃏`).join('\n');
    expect(Buffer.byteLength(markdown)).toBeGreaterThan(2000);
    expect(await writeStepSummary(markdown, { GITHUB_STEP_SUMMARY: path })).toBe(true);
    const written = await readFile(path, 'utf8');
    expect(Buffer.byteLength(written)).toBeLessThanOrEqual(STEP_SUMMARY_LIMIT);
    expect(written).toContain('- line 0 🃏🃏🃏\n');
    expect(written).not.toContain('- line 199');
    expect(written.trimEnd()).toMatch(/cut to fit GitHub's 1 MiB step-summary limit.*\)\.$/);

    await writeFile(path, 'x'.repeat(STEP_SUMMARY_LIMIT - 10));
    expect(await writeStepSummary(markdown, { GITHUB_STEP_SUMMARY: path })).toBe(false);
    expect((await stat(path)).size).toBe(STEP_SUMMARY_LIMIT - 10);
  });
});

describe('renderMarkdown with shop-given strings, through a GFM renderer', () => {
  it('shows hostile order ids as text: no image, link, HTML or broken table', async () => {
    // Before: order ids in violation messages rendered as remote images and links in a pull-request comment.
    const ids = ['![x](http://127.0.0.1:9/pixel.png)', '[click](javascript:alert(1))', '<img src=x onerror=alert(1)>', 'a|b`c**d**', 'www.evil.example', 'me@evil.example', 'https://evil.example/x'];
    const scenario = makeScenario();
    const journal = new JournalBuilder();
    ids.forEach((id, index) => journal.buyer(0, `b${index}`).created(10, `b${index}`, id).paid(100, id));
    const score = await scoreScenario(journal.events, scenario);
    const report = buildReport([{ scenario, score, gate: evaluateGate(score, scenario, {}) }], META);
    const rendered = await marked.parse(renderMarkdown(report), { gfm: true });
    expect(rendered).not.toMatch(/<img|<a |<script|<strong>d<\/strong>|<code>c\*\*d/i);
    // The ids are all there, as text (HTML-escaped by the renderer).
    const text = rendered.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
    for (const id of ids) expect(text).toContain(id.replace(/`/g, "'"));
    // No id broke a table: every row has as many cells as its table's header.
    for (const table of rendered.match(/<table>[\s\S]*?<\/table>/g) ?? []) {
      const widths = (table.match(/<tr>[\s\S]*?<\/tr>/g) ?? []).map((row) => (row.match(/<t[dh][ >]/g) ?? []).length);
      expect(new Set(widths).size, table).toBe(1);
    }
  });
});
