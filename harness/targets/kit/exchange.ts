/**
 * One HTTP request and its answer, over undici, as data: a refused connection, a reset, a timeout
 * or an answer over the size limit is a result with `error`, never an exception. Redirects,
 * cookies and headers are the session's business (buyer-session.ts); this is one hop.
 */
import { Agent, type Dispatcher } from 'undici';

export interface ExchangeRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

export interface ExchangeLimits {
  /** Deadline of the whole exchange, from sending to the last byte, ms. */
  timeoutMs: number;
  /** Largest body read, bytes; a larger one ends the exchange and drops the connection. */
  maxBytes: number;
}

export interface ExchangeResult {
  /** Undefined when no response head came. */
  status?: number;
  /** Response headers, names lower-cased, repeated values joined with ", " (`set-cookie` is in `setCookies`). */
  headers: Record<string, string>;
  setCookies: string[];
  /** The body read (partial when `error` is set after the head came). */
  body: Buffer;
  latencyMs: number;
  error?: string;
}

/** Connections a session opens per origin, as a browser does. */
const CONNECTIONS_PER_ORIGIN = 6;
/** Idle keep-alive kept below Node's default server timeout (5 s), so a reused connection is not one the shop just closed. */
const KEEP_ALIVE_MS = 4_000;

/** A connection pool for one buyer, or shared by many (the session takes an optional dispatcher). */
export function createDispatcher(timeoutMs: number): Dispatcher {
  return new Agent({
    connections: CONNECTIONS_PER_ORIGIN,
    keepAliveTimeout: KEEP_ALIVE_MS,
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? `${code}: ${error.message}` : error.message;
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): { headers: Record<string, string>; setCookies: string[] } {
  const headers: Record<string, string> = {};
  let setCookies: string[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    if (key === 'set-cookie') setCookies = Array.isArray(value) ? value : [value];
    else headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { headers, setCookies };
}

/** Sends one request and reads its answer within the limits; never rejects. */
export async function exchange(dispatcher: Dispatcher, request: ExchangeRequest, limits: ExchangeLimits): Promise<ExchangeResult> {
  const started = performance.now();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), limits.timeoutMs);
  timer.unref();
  let status: number | undefined;
  let headers: Record<string, string> = {};
  let setCookies: string[] = [];
  const chunks: Buffer[] = [];
  const finish = (error?: string): ExchangeResult => ({
    ...(status === undefined ? {} : { status }),
    headers,
    setCookies,
    body: Buffer.concat(chunks),
    latencyMs: performance.now() - started,
    ...(error === undefined ? {} : { error }),
  });
  try {
    const response = await dispatcher.request({
      origin: request.url.origin,
      path: `${request.url.pathname}${request.url.search}`,
      method: request.method as Dispatcher.HttpMethod,
      headers: request.headers,
      body: request.body ?? null,
      signal: deadline.signal,
    });
    status = response.statusCode;
    ({ headers, setCookies } = flattenHeaders(response.headers));
    const declared = Number(headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      response.body.destroy();
      return finish(`too large: content-length ${declared} exceeds the limit of ${limits.maxBytes} bytes`);
    }
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limits.maxBytes) {
        // Destroying an unfinished body makes undici drop the connection: nothing more is read.
        response.body.destroy();
        return finish(`too large: the body exceeds the limit of ${limits.maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return finish();
  } catch (error) {
    if (deadline.signal.aborted) return finish(`timeout: no complete answer within ${limits.timeoutMs} ms`);
    return finish(describeError(error));
  } finally {
    clearTimeout(timer);
  }
}
