/**
 * The storefront assembled: database, catalogue, accounts, carts, orders, Stripe, mail and
 * timers behind one fastify server on 127.0.0.1.
 */
import Fastify from 'fastify';
import { Accounts } from './accounts.js';
import { Carts } from './carts.js';
import { Catalog } from './catalog.js';
import { openDatabase } from './database.js';
import { Jobs } from './jobs.js';
import { Mailer } from './mailer.js';
import { Orders } from './orders.js';
import { PaymentFlow } from './payment-flow.js';
import { Payments } from './payments.js';
import { registerRoutes } from './routes.js';
import type { Settings } from './settings.js';
import { KeyStock } from './stock.js';

export interface Storefront {
  /** Where it listens: http://127.0.0.1:<port>. */
  url: string;
  /** Stops taking requests, lets the ones under way finish, stops the timers and the mailer, closes the database. */
  close(): Promise<void>;
}

export const WEBHOOK_PATH = '/api/webhooks/stripe';

export async function startStorefront(settings: Settings, log: (line: string) => void): Promise<Storefront> {
  const db = openDatabase(settings.dataDir, settings.keysPerProduct);
  const catalog = new Catalog(db);
  const stock = new KeyStock(db);
  const carts = new Carts(db, catalog);
  const orders = new Orders(db, catalog, carts, stock);
  const accounts = new Accounts(db);
  const payments = new Payments(settings.stripe);
  const mailer = new Mailer(db, settings.smtp, log);

  const app = Fastify({ logger: false, forceCloseConnections: 'idle', bodyLimit: 64 * 1024 });
  // The webhook URL needs the port, known once listening; the flow reads it then.
  let webhookUrl = '';
  const flow = new PaymentFlow(orders, payments, settings.flaws, () => webhookUrl, log);
  registerRoutes(app, { settings, accounts, catalog, carts, orders, payments, flow });
  try {
    await app.listen({ host: '127.0.0.1', port: settings.port });
  } catch (error) {
    db.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : settings.port;
  const url = `http://127.0.0.1:${port}`;
  webhookUrl = `${settings.publicUrl ?? url}${WEBHOOK_PATH}`;

  // Registered now if Stripe is up; otherwise before the first PaymentIntent.
  payments.ensureWebhookEndpoint(webhookUrl).catch((error: unknown) => log(`webhook endpoint not registered yet: ${(error as Error).message}`));
  const jobs = new Jobs({ orders, payments, flow, flaws: settings.flaws, paymentWindowMs: settings.paymentWindowMs, reconcileMs: settings.reconcileMs, log });
  jobs.start();
  mailer.start();

  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await jobs.stop();
        await mailer.stop();
        db.close();
      })()),
  };
}
