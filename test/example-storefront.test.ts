/**
 * The example JSON storefront (`examples/storefront/shop/`), run unmodified as its own process from
 * `dist/`, its configuration pointed at Ordeal: the stripe personality as its Stripe API (the
 * official `stripe` client), a local SMTP server with implicit TLS and a run-local CA as its mail
 * relay. Buyers use its API as a browser would and pay at the personality's cashier; the fault
 * plan drops, duplicates, forges and shortens the payments; each flaw shows.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../core/http-client.js';
import { MemoryJournal } from '../core/journal.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks, type MockSet } from '../mocks/index.js';
import { newChannel, type StripeCredentials } from '../mocks/payment/credentials.js';
import { createCertificateAuthority, type RunCertificateAuthority } from '../mocks/intercept/certificate-authority.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf, faultsOf, waitForEvents } from './helpers/journal.js';

const ROOT = resolve(import.meta.dirname, '..');
const SOURCES = join(ROOT, 'examples', 'storefront', 'shop');
const MAIN = join(ROOT, 'dist', 'examples', 'storefront', 'shop', 'main.js');
const SMTP_USER = 'storefront-mailer';

/** Builds dist when it is missing or older than the storefront's sources (vitest run without `pretest`). */
beforeAll(() => {
  const sources = readdirSync(SOURCES).map((file) => statSync(join(SOURCES, file)).mtimeMs);
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= Math.max(...sources)) return;
  spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(MAIN)) throw new Error(`the build did not produce ${MAIN}`);
}, 120_000);

const defer = cleanupAfterEach();

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---- the mail relay: implicit TLS with a certificate from a run-local CA, any login accepted ------

interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
  user: string | undefined;
  secure: boolean;
}

interface MailRelay {
  port: number;
  caFile: string;
  mails: ReceivedMail[];
  /** Waits (bounded) until `count` mails match. */
  waitFor(predicate: (mail: ReceivedMail) => boolean, count?: number): Promise<ReceivedMail[]>;
}

let relay: MailRelay;
let closeRelay: () => Promise<void> = async () => {};

beforeAll(async () => {
  const caDir = mkdtempSync(join(tmpdir(), 'storefront-ca-'));
  const authority: RunCertificateAuthority = await createCertificateAuthority({ caDir });
  const leaf = authority.leafFor('localhost');
  const mails: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    secure: true,
    key: leaf.keyPem,
    cert: leaf.certificatePem,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth: (auth, _session, callback) => callback(null, { user: auth.username }),
    onData: (stream, session, callback) => {
      simpleParser(stream).then(
        (parsed) => {
          const to = Array.isArray(parsed.to) ? parsed.to.map((each) => each.text).join(', ') : (parsed.to?.text ?? '');
          mails.push({ to, subject: parsed.subject ?? '', text: parsed.text ?? '', user: session.user, secure: session.secure });
          for (const wake of waiters) wake();
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  // The shop's pooled mailer may close a connection mid-handshake when it stops: the relay's
  // business, not the test's (smtp-server emits it as an 'error' event).
  server.on('error', () => {});
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const address = server.server.address();
  if (!address || typeof address === 'string') throw new Error('no SMTP address');
  relay = {
    port: address.port,
    caFile: authority.caFile,
    mails,
    waitFor: (predicate, count = 1) =>
      new Promise((resolveWait, reject) => {
        const check = (): boolean => {
          const found = mails.filter(predicate);
          if (found.length < count) return false;
          waiters.delete(wake);
          clearTimeout(timer);
          resolveWait(found);
          return true;
        };
        const wake = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`timed out waiting for ${count} mail(s); got: ${mails.map((mail) => mail.subject).join(' | ')}`));
        }, 8000);
        waiters.add(wake);
        check();
      }),
  };
  closeRelay = async () => {
    await new Promise<void>((done) => server.close(() => done()));
    rmSync(caDir, { recursive: true, force: true });
  };
}, 30_000);

afterAll(() => closeRelay());

// ---- Ordeal's Stripe personality, and the storefront started against it ---------------------------

interface World {
  mocks: MockSet;
  journal: MemoryJournal;
  credentials: StripeCredentials;
  shop: Shop;
}

interface Shop {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface WorldOptions {
  faults?: unknown[];
  flaws?: string[];
  windowSeconds?: number;
  reconcileSeconds?: number;
  keysPerProduct?: number;
}

function storefrontEnv(mocks: MockSet, credentials: StripeCredentials, options: WorldOptions): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    PORT: '0',
    DATA_DIR: tempDir('storefront-data-'),
    STRIPE_API_BASE: mocks.urls.payment,
    STRIPE_SECRET_KEY: credentials.secretKey,
    STRIPE_PUBLISHABLE_KEY: credentials.publishableKey,
    STRIPE_WEBHOOK_SECRET: credentials.webhookSecret,
    SMTP_HOST: 'localhost',
    SMTP_PORT: String(relay.port),
    SMTP_USER,
    SMTP_PASS: 'mail-password',
    SMTP_CA_FILE: relay.caFile,
    MAIL_FROM: 'Starfall Keys <orders@starfall.test>',
    PAYMENT_WINDOW_SECONDS: String(options.windowSeconds ?? 30),
    RECONCILE_SECONDS: String(options.reconcileSeconds ?? 30),
    KEYS_PER_PRODUCT: String(options.keysPerProduct ?? 5),
    SHOP_FLAWS: (options.flaws ?? []).join(','),
  };
}

function startShop(env: NodeJS.ProcessEnv): Promise<Shop> {
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('exit', (code, signal) => done({ code, signal })));
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exit;
    }
  });
  return new Promise((ready, reject) => {
    const timer = setTimeout(() => reject(new Error(`the storefront did not listen within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        ready({ url: match[1]!, child, stderr: () => stderr, exit });
      }
    });
    void exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the storefront exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
}

async function startWorld(options: WorldOptions = {}): Promise<World> {
  const scenario = scenarioSchema.parse({
    name: 'storefront',
    catalog: { skus: [{ sku: 'STARFALL-DLX', name: 'Starfall — Deluxe Edition', price: 3999, stock: 5 }] },
    load: { stages: [{ rate: 1, duration: 1000 }] },
    faults: options.faults ?? [],
  });
  const journal = new MemoryJournal();
  const channel = newChannel('stripe');
  if (channel.protocol !== 'stripe') throw new Error('expected a stripe channel');
  const mocks = await startMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), channel, callbackRetryDelays: [50, 100] });
  defer(() => mocks.close());
  const shop = await startShop(storefrontEnv(mocks, channel.credentials, options));
  return { mocks, journal, credentials: channel.credentials, shop };
}

// ---- a buyer, through the storefront's API --------------------------------------------------------

interface LicenseKey {
  sku: string;
  key: string;
}

/** `GET /api/orders/:number` as the storefront answers it (the fields these tests read). */
interface OrderJson {
  number: string;
  status: string;
  status_reason: string | null;
  total_cents: number;
  license_keys: LicenseKey[];
  payment: { payment_intent: string; client_secret: string | null; publishable_key: string | null; amount_received_cents: number | null; refunded_cents: number | null };
}

/** Any answer: an object whose fields the test reads as it expects them. */
type Json = Record<string, unknown> & { error?: { code: string } };

async function api<T = Json>(shop: Shop, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(`${shop.url}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as T };
}

let buyers = 0;

async function register(shop: Shop): Promise<{ token: string; email: string }> {
  buyers += 1;
  const email = `buyer${buyers}@players.test`;
  const answer = await api<{ token: string }>(shop, 'POST', '/api/customers', { body: { email, password: 'correct horse', name: `Buyer ${buyers}` } });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return { token: answer.body.token, email };
}

/** Registers a buyer, fills a cart and checks out; the order as checkout answered it. */
async function placeOrder(shop: Shop, lines: Array<{ sku: string; quantity?: number }> = [{ sku: 'STARFALL-STD' }]): Promise<{ token: string; email: string; order: OrderJson }> {
  const buyer = await register(shop);
  const cart = await api<{ id: string }>(shop, 'POST', '/api/carts', { token: buyer.token });
  expect(cart.status).toBe(201);
  for (const line of lines) expect((await api(shop, 'POST', `/api/carts/${cart.body.id}/items`, { token: buyer.token, body: line })).status).toBe(200);
  const checkout = await api<OrderJson>(shop, 'POST', `/api/carts/${cart.body.id}/checkout`, { token: buyer.token });
  expect(checkout.status, JSON.stringify(checkout.body)).toBe(201);
  return { ...buyer, order: checkout.body };
}

/** The buyer's browser confirms the PaymentIntent at the personality's cashier (Stripe.js's confirm). */
async function payAtCashier(world: World, order: OrderJson, payerId = 'buyer-at-cashier'): Promise<{ outcome: string; status: number | undefined }> {
  const client = new HttpClient();
  defer(() => client.close());
  const request = world.mocks.cashier.payRequest({ providerUrl: world.mocks.urls.payment, tradeNo: order.payment.payment_intent, payerId, method: 'card' });
  // What the storefront handed the browser is what Stripe.js would confirm with.
  expect(request.body).toMatchObject({ client_secret: order.payment.client_secret });
  expect(request.headers?.authorization).toBe(`Bearer ${order.payment.publishable_key ?? ''}`);
  const answer = await client.send(request.method, request.url, request.body, request.headers);
  return { outcome: world.mocks.cashier.readPayAnswer(answer.status, answer.body).outcome, status: answer.status };
}

/** Polls the buyer's order page until `ready` holds (bounded). */
async function orderWhen(shop: Shop, token: string, number: string, ready: (order: OrderJson) => boolean, timeoutMs = 8000): Promise<OrderJson> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const answer = await api<OrderJson>(shop, 'GET', `/api/orders/${number}`, { token });
    last = answer.body;
    if (answer.status === 200 && ready(answer.body)) return answer.body;
    await new Promise((wake) => setTimeout(wake, 50));
  }
  throw new Error(`order ${number} never got there; last seen: ${JSON.stringify(last)}`);
}

async function inStock(shop: Shop, sku: string): Promise<number> {
  const { products } = (await api<{ products: Array<{ sku: string; in_stock: number }> }>(shop, 'GET', '/api/products')).body;
  return products.find((product) => product.sku === sku)?.in_stock ?? -1;
}

/**
 * A buyer's mail whose subject is `subject` or names the order. Shops in different tests number
 * their orders alike (each has its own database), so the recipient tells them apart.
 */
const mailOf =
  (buyer: { email: string }, subject: string) =>
  (mail: ReceivedMail): boolean =>
    mail.to === buyer.email && mail.subject.includes(subject);

describe('the example storefront against Ordeal', () => {
  it('register → cart → coupon → checkout → pay at the cashier → webhook → fulfilled with keys and e-mailed over implicit TLS', async () => {
    const world = await startWorld();
    const { shop } = world;
    expect((await api(shop, 'GET', '/api/health')).body).toEqual({ status: 'ok', payment_window_seconds: 30, reconcile_seconds: 30 });
    const { products } = (await api<{ products: Json[] }>(shop, 'GET', '/api/products')).body;
    expect(products.map((product) => product.sku)).toEqual(['STARFALL-OST', 'STARFALL-STD', 'STARFALL-DLX']);
    expect(products[2]).toEqual({ sku: 'STARFALL-DLX', name: 'Starfall — Deluxe Edition', price_cents: 3999, currency: 'usd', in_stock: 5 });
    expect((await api<{ coupons: Json[] }>(shop, 'GET', '/api/coupons')).body.coupons.map((coupon) => coupon.code)).toEqual(['SAVE5', 'WELCOME10']);

    const buyer = await register(shop);
    expect((await api(shop, 'GET', '/api/me', { token: buyer.token })).body).toMatchObject({ customer: { email: buyer.email } });
    expect((await api(shop, 'GET', '/api/me')).status).toBe(401);
    const login = await api<{ token: string }>(shop, 'POST', '/api/sessions', { body: { email: buyer.email, password: 'correct horse' } });
    expect((await api(shop, 'GET', '/api/me', { token: login.body.token })).body).toMatchObject({ customer: { email: buyer.email } });
    expect((await api(shop, 'POST', '/api/sessions', { body: { email: buyer.email, password: 'wrong horse' } })).body.error?.code).toBe('invalid_credentials');
    const cartId = (await api<{ id: string }>(shop, 'POST', '/api/carts', { token: buyer.token })).body.id;
    await api(shop, 'POST', `/api/carts/${cartId}/items`, { token: buyer.token, body: { sku: 'STARFALL-DLX' } });
    const added = await api(shop, 'POST', `/api/carts/${cartId}/items`, { token: buyer.token, body: { sku: 'STARFALL-OST', quantity: 2 } });
    expect(added.body).toMatchObject({ subtotal_cents: 3999 + 2 * 799, discount_cents: 0, total_cents: 5597 });
    expect((await api(shop, 'PUT', `/api/carts/${cartId}/coupon`, { token: buyer.token, body: { code: 'NOPE' } })).body.error?.code).toBe('coupon_unknown');
    expect((await api(shop, 'PUT', `/api/carts/${cartId}/coupon`, { token: buyer.token, body: { code: 'SPRING21' } })).body.error?.code).toBe('coupon_expired');
    const discounted = await api(shop, 'PUT', `/api/carts/${cartId}/coupon`, { token: buyer.token, body: { code: 'welcome10' } });
    expect(discounted.body).toMatchObject({ coupon: { code: 'WELCOME10' }, discount_cents: 559, total_cents: 5038 });

    const checkout = await api<OrderJson>(shop, 'POST', `/api/carts/${cartId}/checkout`, { token: buyer.token });
    expect(checkout.status).toBe(201);
    const order = checkout.body;
    expect(order).toMatchObject({ status: 'awaiting_payment', total_cents: 5038, coupon: 'WELCOME10', license_keys: [], payment: { provider: 'stripe', publishable_key: world.credentials.publishableKey } });
    expect(order.number).toMatch(/^SF-\d{6}$/);
    expect(order.payment.client_secret).toMatch(new RegExp(`^${order.payment.payment_intent}_secret_`));
    // A retried checkout is the same order.
    expect((await api(shop, 'POST', `/api/carts/${cartId}/checkout`, { token: buyer.token })).body).toMatchObject({ number: order.number });
    expect(world.mocks.payment.tradeByOrder(order.number)).toMatchObject({ amount: 5038, currency: 'USD', status: 'WAIT_BUYER_PAY' });
    expect(await inStock(shop, 'STARFALL-OST')).toBe(3);
    // Another customer cannot see it.
    expect((await api(shop, 'GET', `/api/orders/${order.number}`, { token: (await register(shop)).token })).status).toBe(404);

    expect(await payAtCashier(world, order)).toMatchObject({ outcome: 'paid', status: 200 });
    const fulfilled = await orderWhen(shop, buyer.token, order.number, (now) => now.status === 'fulfilled');
    expect(fulfilled).toMatchObject({ status_reason: null, payment: { amount_received_cents: 5038, client_secret: null } });
    expect(fulfilled.license_keys.map((key) => key.sku).sort()).toEqual(['STARFALL-DLX', 'STARFALL-OST', 'STARFALL-OST']);
    expect(eventsOf(world.journal, 'payment.callback.sent', order.number)).toMatchObject([{ status: 'TRADE_SUCCESS', acked: true, httpStatus: 200 }]);

    const [mail] = await relay.waitFor(mailOf(buyer, order.number));
    expect(mail).toMatchObject({ to: buyer.email, user: SMTP_USER, secure: true, subject: `Your license keys for order ${order.number}` });
    for (const key of fulfilled.license_keys) expect(mail!.text).toContain(key.key);
  });

  it('a forged webhook is refused; believed with trust-unverified-webhooks', async () => {
    const forged = [{ id: 'payment.callback.forged', after: '50ms' }];
    const [resilient, flawed] = await Promise.all([startWorld({ faults: forged }), startWorld({ faults: forged, flaws: ['trust-unverified-webhooks'] })]);
    const [good, bad] = await Promise.all([placeOrder(resilient.shop), placeOrder(flawed.shop)]);
    for (const [world, placed] of [[resilient, good], [flawed, bad]] as const) {
      await waitForEvents(world.journal, 'payment.callback.sent', (event) => event.orderId === placed.order.number && event.forgery === 'forged');
      await world.mocks.callbacksIdle();
    }
    const refused = eventsOf(resilient.journal, 'payment.callback.sent', good.order.number);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((event) => event.forgery === 'forged' && !event.acked && event.httpStatus === 400)).toBe(true);
    expect((await api(resilient.shop, 'GET', `/api/orders/${good.order.number}`, { token: good.token })).body).toMatchObject({ status: 'awaiting_payment', license_keys: [] });

    expect(eventsOf(flawed.journal, 'payment.callback.sent', bad.order.number)).toMatchObject([{ forgery: 'forged', acked: true }]);
    const believed = await orderWhen(flawed.shop, bad.token, bad.order.number, (now) => now.status === 'fulfilled');
    expect(believed.license_keys).toHaveLength(1);
    // Goods went out for an intent nobody paid.
    expect(flawed.mocks.payment.tradeByOrder(bad.order.number)?.status).toBe('WAIT_BUYER_PAY');
  });

  it('a redelivered webhook fulfils once; twice with fulfil-twice', async () => {
    const duplicate = [{ id: 'payment.callback.duplicate', copies: 2, spacing: '50ms' }];
    const [resilient, flawed] = await Promise.all([startWorld({ faults: duplicate }), startWorld({ faults: duplicate, flaws: ['fulfil-twice'] })]);
    const [good, bad] = await Promise.all([placeOrder(resilient.shop), placeOrder(flawed.shop)]);
    await Promise.all([payAtCashier(resilient, good.order), payAtCashier(flawed, bad.order)]);
    for (const [world, placed] of [[resilient, good], [flawed, bad]] as const) {
      const copies = await waitForEvents(world.journal, 'payment.callback.sent', (event) => event.orderId === placed.order.number && event.acked, 2);
      expect(new Set(copies.map((event) => event.notifyId)).size).toBe(1);
      await world.mocks.callbacksIdle();
    }
    expect((await api(resilient.shop, 'GET', `/api/orders/${good.order.number}`, { token: good.token })).body.license_keys).toHaveLength(1);
    expect(await inStock(resilient.shop, 'STARFALL-STD')).toBe(4);
    await relay.waitFor(mailOf(good, good.order.number));

    expect((await api(flawed.shop, 'GET', `/api/orders/${bad.order.number}`, { token: bad.token })).body.license_keys).toHaveLength(2);
    expect(await inStock(flawed.shop, 'STARFALL-STD')).toBe(3);
    expect(await relay.waitFor(mailOf(bad, `Your license keys for order ${bad.order.number}`), 2)).toHaveLength(2);
    expect(relay.mails.filter(mailOf(good, good.order.number))).toHaveLength(1);
  });

  it('an unpaid order is canceled by its payment window: the PaymentIntent canceled, the keys back on sale, the buyer told', async () => {
    const world = await startWorld({ windowSeconds: 1, keysPerProduct: 2 });
    const placed = await placeOrder(world.shop, [{ sku: 'STARFALL-STD', quantity: 2 }]);
    expect(await inStock(world.shop, 'STARFALL-STD')).toBe(0);
    const canceled = await orderWhen(world.shop, placed.token, placed.order.number, (now) => now.status === 'canceled');
    expect(canceled).toMatchObject({ status_reason: 'payment_window_expired', license_keys: [], payment: { client_secret: null } });
    expect(await inStock(world.shop, 'STARFALL-STD')).toBe(2);
    expect(world.mocks.payment.tradeByOrder(placed.order.number)?.status).toBe('TRADE_CLOSED');
    const [mail] = await relay.waitFor(mailOf(placed, `Order ${placed.order.number} canceled`));
    expect(mail!.text).toContain('not paid in time');

    // A buyer may cancel before the window closes.
    const changedMind = await placeOrder(world.shop);
    const canceledByBuyer = await api<OrderJson>(world.shop, 'POST', `/api/orders/${changedMind.order.number}/cancel`, { token: changedMind.token });
    expect(canceledByBuyer.body).toMatchObject({ status: 'canceled', status_reason: 'canceled_by_customer' });
    expect(world.mocks.payment.tradeByOrder(changedMind.order.number)?.status).toBe('TRADE_CLOSED');
    expect((await api(world.shop, 'POST', `/api/orders/${changedMind.order.number}/cancel`, { token: changedMind.token })).body.error?.code).toBe('order_not_cancelable');
  });

  it('a declined card fails the order and puts its keys back', async () => {
    const world = await startWorld({ faults: [{ id: 'payment.decline' }] });
    const placed = await placeOrder(world.shop);
    expect(await payAtCashier(world, placed.order)).toMatchObject({ outcome: 'refused' });
    const failed = await orderWhen(world.shop, placed.token, placed.order.number, (now) => now.status === 'payment_failed');
    expect(failed.status_reason).toBe('insufficient_funds');
    expect(await inStock(world.shop, 'STARFALL-STD')).toBe(5);
    await relay.waitFor(mailOf(placed, `Payment for order ${placed.order.number} failed`));
  });

  it('reconcile catches a payment whose webhook was dropped; with no-reconcile the window cancels the paid order', async () => {
    const dropped = [{ id: 'payment.callback.drop' }];
    const [resilient, flawed] = await Promise.all([
      startWorld({ faults: dropped, reconcileSeconds: 0.3 }),
      startWorld({ faults: dropped, reconcileSeconds: 0.3, windowSeconds: 1, flaws: ['no-reconcile'] }),
    ]);
    const [good, bad] = await Promise.all([placeOrder(resilient.shop), placeOrder(flawed.shop)]);
    await Promise.all([payAtCashier(resilient, good.order), payAtCashier(flawed, bad.order)]);

    const caught = await orderWhen(resilient.shop, good.token, good.order.number, (now) => now.status === 'fulfilled');
    expect(caught.license_keys).toHaveLength(1);
    expect(faultsOf(resilient.journal, 'payment.callback.drop', good.order.number)).toHaveLength(1);
    expect(eventsOf(resilient.journal, 'payment.callback.sent', good.order.number)).toEqual([]);
    expect(eventsOf(resilient.journal, 'payment.trade.queried', good.order.number).some((event) => event.status === 'TRADE_SUCCESS')).toBe(true);
    await relay.waitFor(mailOf(good, `Your license keys for order ${good.order.number}`));

    const lost = await orderWhen(flawed.shop, bad.token, bad.order.number, (now) => now.status === 'canceled');
    expect(lost).toMatchObject({ status_reason: 'payment_window_expired', license_keys: [] });
    expect(flawed.mocks.payment.tradeByOrder(bad.order.number)?.status).toBe('TRADE_SUCCESS');
    expect(eventsOf(flawed.journal, 'payment.trade.queried', bad.order.number)).toEqual([]);
  });

  it('an order paid short is refunded, not fulfilled; fulfilled with ignore-amount', async () => {
    const short = [{ id: 'payment.callback.tampered', paidAmount: 100 }];
    const [resilient, flawed] = await Promise.all([startWorld({ faults: short }), startWorld({ faults: short, flaws: ['ignore-amount'] })]);
    const [good, bad] = await Promise.all([placeOrder(resilient.shop), placeOrder(flawed.shop)]);
    await Promise.all([payAtCashier(resilient, good.order), payAtCashier(flawed, bad.order)]);

    const refunded = await orderWhen(resilient.shop, good.token, good.order.number, (now) => now.status === 'refunded');
    expect(refunded).toMatchObject({ status_reason: 'amount_mismatch', license_keys: [], payment: { amount_received_cents: 100, refunded_cents: 100 } });
    expect(eventsOf(resilient.journal, 'payment.refund', good.order.number)).toMatchObject([{ amount: 100, ok: true }]);
    expect(await inStock(resilient.shop, 'STARFALL-STD')).toBe(5);
    await relay.waitFor(mailOf(good, `Order ${good.order.number} refunded`));

    const shorted = await orderWhen(flawed.shop, bad.token, bad.order.number, (now) => now.status === 'fulfilled');
    expect(shorted).toMatchObject({ payment: { amount_received_cents: 100 } });
    expect(shorted.license_keys).toHaveLength(1);
  });

  it('stops gracefully on SIGTERM; a bad setting exits 2 with its name', async () => {
    const world = await startWorld();
    world.shop.child.kill('SIGTERM');
    expect(await world.shop.exit).toEqual({ code: 0, signal: null });

    const env = storefrontEnv(world.mocks, world.credentials, { flaws: ['no-such-flaw'] });
    const bad = spawnSync(process.execPath, [MAIN], { env, encoding: 'utf8', timeout: 15_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('SHOP_FLAWS: unknown flaw "no-such-flaw"');
    const missing = spawnSync(process.execPath, [MAIN], { env: { ...env, SHOP_FLAWS: '', STRIPE_SECRET_KEY: '' }, encoding: 'utf8', timeout: 15_000 });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('STRIPE_SECRET_KEY is required');
  });
});
