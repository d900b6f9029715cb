/**
 * The callback dispatcher's transport (undici pools): what one attempt sends, how a timeout, a
 * redirect and a refused connection are journaled, and what close() cancels. Faults and the
 * provider around it are covered by the mocks-payment tests.
 */
import Fastify from 'fastify';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { CallbackDispatcher, type CallbackNotice } from '../mocks/callback-dispatcher.js';
import { FaultPlan } from '../mocks/fault-plan.js';
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

/** A shop's notify endpoint on a loopback port: `/ok` acks, `/redirect` answers 302, `/hang` never answers. */
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

function newDispatcher(options: { retryDelays?: number[]; timeoutMs?: number } = {}): { dispatcher: CallbackDispatcher; journal: MemoryJournal } {
  const journal = new MemoryJournal();
  const dispatcher = new CallbackDispatcher({
    journal,
    plan: new FaultPlan([], 1),
    secret: SECRET,
    retryDelays: options.retryDelays ?? [5, 5],
    timeoutMs: options.timeoutMs ?? 1000,
  });
  defer(() => dispatcher.close());
  return { dispatcher, journal };
}

let orderSeq = 0;
function notice(): CallbackNotice {
  orderSeq += 1;
  return { tradeNo: `T${orderSeq}`, outTradeNo: `O-${orderSeq}`, status: 'TRADE_SUCCESS', amount: 3000, paidAt: '2030-01-01T00:00:00.000Z' };
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
});
