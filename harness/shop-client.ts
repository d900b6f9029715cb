/**
 * The harness's HTTP client for contract v1 shops and for the provider's cashier: pooled
 * keep-alive connections, bounded timeouts, and results that are data (a shop's 503 or a reset is
 * an answer to journal, not an exception).
 */
import { Agent, request, type Dispatcher } from 'undici';

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
  payment?: { tradeNo: string; payUrl?: string };
  delivery?: { cards: Array<{ code: string; pin?: string }>; deliveredAt?: string };
  error?: { code: string; message?: string };
}

export interface CatalogView {
  skus: Array<{ sku: string; name?: string; price: number; currency?: string }>;
  coupons?: Array<{ code: string; discount: number; minAmount: number }>;
}

export class HttpClient {
  private readonly agent: Dispatcher;

  constructor(options: { connections?: number; timeoutMs?: number } = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.agent = new Agent({
      connections: options.connections ?? 256,
      keepAliveTimeout: 10_000,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  private readonly timeoutMs: number;

  async send<T>(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
    const started = performance.now();
    try {
      const response = await request(url, {
        method,
        dispatcher: this.agent,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const text = await response.body.text();
      let parsed: T | undefined;
      try {
        parsed = text === '' ? undefined : (JSON.parse(text) as T);
      } catch {
        parsed = undefined;
      }
      return { status: response.statusCode, body: parsed, latencyMs: performance.now() - started };
    } catch (error) {
      const err = error as Error & { code?: string };
      return { error: err.code ? `${err.code}: ${err.message}` : err.message, latencyMs: performance.now() - started };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
