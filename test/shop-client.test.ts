import Fastify, { type FastifyInstance } from 'fastify';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { HttpClient, splitUrl } from '../core/http-client.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { listenOnLoopback } from './helpers/mocks.js';

const defer = cleanupAfterEach();

interface TestServer {
  url: string;
  /** Sockets the server accepted, in order. */
  sockets: Socket[];
  /** Resolves when a request reached `GET /hang`. */
  hangArrived: Promise<void>;
}

/** A fastify server on a loopback port (port 0), closed in teardown; `/hang` is released then too. */
async function startServer(name: string): Promise<TestServer> {
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true });
  const sockets: Socket[] = [];
  app.server.on('connection', (socket: Socket) => sockets.push(socket));
  let arrived!: () => void;
  const hangArrived = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));

  app.get('/json', async () => ({ server: name, items: [1, 2, 3] }));
  app.get('/json-query', async (request) => ({ query: request.query }));
  app.get('/empty', async (_request, reply) => reply.code(204).send());
  app.get('/text', async (_request, reply) => reply.code(503).type('text/plain').send('down for maintenance'));
  app.get('/text-ok', async (_request, reply) => reply.code(200).type('text/plain').send('{not json'));
  app.post('/echo', async (request, reply) =>
    reply.code(201).send({
      method: request.method,
      contentType: request.headers['content-type'] ?? null,
      custom: request.headers['x-ordeal-test'] ?? null,
      body: request.body ?? null,
    }),
  );
  // 8 MiB of JSON, streamed: what a hostile shop sends to run a client out of memory.
  app.get('/huge', async (_request, reply) => {
    const chunk = `"${'x'.repeat(64 * 1024 - 3)}",`;
    async function* body(): AsyncGenerator<string> {
      yield '[';
      for (let i = 0; i < 128; i++) yield chunk;
      yield '0]';
    }
    return reply.type('application/json').send(Readable.from(body()));
  });
  // A body trickled a byte every 50 ms, for ever: never idle long enough for the idle timeout.
  app.get('/drip', (_request, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'application/json' });
    const timer = setInterval(() => reply.raw.write(' '), 50);
    reply.raw.on('close', () => clearInterval(timer));
  });
  app.get('/headers', async (request) => ({ custom: request.headers['x-ordeal-test'] ?? null, contentType: request.headers['content-type'] ?? null }));
  app.get('/hang', async () => {
    arrived();
    await released;
    return { late: true };
  });

  const url = await listenOnLoopback(app, defer);
  // Deferred after listenOnLoopback's close, so it runs first: the hanging handler ends before close.
  defer(() => release());
  return { url, sockets, hangArrived };
}

/** A loopback port where nothing listens (bound, then closed). */
async function refusedPort(): Promise<string> {
  const app = Fastify({ logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  await app.close();
  if (!address || typeof address === 'string') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

function newClient(options?: ConstructorParameters<typeof HttpClient>[0]): HttpClient {
  const client = new HttpClient(options);
  defer(() => client.close());
  return client;
}

describe('splitUrl', () => {
  it('splits at the first "/" after the scheme', () => {
    expect(splitUrl('http://127.0.0.1:3000/orders/1?x=1')).toEqual({ origin: 'http://127.0.0.1:3000', path: '/orders/1?x=1' });
    expect(splitUrl('http://127.0.0.1:3000/')).toEqual({ origin: 'http://127.0.0.1:3000', path: '/' });
    expect(splitUrl('http://127.0.0.1:3000')).toEqual({ origin: 'http://127.0.0.1:3000', path: '/' });
    expect(splitUrl('http://[::1]:3000?x=1')).toEqual({ origin: 'http://[::1]:3000', path: '/?x=1' });
  });
});

describe('HttpClient', () => {
  it('answers the status and the parsed JSON body', async () => {
    const server = await startServer('a');
    const client = newClient();
    const answer = await client.send<{ server: string; items: number[] }>('GET', `${server.url}/json`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ server: 'a', items: [1, 2, 3] });
    expect(answer.error).toBeUndefined();
    expect(answer.latencyMs).toBeGreaterThan(0);

    const query = await client.send('GET', `${server.url}/json-query?orderId=o-1&n=2`);
    expect(query.body).toEqual({ query: { orderId: 'o-1', n: '2' } });
  });

  it('leaves the body undefined when it is empty or not JSON, with the status', async () => {
    const server = await startServer('a');
    const client = newClient();
    const empty = await client.send('GET', `${server.url}/empty`);
    expect(empty).toMatchObject({ status: 204 });
    expect(empty.body).toBeUndefined();
    expect(empty.error).toBeUndefined();

    const text = await client.send('GET', `${server.url}/text`);
    expect(text.status).toBe(503);
    expect(text.body).toBeUndefined();
    expect(text.error).toBeUndefined();

    const garbled = await client.send('GET', `${server.url}/text-ok`);
    expect(garbled.status).toBe(200);
    expect(garbled.body).toBeUndefined();
  });

  it('cuts off an answer past maxBodyBytes and answers an error with its status; the client keeps working', async () => {
    const server = await startServer('a');
    const client = newClient({ maxBodyBytes: 256 * 1024 });
    const huge = await client.send('GET', `${server.url}/huge`);
    expect(huge.status).toBe(200);
    expect(huge.body).toBeUndefined();
    expect(huge.error).toBe('answer larger than 262144 bytes: cut off');
    const after = await client.send<{ server: string }>('GET', `${server.url}/json`);
    expect(after.body?.server).toBe('a');
    // The default limit is a mebibyte: the 8 MiB answer is refused by a default client too.
    expect((await newClient().send('GET', `${server.url}/huge`)).error).toMatch(/^answer larger than 1048576 bytes/);
  });

  it('sends a POST body as JSON with its content type, and custom headers', async () => {
    const server = await startServer('a');
    const client = newClient();
    const posted = await client.send('POST', `${server.url}/echo`, { sku: 'MONTH', quantity: 2 }, { 'x-ordeal-test': 'yes' });
    expect(posted.status).toBe(201);
    expect(posted.body).toEqual({ method: 'POST', contentType: 'application/json', custom: 'yes', body: { sku: 'MONTH', quantity: 2 } });

    // A caller's content-type wins over the default one.
    const overridden = await client.send('POST', `${server.url}/echo`, { a: 1 }, { 'content-type': 'application/json; charset=utf-8' });
    expect(overridden.body).toMatchObject({ contentType: 'application/json; charset=utf-8', body: { a: 1 } });

    // A GET sends no content type, but does send the caller's headers.
    const got = await client.send('GET', `${server.url}/headers`, undefined, { 'x-ordeal-test': 'get' });
    expect(got.body).toEqual({ custom: 'get', contentType: null });
  });

  it('answers an error, without a status, when the server does not answer in time', async () => {
    const server = await startServer('a');
    const client = newClient({ timeoutMs: 150 });
    const pending = client.send('GET', `${server.url}/hang`);
    await server.hangArrived;
    const answer = await pending;
    expect(answer.status).toBeUndefined();
    expect(answer.body).toBeUndefined();
    expect(answer.error).toMatch(/^HEADERS_TIMEOUT: /);
    expect(answer.latencyMs).toBeGreaterThanOrEqual(100);
  });

  it('cuts off a body trickled slower than the timeout allows, though it never goes idle', async () => {
    const server = await startServer('a');
    const client = newClient({ timeoutMs: 300 });
    const answer = await client.send('GET', `${server.url}/drip`);
    expect(answer.status).toBe(200);
    expect(answer.body).toBeUndefined();
    expect(answer.error).toBe('answer body still arriving 300 ms after its head: cut off');
    expect(answer.latencyMs).toBeLessThan(3000);
    expect((await client.send<{ server: string }>('GET', `${server.url}/json`)).body?.server).toBe('a');
  });

  it('answers an error when the connection is refused', async () => {
    const url = await refusedPort();
    const client = newClient();
    const answer = await client.send('GET', `${url}/json`);
    expect(answer.status).toBeUndefined();
    expect(answer.error).toMatch(/^ECONNREFUSED: /);
  });

  it('answers an error for a URL it cannot send to', async () => {
    const client = newClient();
    const answer = await client.send('GET', 'not a url');
    expect(answer.status).toBeUndefined();
    expect(answer.error).toEqual(expect.any(String));
  });

  it('talks to two origins with one client, keeping connections alive', async () => {
    const a = await startServer('a');
    const b = await startServer('b');
    const client = newClient({ connections: 4 });
    for (let round = 0; round < 4; round++) {
      const [fromA, fromB] = await Promise.all([client.send('GET', `${a.url}/json`), client.send('GET', `${b.url}/json`)]);
      expect(fromA.body).toMatchObject({ server: 'a' });
      expect(fromB.body).toMatchObject({ server: 'b' });
    }
    // Sequential requests reuse keep-alive connections. (A request sent as soon as the last one
    // answered may find that connection not yet marked free by the pool and take a second one.)
    expect(a.sockets.length).toBeLessThanOrEqual(2);
    expect(b.sockets.length).toBeLessThanOrEqual(2);
  });

  it('queues requests past its connections, answers them all, and never opens more sockets than allowed', async () => {
    const server = await startServer('a');
    const client = newClient({ connections: 2 });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, index) => client.send<{ query: { n: string } }>('GET', `${server.url}/json-query?n=${index}`)));
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 12 }, () => 200));
    expect(answers.map((answer) => answer.body?.query.n)).toEqual(Array.from({ length: 12 }, (_, index) => String(index)));
    expect(server.sockets.length).toBeLessThanOrEqual(2);
  });

  it('gives a waiting request the connection of an answer it cut off', async () => {
    const server = await startServer('a');
    const client = newClient({ connections: 1, maxBodyBytes: 64 * 1024 });
    const [huge, after] = await Promise.all([client.send('GET', `${server.url}/huge`), client.send<{ server: string }>('GET', `${server.url}/json`)]);
    expect(huge.error).toBe('answer larger than 65536 bytes: cut off');
    expect(after.status).toBe(200);
    expect(after.body?.server).toBe('a');
  });

  it('waits for queued requests on close(); destroy() answers waiting ones with an error at once', async () => {
    const server = await startServer('a');
    const closing = new HttpClient({ connections: 1 });
    const queued = Array.from({ length: 4 }, () => closing.send('GET', `${server.url}/json`));
    await closing.close();
    expect((await Promise.all(queued)).map((answer) => answer.status)).toEqual([200, 200, 200, 200]);

    const destroyed = new HttpClient({ connections: 1 });
    const hanging = destroyed.send('GET', `${server.url}/hang`);
    const waiting = destroyed.send('GET', `${server.url}/json`);
    await server.hangArrived;
    await destroyed.destroy('stopped by the test');
    const [first, second] = await Promise.all([hanging, waiting]);
    expect(first.status).toBeUndefined();
    expect(first.error).toMatch(/stopped by the test/);
    expect(second.status).toBeUndefined();
    expect(second.error).toMatch(/stopped by the test/);
  });

  it('lets destroy() cut a close() (asked twice) that waits on a hung request; all settle', async () => {
    const server = await startServer('a');
    const client = new HttpClient();
    const pending = client.send('GET', `${server.url}/hang`);
    await server.hangArrived;
    const closing = client.close();
    const closingAgain = client.close();
    await client.destroy('cut by the test');
    await expect(closing).resolves.toBeUndefined();
    await expect(closingAgain).resolves.toBeUndefined();
    expect((await pending).error).toMatch(/cut by the test/);
  });

  it('closes its connections on close(), and answers an error afterwards', async () => {
    const a = await startServer('a');
    const b = await startServer('b');
    const client = new HttpClient();
    expect((await client.send('GET', `${a.url}/json`)).status).toBe(200);
    expect((await client.send('GET', `${b.url}/json`)).status).toBe(200);
    const sockets = [...a.sockets, ...b.sockets];
    expect(sockets).toHaveLength(2);
    const socketsClosed = Promise.all(sockets.map((socket) => (socket.destroyed ? undefined : once(socket, 'close'))));
    await client.close();
    await socketsClosed;
    expect(sockets.every((socket) => socket.destroyed)).toBe(true);

    const after = await client.send('GET', `${a.url}/json`);
    expect(after.status).toBeUndefined();
    expect(after.error).toMatch(/^CLIENT_CLOSED: /);
  });
});
