/**
 * The accounting line (harness/score/accounting.ts): each equation on hand-built journals — what
 * balances, what a cut run leaves in flight, and each gap, named, failing the gate — then the
 * renderers. At 100k orders: test/accounting-100k.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Accounting, Report } from '../core/report-types.js';
import { evaluateGate } from '../harness/score/gate.js';
import { buildReport } from '../harness/score/report.js';
import { scoreScenario } from '../harness/score/score.js';
import { renderConsole } from '../reports/console.js';
import { renderMarkdown } from '../reports/markdown.js';
import { renderHtml } from '../reports/html.js';
import { reportSchema } from '../core/report-schema.js';
import { JournalBuilder, SAMPLE_META, makeScenario } from './score-journal.js';

async function accountingOf(journal: JournalBuilder): Promise<{ accounting: Accounting; reasons: string[] }> {
  const scenario = makeScenario();
  const score = await scoreScenario(journal.events, scenario);
  return { accounting: score.accounting, reasons: evaluateGate(score, scenario).reasons };
}

const accountingReasons = (reasons: string[]): string[] => reasons.filter((reason) => reason.startsWith('accounting'));

describe('accounting line: arrivals planned = sent + dropped', () => {
  it('balances with drops at the cap, the planned count taken from the load', async () => {
    const journal = new JournalBuilder().happy(0, 'b1', 'o1').happy(5, 'b2', 'o2').dropped(6, 'b3').add(200, 'load.finished', { arrivals: 3, dropped: 1 });
    const { accounting, reasons } = await accountingOf(journal);
    expect(accounting.arrivals).toEqual({ planned: 3, sent: 2, dropped: 1 });
    expect(accounting.balanced).toBe(true);
    expect(accountingReasons(reasons)).toEqual([]);
  });

  it('does not balance when the load planned arrivals the journal never shows', async () => {
    const journal = new JournalBuilder().happy(0, 'b1', 'o1').add(200, 'load.finished', { arrivals: 3, dropped: 0 });
    const { accounting, reasons } = await accountingOf(journal);
    expect(accounting.balanced).toBe(false);
    expect(accounting.gaps).toEqual([{ check: 'arrivals', difference: 2, message: '3 arrivals planned, but 1 sent + 0 dropped = 1', orderIds: [] }]);
    expect(accountingReasons(reasons)).toEqual(['accounting does not balance: arrivals: 3 arrivals planned, but 1 sent + 0 dropped = 1']);
  });

  it('a run cut before the load finished has no planned count of its own: sent + dropped', async () => {
    const { accounting } = await accountingOf(new JournalBuilder().happy(0, 'b1', 'o1').dropped(3, 'b2'));
    expect(accounting.arrivals).toEqual({ planned: 2, sent: 1, dropped: 1 });
    expect(accounting.balanced).toBe(true);
  });
});

describe('accounting line: requests sent = created + rejected + failed + unanswered', () => {
  /** Five buyers, one request each: 201, 422, 503 after a retry, no HTTP answer, and one still out. */
  function requests(reason: 'completed' | 'deadline'): JournalBuilder {
    const sent = (t: number, buyerId: string, attempt = 1): JournalBuilder =>
      journal.add(t, 'order.create.sent', { buyerId, idempotencyKey: `key-${buyerId}`, attempt });
    const journal = new JournalBuilder();
    journal.buyer(0, 'b1');
    sent(1, 'b1');
    journal.created(10, 'b1', 'o1', { status: 'cancelled' }).finished(20, 'b1', 'o1', 'failed', 20);
    journal.buyer(0, 'b2');
    sent(1, 'b2');
    journal.createFailed(10, 'b2', { httpStatus: 422 }).finished(11, 'b2', undefined, 'rejected', 11);
    journal.buyer(0, 'b3');
    sent(1, 'b3');
    journal.createFailed(10, 'b3', { httpStatus: 503 });
    sent(600, 'b3', 2);
    journal.createFailed(610, 'b3', { httpStatus: 503 }).finished(611, 'b3', undefined, 'error', 611);
    journal.buyer(0, 'b4');
    sent(1, 'b4');
    journal.createFailed(10, 'b4', { error: 'ECONNRESET' }).finished(11, 'b4', undefined, 'error', 11);
    journal.buyer(0, 'b5');
    sent(1, 'b5');
    journal.add(700, 'load.finished', { arrivals: 5, dropped: 0 }).add(701, 'run.finished', { reason });
    return journal;
  }

  it('counts each request once, by its last answer; a request still out when a deadline cut the run is in flight, not a gap', async () => {
    const { accounting, reasons } = await accountingOf(requests('deadline'));
    expect(accounting.requests).toEqual({ sent: 5, created: 1, rejected: 1, failed: 1, unanswered: 2, inFlight: 1 });
    expect(accounting.balanced).toBe(true);
    expect(accountingReasons(reasons)).toEqual([]);
  });

  it('a request never answered in a run that completed is a gap', async () => {
    const { accounting } = await accountingOf(requests('completed'));
    expect(accounting.balanced).toBe(false);
    expect(accounting.gaps.map((gap) => [gap.check, gap.difference, gap.message])).toEqual([['requests', 1, '1 order request never answered in a run that completed']]);
  });
});

describe('accounting line: orders created = settled + unsettled', () => {
  it('counts the orders still open at the end as unsettled', async () => {
    const journal = new JournalBuilder().happy(0, 'b1', 'o1').buyer(0, 'b2').created(10, 'b2', 'o2').add(500, 'run.finished', { reason: 'deadline' });
    const { accounting } = await accountingOf(journal);
    expect(accounting.orders).toEqual({ created: 2, settled: 1, unsettled: 1 });
    expect(accounting.balanced).toBe(true);
  });

  it('an order id answered to two buyers does not balance', async () => {
    const journal = new JournalBuilder().happy(0, 'b1', 'o1').buyer(0, 'b2').created(20, 'b2', 'o1', { key: 'key-b2' });
    const { accounting } = await accountingOf(journal);
    // The second answer's view is the order's last status: open again.
    expect(accounting.orders).toEqual({ created: 2, settled: 0, unsettled: 1 });
    expect(accounting.gaps.map((gap) => gap.check)).toEqual(['orders']);
    expect(accounting.gaps[0]?.message).toBe('2 orders named in create answers, 1 at the end: 1 order named to more than one buyer or lost');
  });
});

describe('accounting line: the payment ledger against the shop\'s answers', () => {
  it('balances money held on paid and delivered orders, refunded money on refunded ones', async () => {
    const journal = new JournalBuilder()
      .happy(0, 'b1', 'o1')
      .buyer(0, 'b2')
      .created(10, 'b2', 'o2')
      .paid(60, 'o2')
      .refund(200, 'o2')
      .observed(300, 'o2', 'b2', 'refunded');
    const { accounting } = await accountingOf(journal);
    expect(accounting.money).toEqual({ captured: 6000, refunded: 3000, ordersHoldingMoney: 1, ordersShownPaid: 1, inTransit: 0, elsewhere: 0 });
    expect(accounting.balanced).toBe(true);
  });

  it('money captured for an order the shop shows expired is a gap, naming the order', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'ord_kept')
      .paid(9000, 'ord_kept')
      .observed(9100, 'ord_kept', 'b1', 'expired')
      .add(9200, 'run.finished', { reason: 'completed' });
    const { accounting, reasons } = await accountingOf(journal);
    expect(accounting.gaps).toEqual([{ check: 'money', difference: 1, message: '1 settled order holds 3000 captured (minor units) the shop does not show paid', orderIds: ['ord_kept'] }]);
    expect(accountingReasons(reasons)).toEqual(['accounting does not balance: money: 1 settled order holds 3000 captured (minor units) the shop does not show paid (ord_kept)']);
  });

  it('in a run cut by its deadline, a late payment on an expired order not refunded yet is in transit; an order shown refunded that holds money is a gap whatever', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'o_late')
      .observed(2000, 'o_late', 'b1', 'expired')
      .paid(2100, 'o_late')
      .buyer(0, 'b2')
      .created(10, 'b2', 'ord_liar')
      .paid(60, 'ord_liar')
      .observed(300, 'ord_liar', 'b2', 'refunded')
      .add(2200, 'run.finished', { reason: 'deadline' });
    const { accounting } = await accountingOf(journal);
    expect(accounting.money.inTransit).toBe(1);
    expect(accounting.gaps).toEqual([{ check: 'money', difference: 1, message: '1 order shown refunded holds 3000 captured (minor units)', orderIds: ['ord_liar'] }]);
  });

  it('money captured for an order still pending when the run was cut is in transit, not a gap', async () => {
    const journal = new JournalBuilder().buyer(0, 'b1').created(10, 'b1', 'o1').paid(60, 'o1').add(100, 'run.finished', { reason: 'deadline' });
    const { accounting } = await accountingOf(journal);
    expect(accounting.money.inTransit).toBe(1);
    expect(accounting.balanced).toBe(true);
  });

  it('an order shown delivered with no money captured is a gap', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1')
      .created(10, 'b1', 'ord_free')
      .fulfilled(80, 'ord_free')
      .observed(100, 'ord_free', 'b1', 'delivered', { cardCodes: ['CARD-ord_free'] });
    const { accounting } = await accountingOf(journal);
    expect(accounting.gaps.map((gap) => [gap.check, gap.message, gap.orderIds])).toEqual([['money', '1 order shown paid or delivered with no money held', ['ord_free']]]);
  });

  it('money captured for an id no buyer was given is reported apart, not balanced against the shop', async () => {
    const journal = new JournalBuilder().happy(0, 'b1', 'o1').paid(300, 'ord_nobody', 500);
    const { accounting } = await accountingOf(journal);
    expect(accounting.money.elsewhere).toBe(500);
    expect(accounting.money.captured).toBe(3000);
    expect(accounting.balanced).toBe(true);
  });
});

describe('accounting line: the card ledger against the codes shown', () => {
  it('cards issued to a delivered order but never shown, and codes shown that the supplier never issued, are gaps', async () => {
    const journal = new JournalBuilder()
      .buyer(0, 'b1', { quantity: 2 })
      .created(10, 'b1', 'ord_short')
      .paid(60, 'ord_short', 6000)
      .fulfilled(80, 'ord_short', ['C1', 'C2'])
      .observed(100, 'ord_short', 'b1', 'delivered', { cardCodes: ['C1'] })
      .buyer(0, 'b2')
      .created(10, 'b2', 'ord_fake')
      .paid(60, 'ord_fake')
      .observed(100, 'ord_fake', 'b2', 'delivered', { cardCodes: ['MADE-UP'] });
    const { accounting } = await accountingOf(journal);
    expect(accounting.cards).toEqual({ issued: 2, shown: 2, inTransit: 0, elsewhere: 0 });
    expect(accounting.gaps.map((gap) => [gap.check, gap.difference, gap.message, gap.orderIds])).toEqual([
      ['cards', 1, '1 card issued to 1 settled order never shown to the buyer', ['ord_short']],
      ['cards', 1, '1 card shown on 1 order the supplier never issued to it', ['ord_fake']],
    ]);
  });

  it('cards issued to an order still fulfilling when the run was cut are in transit', async () => {
    const journal = new JournalBuilder().buyer(0, 'b1').created(10, 'b1', 'o1').paid(60, 'o1').fulfilled(80, 'o1').observed(90, 'o1', 'b1', 'fulfilling');
    const { accounting } = await accountingOf(journal);
    expect(accounting.cards.inTransit).toBe(1);
    expect(accounting.balanced).toBe(true);
  });

  it('is n/a at a shop that holds its own stock', async () => {
    const journal = new JournalBuilder()
      .add(0, 'run.started', {
        scenario: 'unit',
        seed: 1,
        startedAt: '2026-01-01T00:00:00.000Z',
        replay: 'x',
        target: 'x',
        observes: { stockSupplier: false, riskScreening: false, notify: [], buyerCancel: false, recipient: false },
      })
      .buyer(0, 'b1')
      .created(10, 'b1', 'o1')
      .paid(60, 'o1')
      .observed(100, 'o1', 'b1', 'delivered', { cardCodes: ['OWN-1'] });
    const { accounting } = await accountingOf(journal);
    expect(accounting.cards).toEqual({ issued: 1, shown: 1, inTransit: 0, elsewhere: 0, observable: false });
    expect(accounting.balanced).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

/** A report of two scenarios: one balanced, one whose gaps name an order id written to attack each format. */
async function reportWithGaps(): Promise<Report> {
  const hostile = 'ord_\u001b[2J\u001b]0;pwned\u0007![x](http://evil.test/a.png)<script>alert(1)</script>';
  const scenario = makeScenario({ name: 'gappy' });
  const journal = new JournalBuilder()
    .buyer(0, 'b1')
    .created(10, 'b1', hostile)
    .paid(60, hostile)
    .observed(100, hostile, 'b1', 'expired')
    .add(200, 'run.finished', { reason: 'completed' });
  const score = await scoreScenario(journal.events, scenario);
  const fine = makeScenario({ name: 'fine' });
  const fineScore = await scoreScenario(new JournalBuilder().happy(0, 'b1', 'o1').dropped(1, 'b2').add(200, 'load.finished', { arrivals: 2, dropped: 1 }).events, fine);
  return buildReport(
    [
      { scenario, score, gate: evaluateGate(score, scenario) },
      { scenario: fine, score: fineScore, gate: evaluateGate(fineScore, fine) },
    ],
    SAMPLE_META,
  );
}

describe('accounting line in the reports', () => {
  it('report.json carries it and validates', async () => {
    const report = await reportWithGaps();
    expect(() => reportSchema.parse(report)).not.toThrow();
    expect(report.scenarios.map((scenario) => scenario.accounting?.balanced)).toEqual([false, true]);
    expect(report.scenarios[0]?.gate.passed).toBe(false);
  });

  it('console: one line per scenario, the gap named, no control character from the shop', async () => {
    const text = renderConsole(await reportWithGaps(), { color: false });
    const lines = text.split('\n').filter((line) => line.trimStart().startsWith('accounting '));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('accounting ✗ arrivals 1 planned = 1 sent + 0 dropped');
    expect(lines[0]).toContain('money 3000 captured − 0 refunded: 1 order holding money, 0 shown paid');
    expect(lines[0]).toContain('does not balance: money: 1 settled order holds 3000 captured (minor units) the shop does not show paid (ord_\\x1b[2J\\x1b]0;pwned\\x07');
    expect(lines[1]).toBe(
      '  accounting ✓ arrivals 2 planned = 1 sent + 1 dropped · requests 1 sent = 1 created + 0 rejected + 0 failed + 0 unanswered · orders 1 created = 1 settled + 0 unsettled · money 3000 captured − 0 refunded: 1 order holding money, 1 shown paid · cards 1 issued, 1 shown',
    );
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });

  it('Markdown: one paragraph per scenario, the shop\'s id inert (no image, no link, no tag)', async () => {
    const markdown = renderMarkdown(await reportWithGaps());
    const lines = markdown.split('\n').filter((line) => line.startsWith('**Accounting**'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('**Accounting** ✗ arrivals 1 planned');
    expect(lines[0]).toContain('**does not balance**: money: 1 settled order holds 3000');
    expect(lines[0]).not.toContain('](http');
    expect(lines[0]).not.toContain('<script');
    expect(lines[1]).toMatch(/^\*\*Accounting\*\* ✓ arrivals 2 planned = 1 sent \+ 1 dropped/);
  });

  it('HTML: a small table per scenario, the gap listed, the shop\'s id escaped', async () => {
    const report = await reportWithGaps();
    // No journals here: each scenario's charts and timelines are drawn empty.
    const html = renderHtml({ report, scenarios: [] });
    expect(html.match(/<h3>Accounting<\/h3>/g)).toHaveLength(2);
    expect(html).toContain('<b class="bad">does not balance</b>');
    expect(html).toContain('<tr><td><span class="bad">✗</span></td><td>money 3000 captured − 0 refunded: 1 order holding money, 0 shown paid</td></tr>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)');
  });
});
