/**
 * The harness's own HTTP/1.1 connections (core/http-connection.ts) against raw TCP servers that
 * answer byte by byte what a test says: the framings a shop may use, and the ways it may break them.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HttpClient } from '../core/http-client.js';
import { encodeRequest, OriginPool, originAddress, type HttpConnection, type PooledRequest } from '../core/http-connection.js';
import { createCertificateAuthority } from '../mocks/intercept/certificate-authority.js';
import { cleanupAfterEach } from './helpers/cleanups.js';

const defer = cleanupAfterEach();

interface RawServer {
  url: string;
  /** Every connection accepted, in order. */
  sockets: Socket[];
  /** Each request's head as received, in order. */
  heads: string[];
}

/**
 * A TCP server on a loopback port that reads each request head (and a body of its content-length)
 * and hands the socket to `answer`, which writes whatever bytes it likes.
 */
async function rawServer(answer: (socket: Socket, head: string, body: string, index: number) => void): Promise<RawServer> {
  const sockets: Socket[] = [];
  const heads: string[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const body = pending.subarray(end + 4, end + 4 + length).toString('utf8');
        pending = pending.subarray(end + 4 + length);
        heads.push(head);
        answer(socket, head, body, heads.length - 1);
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((closed) => server.close(() => closed()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { url: `http://127.0.0.1:${address.port}`, sockets, heads };
}

function newClient(options?: ConstructorParameters<typeof HttpClient>[0]): HttpClient {
  const client = new HttpClient(options);
  defer(() => client.destroy('test over'));
  return client;
}

const json = (text: string, extra = ''): string => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n${extra}\r\n${text}`;

describe('HttpClient on its own connections', () => {
  it('reads a chunked answer whose chunks arrive in separate writes, split inside a UTF-8 character', async () => {
    const text = JSON.stringify({ name: '张三 Ωmega', n: 1 });
    const bytes = Buffer.from(text);
    const cut = bytes.indexOf(Buffer.from('三')) + 1;
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      socket.write(`${cut.toString(16)}\r\n`);
      socket.write(Buffer.concat([bytes.subarray(0, cut), Buffer.from('\r\n')]));
      setImmediate(() => socket.write(Buffer.concat([Buffer.from(`${(bytes.length - cut).toString(16)}\r\n`), bytes.subarray(cut), Buffer.from('\r\n0\r\n\r\n')])));
    });
    const answer = await newClient().send('GET', `${server.url}/chunked`);
    expect(answer).toMatchObject({ status: 200, body: { name: '张三 Ωmega', n: 1 } });
    expect(answer.error).toBeUndefined();
  });

  it('reads an answer that runs until the server closes, then opens a new connection', async () => {
    const server = await rawServer((socket, _head, _body, index) => {
      socket.end(`HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"index":${index}}`);
    });
    const client = newClient();
    expect((await client.send('GET', `${server.url}/a`)).body).toEqual({ index: 0 });
    expect((await client.send('GET', `${server.url}/b`)).body).toEqual({ index: 1 });
    expect(server.sockets).toHaveLength(2);
  });

  it('keeps one connection for sequential requests, and stops reusing it before a keep-alive timeout the server announced', async () => {
    const kept = await rawServer((socket, _head, _body, index) => socket.write(json(`{"index":${index}}`)));
    const client = newClient();
    for (let index = 0; index < 3; index++) expect((await client.send('GET', `${kept.url}/x`)).body).toEqual({ index });
    expect(kept.sockets).toHaveLength(1);

    // `timeout=1`: the client keeps a second's margin, so an idle connection is not reused at all.
    const short = await rawServer((socket, _head, _body, index) => socket.write(json(`{"index":${index}}`, 'keep-alive: timeout=1\r\n')));
    for (let index = 0; index < 3; index++) expect((await client.send('GET', `${short.url}/x`)).body).toEqual({ index });
    expect(short.sockets).toHaveLength(3);
  });

  it('skips informational heads and answers the final status', async () => {
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n');
      socket.write(json('{"final":true}'));
    });
    expect(await newClient().send('GET', `${server.url}/x`)).toMatchObject({ status: 200, body: { final: true } });
  });

  it('answers an error when the server closes without answering, and the next request gets a new connection', async () => {
    const server = await rawServer((socket, _head, _body, index) => {
      if (index === 0) socket.destroy();
      else socket.write(json('{"ok":true}'));
    });
    const client = newClient();
    const dropped = await client.send('GET', `${server.url}/x`);
    expect(dropped.status).toBeUndefined();
    expect(dropped.error).toMatch(/^(SOCKET_CLOSED|ECONNRESET): /);
    expect((await client.send('GET', `${server.url}/x`)).body).toEqual({ ok: true });
    expect(server.sockets).toHaveLength(2);
  });

  it('answers an error for bytes that are not HTTP, and for a head that never ends', async () => {
    const garbage = await rawServer((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    const client = newClient();
    const answer = await client.send('GET', `${garbage.url}/x`);
    expect(answer.status).toBeUndefined();
    expect(answer.error).toMatch(/^MALFORMED_ANSWER: malformed answer: /);

    // A header line of 200 KiB with no end in sight: cut off past the parser's 80 KiB, not buffered for ever.
    const bloated = await rawServer((socket) => socket.write(`HTTP/1.1 200 OK\r\nx-filler: ${'a'.repeat(200 * 1024)}`));
    expect((await client.send('GET', `${bloated.url}/x`)).error).toMatch(/^MALFORMED_ANSWER: malformed answer: answer head larger than 81920 bytes/);
  });

  it('drops a connection that sends bytes nobody asked for; the next request is unaffected', async () => {
    const server = await rawServer((socket, _head, _body, index) => socket.write(index === 0 ? `${json('{"first":true}')}HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}` : json('{"second":true}')));
    const client = newClient({ connections: 1 });
    expect((await client.send('GET', `${server.url}/x`)).body).toEqual({ first: true });
    await once(server.sockets[0]!, 'close');
    expect((await client.send('GET', `${server.url}/x`)).body).toEqual({ second: true });
    expect(server.sockets).toHaveLength(2);
  });

  it('writes the host, a JSON body with its length in bytes, and the caller headers; a host of theirs wins', async () => {
    const server = await rawServer((socket, _head, body) => socket.write(json(JSON.stringify({ body }))));
    const client = newClient();
    const posted = await client.send<{ body: string }>('POST', `${server.url}/orders?x=1`, { buyer: '李四' }, { 'x-trace': 't-1' });
    expect(posted.body?.body).toBe('{"buyer":"李四"}');
    const host = server.url.slice('http://'.length);
    expect(server.heads[0]).toBe(`POST /orders?x=1 HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\nx-trace: t-1\r\ncontent-type: application/json\r\ncontent-length: 18`);

    await client.send('POST', `${server.url}/empty`, undefined, { host: 'shop.test' });
    expect(server.heads[1]).toBe('POST /empty HTTP/1.1\r\nhost: shop.test\r\nconnection: keep-alive\r\ncontent-length: 0');
    await client.send('GET', `${server.url}/plain`, undefined, { 'Content-Type': 'text/plain' });
    expect(server.heads[2]).toBe(`GET /plain HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\nContent-Type: text/plain`);
  });

  it('refuses, without sending anything, a path or header that would change the request on the wire', async () => {
    const server = await rawServer((socket) => socket.write(json('{}')));
    const client = newClient();
    const refusals = await Promise.all([
      client.send('GET', `${server.url}/orders/a b`),
      client.send('GET', `${server.url}/orders/订单`),
      client.send('GET', `${server.url}/x`, undefined, { 'x-evil': 'a\r\nx-injected: 1' }),
      client.send('GET', `${server.url}/x`, undefined, { 'bad name': 'a' }),
      client.send('POST', `${server.url}/x`, 'body', { 'content-length': '1' }),
      client.send('GET', `${server.url}/x`, undefined, { 'x-name': '张' }),
    ]);
    for (const answer of refusals) {
      expect(answer.status).toBeUndefined();
      expect(answer.error).toMatch(/^cannot send/);
    }
    expect(server.heads).toEqual([]);
  });

  it('answers an error for an origin it cannot speak to', async () => {
    const client = newClient();
    expect((await client.send('GET', 'ftp://127.0.0.1:21/x')).error).toMatch(/only http and https/);
    expect(() => originAddress('http://user:pw@127.0.0.1:80')).toThrow(/not an origin/);
    expect(originAddress('http://[::1]:8080')).toEqual({ host: '::1', port: 8080, tls: false, hostHeader: '[::1]:8080' });
  });

  it('times out an answer whose body stops, and says which part stopped', async () => {
    const server = await rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"partial":'));
    const answer = await newClient({ timeoutMs: 150 }).send('GET', `${server.url}/x`);
    expect(answer.status).toBeUndefined();
    expect(answer.error).toBe("BODY_TIMEOUT: the answer's body stopped for 150 ms");
  });

  it('speaks TLS to an https origin, and refuses a certificate nobody vouches for', async () => {
    const caDir = await mkdtemp(join(tmpdir(), 'ordeal-https-'));
    defer(() => rm(caDir, { recursive: true, force: true }));
    const leaf = (await createCertificateAuthority({ caDir })).leafFor('127.0.0.1');
    let requests = 0;
    const server = createHttpsServer({ key: leaf.keyPem, cert: leaf.certificatePem }, (_request, response) => {
      requests++;
      response.end('{}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    defer(() => new Promise<void>((closed) => server.close(() => closed())));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const answer = await newClient().send('GET', `https://127.0.0.1:${address.port}/orders`);
    expect(answer.status).toBeUndefined();
    // The run's CA is not in Node's store: the handshake fails before any request is written.
    expect(answer.error).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY): /);
    expect(requests).toBe(0);
  });

  it('skips a request that stopped wanting sending while it waited for a connection', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const server = await rawServer((socket, head) => {
      if (head.startsWith('GET /slow')) void released.then(() => socket.write(json('{"slow":true}')));
      else socket.write(json('{"fast":true}'));
    });
    const address = originAddress(server.url);
    const pool = new OriginPool(address, 5000, 1);
    defer(() => pool.destroy('test over'));
    const request = (path: string, wanted: () => boolean): PooledRequest & { outcome: Promise<string> } => {
      let settle!: (outcome: string) => void;
      const outcome = new Promise<string>((resolve) => (settle = resolve));
      return {
        request: encodeRequest('GET', path, address.hostHeader, undefined, undefined),
        started: performance.now(),
        onStart: (_connection: HttpConnection) => wanted(),
        onHead: () => undefined,
        onBody: () => true,
        onComplete: () => settle(`${path} answered`),
        onError: (error) => settle(`${path} failed: ${error.message}`),
        outcome,
      };
    };
    let cancelled = false;
    const slow = request('/slow', () => true);
    const dropped = request('/dropped', () => !cancelled);
    const last = request('/last', () => true);
    pool.send(slow);
    pool.send(dropped);
    pool.send(last);
    cancelled = true;
    release();
    expect(await slow.outcome).toBe('/slow answered');
    expect(await last.outcome).toBe('/last answered');
    expect(server.heads.map((head) => head.split(' ')[1])).toEqual(['/slow', '/last']);
  });
});
