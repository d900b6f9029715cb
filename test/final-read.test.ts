/**
 * The final read of every order (harness/drive/final-read.ts): against a contract-v1 shop on a real
 * socket, read through contract v1's adapter and the run's order-view guard, as the run does. What
 * changed since the harness's last look (the journal's `order.observed`, read back) is journaled
 * (source `final`), what did not is not; the read is bounded (reads at a time, time budget, the
 * run's stop); nothing is kept per order while the load runs; and the scorer blames the order a
 * shop moved back.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryJournal, type JournalEventOf } from '../core/journal.js';
import { HttpClient } from '../core/http-client.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './helpers/cli.js';
import { fetchOrder } from '../harness/drive/buyer-flow.js';
import { cardCodesOf, FinalReads, observedViews, type ObservedView } from '../harness/drive/final-read.js';
import { contractV1Target } from '../harness/targets/contract-v1.js';
import { guardSession } from '../harness/targets/order-view.js';
import type { ShopSession } from '../harness/targets/adapter.js';
import type { ShopOrderView } from '../core/http-client.js';
import { scoreScenario } from '../harness/score/score.js';
import { JournalBuilder, makeScenario } from './score-journal.js';

interface StandIn {
  url: string;
  /** The order views the shop answers with now; an absent id answers 404, `null` answers 500. */
  views: Map<string, ShopOrderView | null>;
  /** Most reads in flight at once. */
  peak: number;
  server: Server;
}

const servers: Server[] = [];
const clients: HttpClient[] = [];
const books: FinalReads[] = [];
/** The views each book's run journaled (`observeOrder`'s `order.observed`), what `readAll` reads back. */
const seenBy = new Map<FinalReads, ObservedView[]>();

afterEach(async () => {
  for (const book of books.splice(0)) book.close();
  seenBy.clear();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

/** A contract-v1 shop's order route, answering each read after a short while (so reads overlap). */
async function standIn(): Promise<StandIn> {
  const views = new Map<string, ShopOrderView | null>();
  let inFlight = 0;
  const shop: StandIn = { url: '', views, peak: 0, server: createServer() };
  shop.server.on('request', (request, response) => {
    inFlight++;
    shop.peak = Math.max(shop.peak, inFlight);
    setTimeout(() => {
      inFlight--;
      const orderId = decodeURIComponent((request.url ?? '').replace(/^\/orders\//, ''));
      const view = views.get(orderId);
      response.statusCode = view === undefined ? 404 : view === null ? 500 : 200;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(view ?? { error: { code: 'not_found' } }));
    }, 5);
  });
  await new Promise<void>((listening) => shop.server.listen(0, '127.0.0.1', listening));
  servers.push(shop.server);
  shop.url = `http://127.0.0.1:${(shop.server.address() as AddressInfo).port}`;
  return shop;
}

function sessionFor(shop: StandIn, journal: MemoryJournal): ShopSession {
  const client = new HttpClient({ connections: 64 });
  clients.push(client);
  const adapter = contractV1Target({ shopUrl: shop.url, client, journal, providerUrls: {} });
  return guardSession(adapter.session({ id: 'b', contact: 'b@example.test', ip: '127.0.0.1', region: 'CN-GD', accountAgeDays: 30, deviceId: 'd' }));
}

const delivered = (orderId: string, code = `CARD-${orderId}`): ShopOrderView => ({ orderId, status: 'delivered', delivery: { cards: [{ code }] } }) as ShopOrderView;
const paid = (orderId: string): ShopOrderView => ({ orderId, status: 'paid' }) as ShopOrderView;

/** A final read, as a run makes one. */
function newBook(): FinalReads {
  const book = new FinalReads();
  books.push(book);
  seenBy.set(book, []);
  return book;
}

/** Notes a view as `observeOrder` does when it journals one: the session, and the `order.observed` event. */
function noteSeen(book: FinalReads, session: ShopSession, view: ShopOrderView, buyerId = 'b1'): void {
  book.noteSession(buyerId, session);
  const codes = cardCodesOf(view);
  seenBy.get(book)!.push({ orderId: view.orderId, buyerId, status: view.status, ...(view.reason === undefined ? {} : { reason: view.reason }), ...(codes.length > 0 ? { cardCodes: codes } : {}), source: 'poll' });
}

const observations = (book: FinalReads): ObservedView[] => seenBy.get(book)!;

function finalObservations(journal: MemoryJournal): Array<JournalEventOf<'order.observed'>> {
  return journal.events.filter((event): event is JournalEventOf<'order.observed'> => event.type === 'order.observed' && event.source === 'final');
}

function summaryOf(journal: MemoryJournal): JournalEventOf<'orders.final_read'> | undefined {
  return journal.events.find((event): event is JournalEventOf<'orders.final_read'> => event.type === 'orders.final_read');
}

const always = (): boolean => false;

describe('final read', () => {
  it('journals only what changed since the last look, and counts what the shop did not answer', async () => {
    const shop = await standIn();
    const journal = new MemoryJournal();
    const session = sessionFor(shop, journal);
    const book = newBook();
    noteSeen(book, session, delivered('o1'));
    noteSeen(book, session, delivered('o2'));
    noteSeen(book, session, { orderId: 'o3', status: 'expired', reason: 'unpaid' } as ShopOrderView);
    noteSeen(book, session, delivered('o4'));
    shop.views.set('o1', delivered('o1'));
    shop.views.set('o2', paid('o2'));
    shop.views.set('o3', { orderId: 'o3', status: 'expired', reason: 'unpaid' } as ShopOrderView);
    shop.views.set('o4', null);

    const summary = await book.readAll({ journal, observations: observations(book), read: fetchOrder, stopped: always, targetDown: always, budgetMs: 10_000 });
    expect(summary).toEqual({ orders: 4, read: 3, changed: 1, unread: 1, cut: false });
    expect(summaryOf(journal)).toMatchObject(summary);
    expect(finalObservations(journal).map(({ orderId, buyerId, status, cards }) => ({ orderId, buyerId, status, cards }))).toEqual([
      { orderId: 'o2', buyerId: 'b1', status: 'paid', cards: 0 },
    ]);
  });

  it('a changed card code is a change; the codes are journaled as shown', async () => {
    const shop = await standIn();
    const journal = new MemoryJournal();
    const session = sessionFor(shop, journal);
    const book = newBook();
    noteSeen(book, session, delivered('o1', 'A,1'));
    shop.views.set('o1', delivered('o1', 'B,2'));
    await book.readAll({ journal, observations: observations(book), read: fetchOrder, stopped: always, targetDown: always, budgetMs: 10_000 });
    expect(finalObservations(journal)).toMatchObject([{ orderId: 'o1', status: 'delivered', cards: 1, cardCodes: ['B,2'] }]);
  });

  it('keeps to its reads at a time', async () => {
    const shop = await standIn();
    const journal = new MemoryJournal();
    const session = sessionFor(shop, journal);
    const book = newBook();
    const count = 400;
    for (let index = 0; index < count; index++) {
      const view = delivered(`o${index}`);
      noteSeen(book, session, view, `b${index}`);
      shop.views.set(view.orderId, index % 100 === 7 ? paid(view.orderId) : view);
    }
    const summary = await book.readAll({ journal, observations: observations(book), read: fetchOrder, stopped: always, targetDown: always, budgetMs: 30_000, concurrency: 8 });
    expect(summary).toEqual({ orders: count, read: count, changed: 4, unread: 0, cut: false });
    expect(shop.peak).toBeLessThanOrEqual(8);
    expect(shop.peak).toBeGreaterThan(1);
    expect(finalObservations(journal).map((event) => `${event.orderId}/${event.buyerId}`).sort()).toEqual(['o107/b107', 'o207/b207', 'o307/b307', 'o7/b7']);
  });

  it('keeps nothing per order while the load runs: one session for buyers that share one', async () => {
    const shop = await standIn();
    const shared = sessionFor(shop, new MemoryJournal());
    const book = newBook();
    for (let index = 0; index < 5000; index++) book.noteSession(`b${index}`, shared);
    expect([book.sessionsKept, book.buyersWithOwnSession]).toEqual([1, 0]);
    // An adapter that gives each buyer a session of its own: those are kept, one per buyer.
    const own = newBook();
    for (let index = 0; index < 3; index++) own.noteSession(`b${index}`, sessionFor(shop, new MemoryJournal()));
    expect([own.sessionsKept, own.buyersWithOwnSession]).toEqual([3, 2]);
  });

  it('reads each order through its own buyer\'s session when buyers have their own', async () => {
    const shop = await standIn();
    const book = newBook();
    const sessions = [sessionFor(shop, new MemoryJournal()), sessionFor(shop, new MemoryJournal())];
    noteSeen(book, sessions[0]!, delivered('o1'), 'b1');
    noteSeen(book, sessions[1]!, delivered('o2'), 'b2');
    shop.views.set('o1', delivered('o1'));
    shop.views.set('o2', delivered('o2'));
    const used: Array<[ShopSession, string]> = [];
    await book.readAll({ journal: new MemoryJournal(), observations: observations(book), read: (session, orderId) => (used.push([session, orderId]), fetchOrder(session, orderId)), stopped: always, targetDown: always, budgetMs: 10_000 });
    expect(used.sort((a, b) => a[1].localeCompare(b[1]))).toEqual([[sessions[0], 'o1'], [sessions[1], 'o2']]);
  });

  it('reads the orders back from a journal file: the last view of each counts, its own final views do not', async () => {
    const work = await tempDir('ordeal-final-read-');
    try {
      const path = join(work.path, 'journal.ndjson');
      const lines = [
        { seq: 0, t: 1, type: 'order.observed', orderId: 'o1', buyerId: 'b1', status: 'pending_payment', cards: 0, source: 'create' },
        { seq: 1, t: 2, type: 'buyer.arrived', buyerId: 'b2', seq2: 1, note: 'order.observed in a string is not an event' },
        { seq: 2, t: 3, type: 'order.observed', orderId: 'o1', buyerId: 'b1', status: 'delivered', cards: 1, cardCodes: ['C1'], source: 'poll' },
        { seq: 3, t: 4, type: 'order.observed', orderId: 'o2', buyerId: 'b2', status: 'expired', reason: 'unpaid', cards: 0, source: 'sweep' },
        { seq: 4, t: 5, type: 'order.observed', orderId: 'o3', buyerId: 'b3', status: 'paid', cards: 0, source: 'final' },
      ];
      await writeFile(path, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
      const read: ObservedView[] = [];
      for await (const view of observedViews(path)) read.push(view);
      expect(read.map((view) => `${view.orderId} ${view.status} ${view.source}`)).toEqual(['o1 pending_payment create', 'o1 delivered poll', 'o2 expired sweep', 'o3 paid final']);

      const shop = await standIn();
      const book = newBook();
      book.noteSession('b1', sessionFor(shop, new MemoryJournal()));
      shop.views.set('o1', delivered('o1', 'C1'));
      shop.views.set('o2', { orderId: 'o2', status: 'expired', reason: 'unpaid' } as ShopOrderView);
      const journal = new MemoryJournal();
      const summary = await book.readAll({ journal, observations: observedViews(path), read: fetchOrder, stopped: always, targetDown: always, budgetMs: 10_000 });
      // o3 was only ever seen by a final read: not an order of this run's buyers' looks.
      expect(summary).toEqual({ orders: 2, read: 2, changed: 0, unread: 0, cut: false });
    } finally {
      await work.remove();
    }
  });

  it('is skipped while the shop is down or the run is stopping, and cut by its budget', async () => {
    const shop = await standIn();
    const session = sessionFor(shop, new MemoryJournal());
    for (const [state, expected] of [
      [{ down: true, stopped: false }, { skipped: 'target-down' }],
      [{ down: false, stopped: true }, { skipped: 'stopped' }],
    ] as const) {
      const journal = new MemoryJournal();
      const book = newBook();
      noteSeen(book, session, delivered('o1'));
      shop.views.set('o1', paid('o1'));
      const summary = await book.readAll({ journal, observations: observations(book), read: fetchOrder, stopped: () => state.stopped, targetDown: () => state.down, budgetMs: 10_000 });
      expect(summary).toEqual({ orders: 1, read: 0, changed: 0, unread: 1, cut: false, ...expected });
      expect(finalObservations(journal)).toEqual([]);
    }

    const journal = new MemoryJournal();
    const book = newBook();
    for (let index = 0; index < 50; index++) {
      noteSeen(book, session, delivered(`o${index}`));
      shop.views.set(`o${index}`, delivered(`o${index}`));
    }
    // A stop that comes while reading: the reads in flight finish, nothing more starts.
    let reads = 0;
    const summary = await book.readAll({
      journal,
      observations: observations(book),
      read: (readSession, orderId) => {
        reads++;
        return fetchOrder(readSession, orderId);
      },
      stopped: () => reads >= 10,
      targetDown: always,
      budgetMs: 10_000,
      concurrency: 2,
    });
    expect(summary.cut).toBe(true);
    expect(summary.read).toBeLessThan(50);
    expect(summary.read + summary.unread).toBe(50);
  });

  it('what it journals is what settled-status-holds blames', async () => {
    const shop = await standIn();
    const live = new MemoryJournal();
    const session = sessionFor(shop, live);
    const book = newBook();
    noteSeen(book, session, delivered('o1', 'CARD-o1-0'), 'b1');
    shop.views.set('o1', paid('o1'));
    await book.readAll({ journal: live, observations: observations(book), read: fetchOrder, stopped: always, targetDown: always, budgetMs: 10_000 });

    const journal = new JournalBuilder().happy(0, 'b1', 'o1');
    for (const event of live.events) {
      if (event.type === 'order.observed') {
        const { seq: _seq, t: _t, type: _type, ...payload } = event;
        journal.add(5000, 'order.observed', payload);
      }
    }
    const score = await scoreScenario(journal.events, makeScenario());
    const result = score.invariants.find((invariant) => invariant.id === 'settled-status-holds')!;
    expect(result.ok).toBe(false);
    expect(result.violations).toEqual([{ orderIds: ['o1'], message: 'order o1 was delivered, then at the final read read paid' }]);
  });
});
