/**
 * The harness's HTTP client for contract v1 shops and for the provider's cashier: pooled
 * keep-alive connections, bounded timeouts, and results that are data (a shop's 503 or a reset is
 * an answer to journal, not an exception).
 *
 * Every buyer request and poll goes through `send()`, so it is kept cheap: one undici `Pool` per
 * origin, `pool.dispatch()` with a handler that collects the body, and no URL parsing per request.
 */
import { errors, Pool, type Dispatcher } from 'undici';

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

/** The text of a body's chunks (UTF-8). */
function bodyText(chunks: Buffer[]): string {
  if (chunks.length === 0) return '';
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
}

function describeTransportError(error: Error & { code?: unknown }): string {
  return typeof error.code === 'string' && error.code !== '' ? `${error.code}: ${error.message}` : error.message;
}

export class HttpClient {
  private readonly pools = new Map<string, Pool>();
  private readonly connections: number;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private closed = false;

  constructor(options: HttpClientOptions = {}) {
    this.connections = options.connections ?? 256;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /**
   * One request; never rejects. `body`: a string is sent as it is, anything else as JSON. A transport failure (refused, reset, timeout, a malformed URL) is
   * an answer with `error` and no `status`; a body that is empty or not JSON leaves `body` undefined.
   */
  send<T>(method: HttpMethod, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
    const started = performance.now();
    const { maxBodyBytes, timeoutMs } = this;
    return new Promise<HttpAnswer<T>>((resolveOnce) => {
      const chunks: Buffer[] = [];
      let status = 0;
      let received = 0;
      let headAt = 0;
      let settled = false;
      const resolve = (answer: HttpAnswer<T>): void => {
        if (settled) return;
        settled = true;
        resolveOnce(answer);
      };
      const handler: Dispatcher.DispatchHandler = {
        // Present so undici treats this as a (non-deprecated) controller-style handler.
        onRequestStart() {},
        onResponseStart(_controller, statusCode) {
          // 1xx informational heads come first; the last call has the final status.
          status = statusCode;
          headAt = performance.now();
        },
        onResponseData(controller, chunk) {
          if (settled) return;
          received += chunk.length;
          // Checked as chunks arrive (no timer per request): a trickle is cut at its next byte.
          if (performance.now() - headAt > timeoutMs) {
            chunks.length = 0;
            resolve({ status, error: `answer body still arriving ${timeoutMs} ms after its head: cut off`, latencyMs: performance.now() - started });
            controller.abort(new Error('answer too slow'));
            return;
          }
          // A body past the limit is cut off: its size, not its content, is the answer.
          if (received > maxBodyBytes) {
            chunks.length = 0;
            resolve({ status, error: `answer larger than ${maxBodyBytes} bytes: cut off`, latencyMs: performance.now() - started });
            controller.abort(new Error('answer too large'));
            return;
          }
          chunks.push(chunk);
        },
        onResponseEnd() {
          const text = bodyText(chunks);
          let parsed: T | undefined;
          if (text !== '') {
            try {
              parsed = JSON.parse(text) as T;
            } catch {
              parsed = undefined;
            }
          }
          resolve({ status, body: parsed, latencyMs: performance.now() - started });
        },
        onResponseError(_controller, error) {
          resolve({ error: describeTransportError(error), latencyMs: performance.now() - started });
        },
      };
      try {
        const { origin, path } = splitUrl(url);
        this.pool(origin).dispatch(
          {
            method,
            path,
            // A string is sent as it is (the caller names its content type); anything else as JSON.
            headers: body === undefined || typeof body === 'string' ? headers : { 'content-type': 'application/json', ...headers },
            body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
          },
          handler,
        );
      } catch (error) {
        // A URL undici refuses (bad origin), or a client already closed.
        resolve({ error: describeTransportError(error as Error), latencyMs: performance.now() - started });
      }
    });
  }

  /** Closes every pool (waiting for requests in flight); `send()` afterwards answers an error. */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.closed = true;
    await Promise.all(pools.map((pool) => pool.close()));
  }

  /** Closes at once: requests still waiting on an answer end now, answered with an error. */
  async destroy(reason = 'the client was stopped'): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.closed = true;
    await Promise.all(pools.map((pool) => pool.destroy(new Error(reason))));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      if (this.closed) throw new errors.ClientClosedError();
      pool = new Pool(origin, {
        connections: this.connections,
        keepAliveTimeout: KEEP_ALIVE_MS,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}
