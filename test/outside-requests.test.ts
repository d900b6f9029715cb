/**
 * The mocks trust only the run (issue 14, item 4): while a correct reference shop runs, another
 * party on the machine — here plain `fetch` calls from the test, with no credentials or wrong ones
 * — sends refunds, closes, fulfilments, releases, payments at the cashier, messages and risk
 * assessments to the mock ports. Every one is refused and journaled as `mock.outside_request`;
 * none reaches a ledger; the shop's gate passes; report.json counts them apart, and the console
 * and Markdown reports say so in one line.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalEvent, JournalEventOf } from '../core/journal.js';
import type { Report } from '../core/report-types.js';
import { run, type RunResult } from '../harness/drive/run.js';
import { builtInShopCommand } from '../harness/drive/target.js';
import { loadScenarios } from '../harness/scenario/loader.js';
import { readReport, readScenarioJournal, tempDir } from './helpers/cli.js';

const SCENARIO = 'outside-requests';

let work: { path: string; remove(): Promise<void> };
let result: RunResult;
let events: JournalEvent[];
let report: Report;
/** What the outsider sent: one entry per request, with the status it got. */
const sent: Array<{ mock: string; method: string; path: string; status: number }> = [];

/** Journal events written so far (the last line may be half written). */
async function journalSoFar(path: string): Promise<JournalEvent[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').flatMap((line) => {
    try {
      return line === '' ? [] : [JSON.parse(line) as JournalEvent];
    } catch {
      return [];
    }
  });
}

/** Polls `probe` every 50 ms until it returns a value, for at most `ms`. */
async function until<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function ofType<K extends JournalEvent['type']>(all: readonly JournalEvent[], type: K): JournalEventOf<K>[] {
  return all.filter((event) => event.type === type) as unknown as JournalEventOf<K>[];
}

/** The outsider: the mock ports (read from the shop's environment, as `ps e` would show them) and the run's ids from its journal. */
async function intrude(envFile: string, journalFile: string): Promise<void> {
  const env = await until(
    async () => {
      const text = await readFile(envFile, 'utf8').catch(() => '');
      const vars = Object.fromEntries(text.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
      return vars.ORDEAL_RISK_URL ? vars : undefined;
    },
    20_000,
    'the shop to start',
  );
  const paid = await until(
    async () => {
      const seen = await journalSoFar(journalFile);
      const trades = ofType(seen, 'payment.trade.paid');
      const reserved = ofType(seen, 'stock.reserved');
      return trades.length >= 3 && reserved.length >= 5 ? { trades, reserved } : undefined;
    },
    20_000,
    'paid trades',
  );
  const send = async (mock: string, base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<void> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    await response.arrayBuffer();
    sent.push({ mock, method, path, status: response.status });
  };
  const payment = env.ORDEAL_PAYMENT_URL!;
  const stock = env.ORDEAL_STOCK_URL!;
  const notify = env.ORDEAL_NOTIFY_URL!;
  const risk = env.ORDEAL_RISK_URL!;
  const wrong = { authorization: 'Bearer not-the-run-key' };
  for (const [index, trade] of paid.trades.slice(0, 3).entries()) {
    await send('payment', payment, 'POST', `/v1/trades/${trade.tradeNo}/refunds`, { refundNo: `intruder-${index}`, amount: trade.amount });
    await send('payment', payment, 'POST', `/v1/trades/${trade.tradeNo}/refunds`, { refundNo: `intruder-w${index}`, amount: trade.amount }, wrong);
    await send('payment', payment, 'POST', `/v1/trades/${trade.tradeNo}/close`);
  }
  for (const reservation of paid.reserved.slice(0, 5)) {
    await send('stock', stock, 'POST', `/v1/reservations/${reservation.reservationId}/fulfil`);
    await send('stock', stock, 'DELETE', `/v1/reservations/${reservation.reservationId}`, undefined, wrong);
  }
  // A whole order from outside: a reservation, a trade, its payment at the cashier, a message and an assessment.
  await send('stock', stock, 'POST', '/v1/reservations', { sku: 'MONTH_CARD', quantity: 1, orderId: 'intruder-order', ttlMs: 60_000 });
  await send('payment', payment, 'POST', '/v1/trades', {
    outTradeNo: 'intruder-order',
    amount: 3000,
    currency: 'CNY',
    subject: 'Monthly card',
    notifyUrl: 'http://127.0.0.1:9/callback',
    method: 'alipay',
  });
  const abandoned = paid.trades[0]!.tradeNo;
  await send('payment', payment, 'POST', `/v1/trades/${abandoned}/pay`, { payerId: 'intruder', method: 'alipay' });
  await send('payment', payment, 'POST', '/v1/verifications/V0000000001/complete', {});
  await send('notify', notify, 'POST', '/v1/messages', { orderId: paid.trades[1]!.orderId, to: 'victim@example.test', channel: 'email', kind: 'delivered', text: 'your cards: FAKE-1', messageKey: 'intruder' });
  await send('risk', risk, 'POST', '/v1/assessments', { orderId: 'intruder-order', buyer: { id: 'intruder' }, amount: 3000 });
}

beforeAll(async () => {
  work = await tempDir('ordeal-outside-');
  const envFile = join(work.path, 'shop-env.txt');
  const outDir = join(work.path, 'out');
  const running = run({
    scenarios: await loadScenarios([`test/fixtures/${SCENARIO}.yaml`]),
    outDir,
    // The reference shop, its environment left where another process could read it.
    targetCommand: `env > '${envFile}'; ${builtInShopCommand([])}`,
  });
  const intruding = intrude(envFile, join(outDir, SCENARIO, 'journal.ndjson'));
  [result] = await Promise.all([running, intruding]);
  events = await readScenarioJournal(outDir, SCENARIO);
  report = await readReport(outDir);
}, 90_000);

afterAll(async () => {
  await work?.remove();
});

describe('requests to the mocks from outside the run', () => {
  it('are all refused', () => {
    expect(sent.length).toBe(25);
    for (const request of sent) expect([401, 403], `${request.method} ${request.path}`).toContain(request.status);
  });

  it('are journaled as outside requests, one each, with no secret in them', () => {
    const outside = ofType(events, 'mock.outside_request');
    expect(outside).toHaveLength(sent.length);
    expect(new Set(outside.map((event) => event.mock))).toEqual(new Set(['payment', 'stock', 'notify', 'risk']));
    expect(outside.find((event) => event.path === '/v1/messages')).toMatchObject({ mock: 'notify', method: 'POST', remoteAddress: expect.stringMatching(/127\.0\.0\.1$/), reason: expect.stringContaining('no credentials') });
    expect(outside.filter((event) => event.reason === 'wrong credentials')).toHaveLength(8);
    expect(JSON.stringify(outside)).not.toContain('not-the-run-key');
  });

  it('never reach a ledger and are never orders', () => {
    const touching = events.filter((event) => /intruder|victim/.test(JSON.stringify(event)) && event.type !== 'mock.outside_request');
    expect(touching).toEqual([]);
    expect(ofType(events, 'payment.refund')).toEqual([]);
    expect(ofType(events, 'payment.trade.paid').some((event) => event.payerId === 'intruder')).toBe(false);
  });

  it('leave a correct shop passing its gate', () => {
    expect(result.report.gate.reasons).toEqual([]);
    expect(result.report.gate.passed).toBe(true);
    const scenario = report.scenarios[0]!;
    expect(scenario.invariants.filter((invariant) => !invariant.ok)).toEqual([]);
    // The orders are the shop's: those its answers named, nothing the outsider tried to start.
    expect(scenario.load.ordersCreated).toBe(new Set(ofType(events, 'order.create.answered').flatMap((event) => (event.orderId === undefined ? [] : [event.orderId]))).size);
  });

  it('are reported apart: a count and a few examples in report.json, one line in the console and Markdown reports', async () => {
    const scenario = report.scenarios[0]!;
    expect(scenario.outsideRequests?.count).toBe(sent.length);
    expect(scenario.outsideRequests?.byMock).toEqual({ payment: 12, stock: 11, notify: 1, risk: 1 });
    expect(scenario.outsideRequests?.examples).toHaveLength(5);
    expect(scenario.outsideRequests?.examples[0]).toMatchObject({ mock: 'payment', method: 'POST', path: expect.stringMatching(/^\/v1\/trades\/.+\/refunds$/) });
    expect(result.summary).toContain(`${sent.length} outside requests refused by the mocks`);
    const markdown = await readFile(join(result.outDir, 'report.md'), 'utf8');
    expect(markdown).toContain(`**Outside requests**: ${sent.length} outside requests refused by the mocks`);
    const html = await readFile(join(result.outDir, 'report.html'), 'utf8');
    expect(html).toContain(`<p class="provider">${sent.length} outside requests refused by the mocks (no valid run credentials: payment 12, stock 11, notify 1, risk 1); not counted as orders, not blamed on the shop</p>`);
  });
});
