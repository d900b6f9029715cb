/**
 * The harness's HTTP client for contract v1 shops and for the provider's cashier: pooled
 * keep-alive connections, bounded timeouts, and results that are data (a shop's 503 or a reset is
 * an answer to journal, not an exception).
 *
 * Every buyer request and poll goes through `send()`, so it is kept cheap (bench/RESULTS.md,
 * "Issue 15: leaner driver"): per origin, undici `Client`s (one connection each) kept on a stack of
 * idle ones and a FIFO of waiting requests, so picking a connection costs O(1) (undici's `Pool` scans
 * its clients); one `Exchange` object per request is the whole handler, in undici's raw handler
 * form (the controller form wraps every request in two more objects and parses every response's
 * headers into an object, which we never read); no URL parsing per request.
 */
import { Client, errors, type Dispatcher } from 'undici';

export interface HttpAnswer<T = unknown> {
  /** HTTP status, or undefined when no answer came (reset, timeout, refused). */
  status?: number;
  body?: T;
  /** Transport error message when there was no answer. */
  error?: string;
  latencyMs: number;
}

export interface ShopOrderView {
  orderId: string;
  status: string;
  reason?: string;
  amount?: number;
  /** Where the buyer pays: the provider's trade number and/or the link (a cashier page, a QR code's URL). */
  payment?: { tradeNo?: string; payUrl?: string };
  delivery?: { cards: Array<{ code: string; pin?: string }>; deliveredAt?: string };
  error?: { code: string; message?: string };
}

export interface CatalogView {
  skus: Array<{ sku: string; name?: string; price: number; currency?: string }>;
  coupons?: Array<{ code: string; discount: number; minAmount: number }>;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpClientOptions {
  /** Keep-alive connections per origin. @default 256 */
  connections?: number;
  /**
   * Headers timeout and body (idle) timeout of each request, and the longest a body may take to
   * arrive after its head (a body trickled a byte at a time never goes idle), ms. @default 10_000
   */
  timeoutMs?: number;
  /** Largest answer body read, bytes; a larger one is cut off and answered as an error. @default 1 MiB */
  maxBodyBytes?: number;
}

/** Default `maxBodyBytes`: far above any order view or catalogue, far below what a hostile shop can send. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** How long an idle keep-alive connection is kept, ms. */
const KEEP_ALIVE_MS = 10_000;

/**
 * Splits `http://host:port/path?query` into its origin and its path (with the query), at the first
 * "/" after the scheme's "//": cheaper than `new URL()` for URLs the harness built itself.
 */
export function splitUrl(url: string): { origin: string; path: string } {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  if (slash >= 0) return { origin: url.slice(0, slash), path: url.slice(slash) };
  const query = url.indexOf('?', url.indexOf('//') + 2);
  return query >= 0 ? { origin: url.slice(0, query), path: `/${url.slice(query)}` } : { origin: url, path: '/' };
}


function describeTransportError(error: Error & { code?: unknown }): string {
  return typeof error.code === 'string' && error.code !== '' ? `${error.code}: ${error.message}` : error.message;
}

/** Sent with a JSON body when the caller names no headers: built once, not per request. */
const JSON_CONTENT_TYPE: readonly string[] = Object.freeze(['content-type', 'application/json']);

interface ExchangeLimits {
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
}

/**
 * One request and its answer: the dispatch options and, in undici's raw handler form, the handler
 * that collects the body and settles the caller's promise once.
 */
class Exchange<T> implements Dispatcher.DispatchHandler {
  status = 0;
  private received = 0;
  private headAt = 0;
  private settled = false;
  private released = false;
  /** The body's first chunk; later ones (rare for a loopback answer) go to `more`. */
  private first: Buffer | undefined = undefined;
  private more: Buffer[] | undefined = undefined;
  private abort: ((error?: Error) => void) | undefined = undefined;
  client: Client | undefined = undefined;

  constructor(
    readonly request: Dispatcher.DispatchOptions,
    private readonly started: number,
    private readonly limits: ExchangeLimits,
    private readonly connections: OriginConnections,
    private readonly settle: (answer: HttpAnswer<T>) => void,
  ) {}

  onConnect(abort: (error?: Error) => void): void {
    this.abort = abort;
  }

  onHeaders(statusCode: number): boolean {
    // 1xx informational heads come first; the last call has the final status.
    this.status = statusCode;
    this.headAt = performance.now();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return true;
    this.received += chunk.length;
    const { timeoutMs, maxBodyBytes } = this.limits;
    // Checked as chunks arrive (no timer per request): a trickle is cut at its next byte.
    if (performance.now() - this.headAt > timeoutMs) {
      this.cutOff(`answer body still arriving ${timeoutMs} ms after its head: cut off`, 'answer too slow');
      return true;
    }
    // A body past the limit is cut off: its size, not its content, is the answer.
    if (this.received > maxBodyBytes) {
      this.cutOff(`answer larger than ${maxBodyBytes} bytes: cut off`, 'answer too large');
      return true;
    }
    if (this.first === undefined) this.first = chunk;
    else (this.more ??= []).push(chunk);
    return true;
  }

  onComplete(): void {
    this.release();
    if (this.settled) return;
    let parsed: T | undefined;
    const text = this.bodyText();
    if (text !== '') {
      try {
        parsed = JSON.parse(text) as T;
      } catch {
        parsed = undefined;
      }
    }
    this.finish({ status: this.status, body: parsed, latencyMs: performance.now() - this.started });
  }

  onError(error: Error): void {
    this.release();
    this.finish({ error: describeTransportError(error), latencyMs: performance.now() - this.started });
  }

  /** Settles without a dispatch (the client is closed, the URL unusable). */
  fail(error: Error): void {
    this.finish({ error: describeTransportError(error), latencyMs: performance.now() - this.started });
  }

  private finish(answer: HttpAnswer<T>): void {
    if (this.settled) return;
    this.settled = true;
    this.first = undefined;
    this.more = undefined;
    this.settle(answer);
  }

  private cutOff(error: string, reason: string): void {
    this.finish({ status: this.status, error, latencyMs: performance.now() - this.started });
    this.abort?.(new Error(reason));
  }

  /** undici is done with the request (answered or failed): its connection may take the next one. */
  private release(): void {
    if (this.released || this.client === undefined) return;
    this.released = true;
    this.connections.release(this.client);
  }

  private bodyText(): string {
    if (this.first === undefined) return '';
    if (this.more === undefined) return this.first.toString('utf8');
    return Buffer.concat([this.first, ...this.more]).toString('utf8');
  }
}

/**
 * The connections to one origin: up to `max` undici `Client`s (one socket each, opened on first
 * use), a stack of idle ones, and the requests waiting for one, first come first served.
 */
class OriginConnections {
  private readonly clients: Client[] = [];
  private readonly idle: Client[] = [];
  private waiting: Array<Exchange<unknown> | undefined> = [];
  private waitingHead = 0;
  private active = 0;
  private whenDrained: (() => void) | undefined = undefined;
  private closing: Promise<void> | undefined = undefined;

  constructor(
    private readonly origin: string,
    private readonly options: Client.Options,
    private readonly max: number,
  ) {
    // Validates the origin now (a bad one throws here, before anything is kept).
    this.idle.push(this.open());
  }

  send(exchange: Exchange<unknown>): void {
    let client = this.idle.pop();
    if (client === undefined && this.clients.length < this.max) client = this.open();
    if (client === undefined) {
      this.waiting.push(exchange);
      return;
    }
    this.start(client, exchange);
  }

  /** A request on `client` is over: the next waiting one takes it, or it goes idle. */
  release(client: Client): void {
    this.active--;
    if (this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined;
      if (this.waitingHead === this.waiting.length) {
        this.waiting = [];
        this.waitingHead = 0;
      }
      this.active++;
      // Not from inside undici's callback: the connection finishes its own bookkeeping first (an
      // aborted answer destroys its socket after telling us; the next request then takes a new one).
      queueMicrotask(() => {
        this.active--;
        this.start(client, next);
      });
      return;
    }
    this.idle.push(client);
    if (this.active === 0 && this.whenDrained !== undefined) this.whenDrained();
  }

  /** Waits for every request sent or waiting to be answered, then closes the connections (once, however often asked). */
  close(): Promise<void> {
    this.closing ??= this.drainAndClose();
    return this.closing;
  }

  private async drainAndClose(): Promise<void> {
    if (this.active > 0 || this.waitingHead < this.waiting.length) {
      await new Promise<void>((drained) => {
        this.whenDrained = drained;
      });
    }
    // A client destroyed meanwhile (`destroy()` after `close()`) is already closed.
    await Promise.all(this.clients.map((client) => (client.destroyed ? undefined : client.close())));
  }

  /** Ends every request now, waiting ones included, answered with `reason`. */
  async destroy(reason: string): Promise<void> {
    const waiting = this.waiting.slice(this.waitingHead);
    this.waiting = [];
    this.waitingHead = 0;
    for (const exchange of waiting) exchange?.fail(new errors.ClientDestroyedError(reason));
    await Promise.all(this.clients.map((client) => client.destroy(new Error(reason))));
  }

  private start(client: Client, exchange: Exchange<unknown>): void {
    this.active++;
    exchange.client = client;
    // A dispatch that fails at once (a closed client, a header undici refuses) calls onError.
    client.dispatch(exchange.request, exchange);
  }

  private open(): Client {
    const client = new Client(this.origin, this.options);
    this.clients.push(client);
    return client;
  }
}

export class HttpClient {
  private readonly origins = new Map<string, OriginConnections>();
  private readonly connections: number;
  private readonly limits: ExchangeLimits;
  private readonly clientOptions: Client.Options;
  private closed = false;

  constructor(options: HttpClientOptions = {}) {
    this.connections = options.connections ?? 256;
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.limits = { timeoutMs, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES };
    this.clientOptions = { keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
  }

  /**
   * One request; never rejects. `body`: a string is sent as it is, anything else as JSON. A transport failure (refused, reset, timeout, a malformed URL) is
   * an answer with `error` and no `status`; a body that is empty or not JSON leaves `body` undefined.
   */
  send<T>(method: HttpMethod, url: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer<T>> {
    const started = performance.now();
    return new Promise<HttpAnswer<T>>((settle) => {
      let exchange: Exchange<T>;
      let connections: OriginConnections;
      try {
        const { origin, path } = splitUrl(url);
        connections = this.originConnections(origin);
        const request: Dispatcher.DispatchOptions = {
          method,
          path,
          headers: requestHeaders(body, headers),
          // A string is sent as it is (the caller names its content type); anything else as JSON.
          body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
        };
        exchange = new Exchange<T>(request, started, this.limits, connections, settle);
      } catch (error) {
        // A URL undici refuses (bad origin), a client already closed, a body JSON cannot carry.
        settle({ error: describeTransportError(error as Error), latencyMs: performance.now() - started });
        return;
      }
      connections.send(exchange as Exchange<unknown>);
    });
  }

  /** Closes every connection once the requests sent or waiting are answered; `send()` afterwards answers an error. */
  async close(): Promise<void> {
    // The origins stay known until they are closed, so that a destroy() meanwhile reaches them.
    this.closed = true;
    await Promise.all([...this.origins.values()].map((connections) => connections.close()));
    this.origins.clear();
  }

  /** Closes at once: requests still waiting on an answer end now, answered with an error. */
  async destroy(reason = 'the client was stopped'): Promise<void> {
    const origins = [...this.origins.values()];
    this.origins.clear();
    this.closed = true;
    await Promise.all(origins.map((connections) => connections.destroy(reason)));
  }

  private originConnections(origin: string): OriginConnections {
    if (this.closed) throw new errors.ClientClosedError();
    let connections = this.origins.get(origin);
    if (connections === undefined) {
      connections = new OriginConnections(origin, this.clientOptions, this.connections);
      this.origins.set(origin, connections);
    }
    return connections;
  }
}

/** The caller's headers, plus a JSON content type for a non-string body unless the caller names one. */
function requestHeaders(body: unknown, headers: Record<string, string> | undefined): Dispatcher.DispatchOptions['headers'] {
  const jsonBody = body !== undefined && typeof body !== 'string';
  if (headers === undefined) return jsonBody ? (JSON_CONTENT_TYPE as string[]) : null;
  return jsonBody ? { 'content-type': 'application/json', ...headers } : headers;
}
