/**
 * The final read of every order (harness/drive/final-read.ts): against a contract-v1 shop on a real
 * socket, read through contract v1's adapter and the run's order-view guard, as the run does. What
 * changed since the harness's last look is journaled (`order.observed`, source `final`), what did
 * not is not; the read is bounded (reads at a time, time budget, the run's stop); its handles
 * leave the heap; and the scorer blames the order a shop moved back.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryJournal, type JournalEventOf } from '../core/journal.js';
import { HttpClient } from '../core/http-client.js';
import { openRecordSpace } from '../memory/index.js';
import { fetchOrder } from '../harness/drive/buyer-flow.js';
import { cardCodesOf, FinalReads } from '../harness/drive/final-read.js';
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

afterEach(async () => {
  for (const book of books.splice(0)) book.close();
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

/** Notes a view as `observeOrder` does when it journals one. */
function noteSeen(book: FinalReads, session: ShopSession, view: ShopOrderView, buyerId = 'b1'): void {
  book.note(view.orderId, buyerId, session, view.status, view.reason, cardCodesOf(view).join(','));
}

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
    const book = new FinalReads(openRecordSpace());
    books.push(book);
    noteSeen(book, session, delivered('o1'));
    noteSeen(book, session, delivered('o2'));
    noteSeen(book, session, { orderId: 'o3', status: 'expired', reason: 'unpaid' } as ShopOrderView);
    noteSeen(book, session, delivered('o4'));
    shop.views.set('o1', delivered('o1'));
    shop.views.set('o2', paid('o2'));
    shop.views.set('o3', { orderId: 'o3', status: 'expired', reason: 'unpaid' } as ShopOrderView);
    shop.views.set('o4', null);

    const summary = await book.readAll({ journal, read: fetchOrder, stopped: always, targetDown: always, budgetMs: 10_000 });
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
    const book = new FinalReads(openRecordSpace());
    books.push(book);
    noteSeen(book, session, delivered('o1', 'A,1'));
    shop.views.set('o1', delivered('o1', 'B,2'));
    await book.readAll({ journal, read: fetchOrder, stopped: always, targetDown: always, budgetMs: 10_000 });
    expect(finalObservations(journal)).toMatchObject([{ orderId: 'o1', status: 'delivered', cards: 1, cardCodes: ['B,2'] }]);
  });

  it('keeps to its reads at a time, and reads handles that left the heap', async () => {
    const shop = await standIn();
    const journal = new MemoryJournal();
    const session = sessionFor(shop, journal);
    const space = openRecordSpace({ spill: 'lookups' });
    const book = new FinalReads(space);
    books.push(book);
    const count = 400;
    for (let index = 0; index < count; index++) {
      const view = delivered(`o${index}`);
      noteSeen(book, session, view, `b${index}`);
      shop.views.set(view.orderId, index % 100 === 7 ? paid(view.orderId) : view);
    }
    // Idle records leave the heap after one to two sweeps.
    space.sweep();
    space.sweep();
    expect(space.sizes('final_reads').archived).toBeGreaterThan(count / 2);

    const summary = await book.readAll({ journal, read: fetchOrder, stopped: always, targetDown: always, budgetMs: 30_000, concurrency: 8 });
    expect(summary).toEqual({ orders: count, read: count, changed: 4, unread: 0, cut: false });
    expect(shop.peak).toBeLessThanOrEqual(8);
    expect(shop.peak).toBeGreaterThan(1);
    expect(finalObservations(journal).map((event) => `${event.orderId}/${event.buyerId}`).sort()).toEqual(['o107/b107', 'o207/b207', 'o307/b307', 'o7/b7']);
    space.close();
  });

  it('keeps the handles of orders still open in the heap (they change soon), lets settled ones go', async () => {
    const shop = await standIn();
    const session = sessionFor(shop, new MemoryJournal());
    const space = openRecordSpace({ spill: 'lookups' });
    const book = new FinalReads(space);
    books.push(book);
    noteSeen(book, session, { orderId: 'open', status: 'pending_payment' } as ShopOrderView);
    noteSeen(book, session, delivered('done'));
    space.sweep();
    space.sweep();
    expect(space.sizes('final_reads')).toEqual({ hot: 1, archived: 1 });
    noteSeen(book, session, delivered('open'));
    space.sweep();
    space.sweep();
    expect(space.sizes('final_reads')).toEqual({ hot: 0, archived: 2 });
    space.close();
  });

  it('is skipped while the shop is down or the run is stopping, and cut by its budget', async () => {
    const shop = await standIn();
    const session = sessionFor(shop, new MemoryJournal());
    for (const [state, expected] of [
      [{ down: true, stopped: false }, { skipped: 'target-down' }],
      [{ down: false, stopped: true }, { skipped: 'stopped' }],
    ] as const) {
      const journal = new MemoryJournal();
      const book = new FinalReads(openRecordSpace());
      books.push(book);
      noteSeen(book, session, delivered('o1'));
      shop.views.set('o1', paid('o1'));
      const summary = await book.readAll({ journal, read: fetchOrder, stopped: () => state.stopped, targetDown: () => state.down, budgetMs: 10_000 });
      expect(summary).toEqual({ orders: 1, read: 0, changed: 0, unread: 1, cut: false, ...expected });
      expect(finalObservations(journal)).toEqual([]);
    }

    const journal = new MemoryJournal();
    const book = new FinalReads(openRecordSpace());
    books.push(book);
    for (let index = 0; index < 50; index++) {
      noteSeen(book, session, delivered(`o${index}`));
      shop.views.set(`o${index}`, delivered(`o${index}`));
    }
    // A stop that comes while reading: the reads in flight finish, nothing more starts.
    let reads = 0;
    const summary = await book.readAll({
      journal,
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
    const book = new FinalReads(openRecordSpace());
    books.push(book);
    noteSeen(book, session, delivered('o1', 'CARD-o1-0'), 'b1');
    shop.views.set('o1', paid('o1'));
    await book.readAll({ journal: live, read: fetchOrder, stopped: always, targetDown: always, budgetMs: 10_000 });

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
