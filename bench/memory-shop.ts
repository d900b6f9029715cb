/**
 * A minimal, in-memory contract-v1 shop for the harness benchmarks: fastify and Maps, no SQLite,
 * no reconciler loop. It calls the mocks as the reference shop does on the happy path — reserve,
 * risk assessment, create trade; on the signed callback, fulfil and a `delivered` message — and
 * handles expiry (close + release + message), cancel and PAY_FAILED, so that normal and abandoning
 * buyers settle. It is what a fast shop looks like, so that what is measured is the harness.
 *
 * Run as a managed target: `node bench/.build/bench/memory-shop.js` with Ordeal's environment
 * (PORT, ORDEAL_*_URL, ORDEAL_PAYMENT_SECRET, ORDEAL_SHOP_CONFIG).
 * With BENCH_SHOP_STATS=<file>, it writes its CPU time, peak RSS and (BENCH_SHOP_LATENCY=1) the
 * latency of every call it made, by route, to that file when it stops (SIGTERM).
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import { verifySignature } from '../mocks/signature.js';

interface Sku {
  sku: string;
  name: string;
  price: number;
  currency: string;
}

interface Card {
  code: string;
  pin: string;
}

type Status = 'pending_payment' | 'paid' | 'fulfilling' | 'delivered' | 'cancelled' | 'expired' | 'failed' | 'refunded';

interface Order {
  orderId: string;
  status: Status;
  reason?: string;
  amount: number;
  currency: string;
  sku: Sku;
  quantity: number;
  buyerId: string;
  contact: string;
  region?: string;
  tradeNo?: string;
  payUrl?: string;
  reservationId?: string;
  expiresAt: number;
  updatedAt: number;
  cards?: Card[];
  deliveredAt?: number;
}

interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
}

const env = process.env;
const required = (name: string): string => {
  const value = env[name];
  if (!value) {
    process.stderr.write(`memory-shop: missing ${name}\n`);
    process.exit(2);
  }
  return value.replace(/\/+$/, '');
};
const paymentUrl = required('ORDEAL_PAYMENT_URL');
const stockUrl = required('ORDEAL_STOCK_URL');
const notifyUrl = required('ORDEAL_NOTIFY_URL');
const riskUrl = env.ORDEAL_RISK_URL?.replace(/\/+$/, '');
const secret = required('ORDEAL_PAYMENT_SECRET');
const config = JSON.parse(required('ORDEAL_SHOP_CONFIG')) as {
  catalog: { skus: Array<Partial<Sku> & { sku: string; price: number }> };
  timers?: { orderTtl?: number };
};
const orderTtl = config.timers?.orderTtl ?? 8000;
const port = Number(env.PORT ?? '0');
const statsFile = env.BENCH_SHOP_STATS;
const recordLatency = env.BENCH_SHOP_LATENCY === '1';
/** How late this shop's own event loop runs (1 ms sampling): the part of a call's time that is the shop's, not the mock's. */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
if (recordLatency) loopDelay.enable();

const skus = new Map<string, Sku>();
for (const entry of config.catalog.skus) {
  skus.set(entry.sku, { sku: entry.sku, name: entry.name ?? entry.sku, price: entry.price, currency: entry.currency ?? 'CNY' });
}

const orders = new Map<string, Order>();
/** Idempotency-Key → the raw body and the creation in progress or done. */
const byKey = new Map<string, { body: string; orderId: Promise<string | undefined> }>();
/** Unpaid orders in creation order, for expiry (created in time order, so the head expires first). */
const unpaid: Order[] = [];
let unpaidHead = 0;
let orderSeq = 0;
let callbackUrl = '';
const latencies: Record<string, number[]> = {};
const latencyOrders: Record<string, string[]> = {};

const agent = new Agent({ connections: 256, keepAliveTimeout: 10_000, headersTimeout: 5000, bodyTimeout: 5000 });

/** Each service's API key (the native provider takes its secret as one), as Ordeal's mocks require. */
function authorizationOf(url: string): Record<string, string> {
  const key = url.startsWith(paymentUrl) ? secret : url.startsWith(stockUrl) ? env.ORDEAL_STOCK_KEY : url.startsWith(notifyUrl) ? env.ORDEAL_NOTIFY_KEY : riskUrl !== undefined && url.startsWith(riskUrl) ? env.ORDEAL_RISK_KEY : undefined;
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

async function call(route: string, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, orderId = ''): Promise<Answer | undefined> {
  const started = performance.now();
  try {
    const response = await request(url, {
      method,
      dispatcher: agent,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...authorizationOf(url) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (recordLatency) {
      (latencies[route] ??= []).push(performance.now() - started);
      (latencyOrders[route] ??= []).push(orderId);
    }
    return { status: response.statusCode, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
  } catch {
    return undefined;
  }
}

function view(order: Order): Record<string, unknown> {
  return {
    orderId: order.orderId,
    status: order.status,
    ...(order.reason ? { reason: order.reason } : {}),
    amount: order.amount,
    currency: order.currency,
    updatedAt: new Date(order.updatedAt).toISOString(),
    ...(order.tradeNo ? { payment: { tradeNo: order.tradeNo, payUrl: order.payUrl ?? '' } } : {}),
    ...(order.cards ? { delivery: { cards: order.cards, deliveredAt: new Date(order.deliveredAt ?? order.updatedAt).toISOString() } } : {}),
  };
}

function setStatus(order: Order, status: Status, reason?: string): void {
  order.status = status;
  if (reason === undefined) delete order.reason;
  else order.reason = reason;
  order.updatedAt = Date.now();
}

function message(order: Order, kind: string, text: string, reason?: string): void {
  void call('notify', 'POST', `${notifyUrl}/v1/messages`, {
    to: order.contact,
    orderId: order.orderId,
    channel: 'sms',
    kind,
    ...(reason ? { reason } : {}),
    text,
    messageKey: `${order.orderId}:${kind}`,
  }, order.orderId);
}

function release(order: Order): void {
  if (order.reservationId) void call('release', 'DELETE', `${stockUrl}/v1/reservations/${order.reservationId}`, undefined, order.orderId);
}

/** Reserve → assess → trade; resolves with the order id, or undefined when the request is bad. */
async function create(body: Record<string, unknown>): Promise<string | undefined> {
  const sku = skus.get(String(body.sku));
  const quantity = body.quantity;
  const buyer = body.buyer as Record<string, unknown> | undefined;
  if (!sku || typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || !buyer || typeof buyer.id !== 'string') return undefined;
  const now = Date.now();
  const order: Order = {
    orderId: `m${(++orderSeq).toString(36)}_${process.pid.toString(36)}`,
    status: 'pending_payment',
    amount: sku.price * quantity,
    currency: sku.currency,
    sku,
    quantity,
    buyerId: buyer.id,
    contact: typeof buyer.contact === 'string' ? buyer.contact : '',
    ...(typeof buyer.region === 'string' ? { region: buyer.region } : {}),
    expiresAt: now + orderTtl,
    updatedAt: now,
  };
  orders.set(order.orderId, order);
  const reserved = await call('reserve', 'POST', `${stockUrl}/v1/reservations`, {
    sku: sku.sku,
    quantity,
    orderId: order.orderId,
    ttlMs: orderTtl + 5000,
    buyerId: order.buyerId,
  }, order.orderId);
  if (!reserved || (reserved.status !== 201 && reserved.status !== 200)) {
    const soldOut = reserved?.body?.code === 'SOLD_OUT';
    setStatus(order, 'failed', soldOut ? 'out_of_stock' : 'service_unavailable');
    message(order, soldOut ? 'out_of_stock' : 'payment_failed', 'your order could not be placed', order.reason);
    return order.orderId;
  }
  order.reservationId = String(reserved.body?.reservationId);
  if (riskUrl) {
    const assessed = await call('assess', 'POST', `${riskUrl}/v1/assessments`, {
      orderId: order.orderId,
      buyer,
      amount: order.amount,
      sku: sku.sku,
      recipient: body.recipient,
    }, order.orderId);
    if (assessed?.status !== 200 || assessed.body?.decision !== 'approve') {
      setStatus(order, 'failed', assessed?.status === 200 ? 'risk_rejected' : 'service_unavailable');
      release(order);
      message(order, assessed?.status === 200 ? 'review_rejected' : 'payment_failed', 'your order was not accepted', order.reason);
      return order.orderId;
    }
  }
  const trade = await call('create', 'POST', `${paymentUrl}/v1/trades`, {
    outTradeNo: order.orderId,
    amount: order.amount,
    currency: order.currency,
    subject: `${quantity} x ${sku.name}`,
    notifyUrl: callbackUrl,
    method: typeof body.paymentMethod === 'string' ? body.paymentMethod : 'alipay',
    payer: order.region ? { id: order.buyerId, region: order.region } : { id: order.buyerId },
    expiresInMs: orderTtl,
  }, order.orderId);
  if (!trade || (trade.status !== 201 && trade.status !== 200) || typeof trade.body?.tradeNo !== 'string') {
    setStatus(order, 'failed', 'service_unavailable');
    release(order);
    message(order, 'payment_failed', 'the payment channel is unavailable', order.reason);
    return order.orderId;
  }
  order.tradeNo = trade.body.tradeNo;
  order.payUrl = typeof trade.body.payUrl === 'string' ? trade.body.payUrl : '';
  // The callback may have come before the answer (it cannot: the buyer pays after seeing the trade).
  if (order.status === 'pending_payment') unpaid.push(order);
  return order.orderId;
}

async function deliver(order: Order): Promise<void> {
  setStatus(order, 'fulfilling');
  for (let attempt = 0; attempt < 5; attempt++) {
    const result = await call('fulfil', 'POST', `${stockUrl}/v1/reservations/${order.reservationId}/fulfil`, undefined, order.orderId);
    if (result?.status === 200 && Array.isArray(result.body?.cards)) {
      order.cards = (result.body.cards as Card[]).map((card) => ({ code: card.code, pin: card.pin }));
      order.deliveredAt = Date.now();
      setStatus(order, 'delivered');
      message(order, 'delivered', `your cards: ${order.cards.map((card) => card.code).join(', ')}`);
      return;
    }
    if (result?.status === 409) break;
    await new Promise((wake) => setTimeout(wake, 200 * (attempt + 1)));
  }
  const refunded = await call('refund', 'POST', `${paymentUrl}/v1/trades/${order.tradeNo}/refunds`, { refundNo: `${order.orderId}-r1`, amount: order.amount }, order.orderId);
  setStatus(order, refunded?.status === 200 ? 'refunded' : 'failed', 'delivery_failed');
  message(order, 'refunded', 'we could not deliver your cards; the payment was refunded', 'delivery_failed');
}

/** Expires unpaid orders whose time is up: close the trade (a success means paid), release, tell. */
function expireDue(): void {
  const now = Date.now();
  while (unpaidHead < unpaid.length && unpaid[unpaidHead]!.expiresAt <= now) {
    const order = unpaid[unpaidHead++]!;
    if (order.status !== 'pending_payment') continue;
    void call('close', 'POST', `${paymentUrl}/v1/trades/${order.tradeNo}/close`, undefined, order.orderId).then((closed) => {
      if (order.status !== 'pending_payment') return;
      if (closed?.status === 409) {
        setStatus(order, 'paid');
        void deliver(order);
        return;
      }
      setStatus(order, 'expired', 'expired_unpaid');
      release(order);
      message(order, 'expired', 'your order expired unpaid', 'expired_unpaid');
    });
  }
  if (unpaidHead > 4096 && unpaidHead * 2 > unpaid.length) {
    unpaid.splice(0, unpaidHead);
    unpaidHead = 0;
  }
}

const app = Fastify({ logger: false, forceCloseConnections: 'idle' });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

const badRequest = (code: string, text: string): { error: { code: string; message: string } } => ({ error: { code, message: text } });

app.get('/health', async () => ({ status: 'ok' }));
app.get('/catalog', async () => ({ skus: [...skus.values()], coupons: [] }));

app.post('/orders', async (req, reply) => {
  const raw = typeof req.body === 'string' ? req.body : '';
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return reply.code(400).send(badRequest('invalid_request', 'expected a JSON body'));
  }
  const header = req.headers['idempotency-key'];
  const key = Array.isArray(header) ? header[0] : header;
  let pending: Promise<string | undefined>;
  const known = key === undefined ? undefined : byKey.get(key);
  if (known) {
    if (known.body !== raw) return reply.code(409).send(badRequest('idempotency_key_reused', 'another body under this key'));
    pending = known.orderId;
  } else {
    pending = create(body);
    if (key !== undefined) byKey.set(key, { body: raw, orderId: pending });
  }
  const orderId = await pending;
  const order = orderId === undefined ? undefined : orders.get(orderId);
  if (!order) return reply.code(400).send(badRequest('invalid_request', 'unknown sku, bad quantity or buyer'));
  return reply.code(201).send(view(order));
});

app.get<{ Params: { id: string } }>('/orders/:id', async (req, reply) => {
  const order = orders.get(req.params.id);
  if (!order) return reply.code(404).send(badRequest('order_not_found', `no order ${req.params.id}`));
  return view(order);
});

app.post<{ Params: { id: string } }>('/orders/:id/cancel', async (req, reply) => {
  const order = orders.get(req.params.id);
  if (!order) return reply.code(404).send(badRequest('order_not_found', `no order ${req.params.id}`));
  if (order.status !== 'pending_payment') return reply.code(409).send(badRequest('not_cancellable', `order is ${order.status}`));
  const closed = order.tradeNo ? await call('close', 'POST', `${paymentUrl}/v1/trades/${order.tradeNo}/close`, undefined, order.orderId) : undefined;
  if (order.status === 'pending_payment' && closed?.status !== 409) {
    setStatus(order, 'cancelled', 'cancelled_by_buyer');
    release(order);
    message(order, 'cancelled', 'your order was cancelled', 'cancelled_by_buyer');
  }
  return { orderId: order.orderId, status: order.status };
});

app.post('/payment/notify', async (req, reply) => {
  const raw = typeof req.body === 'string' ? req.body : '';
  const header = req.headers['ordeal-signature'];
  const check = verifySignature(secret, Array.isArray(header) ? header[0] : header, raw);
  if (!check.ok) return reply.code(401).send(badRequest('invalid_signature', check.reason));
  const notice = JSON.parse(raw) as { outTradeNo?: string; status?: string; amount?: number };
  const order = orders.get(String(notice.outTradeNo));
  if (!order) return reply.code(404).send(badRequest('order_not_found', 'no such order'));
  if (notice.status === 'TRADE_SUCCESS') {
    const payable = order.status === 'pending_payment' || order.status === 'expired' || order.status === 'cancelled' || order.status === 'failed';
    if (payable && notice.amount === order.amount && !order.cards) {
      setStatus(order, 'paid');
      // Committed (in memory) before the acknowledgement; delivery runs after it.
      setImmediate(() => void deliver(order));
    }
  } else if (notice.status === 'PAY_FAILED' && order.status === 'pending_payment') {
    setStatus(order, 'failed', 'payment_declined');
    release(order);
    message(order, 'payment_failed', 'your payment failed', 'payment_declined');
  }
  return { received: true };
});

const expiry = setInterval(expireDue, 100);

await app.listen({ host: '127.0.0.1', port });
const address = app.server.address();
const boundPort = typeof address === 'object' && address ? address.port : port;
callbackUrl = `http://127.0.0.1:${boundPort}/payment/notify`;
process.stdout.write(`listening on http://127.0.0.1:${boundPort}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(expiry);
  if (statsFile) {
    const cpu = process.cpuUsage();
    writeFileSync(
      statsFile,
      JSON.stringify({
        cpuMs: (cpu.user + cpu.system) / 1000,
        maxRssKiB: process.resourceUsage().maxRSS,
        orders: orders.size,
        ...(recordLatency ? { latencies, latencyOrders, loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 } } : {}),
      }),
    );
  }
  await app.close();
  await agent.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
