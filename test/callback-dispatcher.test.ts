/**
 * The callback dispatcher's transport (keep-alive pools of the harness's own connections): what one attempt sends, how a timeout, a
 * redirect and a refused connection are journaled, what close() cancels, and how it leaves the
 * request's form and its acknowledgement to the personality. Faults and the provider around it are
 * covered by the mocks-payment tests.
 */
import Fastify from 'fastify';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { CallbackDispatcher, type CallbackNotice, type CallbackProtocol } from '../mocks/payment/dispatcher.js';
import { NativePersonality } from '../mocks/payment/personalities/native.js';
import { verifySignature } from '../mocks/signature.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf } from './helpers/journal.js';
import { listenOnLoopback } from './helpers/mocks.js';

const SECRET = 'dispatcher-secret';
const defer = cleanupAfterEach();

interface Receiver {
  url: string;
  sockets: Socket[];
  /** Requests per path, in order. */
  hits: Array<{ path: string; contentType: string; signatureOk: boolean; body: string }>;
  /** Resolves when the nth request (1-based) reached `/hang`. */
  hangArrived(nth: number): Promise<void>;
}

/**
 * A shop's notify endpoint on a loopback port: `/ok` acks, `/redirect` answers 302, `/hang` never
 * answers, `GET /by-get` answers 200 with `fail` for trade numbers ending in 1, else `SUCCESS`.
 */
async function startReceiver(): Promise<Receiver> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const sockets: Socket[] = [];
  app.server.on('connection', (socket: Socket) => sockets.push(socket));
  const hits: Receiver['hits'] = [];
  const hangWaiters = new Map<number, () => void>();
  let hangs = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  const record = (path: string, request: { headers: Record<string, unknown>; body: unknown }): void => {
    const body = String(request.body);
    hits.push({
      path,
      contentType: String(request.headers['content-type'] ?? ''),
      signatureOk: verifySignature(SECRET, String(request.headers['ordeal-signature'] ?? ''), body).ok,
      body,
    });
  };
  app.post('/ok', async (request, reply) => {
    record('/ok', request);
    return reply.code(200).send('success');
  });
  // A gateway-style notify endpoint: GET with the notice in the query, answered in the body.
  app.get('/by-get', async (request, reply) => {
    const query = request.query as Record<string, string>;
    hits.push({ path: '/by-get', contentType: '', signatureOk: false, body: JSON.stringify(query) });
    return reply.code(200).send(query.tradeNo?.endsWith('1') ? 'fail' : 'SUCCESS');
  });
  app.post('/redirect', async (request, reply) => {
    record('/redirect', request);
    return reply.redirect('/ok', 302);
  });
  app.post('/hang', async (request) => {
    record('/hang', request);
    hangs += 1;
    hangWaiters.get(hangs)?.();
    await released;
    return 'success';
  });
  const url = await listenOnLoopback(app, defer);
  defer(() => release());
  return {
    url,
    sockets,
    hits,
    hangArrived(nth) {
      if (hangs >= nth) return Promise.resolve();
      return new Promise((resolve) => hangWaiters.set(nth, resolve));
    },
  };
}

function newDispatcher(options: { retryDelays?: number[]; timeoutMs?: number; personality?: CallbackProtocol } = {}): {
  dispatcher: CallbackDispatcher;
  journal: MemoryJournal;
} {
  const journal = new MemoryJournal();
  const dispatcher = new CallbackDispatcher({
    journal,
    plan: new FaultPlan([], 1),
    personality: options.personality ?? new NativePersonality({ secret: SECRET }),
    retryDelays: options.retryDelays ?? [5, 5],
    timeoutMs: options.timeoutMs ?? 1000,
  });
  defer(() => dispatcher.close());
  return { dispatcher, journal };
}

let orderSeq = 0;
function notice(): CallbackNotice {
  orderSeq += 1;
  return {
    tradeNo: `T${orderSeq}`,
    outTradeNo: `O-${orderSeq}`,
    status: 'TRADE_SUCCESS',
    amount: 3000,
    paidAt: '2030-01-01T00:00:00.000Z',
    currency: 'CNY',
    subject: 'Monthly card',
    method: 'alipay',
  };
}

describe('CallbackDispatcher transport', () => {
  it('POSTs the signed JSON body and journals the ack; later callbacks reuse the connection', async () => {
    const receiver = await startReceiver();
    const { dispatcher, journal } = newDispatcher();
    const notifyId = dispatcher.dispatch({ notifyUrl: `${receiver.url}/ok`, subject: 'b-1' }, notice());
    await dispatcher.idle();
    expect(receiver.hits).toHaveLength(1);
    expect(receiver.hits[0]).toMatchObject({ path: '/ok', contentType: 'application/json', signatureOk: true });
    expect(JSON.parse(receiver.hits[0]!.body)).toMatchObject({ notifyId, status: 'TRADE_SUCCESS', amount: 3000 });
    const [sent] = eventsOf(journal, 'payment.callback.sent');
    expect(sent).toMatchObject({ notifyId, attempt: 1, copy: 1, acked: true, httpStatus: 200 });
    expect(sent?.error).toBeUndefined();

    for (let i = 0; i < 3; i++) {
      dispatcher.dispatch({ notifyUrl: `${receiver.url}/ok`, subject: 'b-1' }, notice());
      await dispatcher.idle();
    }
    expect(eventsOf(journal, 'payment.callback.sent').every((event) => event.acked)).toBe(true);
    // Four callbacks, kept-alive connections (the pool may open a second one when a callback goes
    // out just as the last one answered, before it marked that connection free).
    expect(receiver.sockets.length).toBeLessThanOrEqual(2);
  });

  it('does not follow a redirect: the 3xx is journaled as not acked, and retried', async () => {
    const receiver = await startReceiver();
    const { dispatcher, journal } = newDispatcher({ retryDelays: [5] });
    dispatcher.dispatch({ notifyUrl: `${receiver.url}/redirect`, subject: 'b-1' }, notice());
    await dispatcher.idle();
    expect(receiver.hits.map((hit) => hit.path)).toEqual(['/redirect', '/redirect']);
    const sent = eventsOf(journal, 'payment.callback.sent');
    expect(sent.map((event) => [event.attempt, event.acked, event.httpStatus])).toEqual([
      [1, false, 302],
      [2, false, 302],
    ]);
  });

  it('journals "timeout" when an attempt outlives the per-attempt timeout, and retries', async () => {
    const receiver = await startReceiver();
    const { dispatcher, journal } = newDispatcher({ retryDelays: [5], timeoutMs: 100 });
    dispatcher.dispatch({ notifyUrl: `${receiver.url}/hang`, subject: 'b-1' }, notice());
    await dispatcher.idle();
    expect(receiver.hits).toHaveLength(2);
    const sent = eventsOf(journal, 'payment.callback.sent');
    expect(sent.map((event) => [event.attempt, event.acked, event.error, event.httpStatus])).toEqual([
      [1, false, 'timeout', undefined],
      [2, false, 'timeout', undefined],
    ]);
    for (const event of sent) expect(event.latencyMs).toBeGreaterThanOrEqual(90);
  });

  it('journals the error code when the connection is refused', async () => {
    const app = Fastify({ logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    await app.close();
    if (!address || typeof address === 'string') throw new Error('no address');
    const { dispatcher, journal } = newDispatcher({ retryDelays: [] });
    dispatcher.dispatch({ notifyUrl: `http://127.0.0.1:${address.port}/ok`, subject: 'b-1' }, notice());
    await dispatcher.idle();
    expect(eventsOf(journal, 'payment.callback.sent').map((event) => [event.acked, event.error])).toEqual([[false, 'ECONNREFUSED']]);
  });

  it('close() cancels the attempt in flight and the retries, journals nothing more, and closes the connections', async () => {
    const receiver = await startReceiver();
    const { dispatcher, journal } = newDispatcher({ retryDelays: [5, 5], timeoutMs: 60_000 });
    dispatcher.dispatch({ notifyUrl: `${receiver.url}/hang`, subject: 'b-1' }, notice());
    await receiver.hangArrived(1);
    expect(dispatcher.pending()).toBe(1);
    const socketsClosed = Promise.all(receiver.sockets.map((socket) => (socket.destroyed ? undefined : once(socket, 'close'))));
    await dispatcher.close();
    await socketsClosed;
    await dispatcher.idle();
    expect(dispatcher.pending()).toBe(0);
    expect(eventsOf(journal, 'payment.callback.sent')).toEqual([]);
    // Nothing is sent once closed.
    dispatcher.dispatch({ notifyUrl: `${receiver.url}/ok`, subject: 'b-1' }, notice());
    expect(dispatcher.pending()).toBe(0);
    expect(receiver.hits).toHaveLength(1);
  });

  it('sends what the personality renders and asks it whether an answer acknowledges (here: GET, acked by body)', async () => {
    const receiver = await startReceiver();
    const rendered: Array<{ notifyId: string; signing: string }> = [];
    const byGet: CallbackProtocol = {
      renderCallback: (notifyUrl, notice, signing) => {
        rendered.push({ notifyId: notice.notifyId, signing: signing.kind });
        const query = new URLSearchParams({ tradeNo: notice.tradeNo, amount: String(notice.amount), subject: notice.subject });
        return { method: 'GET', url: `${notifyUrl}?${query.toString()}`, headers: {} };
      },
      callbackAck: { readBody: true, acknowledged: (status, body) => status === 200 && /success/i.test(body) },
    };
    const { dispatcher, journal } = newDispatcher({ retryDelays: [5, 5], personality: byGet });
    let failing = notice();
    while (!failing.tradeNo.endsWith('1')) failing = notice();
    const passing = notice();
    dispatcher.dispatch({ notifyUrl: `${receiver.url}/by-get`, subject: 'b-1' }, failing);
    dispatcher.dispatch({ notifyUrl: `${receiver.url}/by-get`, subject: 'b-2' }, passing);
    await dispatcher.idle();

    expect(receiver.hits.map((hit) => JSON.parse(hit.body) as Record<string, string>)).toContainEqual({ tradeNo: passing.tradeNo, amount: '3000', subject: 'Monthly card' });
    const sent = eventsOf(journal, 'payment.callback.sent');
    // A 200 whose body lacks "success" is not an acknowledgement: retried to the end of the schedule.
    expect(sent.filter((event) => event.tradeNo === failing.tradeNo).map((event) => [event.attempt, event.acked, event.httpStatus])).toEqual([
      [1, false, 200],
      [2, false, 200],
      [3, false, 200],
    ]);
    expect(sent.filter((event) => event.tradeNo === passing.tradeNo).map((event) => [event.attempt, event.acked])).toEqual([[1, true]]);
    // Genuine notices are rendered (and signed) afresh on every attempt.
    expect(rendered.filter((entry) => entry.signing === 'genuine')).toHaveLength(4);
  });
});
