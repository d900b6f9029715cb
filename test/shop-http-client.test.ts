/**
 * The reference shop's outgoing HTTP (shop/http-client.ts): answers and transport errors as data,
 * the per-call deadline, headers, and close() aborting what is in flight.
 */
import Fastify from 'fastify';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { callJson, OutgoingHttp, retryAfterMs } from '../shop/http-client.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { listenOnLoopback } from './helpers/mocks.js';

const defer = cleanupAfterEach();

interface Dependency {
  url: string;
  sockets: Socket[];
  /** Resolves when a request reached `/hang`. */
  hangArrived: Promise<void>;
}

async function startDependency(): Promise<Dependency> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const sockets: Socket[] = [];
  app.server.on('connection', (socket: Socket) => sockets.push(socket));
  let arrived!: () => void;
  const hangArrived = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  app.post('/v1/echo', async (request, reply) =>
    reply.code(201).send({ body: request.body, contentType: request.headers['content-type'] ?? null, accept: request.headers.accept ?? null }),
  );
  app.get('/v1/busy', async (_request, reply) => reply.code(429).header('Retry-After', '2').send({ code: 'RATE_LIMITED' }));
  app.get('/v1/garbled', async (_request, reply) => reply.code(200).type('application/json').send('{"tradeNo": "T'));
  app.get('/v1/down', async (_request, reply) => reply.code(502).type('text/html').send('<h1>bad gateway</h1>'));
  app.delete('/v1/things/:id', async (_request, reply) => reply.code(204).send());
  app.get('/v1/hang', async () => {
    arrived();
    await released;
    return {};
  });
  const url = await listenOnLoopback(app, defer);
  defer(() => release());
  return { url, sockets, hangArrived };
}

function newHttp(): OutgoingHttp {
  const http = new OutgoingHttp();
  defer(() => http.close());
  return http;
}

describe('shop outgoing HTTP', () => {
  it('sends JSON and answers the parsed body, the status and the headers', async () => {
    const dependency = await startDependency();
    const http = newHttp();
    const created = await callJson('POST', `${dependency.url}/v1/echo`, { amount: 3000 }, { timeoutMs: 1000, http });
    expect(created).toMatchObject({ kind: 'response', status: 201, body: { body: { amount: 3000 }, contentType: 'application/json', accept: 'application/json' } });

    const busy = await callJson('GET', `${dependency.url}/v1/busy`, undefined, { timeoutMs: 1000, http });
    if (busy.kind !== 'response') throw new Error(busy.message);
    expect(busy.status).toBe(429);
    expect(busy.body).toEqual({ code: 'RATE_LIMITED' });
    expect(busy.headers.has('Retry-After')).toBe(true);
    expect(busy.headers.get('retry-after')).toBe('2');
    expect(busy.headers.get('x-missing')).toBeNull();
    expect(retryAfterMs(busy.headers, 500, 10_000)).toBe(2000);

    const deleted = await callJson('DELETE', `${dependency.url}/v1/things/1`, undefined, { timeoutMs: 1000, http });
    expect(deleted).toMatchObject({ kind: 'response', status: 204, body: undefined });
  });

  it('answers an error for a 2xx that is not JSON, and a response without body for another status', async () => {
    const dependency = await startDependency();
    const http = newHttp();
    const garbled = await callJson('GET', `${dependency.url}/v1/garbled`, undefined, { timeoutMs: 1000, http });
    expect(garbled).toEqual({ kind: 'error', message: `GET ${dependency.url}/v1/garbled: 200 with a body that is not JSON` });
    const down = await callJson('GET', `${dependency.url}/v1/down`, undefined, { timeoutMs: 1000, http });
    expect(down).toMatchObject({ kind: 'response', status: 502, body: undefined });
  });

  it('answers an error when the deadline passes', async () => {
    const dependency = await startDependency();
    const http = newHttp();
    const pending = callJson('GET', `${dependency.url}/v1/hang`, undefined, { timeoutMs: 100, http });
    await dependency.hangArrived;
    expect(await pending).toEqual({ kind: 'error', message: `GET ${dependency.url}/v1/hang: timed out after 100 ms` });
  });

  it('answers an error with the code when the connection is refused', async () => {
    const app = Fastify({ logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    await app.close();
    if (!address || typeof address === 'string') throw new Error('no address');
    const result = await callJson('GET', `http://127.0.0.1:${address.port}/v1/x`, undefined, { timeoutMs: 1000, http: newHttp() });
    expect(result.kind).toBe('error');
    expect(result.kind === 'error' && result.message).toMatch(/\(ECONNREFUSED\)$/);
  });

  it('close() aborts the calls in flight, closes the connections and refuses new calls', async () => {
    const dependency = await startDependency();
    const http = new OutgoingHttp();
    const pending = callJson('GET', `${dependency.url}/v1/hang`, undefined, { timeoutMs: 60_000, http });
    await dependency.hangArrived;
    const socketsClosed = Promise.all(dependency.sockets.map((socket) => (socket.destroyed ? undefined : once(socket, 'close'))));
    await http.close();
    expect((await pending).kind).toBe('error');
    await socketsClosed;
    const after = await callJson('POST', `${dependency.url}/v1/echo`, {}, { timeoutMs: 1000, http });
    expect(after.kind).toBe('error');
    expect(after.kind === 'error' && after.message).toMatch(/UND_ERR_DESTROYED/);
  });
});
