/**
 * The declarative adapter over a real JSON shop on a socket: a buyer's sign-up once, templated
 * steps with typed values, a step per intent (a double click checks out one cart), a step only
 * when its value is set, the shop's status words (and reasons) mapped, refusals as data.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../core/http-client.js';
import { MemoryJournal } from '../core/journal.js';
import { declarativeAdapterSchema, declarativeTarget, fill, orderViewOf, valueAt } from '../harness/targets/declarative.js';
import { FULLY_OBSERVABLE, type OrderRequest } from '../harness/targets/adapter.js';

const spec = declarativeAdapterSchema.parse({
  name: 'json-shop',
  headers: { authorization: 'Bearer {{token}}' },
  forwardedFor: true,
  catalog: { request: { path: '/products' }, skus: { list: 'items', sku: 'code', price: 'cents' }, coupons: { request: { path: '/coupons' }, list: 'coupons', discount: 'off' } },
  setup: [{ request: { method: 'POST', path: '/signup', json: { email: '{{buyer.contact}}' } }, save: { token: 'token' } }],
  createOrder: [
    { request: { method: 'POST', path: '/carts' }, save: { cart: 'cart.id' }, perIntent: true },
    { request: { method: 'POST', path: '/carts/{{cart}}/lines', json: { sku: '{{order.sku}}', quantity: '{{order.quantity}}' } }, perIntent: true },
    { request: { method: 'PUT', path: '/carts/{{cart}}/coupon', form: { code: '{{order.coupon}}' } }, when: 'order.coupon', perIntent: true },
    { request: { method: 'POST', path: '/carts/{{cart}}/checkout' } },
  ],
  readOrder: { request: { path: '/orders/{{orderId}}' } },
  order: { id: 'number', status: 'state', reason: 'why', amount: 'total', tradeNo: 'pay.intent', cards: { list: 'keys', code: 'value' } },
  statuses: { open: 'pending_payment', done: 'delivered', closed: 'cancelled', 'closed/timeout': 'expired' },
  reasons: { insufficient_funds: 'payment_declined' },
  errors: { coupon_minimum_not_met: 'coupon_below_threshold' },
});

interface Order {
  number: string;
  state: string;
  why?: string;
  total: number;
  pay: { intent: string };
  keys: Array<{ value: string }>;
}

function shop(): { app: FastifyInstance; calls: string[]; orders: Map<string, Order> } {
  const app = Fastify();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))));
  const calls: string[] = [];
  const orders = new Map<string, Order>();
  const carts = new Map<string, { quantity: number; coupon?: string; order?: string }>();
  app.addHook('onRequest', async (request) => {
    calls.push(`${request.method} ${request.url} ${request.headers.authorization ?? '-'} ${request.headers['x-forwarded-for'] ?? '-'}`);
  });
  app.get('/products', async () => ({ items: [{ code: 'A', cents: 500 }, { code: 'B', cents: 'free' }] }));
  app.get('/coupons', async () => ({ coupons: [{ code: 'OFF1', off: 100, minAmount: 0 }, { code: 'PCT', off: null, minAmount: 0 }] }));
  app.post('/signup', async (request) => ({ token: `t-${(request.body as { email: string }).email}` }));
  app.post('/carts', async (request, reply) => {
    if (!request.headers.authorization?.startsWith('Bearer t-')) return reply.code(401).send({ error: { code: 'unauthenticated' } });
    const id = `c${carts.size + 1}`;
    carts.set(id, { quantity: 0 });
    return reply.code(201).send({ cart: { id } });
  });
  app.post('/carts/:id/lines', async (request) => {
    const cart = carts.get((request.params as { id: string }).id)!;
    // A typed value: the quantity arrives as a number.
    cart.quantity += (request.body as { quantity: number }).quantity;
    return { ok: true };
  });
  app.put('/carts/:id/coupon', async (request, reply) => {
    const code = (request.body as { code: string }).code;
    if (code === 'SMALL') return reply.code(422).send({ error: { code: 'coupon_minimum_not_met' } });
    if (code !== 'OFF1') return reply.code(404).send({ error: { code: 'coupon_unknown' } });
    carts.get((request.params as { id: string }).id)!.coupon = code;
    return { ok: true };
  });
  app.post('/carts/:id/checkout', async (request, reply) => {
    const cart = carts.get((request.params as { id: string }).id)!;
    if (cart.order) return reply.code(200).send(orders.get(cart.order));
    const number = `N${orders.size + 1}`;
    const order: Order = { number, state: 'open', total: cart.quantity * 500 - (cart.coupon ? 100 : 0), pay: { intent: `pi_${number}` }, keys: [] };
    orders.set(number, order);
    cart.order = number;
    return reply.code(201).send(order);
  });
  app.get('/orders/:number', async (request, reply) => {
    const order = orders.get((request.params as { number: string }).number);
    return order ? order : reply.code(404).send({ error: { code: 'not_found' } });
  });
  return { app, calls, orders };
}

const request = (coupon?: string): OrderRequest => ({
  sku: 'A',
  quantity: 2,
  recipient: { kind: 'game_id', account: '12345678' },
  contact: 'ann@example.com',
  paymentMethod: 'card',
  ...(coupon ? { coupon } : {}),
  buyer: { id: 'buyer-1', contact: 'ann@example.com', ip: '10.1.2.3', region: 'CN-BJ', accountAgeDays: 40, deviceId: 'd' },
});

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function started(): Promise<{ adapter: ReturnType<typeof declarativeTarget>; calls: string[]; orders: Map<string, Order> }> {
  const { app, calls, orders } = shop();
  const shopUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  const client = new HttpClient();
  close = async () => {
    await client.close();
    await app.close();
  };
  const adapter = declarativeTarget(spec, { shopUrl, client, journal: new MemoryJournal(), providerUrls: {} }, FULLY_OBSERVABLE);
  return { adapter, calls, orders };
}

describe('the declarative adapter', () => {
  it('reads the catalogue (coupons from their own request; unusable entries left out)', async () => {
    const { adapter } = await started();
    expect(await adapter.catalog()).toEqual({ skus: [{ sku: 'A', price: 500 }], coupons: [{ code: 'OFF1', discount: 100, minAmount: 0 }] });
  });

  it('signs the buyer up once, checks out one cart per intent, and maps the order', async () => {
    const { adapter, calls, orders } = await started();
    const session = adapter.session(request().buyer);
    // A double click: the same intent twice at once.
    const [first, second] = await Promise.all([session.createOrder(request('OFF1'), 'key-1'), session.createOrder(request('OFF1'), 'key-1')]);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ orderId: 'N1', status: 'pending_payment', amount: 900, payment: { tradeNo: 'pi_N1' } });
    expect(second.body?.orderId).toBe('N1');
    expect(orders.size).toBe(1);
    expect(calls.filter((call) => call.startsWith('POST /signup'))).toHaveLength(1);
    expect(calls.filter((call) => call.startsWith('POST /carts ')).length).toBe(1);
    expect(calls.find((call) => call.startsWith('POST /carts '))).toBe('POST /carts Bearer t-ann@example.com 10.1.2.3');
    // Without a coupon the coupon step is skipped; a new intent gets a new cart.
    const third = await session.createOrder(request(), 'key-2');
    expect(third.body).toMatchObject({ orderId: 'N2', amount: 1000 });
    expect(calls.filter((call) => call.startsWith('PUT')).length).toBe(1);

    orders.get('N1')!.state = 'done';
    orders.get('N1')!.keys = [{ value: 'K-1' }, { value: 'K-2' }];
    expect((await session.readOrder('N1')).body).toEqual({ orderId: 'N1', status: 'delivered', amount: 900, payment: { tradeNo: 'pi_N1' }, delivery: { cards: [{ code: 'K-1' }, { code: 'K-2' }] } });
    orders.get('N2')!.state = 'closed';
    orders.get('N2')!.why = 'timeout';
    expect((await session.readOrder('N2')).body?.status).toBe('expired');
    // No cancel step: the shop does not let buyers cancel.
    expect((await session.cancelOrder('N2')).status).toBe(405);
  });

  it('returns a refusal as data with the shop\'s error code', async () => {
    const { adapter } = await started();
    const answer = await adapter.session(request().buyer).createOrder(request('NOPE'), 'key-9');
    expect(answer.status).toBe(404);
    expect(answer.body?.error?.code).toBe('coupon_unknown');
    const missing = await adapter.session(request().buyer).readOrder('N404');
    expect(missing.status).toBe(404);
    // A code the adapter maps reads as contract v1's, with the shop's own HTTP status.
    const below = await adapter.session(request().buyer).createOrder(request('SMALL'), 'key-10');
    expect([below.status, below.body?.error?.code]).toEqual([422, 'coupon_below_threshold']);
  });
});

describe('templates and field paths', () => {
  it('keep a whole value\'s type, join text otherwise, and read dotted paths', () => {
    const values = new Map<string, unknown>([['n', 3], ['s', 'x']]);
    expect(fill({ a: '{{n}}', b: 'n={{n}}/{{s}}', c: ['{{missing}}'] }, values)).toEqual({ a: 3, b: 'n=3/x', c: [''] });
    expect(valueAt({ a: [{ b: 7 }] }, 'a.0.b')).toBe(7);
    expect(valueAt({ a: 1 }, 'a.b.c')).toBeUndefined();
    expect(orderViewOf(spec, { number: 5, state: 'weird' })).toEqual({ orderId: '5', status: 'weird' });
    expect(orderViewOf(spec, { state: 'open' })).toBeUndefined();
    // A shop's reason in contract v1's words; `statuses` still sees the shop's own reason.
    expect(orderViewOf(spec, { number: 6, state: 'closed', why: 'insufficient_funds' })).toEqual({ orderId: '6', status: 'cancelled', reason: 'payment_declined' });
    expect(orderViewOf(spec, { number: 7, state: 'closed', why: 'timeout' })).toEqual({ orderId: '7', status: 'expired', reason: 'timeout' });
  });
});
