/**
 * The harness's own HTTP/1.1 client connections, under both of its clients: the buyers'
 * (`core/http-client.ts`) and the provider's payment callbacks (`mocks/payment/callback-sender.ts`).
 * `HttpConnection` is a socket, a strict response parser (`core/http-response-parser.ts`) and at
 * most one request at a time; `OriginPool` keeps an origin's connections (a stack of idle ones, a
 * FIFO of waiting requests); `encodeRequest` writes a request as one string.
 *
 * Why not undici here: every buyer request and poll passes through this, and undici's own
 * per-request path (a `Request` object with its validation, a `Buffer` per header, an extra
 * `setImmediate` before each request on a reused socket) kept the client at 0.88–0.98 of
 * autocannon's CPU per request (bench/RESULTS.md, "Issue 15: leaner driver"). Here a request is one
 * string written in one call, and on plain TCP the socket reads into one buffer shared by every
 * connection (`onread`), which skips the stream machinery and a `Buffer` per read.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { MalformedAnswer, ResponseParser, type ResponseEvents } from './http-response-parser.js';

/** Where an origin's connections go, worked out once per origin. */
export interface OriginAddress {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** The `host` header's value: the origin's host and port as written. */
  readonly hostHeader: string;
}

/** Parses `http://host:port` (or https); throws a clear error for anything else. */
export function originAddress(origin: string): OriginAddress {
  const url = new URL(origin);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`cannot send to ${origin}: only http and https are spoken`);
  if (url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '') throw new Error(`${origin} is not an origin (scheme, host and port only)`);
  const tls = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? (tls ? 443 : 80) : Number(url.port), tls, hostHeader: url.host };
}

/** What a connection tells the exchange it carries. */
export interface ResponseSink {
  /** The final status line arrived (1xx heads are skipped). */
  onHead(status: number): void;
  /** A piece of the body; the chunk is only valid during the call. `false`: stop, the connection is dropped. */
  onBody(chunk: Buffer): boolean;
  onComplete(): void;
  onError(error: TransportError): void;
}

/** A failure with no answer: `code` names it (a Node code such as ECONNREFUSED, or one of ours). */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request waiting for, or on, a connection of an `OriginPool`. */
export interface PooledRequest extends ResponseSink {
  /** Head and body, encoded (`encodeRequest`). */
  readonly request: string;
  /** When it was asked for (`performance.now()`): an idle connection past its keep-alive is not used then. */
  readonly started: number;
  /** It is going on `connection` now; `false`: it no longer wants sending (cancelled while waiting), and is skipped. */
  onStart?(connection: HttpConnection): boolean;
}

/** The connection's owner: told when a connection can take the next request, or is gone. */
export interface ConnectionOwner {
  free(connection: HttpConnection): void;
  gone(connection: HttpConnection): void;
}

/** Every plain-TCP connection reads into this; a read is parsed at once, and bodies are copied out. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** How long before the server's announced keep-alive end a connection stops being reused, ms. */
const KEEP_ALIVE_MARGIN_MS = 1000;

export class HttpConnection implements ResponseEvents {
  private readonly socket: Socket;
  private readonly parser = new ResponseParser(this);
  private sink: ResponseSink | undefined = undefined;
  /** The answer in hand has its head (its status is final). */
  private headed = false;
  private keepAlive = true;
  private completed = false;
  private dead = false;
  /** Past this (performance.now()), the server may already have closed the idle connection. */
  reusableUntil = Number.POSITIVE_INFINITY;

  constructor(
    address: OriginAddress,
    private readonly timeoutMs: number,
    private readonly owner: ConnectionOwner,
  ) {
    if (address.tls) {
      this.socket = connectTls({ host: address.host, port: address.port, servername: address.host });
      this.socket.on('data', (chunk: Buffer) => this.onRead(chunk, chunk.length));
    } else {
      this.socket = connectTcp({ host: address.host, port: address.port, onread: { buffer: READ_BUFFER, callback: (length) => this.onRead(READ_BUFFER, length) } });
      this.socket.setNoDelay(true);
    }
    // Idle or waiting on an answer, no byte for this long: the connection is dropped.
    this.socket.setTimeout(timeoutMs, () => this.onTimeout());
    this.socket.on('error', (error: Error & { code?: string }) => this.fail(new TransportError(error.code ?? 'SOCKET_ERROR', error.message)));
    this.socket.on('close', () => this.onClose());
  }

  /** Sends one request (its head and body already encoded); the answer goes to `sink`. */
  send(request: string, sink: ResponseSink): void {
    this.sink = sink;
    this.headed = false;
    this.completed = false;
    this.socket.write(request);
  }

  /** Drops the connection now; the exchange on it, if any, is told nothing more. */
  drop(): void {
    this.sink = undefined;
    this.parser.stop();
    this.socket.destroy();
  }

  /** Drops the connection, answering the exchange on it with `error`. */
  destroy(error: TransportError): void {
    this.fail(error);
  }

  onResponseHead(status: number, keepAlive: boolean, keepAliveMs: number | undefined): void {
    // Bytes no request asked for (or more after an answer): nothing may use this connection.
    if (this.sink === undefined || this.completed) throw new MalformedAnswer('an answer no request asked for');
    this.headed = true;
    this.keepAlive = keepAlive;
    this.reusableUntil = keepAliveMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + keepAliveMs - KEEP_ALIVE_MARGIN_MS;
    this.sink.onHead(status);
  }

  onResponseBody(piece: Buffer): boolean {
    const sink = this.sink;
    if (sink === undefined || sink.onBody(piece)) return true;
    // The exchange cut the answer off (too large, too slow): it has answered; the rest is unread.
    this.sink = undefined;
    this.socket.destroy();
    return false;
  }

  onResponseComplete(): void {
    this.completed = true;
  }

  /** @returns true: keep reading. */
  private onRead(buffer: Buffer, length: number): boolean {
    let failure: Error | undefined;
    try {
      this.parser.execute(buffer, 0, length);
    } catch (error) {
      failure = error as Error;
    }
    // An answer completed in this read is delivered even if bytes after it broke the connection.
    if (this.completed) this.complete(failure === undefined);
    if (failure !== undefined) this.fail(new TransportError('MALFORMED_ANSWER', `malformed answer: ${failure.message}`));
    return true;
  }

  private complete(reusable: boolean): void {
    const sink = this.sink;
    this.sink = undefined;
    this.completed = false;
    const keep = reusable && this.keepAlive;
    if (!keep) this.drop();
    sink?.onComplete();
    if (keep && !this.dead) this.owner.free(this);
  }

  private onTimeout(): void {
    if (this.sink === undefined) {
      // Idle for the whole timeout: not worth keeping.
      this.socket.destroy();
      return;
    }
    this.fail(
      this.headed
        ? new TransportError('BODY_TIMEOUT', `the answer's body stopped for ${this.timeoutMs} ms`)
        : new TransportError('HEADERS_TIMEOUT', `no answer within ${this.timeoutMs} ms`),
    );
  }

  private onClose(): void {
    // An answer whose body runs until the connection closes ends here.
    if (this.sink !== undefined && this.headed && this.parser.finish()) this.complete(false);
    this.fail(
      this.headed
        ? new TransportError('SOCKET_CLOSED', 'the server closed the connection in the middle of its answer')
        : new TransportError('SOCKET_CLOSED', 'the server closed the connection before it answered'),
    );
  }

  /** The connection is over: the exchange on it (if any) is answered with `error`, the owner told once. */
  private fail(error: TransportError): void {
    const sink = this.sink;
    this.sink = undefined;
    this.parser.stop();
    if (!this.socket.destroyed) this.socket.destroy();
    sink?.onError(error);
    if (this.dead) return;
    this.dead = true;
    this.owner.gone(this);
  }
}

/**
 * The connections to one origin: up to `max` of them (each opened on first need), a stack of idle
 * ones, and the requests waiting for one, first come first served.
 */
export class OriginPool implements ConnectionOwner {
  private readonly idle: HttpConnection[] = [];
  private readonly busy = new Set<HttpConnection>();
  private open = 0;
  private waiting: Array<PooledRequest | undefined> = [];
  private waitingHead = 0;
  private ended = false;
  private whenDrained: (() => void) | undefined = undefined;
  private closing: Promise<void> | undefined = undefined;

  constructor(
    readonly address: OriginAddress,
    private readonly timeoutMs: number,
    private readonly max: number,
  ) {}

  send(request: PooledRequest): void {
    let connection = this.takeIdle(request.started);
    if (connection === undefined && this.open < this.max) connection = this.connect();
    if (connection === undefined) this.waiting.push(request);
    else this.start(connection, request);
  }

  /** `connection` answered and stays open: the next waiting request takes it, or it goes idle. */
  free(connection: HttpConnection): void {
    this.busy.delete(connection);
    const next = this.nextWaiting();
    if (next !== undefined) this.start(connection, next);
    else this.idle.push(connection);
    this.checkDrained();
  }

  /** `connection` is closed (by either side, or failed): a waiting request gets a new one. */
  gone(connection: HttpConnection): void {
    this.open--;
    if (!this.busy.delete(connection)) {
      const index = this.idle.indexOf(connection);
      if (index >= 0) this.idle.splice(index, 1);
    }
    if (!this.ended && this.open < this.max) {
      const next = this.nextWaiting();
      if (next !== undefined) this.start(this.connect(), next);
    }
    this.checkDrained();
  }

  /** Waits for every request sent or waiting to be answered, then closes the connections (once, however often asked). */
  close(): Promise<void> {
    this.closing ??= this.drainAndClose();
    return this.closing;
  }

  /** Ends every request now, waiting ones included, answered with `reason`. */
  destroy(reason: string): void {
    this.ended = true;
    const error = new TransportError('CLIENT_DESTROYED', reason);
    for (let next = this.nextWaiting(); next !== undefined; next = this.nextWaiting()) next.onError(error);
    for (const connection of [...this.busy]) connection.destroy(error);
    for (const connection of this.idle.splice(0)) connection.drop();
    this.checkDrained();
  }

  private async drainAndClose(): Promise<void> {
    if (this.busy.size > 0 || this.waitingHead < this.waiting.length) {
      await new Promise<void>((drained) => {
        this.whenDrained = drained;
      });
    }
    this.ended = true;
    for (const connection of this.idle.splice(0)) connection.drop();
  }

  private checkDrained(): void {
    if (this.whenDrained !== undefined && this.busy.size === 0 && this.waitingHead === this.waiting.length) this.whenDrained();
  }

  /** The most recently used idle connection the server has not announced it may have closed by `now`. */
  private takeIdle(now: number): HttpConnection | undefined {
    let connection = this.idle.pop();
    while (connection !== undefined && now > connection.reusableUntil) {
      connection.drop();
      connection = this.idle.pop();
    }
    return connection;
  }

  private nextWaiting(): PooledRequest | undefined {
    if (this.waitingHead === this.waiting.length) return undefined;
    const next = this.waiting[this.waitingHead]!;
    this.waiting[this.waitingHead++] = undefined;
    if (this.waitingHead === this.waiting.length) {
      this.waiting = [];
      this.waitingHead = 0;
    }
    return next;
  }

  /** Puts `request` on `connection`; one that no longer wants sending (cancelled meanwhile) passes it to the next. */
  private start(connection: HttpConnection, request: PooledRequest): void {
    let next: PooledRequest | undefined = request;
    while (next?.onStart !== undefined && !next.onStart(connection)) next = this.nextWaiting();
    if (next === undefined) {
      this.idle.push(connection);
      this.checkDrained();
      return;
    }
    this.busy.add(connection);
    connection.send(next.request, next);
  }

  private connect(): HttpConnection {
    this.open++;
    return new HttpConnection(this.address, this.timeoutMs, this);
  }
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request target as sent on the wire: a path of visible ASCII (a caller encodes the rest). */
const REQUEST_PATH = /^\/[\x21-\x7e]*$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/** Headers the client writes itself: a caller's would contradict them. */
const CLIENT_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect']);
const BODY_METHODS: ReadonlySet<HttpMethod> = new Set(['POST', 'PUT', 'PATCH']);

/**
 * A request's head and body as one string, as the connections write it (`PooledRequest.request`):
 * `host` first (RFC 9110 §7.2; a caller's replaces the origin's), keep-alive asked for (an
 * HTTP/1.0-minded server closes otherwise), the caller's headers as given, and a JSON content type
 * for a non-string body unless they name one.
 */
export function encodeRequest(method: HttpMethod, path: string, hostHeader: string, body: unknown, headers: Record<string, string> | undefined): string {
  if (!REQUEST_PATH.test(path)) throw new Error(`cannot send to path ${JSON.stringify(path.slice(0, 200))}: only visible ASCII may go on the wire`);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  let host = hostHeader;
  let lines = '';
  let typed = typeof body === 'string' || body === undefined;
  if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name]!;
      const lower = name.toLowerCase();
      if (!HEADER_NAME.test(name) || CLIENT_HEADERS.has(lower)) throw new Error(`cannot send the header ${JSON.stringify(name)}`);
      if (!HEADER_VALUE.test(value)) throw new Error(`cannot send the header ${name}: its value has characters other than visible ASCII`);
      if (lower === 'host') host = value;
      else lines += `${name}: ${value}\r\n`;
      if (lower === 'content-type') typed = true;
    }
  }
  const head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n${lines}${typed ? '' : 'content-type: application/json\r\n'}`;
  if (payload !== undefined) return `${head}content-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`;
  return BODY_METHODS.has(method) ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`;
}
