/**
 * The shop assembled: database, order book, epay client, mailer, routes, and its own timers —
 * the close sweep (unpaid orders past ORDER_TIMEOUT_SECONDS) and the reconcile job (every
 * RECONCILE_SECONDS, off with the `no-reconcile` flaw).
 */
import Fastify from 'fastify';
import { openDatabase, seedIfEmpty } from './database.js';
import { EpayClient } from './epay.js';
import { Fulfilment } from './fulfilment.js';
import { Mailer } from './mailer.js';
import { OrderBook } from './orders.js';
import { registerRoutes } from './routes.js';
import { loadAppKey, Sessions } from './session.js';
import type { Settings } from './settings.js';

export interface RunningShop {
  url: string;
  close(): Promise<void>;
}

type Log = (line: string) => void;

/** Waiting for a timer's pass or the mails under way when stopping. */
const STOP_WAIT_MS = 6000;

/** A pass that runs every `everyMs`, never two at once; errors are logged, not thrown. */
class Repeating {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;

  constructor(name: string, everyMs: number, pass: () => Promise<void>, log: Log) {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = pass()
        .catch((error: unknown) => log(`${name}: ${(error as Error).stack ?? String(error)}`))
        .finally(() => (this.running = undefined));
    }, everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

export async function startFormShop(settings: Settings, log: Log): Promise<RunningShop> {
  const db = openDatabase(settings.dbFile);
  if (seedIfEmpty(db, settings.cardsPerGoods)) log(`first start: seeded goods, ${settings.cardsPerGoods} cards each, and coupons in ${settings.dbFile}`);
  const book = new OrderBook(db, settings.maxQuantity);
  const epay = new EpayClient(settings.epay);
  const mailer = new Mailer(db, settings.mail, log);
  let siteUrl = settings.siteUrl ?? '';
  const fulfilment = new Fulfilment({ book, epay, mailer, flaws: settings.flaws, siteUrl: () => siteUrl, log });

  const app = Fastify({ logger: false, forceCloseConnections: 'idle', bodyLimit: 16_384 });
  registerRoutes(app, {
    siteName: settings.siteName,
    maxQuantity: settings.maxQuantity,
    book,
    epay,
    fulfilment,
    sessions: new Sessions(loadAppKey(settings.appKey, settings.dataDir)),
    siteUrl: () => siteUrl,
    log,
  });
  await app.listen({ host: '127.0.0.1', port: settings.port });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('the server has no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  if (siteUrl === '') siteUrl = url;

  // The sweep runs a few times per timeout (at most every second), so an order closes soon after its time.
  const sweepMs = Math.min(1000, Math.max(100, Math.floor(settings.orderTimeoutMs / 4)));
  const jobs = [new Repeating('close sweep', sweepMs, () => fulfilment.closeExpired(settings.orderTimeoutMs), log)];
  if (!settings.flaws.has('no-reconcile')) jobs.push(new Repeating('reconcile', settings.reconcileMs, () => fulfilment.reconcile(), log));
  log(`flaws: ${settings.flaws.size === 0 ? 'none' : [...settings.flaws].join(', ')}; orders close after ${settings.orderTimeoutMs} ms; reconcile ${settings.flaws.has('no-reconcile') ? 'off' : `every ${settings.reconcileMs} ms`}`);

  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= (async () => {
        fulfilment.stop();
        const stopped = Promise.all(jobs.map((job) => job.stop()));
        await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
        await app.close();
        await mailer.close(STOP_WAIT_MS);
        db.close();
      })()),
  };
}
