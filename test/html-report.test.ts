/**
 * report.html: the data folded from a run folder's journals (series, fault windows, per-order
 * timelines), the pure renderer (escaping, no external references, every class and invariant),
 * and the page in a real headless chromium on a real run with failures.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { evaluateGate } from '../harness/score/gate.js';
import type { JournalEvent, JournalEventMap, JournalEventType } from '../core/journal.js';
import { type IncidentReport, type Report } from '../core/report-types.js';
import { buildReport } from '../harness/score/report.js';
import { scenarioSchema, type ScenarioInput } from '../core/scenario-schema.js';
import { scoreScenario } from '../harness/score/score.js';
import { buildHtmlData } from '../harness/output/html-data.js';
import type { HtmlReportData, OrderTimeline } from '../reports/html-model.js';
import { incidentOutcome, renderHtml } from '../reports/html.js';
import { CHROMIUM_ENV, findChromium, launchBrowser, type Browser } from './helpers/browser.js';
import { readReport, runCli, tempDir } from './helpers/cli.js';

const HOSTILE_ORDER = 'ord_<script>alert(1)</script>';
const HOSTILE_TEXT = '<img src=x onerror=alert(2)> see https://evil.example/x.js';

const INPUT: ScenarioInput = {
  name: 'unit-html',
  description: 'a hand-made run <b>with</b> failures',
  catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 100 }] },
  load: { stages: [{ rate: 2, duration: 2000 }] },
  faults: [
    { id: 'payment.callback.drop', probability: 1 },
    { id: 'notify.error', window: '1s..2s' },
  ],
  settle: 1000,
};

/** NDJSON events with explicit times; `seq` of arrivals is the buyer's arrival number, as in real journals. */
class Events {
  readonly list: JournalEvent[] = [];
  add<K extends JournalEventType>(t: number, type: K, payload: JournalEventMap[K]): this {
    this.list.push({ seq: this.list.length, t, type, ...payload } as JournalEvent);
    return this;
  }
  arrive(t: number, buyerId: string, seq: number): this {
    return this.add(t, 'buyer.arrived', {
      buyerId,
      seq,
      behaviour: 'normal',
      sku: 'MONTH_CARD',
      quantity: 1,
      contact: `${buyerId}@example.test`,
      region: 'CN-GD',
      signals: [],
      intendedAt: t,
    });
  }
  /** Arrive, order, pay, get the cards, be told. */
  happy(t: number, buyerId: string, seq: number, orderId: string, finishAt: number): this {
    return this.arrive(t, buyerId, seq)
      .add(t + 1, 'order.create.sent', { buyerId, idempotencyKey: `k-${buyerId}`, attempt: 1, intent: 'order', sku: 'MONTH_CARD' })
      .add(t + 5, 'stock.reserved', { orderId, reservationId: `R-${orderId}`, sku: 'MONTH_CARD', quantity: 1, repeat: false })
      .add(t + 8, 'payment.trade.created', { orderId, tradeNo: `T-${orderId}`, amount: 3000, method: 'alipay', repeat: false })
      .add(t + 10, 'order.create.answered', { buyerId, idempotencyKey: `k-${buyerId}`, latencyMs: 9, httpStatus: 201, orderId, status: 'pending_payment', amount: 3000, tradeNo: `T-${orderId}` })
      .add(t + 10, 'order.observed', { orderId, buyerId, status: 'pending_payment', cards: 0, source: 'create' })
      .add(t + 60, 'payment.trade.paid', { orderId, tradeNo: `T-${orderId}`, amount: 3000, payerId: buyerId })
      .add(t + 61, 'cashier.paid', { buyerId, orderId, tradeNo: `T-${orderId}`, latencyMs: 1, httpStatus: 200, result: 'TRADE_SUCCESS' })
      .add(t + 70, 'payment.callback.sent', { orderId, tradeNo: `T-${orderId}`, notifyId: `N-${orderId}`, status: 'TRADE_SUCCESS', attempt: 1, copy: 1, acked: true, latencyMs: 3, httpStatus: 200 })
      .add(t + 75, 'stock.fulfilled', { orderId, reservationId: `R-${orderId}`, sku: 'MONTH_CARD', cards: [`C-${orderId}`], repeat: false })
      .add(t + 80, 'notify.message', { messageId: `M-${orderId}`, orderId, to: `${buyerId}@example.test`, channel: 'sms', kind: 'delivered', text: 'your cards', duplicate: false })
      .add(t + 90, 'order.observed', { orderId, buyerId, status: 'delivered', cards: 1, cardCodes: [`C-${orderId}`], source: 'poll' })
      .add(finishAt, 'buyer.finished', { buyerId, orderId, finalStatus: 'delivered', outcome: 'delivered', latencyMs: finishAt - t });
  }
  /** Charged, callback dropped, the shop never reconciles: the order expires with the money kept. */
  dropped(t: number, buyerId: string, seq: number, orderId: string, finishAt: number, outcome: 'failed' | 'timeout', text: string): this {
    return this.arrive(t, buyerId, seq)
      .add(t + 1, 'order.create.sent', { buyerId, idempotencyKey: `k-${buyerId}`, attempt: 1, intent: 'order', sku: 'MONTH_CARD' })
      .add(t + 5, 'stock.reserved', { orderId, reservationId: `R-${orderId}`, sku: 'MONTH_CARD', quantity: 1, repeat: false })
      .add(t + 6, 'risk.assessed', { orderId, assessmentId: `A-${orderId}`, buyerId, decision: 'approve', reasons: [], signals: [] })
      .add(t + 8, 'payment.trade.created', { orderId, tradeNo: `T-${orderId}`, amount: 3000, method: 'alipay', repeat: false })
      .add(t + 10, 'order.create.answered', { buyerId, idempotencyKey: `k-${buyerId}`, latencyMs: 9, httpStatus: 201, orderId, status: 'pending_payment', amount: 3000, tradeNo: `T-${orderId}` })
      .add(t + 10, 'order.observed', { orderId, buyerId, status: 'pending_payment', cards: 0, source: 'create' })
      .add(t + 60, 'payment.trade.paid', { orderId, tradeNo: `T-${orderId}`, amount: 3000, payerId: buyerId })
      .add(t + 60, 'fault.injected', { fault: 'payment.callback.drop', faultIndex: 0, orderId, buyerId, detail: { note: 'callback suppressed' } })
      .add(t + 61, 'cashier.paid', { buyerId, orderId, tradeNo: `T-${orderId}`, latencyMs: 1, httpStatus: 200, result: 'TRADE_SUCCESS' })
      // A query naming only the trade: still this order's.
      .add(t + 500, 'payment.trade.queried', { tradeNo: `T-${orderId}`, status: 'TRADE_SUCCESS' })
      .add(t + 1500, 'stock.released', { orderId, reservationId: `R-${orderId}`, reason: 'released' })
      .add(t + 1510, 'notify.message', { messageId: `M-${orderId}`, orderId, to: `${buyerId}@example.test`, channel: 'sms', kind: 'expired', reason: 'expired_unpaid', text, duplicate: false })
      .add(t + 1600, 'order.observed', { orderId, buyerId, status: 'expired', reason: 'expired_unpaid', cards: 0, source: 'poll' })
      .add(finishAt, 'buyer.finished', { buyerId, orderId, finalStatus: 'expired', outcome, latencyMs: finishAt - t });
  }
}

/**
 * Load starts at t=1000; 2/s for 2 s: arrivals at load time 0, 0.5, 1, 1.5 s. b0, b1 delivered
 * (finishing in buckets 0 and 1); b2 and b3 hit by a dropped callback, finishing at load 3.2 s and
 * 3.5 s. The shop is killed at 3000 and back at 3500.
 */
function journal(orderOfB2: string, textOfB2: string): Events {
  return new Events()
    .add(0, 'run.started', { scenario: 'unit-html', seed: 1, startedAt: '2024-05-01T00:00:00.000Z', replay: 'ordeal run unit-html.yaml', target: 'node shop.js' })
    .add(900, 'target.ready', { afterMs: 900 })
    .happy(1000, 'b0', 0, 'o0', 1800)
    .happy(1500, 'b1', 1, 'o1', 2300)
    .dropped(2000, 'b2', 2, orderOfB2, 4200, 'failed', textOfB2)
    // b2 also submitted from a second window: that order is part of b2's story.
    .add(2003, 'order.create.sent', { buyerId: 'b2', idempotencyKey: 'k-b2-w2', attempt: 1, intent: 'second_window', sku: 'MONTH_CARD' })
    .add(2009, 'payment.trade.created', { orderId: 'o2b', tradeNo: 'T-o2b', amount: 3000, method: 'alipay', repeat: false })
    .add(2012, 'order.create.answered', { buyerId: 'b2', idempotencyKey: 'k-b2-w2', latencyMs: 9, httpStatus: 201, orderId: 'o2b', status: 'pending_payment', amount: 3000, tradeNo: 'T-o2b' })
    .add(2600, 'payment.trade.queried', { tradeNo: 'T-o2b', status: 'WAIT_BUYER_PAY' })
    .dropped(2500, 'b3', 3, 'o3', 4500, 'timeout', 'expired')
    .add(3000, 'target.killed', { pid: 1, signal: 'SIGKILL' })
    .add(3500, 'target.restarted', { pid: 2, url: 'http://127.0.0.1:1', downMs: 500 })
    .add(4600, 'run.finished', { reason: 'completed' });
}

/** Writes a run folder (run.json, scenario.json, journal.ndjson) and returns its report. */
async function writeRun(dir: string, events: Events): Promise<Report> {
  const scenario = scenarioSchema.parse(INPUT);
  const folder = join(dir, scenario.name);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'scenario.json'), JSON.stringify({ file: 'unit-html.yaml', seed: 1, input: INPUT }));
  await writeFile(join(folder, 'journal.ndjson'), events.list.map((event) => JSON.stringify(event)).join('\n') + '\n');
  const meta = { seed: 1, replay: 'ordeal run unit-html.yaml', version: '0.1.0', createdAt: '2024-05-01T00:00:00.000Z' };
  await writeFile(join(dir, 'run.json'), JSON.stringify({ ...meta, scenarios: [scenario.name] }));
  const score = await scoreScenario(events.list, scenario);
  return buildReport([{ scenario, score, gate: evaluateGate(score, scenario, {}) }], meta);
}

const lanesOf = (timeline: OrderTimeline | undefined): Set<string> => new Set(timeline?.events.map((event) => event.lane));

describe('buildHtmlData', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let report: Report;
  let data: HtmlReportData;
  beforeAll(async () => {
    dir = await tempDir('ordeal-html-');
    report = await writeRun(dir.path, journal('o2', 'expired'));
    data = await buildHtmlData(dir.path, report);
  });
  afterAll(() => dir.remove());

  it('finds load start from the first arrival and folds per-second series', () => {
    const scenario = data.scenarios[0]!;
    expect(scenario.problem).toBeUndefined();
    expect(scenario.loadStart).toBe(1000);
    expect(scenario.durationMs).toBe(3600);
    expect(scenario.series.bucketMs).toBe(1000);
    expect(scenario.series.arrivals).toEqual([2, 2, 0, 0]);
    expect(scenario.series.finished.delivered).toEqual([1, 1, 0, 0]);
    expect(scenario.series.finished.failed).toEqual([0, 0, 0, 1]);
    expect(scenario.series.finished.timeout).toEqual([0, 0, 0, 1]);
    // b0 and b1 took 800 ms each; b2 2200 ms and b3 2000 ms finish in bucket 3.
    expect(scenario.series.latency.p50).toEqual([800, 800, null, 2000]);
    expect(scenario.series.latency.p95).toEqual([800, 800, null, 2200]);
    expect(scenario.series.latency.p99[3]).toBe(2200);
  });

  it('finds fault windows: injected spans, configured windows, and the crash', () => {
    expect(data.scenarios[0]!.faultWindows).toEqual([
      { fault: 'notify.error', from: 1000, to: 2000, source: 'window', injections: 0 },
      { fault: 'payment.callback.drop', from: 1060, to: 1560, source: 'injected', injections: 2 },
      { fault: 'target.crash', from: 2000, to: 2500, source: 'crash', injections: 0 },
    ]);
  });

  it('keeps a full timeline for each incident order, buyer-level events and trade-only queries included', () => {
    const scenario = data.scenarios[0]!;
    const incidentOrders = report.scenarios[0]!.incidents.map((incident) => incident.orderId);
    expect(incidentOrders.sort()).toEqual(['o2', 'o3']);
    expect(scenario.timelines.map((timeline) => timeline.key).sort()).toEqual(['o2', 'o3']);
    const o2 = scenario.timelines.find((timeline) => timeline.key === 'o2')!;
    expect(o2.buyerId).toBe('b2');
    expect(o2.eventsOmitted).toBe(0);
    expect([...lanesOf(o2)].sort()).toEqual(['buyer', 'fault', 'shop→notify', 'shop→payment', 'shop→risk', 'shop→stock', 'status']);
    const texts = o2.events.map((event) => event.text);
    expect(texts[0]).toMatch(/^buyer b2 arrives \(normal\)/);
    expect(texts[1]).toMatch(/^submits the order for MONTH_CARD \(attempt 1, key k-b2\)/);
    // The buyer's other order, named: its answer and a query naming only its trade.
    expect(texts).toContain('submits the order for MONTH_CARD (attempt 1, second window, key k-b2-w2)');
    expect(texts).toContain('[o2b] shop answers the order: HTTP 201 → o2b pending_payment amount 30.00, in 9ms');
    expect(texts).toContain('[o2b] query trade T-o2b → WAIT_BUYER_PAY');
    expect(texts).toContain('[o2b] create trade T-o2b for 30.00 (alipay)'); // journaled before the order was known to be b2's
    expect(texts).toContain('query trade T-o2 → TRADE_SUCCESS');
    expect(texts).toContain('fault payment.callback.drop (note=callback suppressed)');
    expect(texts.at(-1)).toBe('buyer stops waiting: failed (last status expired), 2.20s after arrival');
    expect(o2.events.map((event) => event.t)).toEqual([...o2.events.map((event) => event.t)].sort((a, b) => a - b));
    // Nothing about other orders or buyers.
    expect(texts.some((text) => text.includes('o3') || text.includes('b3') || text.includes('o0'))).toBe(false);
  });

  it('bounds timelines per scenario and per order, and keeps a buyer-only incident under its buyer', async () => {
    const withBuyerOnly = structuredClone(report);
    const incident: IncidentReport = {
      ...withBuyerOnly.scenarios[0]!.incidents[0]!,
      class: 'payment.error',
      orderId: null,
      buyerId: 'b0',
    };
    withBuyerOnly.scenarios[0]!.incidents.push(incident);
    const bounded = await buildHtmlData(dir.path, withBuyerOnly, { maxTimelines: 2, maxTimelineEvents: 5 });
    const scenario = bounded.scenarios[0]!;
    expect(scenario.timelines.map((timeline) => timeline.key)).toEqual(['o2', 'o3']);
    expect(scenario.timelinesOmitted).toBe(1);
    expect(scenario.timelines[0]!.events).toHaveLength(5);
    expect(scenario.timelines[0]!.eventsOmitted).toBeGreaterThan(5);

    const all = await buildHtmlData(dir.path, withBuyerOnly);
    const buyer = all.scenarios[0]!.timelines.find((timeline) => timeline.key === 'buyer:b0')!;
    expect(buyer).toMatchObject({ orderId: null, buyerId: 'b0' });
    expect(buyer.events[0]!.text).toMatch(/^buyer b0 arrives/);
    expect(buyer.events.some((event) => event.text.includes('→ o0'))).toBe(true);
  });

  it('reports a missing journal as a problem instead of failing', async () => {
    const empty = await tempDir('ordeal-html-empty-');
    try {
      const result = await buildHtmlData(empty.path, report);
      expect(result.scenarios[0]!.problem).toMatch(/scenario|journal/);
      expect(renderHtml(result)).toContain('could not be drawn');
    } finally {
      await empty.remove();
    }
  });
});

describe('renderHtml', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let report: Report;
  let html: string;
  beforeAll(async () => {
    dir = await tempDir('ordeal-html-');
    report = await writeRun(dir.path, journal(HOSTILE_ORDER, HOSTILE_TEXT));
    html = renderHtml(await buildHtmlData(dir.path, report));
  });
  afterAll(() => dir.remove());

  it('keeps hostile strings from the shop as text', () => {
    expect(report.scenarios[0]!.incidents.some((incident) => incident.orderId === HOSTILE_ORDER)).toBe(true);
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>with</b>');
    expect(html).toContain('ord_&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('a hand-made run &lt;b&gt;with&lt;/b&gt; failures');
    // In the embedded timeline data, no character can close the script element.
    expect(html).toContain('ord_\\u003cscript\\u003ealert(1)\\u003c/script\\u003e');
    expect(html).toContain('\\u003cimg src=x onerror=alert(2)\\u003e');
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html.match(/<\/script>/g)).toHaveLength(2);
  });

  it('references nothing outside the page: URLs appear only as text', () => {
    expect(html).toContain("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">");
    expect(html).not.toMatch(/<link\b|<img\b|<iframe\b|@import|url\(/i);
    const withoutData = html.replace(/<script type="application\/json" id="ordeal-data">[\s\S]*?<\/script>/, '');
    for (const tag of withoutData.match(/<[^>]*>/g) ?? []) expect(tag).not.toMatch(/https?:|\/\/[a-z]|\bsrc\s*=/i);
    expect(html).toContain('https://evil.example/x.js'); // the hostile message, as text in the data
  });

  it('puts the verdict, overall score and gate reasons first', () => {
    const verdict = html.indexOf('Gate failed');
    expect(verdict).toBeGreaterThan(0);
    expect(verdict).toBeLessThan(html.indexOf('How to read this report'));
    for (const reason of report.gate.reasons) expect(html.indexOf(reason.split(':')[0]!)).toBeLessThan(html.indexOf('How to read this report'));
    expect(html).toContain(`${report.scenarios[0]!.score!.toFixed(1)}</b><small>/ 100 overall score`);
    expect(html).toMatch(/<b>detect<\/b> \(the shop/);
  });

  it('shows every class and every invariant, with the violating orders linked to their timelines', () => {
    const scenario = report.scenarios[0]!;
    for (const name of Object.keys(scenario.classes)) expect(html).toContain(`<tr data-class="${name}"><td><code>${name}</code>`);
    for (const invariant of scenario.invariants) expect(html).toContain(`data-invariant="${invariant.id}"`);
    const broken = scenario.invariants.find((invariant) => invariant.id === 'paid-orders-settled')!;
    expect(broken.ok).toBe(false);
    expect(html).toMatch(/data-invariant="paid-orders-settled">.*?<a class="order-link mono" href="#timeline-0" data-scenario="0" data-key="o3">o3<\/a>/s);
  });

  it('draws both charts with bars, lines and shaded fault windows', () => {
    expect(html.match(/<svg class="chart"/g)).toHaveLength(2);
    expect(html).toMatch(/<rect class="bar" data-series="finished: delivered"/);
    expect(html).toMatch(/<path class="series" data-series="arrivals" d="M/);
    expect(html).toMatch(/<path class="series" data-series="p95" d="M/);
    expect(html.match(/<g class="fault-window" data-fault="notify.error">/g)).toHaveLength(2);
    expect(html).toContain('data-fault="target.crash"');
  });

  it('lists every incident with its class, outcome and searchable order', () => {
    const incidents = report.scenarios[0]!.incidents;
    expect(html.match(/<tr data-class="payment\.callback\.drop" data-outcome=/g)).toHaveLength(incidents.length);
    for (const incident of incidents) expect(incidentOutcome(incident)).toBe('failed');
    expect(html).toContain('<option value="payment.callback.drop">payment.callback.drop</option>');
  });
});

describe('the test browser', () => {
  it('fails with a message naming both places when there is no chromium', async () => {
    const before = process.env[CHROMIUM_ENV];
    process.env[CHROMIUM_ENV] = '/nonexistent/chromium';
    try {
      await expect(findChromium()).rejects.toThrow(/ORDEAL_CHROMIUM=\/nonexistent\/chromium is not an executable file.*\/usr\/bin\/chromium/);
    } finally {
      if (before === undefined) delete process.env[CHROMIUM_ENV];
      else process.env[CHROMIUM_ENV] = before;
    }
  });
});

describe('report.html in a headless browser', () => {
  let out: Awaited<ReturnType<typeof tempDir>>;
  let browser: Browser | undefined;
  let report: Report;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    out = await tempDir('ordeal-html-e2e-');
    // A real run with failures: without reconciliation, dropped callbacks leave paid orders stuck.
    const [result, launched] = await Promise.all([
      runCli(['run', 'scenarios/payment-channel.yaml', '--flaws', 'no-reconcile', '--out', out.path, '--quiet'], 50_000),
      launchBrowser(),
    ]);
    browser = launched;
    expect(result.code, result.stderr).toBe(1);
    report = await readReport(out.path);
    const html = renderHtml(await buildHtmlData(out.path, report));
    const file = join(out.path, 'report-test.html');
    await writeFile(file, html);
    ({ page, errors } = await browser.newPage());
    await page.goto(`file://${file}`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await out?.remove();
  });

  const visibleRows = (): Promise<number> => page.locator('.incident-table tbody tr:visible').count();

  it('the run wrote its own report.html', async () => {
    expect((await stat(join(out.path, 'report.html'))).size).toBeGreaterThan(10_000);
  });

  it('renders without console or page errors, verdict first', async () => {
    await expect(page.locator('header.verdict .verdict-word').textContent()).resolves.toContain('Gate failed');
    expect(errors).toEqual([]);
  });

  it('draws the charts with data and shaded fault windows', async () => {
    expect(await page.locator('svg.chart').count()).toBe(2);
    expect(await page.locator('svg.chart path.series').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('svg.chart rect.bar').count()).toBeGreaterThan(0);
    expect(await page.locator('svg.chart .fault-window rect.fault-shade').count()).toBeGreaterThan(0);
    const box = await page.locator('svg.chart').first().boundingBox();
    expect(box?.width).toBeGreaterThan(300);
  });

  it('filters incidents by class, outcome and order id', async () => {
    const incidents = report.scenarios[0]!.incidents;
    expect(await visibleRows()).toBe(incidents.length);

    await page.selectOption('.filter-class', 'payment.callback.drop');
    const drops = incidents.filter((incident) => incident.class === 'payment.callback.drop').length;
    expect(drops).toBeGreaterThan(0);
    expect(drops).toBeLessThan(incidents.length);
    expect(await visibleRows()).toBe(drops);
    await expect(page.locator('.incidents .shown').textContent()).resolves.toBe(String(drops));

    await page.selectOption('.filter-class', '');
    await page.selectOption('.filter-outcome', 'failed');
    const failed = incidents.filter((incident) => incidentOutcome(incident) === 'failed').length;
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(incidents.length);
    expect(await visibleRows()).toBe(failed);

    await page.selectOption('.filter-outcome', '');
    const orderId = incidents.find((incident) => incident.orderId !== null)!.orderId!;
    await page.fill('.filter-order', orderId.toUpperCase());
    expect(await visibleRows()).toBe(incidents.filter((incident) => incident.orderId === orderId).length);
    await page.fill('.filter-order', '');
    expect(await visibleRows()).toBe(incidents.length);
  });

  it("clicking an order shows its timeline from several lanes, with the stages against their deadlines", async () => {
    const panel = page.locator('#timeline-0');
    await expect(panel.isHidden()).resolves.toBe(true);
    await page.selectOption('.filter-class', 'payment.callback.drop');
    await page.locator('.incident-table tbody tr:visible a.order-link').first().click();
    await panel.waitFor({ state: 'visible' });
    await expect(panel.locator('h4').textContent()).resolves.toMatch(/^Order ord_/);
    const lanes = new Set(await panel.locator('tr.event-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-lane'))));
    expect(lanes.size).toBeGreaterThanOrEqual(4);
    for (const lane of ['buyer', 'shop→payment', 'fault', 'status']) expect(lanes).toContain(lane);
    await expect(panel.locator('table.stages').textContent()).resolves.toMatch(/payment\.callback\.drop.*detect.*never met/s);
    expect(await panel.locator('.lanes .lane').count()).toBe(lanes.size);
    expect(errors).toEqual([]);

    const shot = join(out.path, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(20_000);
  });
});
