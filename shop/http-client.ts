/**
 * Outgoing HTTP to the shop's dependencies (payment, stock, risk, notify): one undici `Pool` per
 * dependency origin with keep-alive connections, a deadline per call, JSON in and out, and results
 * as data (an HTTP answer, or a transport error) rather than exceptions.
 *
 * undici's core API (`pool.dispatch()` with a handler that collects the body) rather than the
 * global `fetch`: an order makes several small calls, and `fetch` would build WHATWG streams,
 * Request/Response objects and an AbortSignal for each, none of which the shop needs.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { errors, Pool, type Dispatcher } from 'undici';

/** The response headers a caller reads, by name in any case (the part of WHATWG `Headers` the shop uses). */
export interface ResponseHeaders {
  get(name: string): string | null;
  has(name: string): boolean;
}

export type CallResult =
  | { kind: 'response'; status: number; body: unknown; headers: ResponseHeaders }
  /** No usable answer: refused, reset, timed out, or a 2xx whose body is not the JSON promised. */
  | { kind: 'error'; message: string };

export interface CallOptions {
  /** Deadline of the whole call (connection, request, answer and its body), ms. */
  timeoutMs: number;
  /** The pools the call goes through; closing them aborts the call. */
  http: OutgoingHttp;
  /** Sent as the `Authorization` header (`Bearer <key>`): the service's API key. @default none */
  authorization?: string;
}

/** One call; never rejects. */
export function callJson(method: 'GET' | 'POST' | 'DELETE', url: string, body: unknown, options: CallOptions): Promise<CallResult> {
  return options.http.call(method, url, body, options.timeoutMs, options.authorization);
}

/** One form POST (`application/x-www-form-urlencoded`, as PHP gateways such as epay take it), answered in JSON; never rejects. */
export function callForm(url: string, fields: Readonly<Record<string, string>>, options: CallOptions): Promise<CallResult> {
  return options.http.call('POST', url, new URLSearchParams(fields), options.timeoutMs, options.authorization);
}

/** Headers undici parsed (lower-case names; repeated headers as arrays). */
class ParsedHeaders implements ResponseHeaders {
  constructor(private readonly headers: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.headers[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.headers[name.toLowerCase()] !== undefined;
  }
}

/** `http://host:port/path?query` → origin and path, split at the first "/" after the scheme. */
function splitUrl(url: string): { origin: string; path: string } {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return slash < 0 ? { origin: url, path: '/' } : { origin: url.slice(0, slash), path: url.slice(slash) };
}

function bodyText(chunks: Buffer[]): string {
  if (chunks.length === 0) return '';
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
}

/** The reason a call is aborted with when its deadline passes. */
class CallTimedOut extends Error {
  constructor(timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

const JSON_HEADERS: Readonly<Record<string, string>> = { accept: 'application/json', 'content-type': 'application/json' };
const FORM_HEADERS: Readonly<Record<string, string>> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
const ACCEPT_HEADERS: Readonly<Record<string, string>> = { accept: 'application/json' };

/**
 * The shop's outgoing connections: a keep-alive `Pool` per dependency origin, made on first use.
 * `close()` aborts the calls in flight (they answer an error) and refuses new ones.
 */
export class OutgoingHttp {
  private readonly pools = new Map<string, Pool>();
  private closed = false;
  private readonly closer = new AbortController();

  /** Aborted by `close()`: calls made through another HTTP stack (a provider's client library) end with it too. */
  get closing(): AbortSignal {
    return this.closer.signal;
  }

  /** `body` is sent as JSON, or as a form when it is `URLSearchParams`; `authorization`, when given, as that header. */
  call(method: 'GET' | 'POST' | 'DELETE', url: string, body: unknown, timeoutMs: number, authorization?: string): Promise<CallResult> {
    return new Promise<CallResult>((resolve) => {
      const chunks: Buffer[] = [];
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      let settled = false;
      let controller: Dispatcher.DispatchController | undefined;
      /** The deadline passed before the request reached a connection: aborted when it does. */
      let lateAbort: Error | undefined;
      const fail = (error: Error & { code?: unknown }): void => {
        const code = typeof error.code === 'string' && error.code !== '' ? ` (${error.code})` : '';
        settle({ kind: 'error', message: `${method} ${url}: ${error.message}${code}` });
      };
      const settle = (result: CallResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        const reason = new CallTimedOut(timeoutMs);
        // Settled first: undici reports the abort back through onResponseError, which is then ignored.
        fail(reason);
        if (controller) controller.abort(reason);
        else lateAbort = reason;
      }, timeoutMs);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(started) {
          controller = started;
          if (lateAbort) started.abort(lateAbort);
        },
        onResponseStart(_controller, statusCode, responseHeaders) {
          status = statusCode;
          headers = responseHeaders;
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          const text = bodyText(chunks);
          let parsed: unknown;
          if (text.trim() !== '') {
            try {
              parsed = JSON.parse(text);
            } catch {
              if (status >= 200 && status < 300) return settle({ kind: 'error', message: `${method} ${url}: ${status} with a body that is not JSON` });
              parsed = undefined;
            }
          }
          settle({ kind: 'response', status, body: parsed, headers: new ParsedHeaders(headers) });
        },
        onResponseError(_controller, error) {
          fail(error);
        },
      };
      try {
        const { origin, path } = splitUrl(url);
        const headers = body === undefined ? ACCEPT_HEADERS : body instanceof URLSearchParams ? FORM_HEADERS : JSON_HEADERS;
        this.pool(origin).dispatch(
          {
            method,
            path,
            headers: authorization === undefined ? headers : { ...headers, authorization },
            body: body === undefined ? null : body instanceof URLSearchParams ? body.toString() : JSON.stringify(body),
            // Backstops behind the deadline above.
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          },
          handler,
        );
      } catch (error) {
        // A URL undici refuses, or the shop is closing.
        fail(error as Error);
      }
    });
  }

  /** Aborts the calls in flight (each answers an error), closes the connections, refuses new calls. */
  async close(): Promise<void> {
    this.closed = true;
    this.closer.abort();
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      if (this.closed) throw new errors.ClientDestroyedError();
      pool = new Pool(origin);
      this.pools.set(origin, pool);
    }
    return pool;
  }
}

/** Field access on an unknown JSON value. */
export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

export function stringField(value: unknown, key: string): string | undefined {
  const found = field(value, key);
  return typeof found === 'string' ? found : undefined;
}

export function numberField(value: unknown, key: string): number | undefined {
  const found = field(value, key);
  return typeof found === 'number' && Number.isFinite(found) ? found : undefined;
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exponential backoff: base × 2^attempt, capped, with ±20 % jitter. */
export function backoff(attempt: number, baseMs: number, capMs: number): number {
  const raw = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

/** Milliseconds from a Retry-After header (seconds or an HTTP date), bounded. */
export function retryAfterMs(headers: ResponseHeaders, fallbackMs: number, capMs: number): number {
  const value = headers.get('retry-after');
  if (!value) return fallbackMs;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.min(capMs, Math.max(0, seconds * 1000));
  const date = Date.parse(value);
  if (Number.isFinite(date)) return Math.min(capMs, Math.max(0, date - Date.now()));
  return fallbackMs;
}
