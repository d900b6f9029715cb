/**
 * The harness's HTTP client for contract v1 shops and for the provider's cashier: pooled
 * keep-alive connections, bounded timeouts, and results that are data (a shop's 503 or a reset is
 * an answer to journal, not an exception).
 *
 * Every buyer request and poll goes through `send()`, so it is kept cheap (bench/RESULTS.md,
 * "Issue 15: leaner driver"): per origin, connections (`core/http-connection.ts`) kept on a stack of
 * idle ones and a FIFO of waiting requests, so picking a connection costs O(1); one `Exchange`
 * object per request; the request's head and body are one string; no URL parsing per request.
 */
import { encodeRequest, OriginPool, originAddress, TransportError, type HttpMethod, type PooledRequest } from './http-connection.js';

export type { HttpMethod } from './http-connection.js';

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

export interface HttpClientOptions {
  /** Keep-alive connections per origin. @default 256 */
  connections?: number;
  /**
   * The longest a connection may go without a byte while it waits on an answer (its head or more of
   * its body) or sits idle, and the longest a body may take to arrive after its head (a body
   * trickled a byte at a time never goes idle), ms. @default 10_000
   */
  timeoutMs?: number;
  /** Largest answer body read, bytes; a larger one is cut off and answered as an error. @default 1 MiB */
  maxBodyBytes?: number;
}

/** Default `maxBodyBytes`: far above any order view or catalogue, far below what a hostile shop can send. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

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

interface ExchangeLimits {
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
}

/** One request (encoded) and its answer: collects the body and settles the caller's promise once. */
class Exchange<T> implements PooledRequest {
  private status = 0;
  private received = 0;
  private headAt = 0;
  private settled = false;
  /** The body's first chunk; later ones (rare for a loopback answer) go to `more`. */
  private first: Buffer | undefined = undefined;
  private more: Buffer[] | undefined = undefined;

  constructor(
    readonly request: string,
    readonly started: number,
    private readonly limits: ExchangeLimits,
    private readonly settle: (answer: HttpAnswer<T>) => void,
  ) {}

  onHead(status: number): void {
    this.status = status;
    this.headAt = performance.now();
  }

  onBody(chunk: Buffer): boolean {
    this.received += chunk.length;
    const { timeoutMs, maxBodyBytes } = this.limits;
    // Checked as chunks arrive (no timer per request): a trickle is cut at its next byte.
    if (performance.now() - this.headAt > timeoutMs) return this.cutOff(`answer body still arriving ${timeoutMs} ms after its head: cut off`);
    // A body past the limit is cut off: its size, not its content, is the answer.
    if (this.received > maxBodyBytes) return this.cutOff(`answer larger than ${maxBodyBytes} bytes: cut off`);
    // Copied: the connection's read buffer is reused for the next read.
    if (this.first === undefined) this.first = Buffer.from(chunk);
    else (this.more ??= []).push(Buffer.from(chunk));
    return true;
  }

  onComplete(): void {
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
    this.finish({ error: describeTransportError(error), latencyMs: performance.now() - this.started });
  }

  private finish(answer: HttpAnswer<T>): void {
    if (this.settled) return;
    this.settled = true;
    this.first = undefined;
    this.more = undefined;
    this.settle(answer);
  }

  private cutOff(error: string): false {
    this.finish({ status: this.status, error, latencyMs: performance.now() - this.started });
    return false;
  }

  private bodyText(): string {
    if (this.first === undefined) return '';
    if (this.more === undefined) return this.first.toString('utf8');
    return Buffer.concat([this.first, ...this.more]).toString('utf8');
  }
}

export class HttpClient {
  private readonly origins = new Map<string, OriginPool>();
  private readonly connections: number;
  private readonly limits: ExchangeLimits;
  private closed = false;

  constructor(options: HttpClientOptions = {}) {
    this.connections = options.connections ?? 256;
    this.limits = { timeoutMs: options.timeoutMs ?? 10_000, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES };
  }

  /**
   * One request; never rejects. `body`: a string is sent as it is, anything else as JSON. A transport failure (refused, reset, timeout, a malformed URL) is
   * an answer with `error` and no `status`; a body that is empty or not JSON leaves `body` undefined.
   */
  send<T>(method: HttpMethod, url: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer<T>> {
    const started = performance.now();
    return new Promise<HttpAnswer<T>>((settle) => {
      let exchange: Exchange<T>;
      let connections: OriginPool;
      try {
        const { origin, path } = splitUrl(url);
        connections = this.originConnections(origin);
        exchange = new Exchange<T>(encodeRequest(method, path, connections.address.hostHeader, body, headers), started, this.limits, settle);
      } catch (error) {
        // A URL that names no origin, a client already closed, a header or body that cannot be sent.
        settle({ error: describeTransportError(error as Error), latencyMs: performance.now() - started });
        return;
      }
      connections.send(exchange);
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
    for (const connections of origins) connections.destroy(reason);
  }

  private originConnections(origin: string): OriginPool {
    if (this.closed) throw new TransportError('CLIENT_CLOSED', 'the client is closed');
    let connections = this.origins.get(origin);
    if (connections === undefined) {
      connections = new OriginPool(originAddress(origin), this.limits.timeoutMs, this.connections);
      this.origins.set(origin, connections);
    }
    return connections;
  }
}
