/**
 * Transport faults (`withTransportFaults` + the HTTP transport's socket faults) seen by a real
 * client (undici): reset, empty, malformed and dribble on the payment provider's routes, the
 * request subject (tradeNo → order, body fields, correlation), `times` per subject and route, and
 * close() never waiting on a broken connection.
 */
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { MemoryJournal, type JournalEventOf } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { serveRoutes, type ServeOptions } from '../mocks/http-transport.js';
import { Correlation, type MockContext, type MockRoute } from '../mocks/mock-types.js';
import { PaymentCore } from '../mocks/payment/core.js';
import { NativePersonality } from '../mocks/payment/personalities/native.js';
import { subjectOf, withTransportFaults } from '../mocks/transport-faults.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf } from './helpers/journal.js';
import { mockScenario, tradeBody as notifyTradeBody, type TradeBody } from './helpers/mocks.js';

const DRIBBLE = { chunkBytes: 8, intervalMs: 15 };

const defer = cleanupAfterEach();

function contextFor(faults: unknown[]): MockContext & { journal: MemoryJournal } {
  const scenario = mockScenario({ name: 'transport-faults', seed: 3, faults });
  return { journal: new MemoryJournal(), plan: new FaultPlan(scenario.faults, scenario.seed), correlation: new Correlation() };
}

/** A client of its own per test: broken connections never leak into another test's pool. */
function client(): Agent {
  const agent = new Agent({ keepAliveTimeout: 1000 });
  defer(() => agent.destroy());
  return agent;
}

async function serve(routes: readonly MockRoute[], options: Partial<ServeOptions> = {}): Promise<{ url: string; close(): Promise<void> }> {
  const served = await serveRoutes(routes, { name: 'test', dribble: DRIBBLE, ...options });
  defer(() => served.close());
  return served;
}

interface PaymentRig {
  url: string;
  journal: MemoryJournal;
  provider: PaymentCore;
  agent: Agent;
  post(path: string, body?: unknown): ReturnType<typeof request>;
  get(path: string): ReturnType<typeof request>;
  createTrade(overrides?: Record<string, unknown>): Promise<{ tradeNo: string; outTradeNo: string; payerId: string }>;
}

/** A trade whose callbacks go nowhere (port 9). */
function tradeBody(overrides: Record<string, unknown> = {}): TradeBody {
  return notifyTradeBody('http://127.0.0.1:9/callback', overrides);
}

async function paymentRig(faults: unknown[]): Promise<PaymentRig> {
  const context = contextFor(faults);
  const provider = new PaymentCore(context);
  const routes = new NativePersonality({ secret: 's' }).routes(provider, { baseUrl: '' });
  const served = await serve(withTransportFaults('payment', routes, context), { name: 'payment' });
  const agent = client();
  const post = (path: string, body?: unknown) =>
    request(`${served.url}${path}`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization: 'Bearer s' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const get = (path: string) => request(`${served.url}${path}`, { dispatcher: agent, headers: { authorization: 'Bearer s' } });
  return {
    url: served.url,
    journal: context.journal,
    provider,
    agent,
    post,
    get,
    async createTrade(overrides = {}) {
      const body = tradeBody(overrides);
      const answer = await post('/v1/trades', body);
      const json = (await answer.body.json()) as { tradeNo: string };
      expect(answer.statusCode).toBe(201);
      return { tradeNo: json.tradeNo, outTradeNo: body.outTradeNo, payerId: body.payer.id };
    },
  };
}

function transportFaults(journal: MemoryJournal): Array<JournalEventOf<'fault.injected'>> {
  return eventsOf(journal, 'fault.injected').filter((event) => event.fault.startsWith('transport.'));
}

describe('transport faults on the payment provider, seen by a real client', () => {
  it('reset: the client sees ECONNRESET and the create had no effect; `times` lets the retry through', async () => {
    const rig = await paymentRig([{ id: 'transport.reset', service: 'payment', routes: ['create'], times: 1 }]);
    const body = tradeBody();
    await expect(rig.post('/v1/trades', body)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(rig.provider.allTrades()).toHaveLength(0);
    expect(eventsOf(rig.journal, 'payment.trade.created')).toHaveLength(0);
    expect(transportFaults(rig.journal)).toEqual([
      expect.objectContaining({
        fault: 'transport.reset',
        faultIndex: 0,
        orderId: body.outTradeNo,
        buyerId: body.payer.id,
        detail: { service: 'payment', route: 'create', kind: 'reset', call: 1 },
      }),
    ]);
    const retry = await rig.post('/v1/trades', body);
    expect(retry.statusCode).toBe(201);
    await retry.body.dump();
    expect(rig.provider.allTrades()).toHaveLength(1);
  });

  it('empty: the connection closes with no bytes ("other side closed"); the query had no effect', async () => {
    const rig = await paymentRig([{ id: 'transport.empty', service: 'payment', routes: ['query'] }]);
    const { tradeNo, outTradeNo, payerId } = await rig.createTrade();
    await expect(rig.get(`/v1/trades/${tradeNo}`)).rejects.toMatchObject({ code: 'UND_ERR_SOCKET', message: expect.stringMatching(/other side closed/) });
    await expect(rig.get(`/v1/trades?outTradeNo=${outTradeNo}`)).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(eventsOf(rig.journal, 'payment.trade.queried')).toHaveLength(0);
    // The tradeNo in the path names the order and its payer.
    expect(transportFaults(rig.journal).map((event) => [event.orderId, event.buyerId, event.detail.kind, event.detail.call])).toEqual([
      [outTradeNo, payerId, 'empty', 1],
      [outTradeNo, payerId, 'empty', 2],
    ]);
  });

  it('malformed: a head promising more body than comes; reading the body fails; the close had no effect', async () => {
    const rig = await paymentRig([{ id: 'transport.malformed', service: 'payment', routes: ['close'] }]);
    const { tradeNo, outTradeNo } = await rig.createTrade();
    const answer = await rig.post(`/v1/trades/${tradeNo}/close`);
    expect(answer.statusCode).toBe(200);
    const promised = Number(answer.headers['content-length']);
    expect(promised).toBeGreaterThan(0);
    await expect(answer.body.text()).rejects.toThrow();
    expect(rig.provider.trade(tradeNo)?.status).toBe('WAIT_BUYER_PAY');
    expect(eventsOf(rig.journal, 'payment.trade.closed')).toHaveLength(0);
    expect(transportFaults(rig.journal)).toEqual([expect.objectContaining({ fault: 'transport.malformed', orderId: outTradeNo, detail: expect.objectContaining({ route: 'close' }) })]);
  });

  it('dribble: the route runs and its real answer arrives whole, but no faster than chunk/interval allow', async () => {
    const rig = await paymentRig([{ id: 'transport.dribble', service: 'payment', routes: ['pay'] }]);
    const { tradeNo, outTradeNo, payerId } = await rig.createTrade();
    const started = performance.now();
    const answer = await rig.post(`/v1/trades/${tradeNo}/pay`, { payerId, method: 'alipay' });
    const text = await answer.body.text();
    const elapsed = performance.now() - started;
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(text)).toEqual({ status: 'TRADE_SUCCESS' });

    // At least the status line, content-length, connection and the body cross the wire, DRIBBLE.chunkBytes at a time.
    const least = `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`.length;
    const threshold = (Math.ceil(least / DRIBBLE.chunkBytes) - 1) * DRIBBLE.intervalMs;
    expect(threshold).toBeGreaterThanOrEqual(100);
    expect(elapsed).toBeGreaterThanOrEqual(threshold - 1);

    expect(eventsOf(rig.journal, 'payment.trade.paid')).toEqual([expect.objectContaining({ orderId: outTradeNo, payerId })]);
    expect(transportFaults(rig.journal)).toEqual([
      expect.objectContaining({ fault: 'transport.dribble', orderId: outTradeNo, buyerId: payerId, detail: { service: 'payment', route: 'pay', kind: 'dribble', call: 1 } }),
    ]);
  });

  it('a route that broke the connection itself keeps its own fault under dribble', async () => {
    const rig = await paymentRig([
      { id: 'payment.ambiguous' },
      { id: 'transport.dribble', service: 'payment', routes: ['create'] },
    ]);
    await expect(rig.post('/v1/trades', tradeBody())).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(rig.provider.allTrades()).toHaveLength(1);
    expect(transportFaults(rig.journal)).toHaveLength(0);
  });
});

describe('withTransportFaults', () => {
  /** A stand-in mock whose `send` route counts how often its behaviour really ran. */
  function countingRoutes(): { routes: MockRoute[]; ran: string[] } {
    const ran: string[] = [];
    const routes: MockRoute[] = [
      {
        method: 'POST',
        path: '/v1/messages',
        name: 'send',
        handle: (request) => {
          ran.push(String((request.body as { orderId?: string }).orderId));
          return { status: 202, body: { messageId: `M${ran.length}` } };
        },
      },
      { method: 'GET', path: '/v1/messages', name: 'inbox', handle: () => ({ status: 200, body: [] }) },
    ];
    return { routes, ran };
  }

  it('counts `times` per subject and route; the subject is the buyer when the order is linked to one', async () => {
    const context = contextFor([{ id: 'transport.reset', service: 'notify', routes: ['send'], times: 2 }]);
    const { routes, ran } = countingRoutes();
    const served = await serve(withTransportFaults('notify', routes, context));
    const agent = client();
    const send = (orderId: string) =>
      request(`${served.url}/v1/messages`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderId, to: 'x@example.com', channel: 'email', kind: 'delivered', text: 'hi' }),
      }).then(
        async (answer) => {
          await answer.body.dump();
          return answer.statusCode;
        },
        (error: { code?: string }) => error.code,
      );

    // An order nobody linked is its own subject: two resets, then through.
    expect([await send('A'), await send('A'), await send('A')]).toEqual(['ECONNRESET', 'ECONNRESET', 202]);
    expect(await send('B')).toBe('ECONNRESET');
    // Two orders of one buyer share the buyer's counter.
    context.correlation.link('C', 'buyer-7');
    context.correlation.link('D', 'buyer-7');
    expect([await send('C'), await send('D'), await send('D')]).toEqual(['ECONNRESET', 'ECONNRESET', 202]);
    // The behaviour ran only for the calls that went through; the unlisted route is untouched.
    expect(ran).toEqual(['A', 'D']);
    const inbox = await request(`${served.url}/v1/messages`, { dispatcher: agent });
    expect(inbox.statusCode).toBe(200);
    await inbox.body.dump();

    expect(transportFaults(context.journal).map((event) => [event.orderId, event.buyerId, event.detail.call])).toEqual([
      ['A', undefined, 1],
      ['A', undefined, 2],
      ['B', undefined, 1],
      ['C', 'buyer-7', 1],
      ['D', 'buyer-7', 2],
    ]);
  });

  it('leaves routes alone when no fault concerns the service, and decides by probability', async () => {
    const { routes } = countingRoutes();
    const none = contextFor([{ id: 'transport.reset', service: 'stock' }]);
    const wrapped = withTransportFaults('notify', routes, none);
    expect(wrapped).toEqual(routes);
    expect(wrapped[0]).toBe(routes[0]);

    const never = contextFor([{ id: 'transport.empty', service: 'notify', probability: 0 }]);
    const reply = await withTransportFaults('notify', routes, never)[0]?.handle({
      method: 'POST',
      path: '/v1/messages',
      params: {},
      query: {},
      headers: {},
      body: { orderId: 'E' },
      rawBody: '{"orderId":"E"}',
      target: '/v1/messages',
    });
    expect(reply?.status).toBe(202);
    expect(transportFaults(never.journal)).toHaveLength(0);
  });

  it('subjectOf reads the protocol’s order and buyer fields', () => {
    const base = { method: 'POST' as const, path: '/', params: {}, query: {}, headers: {}, rawBody: '', target: '/' };
    expect(subjectOf('stock', { ...base, body: { orderId: 'O1', buyerId: 'b1', sku: 'X' } })).toEqual({ orderId: 'O1', buyerId: 'b1' });
    expect(subjectOf('payment', { ...base, body: { outTradeNo: 'O2', payer: { id: 'b2' } } })).toEqual({ orderId: 'O2', buyerId: 'b2' });
    expect(subjectOf('payment', { ...base, body: { payerId: 'b3' } })).toEqual({ buyerId: 'b3' });
    expect(subjectOf('risk', { ...base, body: { orderId: 'O4', buyer: { id: 'b4' } } })).toEqual({ orderId: 'O4', buyerId: 'b4' });
    expect(subjectOf('payment', { ...base, method: 'GET', query: { outTradeNo: 'O5' }, body: undefined })).toEqual({ orderId: 'O5' });
    expect(subjectOf('notify', { ...base, body: 'plain text' })).toEqual({});
  });
});

describe('http transport: close() never waits on a broken connection', () => {
  it('a hung request and a dribble in progress are cut when the server closes', async () => {
    let arrived = 0;
    let bothArrived: () => void = () => undefined;
    const both = new Promise<void>((resolve) => (bothArrived = resolve));
    const arrive = (): void => {
      arrived += 1;
      if (arrived === 2) bothArrived();
    };
    const routes: MockRoute[] = [
      {
        method: 'GET',
        path: '/hang',
        name: 'hang',
        handle: () => {
          arrive();
          return { status: 200, socketFault: 'hang' };
        },
      },
      {
        method: 'GET',
        path: '/dribble',
        name: 'dribble',
        handle: () => {
          arrive();
          return { status: 200, body: { ok: true }, socketFault: 'dribble' };
        },
      },
    ];
    const served = await serveRoutes(routes, { name: 'test', dribble: { chunkBytes: 1, intervalMs: 1000 } });
    defer(() => served.close());
    const agent = client();
    const hung = request(`${served.url}/hang`, { dispatcher: agent });
    const dribbling = request(`${served.url}/dribble`, { dispatcher: agent }).then((answer) => answer.body.text());
    // Both outcomes are awaited below; mark them handled now so the close cannot race an unhandled rejection.
    hung.catch(() => undefined);
    dribbling.catch(() => undefined);
    await both;
    const started = performance.now();
    await served.close();
    expect(performance.now() - started).toBeLessThan(500);
    await expect(hung).rejects.toThrow();
    await expect(dribbling).rejects.toThrow();
  });
});
