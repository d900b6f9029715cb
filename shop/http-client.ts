/**
 * Outgoing HTTP: global fetch with a per-call timeout, JSON in and out, and results as data
 * (an HTTP answer, or a transport error) rather than exceptions.
 */

export type CallResult =
  | { kind: 'response'; status: number; body: unknown; headers: Headers }
  /** No usable answer: refused, reset, timed out, or a 2xx whose body is not the JSON promised. */
  | { kind: 'error'; message: string };

export interface CallOptions {
  timeoutMs: number;
  /** Aborts the call when the shop closes. */
  signal?: AbortSignal;
}

export async function callJson(method: 'GET' | 'POST' | 'DELETE', url: string, body: unknown, options: CallOptions): Promise<CallResult> {
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal) signals.push(options.signal);
  const init: RequestInit = { method, signal: AbortSignal.any(signals), headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
  }
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, init);
    text = await response.text();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { kind: 'error', message: `${method} ${url}: ${(error as Error).message}${cause?.code ? ` (${cause.code})` : ''}` };
  }
  let parsed: unknown;
  if (text.trim() !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      if (response.ok) return { kind: 'error', message: `${method} ${url}: ${response.status} with a body that is not JSON` };
      parsed = undefined;
    }
  }
  return { kind: 'response', status: response.status, body: parsed, headers: response.headers };
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
export function retryAfterMs(headers: Headers, fallbackMs: number, capMs: number): number {
  const value = headers.get('retry-after');
  if (!value) return fallbackMs;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.min(capMs, Math.max(0, seconds * 1000));
  const date = Date.parse(value);
  if (Number.isFinite(date)) return Math.min(capMs, Math.max(0, date - Date.now()));
  return fallbackMs;
}
