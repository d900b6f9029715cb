/**
 * One callback attempt over the wire: undici's core API, one keep-alive `Pool` per notify-URL
 * origin and `pool.dispatch()` (no redirect is followed, like `redirect: 'manual'`), bounded by the
 * per-attempt timeout. Notify URLs are loopback, so msw's in-process transport lets them pass
 * untouched.
 */
import { Pool, type Dispatcher } from 'undici';
import { splitUrl } from '../../core/http-client.js';
import type { CallbackRequest } from './notices.js';

/** What one attempt got: an HTTP status (and the body, when asked for), or an error (`timeout`, a code such as `ECONNREFUSED`, else a message). */
export interface AttemptOutcome {
  httpStatus?: number;
  body?: string;
  error?: string;
}

/** Holds the way to cancel the attempt in flight (set while one is). */
export interface Cancelable {
  cancel?: (() => void) | undefined;
}

/** undici's own timeouts: a backstop behind the attempt's deadline, journaled alike. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** Bytes of an answer kept for a personality that reads it (an acknowledgement is a word or two). */
const MAX_ACK_BODY = 4096;

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return TIMEOUT_CODES.has(code) ? 'timeout' : code;
    return error.message;
  }
  return String(error);
}

/** The reason an attempt is aborted with (never journaled: the attempt's outcome is decided first). */
class AttemptAborted extends Error {
  constructor(readonly why: 'timeout' | 'closed') {
    super(why === 'timeout' ? 'callback attempt timed out' : 'callback dispatcher closed');
  }
}

export class CallbackSender {
  /** One keep-alive pool per notify-URL origin. */
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly timeoutMs: number) {}

  /**
   * Sends one request. Never rejects; settles by the per-attempt timeout at the latest, or at
   * once when `handle.cancel()` is called. The answer's body is kept only when `readBody` is set
   * (up to a few KiB), else read and dropped, so the connection is reused.
   */
  send(request: CallbackRequest, readBody: boolean, handle: Cancelable): Promise<AttemptOutcome> {
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      /** How undici lets us abort the request, once it is on a connection. */
      let abortRequest: ((error?: Error) => void) | undefined;
      /** An abort asked for before the request reached a connection: applied when it does. */
      let pendingAbort: AttemptAborted | undefined;
      let httpStatus = 0;
      const chunks: Buffer[] = [];
      let kept = 0;
      const settle = (outcome: AttemptOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        handle.cancel = undefined;
        resolve(outcome);
      };
      const abort = (reason: AttemptAborted): void => {
        // Settled first: undici reports the abort back through onError, which is then ignored.
        settle({ error: reason.why === 'timeout' ? 'timeout' : reason.message });
        if (abortRequest) abortRequest(reason);
        else pendingAbort = reason;
      };
      const timer = setTimeout(() => abort(new AttemptAborted('timeout')), this.timeoutMs);
      handle.cancel = () => abort(new AttemptAborted('closed'));
      // undici's raw handler form: the controller form wraps each request in two more objects and
      // parses every answer's headers into an object, which a callback never reads.
      const handler: Dispatcher.DispatchHandler = {
        onConnect(abortWith) {
          abortRequest = abortWith;
          if (pendingAbort) abortWith(pendingAbort);
        },
        onHeaders(statusCode) {
          httpStatus = statusCode;
          return true;
        },
        onData(chunk) {
          if (readBody && kept < MAX_ACK_BODY) {
            chunks.push(chunk);
            kept += chunk.length;
          }
          return true;
        },
        onComplete() {
          settle(readBody ? { httpStatus, body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_ACK_BODY) } : { httpStatus });
        },
        onError(error) {
          settle({ error: describeError(error) });
        },
      };
      try {
        const { origin, path } = splitUrl(request.url);
        this.pool(origin).dispatch({ method: request.method, path, headers: request.headers, body: request.body ?? null }, handler);
      } catch (error) {
        settle({ error: describeError(error) });
      }
    });
  }

  /** Closes every connection (cancel the attempts in flight first). */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      // The attempt's own deadline comes first; undici's timeouts only back it up.
      pool = new Pool(origin, { headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, connectTimeout: this.timeoutMs });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}
