/**
 * A proposed replacement for the transport of `HttpClient` (harness/shop-client.ts), measured by
 * the driver benchmark next to the current one: the same `send()` contract (results as data, a
 * timeout, JSON in and out), but one undici `Pool` per origin and `pool.dispatch()` with a small
 * handler that collects the body — no URL parsing per request, no body stream, no Agent routing.
 * It lives in bench/ only to show the fix; the harness keeps its own client until it adopts it.
 */
import { Pool, type Dispatcher } from 'undici';
import type { HttpAnswer } from '../harness/shop-client.js';

export class PooledHttpClient {
  private readonly pools = new Map<string, Pool>();
  private readonly connections: number;
  private readonly timeoutMs: number;

  constructor(options: { connections?: number; timeoutMs?: number } = {}) {
    this.connections = options.connections ?? 256;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: this.connections, keepAliveTimeout: 10_000, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  send<T>(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
    const started = performance.now();
    // http://host:port/path — the origin ends at the first "/" after the scheme.
    const slash = url.indexOf('/', url.indexOf('//') + 2);
    const origin = slash < 0 ? url : url.slice(0, slash);
    const path = slash < 0 ? '/' : url.slice(slash);
    const options: Dispatcher.DispatchOptions = {
      method,
      path,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? null : JSON.stringify(body),
    };
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let status = 0;
      const fail = (error: Error & { code?: string }): void => {
        resolve({ error: error.code ? `${error.code}: ${error.message}` : error.message, latencyMs: performance.now() - started });
      };
      this.pool(origin).dispatch(options, {
        onRequestStart() {},
        onResponseStart(_controller, statusCode) {
          status = statusCode;
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          const text = chunks.length === 0 ? '' : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
          let parsed: T | undefined;
          try {
            parsed = text === '' ? undefined : (JSON.parse(text) as T);
          } catch {
            parsed = undefined;
          }
          resolve({ status, body: parsed, latencyMs: performance.now() - started });
        },
        onResponseError(_controller, error) {
          fail(error as Error & { code?: string });
        },
      });
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
    this.pools.clear();
  }
}
