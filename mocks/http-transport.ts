/**
 * The HTTP transport: serves a mock's route list with native fastify routes (the hot path under
 * load). It only translates — fastify request → MockRequest, MockReply → the wire — and applies
 * the reply's injected latency and socket faults. No Fetch Request/Response objects on this path.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { OrdealError } from '../core/errors.js';
import { isBindableHost } from '../core/network-scope.js';
import { parseRequestBody, type MockReply, type MockRequest, type MockRoute, type SocketFault } from './mock-types.js';


export interface ServeOptions {
  /** Interface to bind: loopback, or in a cluster run (core/network-scope.ts) every interface. @default "127.0.0.1" */
  host?: string;
  /** The host name others reach it at, when that is not the bound address (a Kubernetes Service name). @default the bound address */
  advertisedHost?: string;
  /** Name of the mock, used in error messages. */
  name: string;
  /** A fixed port (a target profile's `mocks.ports`, for a shop configured once). @default 0: one the OS picks */
  port?: number;
  /** Where the fixed port was set (e.g. `target.yaml: mocks.ports.stock`), named when it is taken. */
  portField?: string;
  /** How a `dribble` fault trickles the answer. @default { chunkBytes: 4, intervalMs: 20 } */
  dribble?: { chunkBytes: number; intervalMs: number };
}

export interface ServedRoutes {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  url: string;
  /** Cancels delayed replies and socket faults in progress, drops every connection, stops listening. */
  close(): Promise<void>;
}

/** Header values as one string each (repeated headers joined, as Node does for most). */
function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function flattenQuery(query: unknown): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  if (query && typeof query === 'object') {
    for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
      if (typeof value === 'string') flat[name] = value;
      else if (Array.isArray(value) && typeof value[0] === 'string') flat[name] = value[0];
    }
  }
  return flat;
}

/** What the content-type parser hands a route: the body as received and as parsed. */
interface ReceivedBody {
  rawBody: string;
  value: unknown;
}

function isReceivedBody(body: unknown): body is ReceivedBody {
  return typeof body === 'object' && body !== null && typeof (body as ReceivedBody).rawBody === 'string' && 'value' in body;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}

/** The head (status line and headers) and body bytes of an HTTP/1.1 answer, for faults that write to the socket themselves. */
function rawResponse(reply: MockReply): { head: Buffer; body: Buffer } {
  const text = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  const body = Buffer.from(text, 'utf8');
  const lines = [`HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Unknown'}`];
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  if (reply.body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
    headers['content-type'] = typeof reply.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  }
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'content-length' && name.toLowerCase() !== 'connection') lines.push(`${name}: ${value}`);
  }
  lines.push(`content-length: ${body.length}`, 'connection: close', '', '');
  return { head: Buffer.from(lines.join('\r\n'), 'latin1'), body };
}

/** A malformed answer: a valid head promising the whole body, then only the first half of it. */
function truncatedResponse(reply: MockReply): Buffer {
  // With nothing to cut, promise a body that never comes.
  const whole = reply.body === undefined || reply.body === '' ? { ...reply, body: { code: 'OK' } } : reply;
  const { head, body } = rawResponse(whole);
  return Buffer.concat([head, body.subarray(0, Math.floor(body.length / 2))]);
}

/**
 * The error for a listener that could not bind: a fixed port already taken (or not ours to bind) is
 * the user's to fix, named with the field that set it; anything else is passed on.
 */
export function listenError(error: unknown, what: string, host: string, port: number, portField?: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (port === 0 || (code !== 'EADDRINUSE' && code !== 'EACCES')) return error;
  const why = code === 'EADDRINUSE' ? 'another process listens there' : 'the port is not ours to bind';
  return new OrdealError('ORDEAL_ERR_PORT_IN_USE', `${what} cannot listen on ${host}:${port}: ${why} (${code})${portField ? `; the port is set by ${portField}` : ''}`, { cause: error });
}

/** Serves `routes` on a fresh fastify instance bound to a loopback port (chosen by the OS unless `port` is given). */
export async function serveRoutes(routes: readonly MockRoute[], options: ServeOptions): Promise<ServedRoutes> {
  const host = options.host ?? '127.0.0.1';
  if (!isBindableHost(host)) {
    throw new OrdealError('ORDEAL_ERR_UNSAFE_TARGET', `the ${options.name} mock may not bind to "${host}": only loopback, or every interface in a cluster run`);
  }
  const dribble = options.dribble ?? { chunkBytes: 4, intervalMs: 20 };
  const app = Fastify({ logger: false, forceCloseConnections: true, return503OnClosing: false });

  let closing = false;
  /** Cancels a pending latency timer: the waiting reply is dropped with its connection. */
  const pendingDelays = new Set<() => void>();
  const heldSockets = new Set<Socket>();
  const dribbleTimers = new Set<NodeJS.Timeout>();

  // Bodies are kept as received (signatures are over the bytes) and parsed by `parseRequestBody`;
  // shops send `content-type: application/json` with an empty body (close, fulfil): that is accepted.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const rawBody = typeof body === 'string' ? body : body.toString('utf8');
    const parsed = parseRequestBody(rawBody, request.headers['content-type']);
    if ('invalid' in parsed) {
      const error = new Error(parsed.invalid) as Error & { statusCode: number };
      error.statusCode = 400;
      done(error, undefined);
      return;
    }
    const received: ReceivedBody = { rawBody, value: parsed.body };
    done(null, received);
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    void reply.code(status).send({ code: status < 500 ? 'INVALID_REQUEST' : 'SYSTEM_ERROR', message: error.message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  function hold(socket: Socket): void {
    heldSockets.add(socket);
    socket.once('close', () => heldSockets.delete(socket));
    // A fault that starts while the server closes must not outlive it.
    if (closing) socket.destroy();
  }

  /**
   * Breaks the connection the way `fault` says, bypassing fastify's reply:
   * - `reset`: TCP RST (the client sees ECONNRESET);
   * - `hang`: never answers (the socket is destroyed on close());
   * - `empty`: the connection closes with zero bytes sent;
   * - `malformed`: status line and headers promising the whole body, half of it, then close;
   * - `dribble`: the complete, valid answer, `chunkBytes` every `intervalMs`.
   */
  function applySocketFault(fault: SocketFault, reply: MockReply, request: FastifyRequest, raw: FastifyReply): void {
    raw.hijack();
    const socket = request.raw.socket;
    hold(socket);
    if (socket.destroyed) return;
    switch (fault) {
      case 'reset':
        socket.resetAndDestroy();
        return;
      case 'hang':
        return;
      case 'empty':
        socket.end(() => socket.destroy());
        return;
      case 'malformed':
        socket.write(truncatedResponse(reply), () => socket.destroy());
        return;
      case 'dribble': {
        const { head, body } = rawResponse(reply);
        const bytes = Buffer.concat([head, body]);
        let offset = 0;
        let timer: NodeJS.Timeout | undefined;
        socket.once('close', () => {
          if (timer) {
            clearTimeout(timer);
            dribbleTimers.delete(timer);
          }
        });
        const step = (): void => {
          timer = undefined;
          if (socket.destroyed) return;
          const chunk = bytes.subarray(offset, offset + dribble.chunkBytes);
          offset += chunk.length;
          if (offset >= bytes.length) {
            socket.end(chunk);
            return;
          }
          socket.write(chunk);
          const next = setTimeout(() => {
            dribbleTimers.delete(next);
            step();
          }, dribble.intervalMs);
          timer = next;
          dribbleTimers.add(next);
        };
        step();
        return;
      }
    }
  }

  function send(reply: MockReply, request: FastifyRequest, raw: FastifyReply): void {
    if (reply.socketFault) {
      applySocketFault(reply.socketFault, reply, request, raw);
      return;
    }
    raw.code(reply.status);
    if (reply.headers) void raw.headers(reply.headers);
    if (reply.body === undefined) void raw.send();
    else void raw.send(reply.body);
  }

  function deliver(reply: MockReply, request: FastifyRequest, raw: FastifyReply): void {
    const delayMs = reply.delayMs ?? 0;
    if (delayMs <= 0 || closing) {
      send(reply, request, raw);
      return;
    }
    const timer = setTimeout(() => {
      pendingDelays.delete(cancel);
      send(reply, request, raw);
    }, delayMs);
    const cancel = (): void => {
      clearTimeout(timer);
      pendingDelays.delete(cancel);
      raw.hijack();
      request.raw.socket.destroy();
    };
    pendingDelays.add(cancel);
  }

  function fail(error: unknown, raw: FastifyReply): void {
    if (raw.sent) return;
    void raw.code(500).send({ code: 'SYSTEM_ERROR', message: error instanceof Error ? error.message : String(error) });
  }

  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.path,
      handler(request, raw) {
        const mockRequest: MockRequest = {
          method: route.method,
          path: request.url.split('?')[0] ?? request.url,
          params: (request.params ?? {}) as Record<string, string>,
          query: flattenQuery(request.query),
          headers: flattenHeaders(request.headers),
          body: isReceivedBody(request.body) ? request.body.value : undefined,
          rawBody: isReceivedBody(request.body) ? request.body.rawBody : '',
          target: request.url,
          ...(request.socket.remoteAddress === undefined ? {} : { remoteAddress: request.socket.remoteAddress }),
        };
        let result: MockReply | Promise<MockReply>;
        try {
          result = route.handle(mockRequest);
        } catch (error) {
          fail(error, raw);
          return;
        }
        if (isPromise(result)) {
          result.then(
            (reply) => deliver(reply, request, raw),
            (error: unknown) => fail(error, raw),
          );
        } else {
          deliver(result, request, raw);
        }
      },
    });
  }

  const port = options.port ?? 0;
  try {
    await app.listen({ host: host === '[::1]' ? '::1' : host, port });
  } catch (error) {
    await app.close();
    throw listenError(error, `the ${options.name} mock`, host, port, options.portField);
  }
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new OrdealError('ORDEAL_ERR_HARNESS', `the ${options.name} mock has no TCP address`);
  const urlHost = urlHostOf(options.advertisedHost ?? address.address);

  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    close(): Promise<void> {
      closed ??= (async () => {
        closing = true;
        for (const cancel of [...pendingDelays]) cancel();
        for (const timer of dribbleTimers) clearTimeout(timer);
        dribbleTimers.clear();
        for (const socket of heldSockets) socket.destroy();
        heldSockets.clear();
        await app.close();
      })();
      return closed;
    },
  };
}

/** A host as it stands in a URL: IPv6 addresses in brackets. */
export function urlHostOf(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
