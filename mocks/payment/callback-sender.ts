/**
 * One callback attempt over the wire, on the harness's own HTTP/1.1 connections
 * (`core/http-connection.ts`): one keep-alive pool per notify-URL origin, no redirect followed,
 * bounded by the per-attempt timeout. Notify URLs are loopback, so msw's in-process transport lets
 * them pass untouched.
 */
import { encodeRequest, OriginPool, originAddress, type HttpConnection, type PooledRequest } from '../../core/http-connection.js';
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

/** The connections' own timeouts: a backstop behind the attempt's deadline, journaled alike. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['HEADERS_TIMEOUT', 'BODY_TIMEOUT']);

/** Bytes of an answer kept for a personality that reads it (an acknowledgement is a word or two). */
const MAX_ACK_BODY = 4096;

/**
 * Connections per notify-URL origin: no cap, so every attempt goes out when it is due. With one, a
 * shop slow to acknowledge would make later attempts wait here and time out unsent, journaled as
 * the shop's timeouts.
 */
const CONNECTIONS_PER_ORIGIN = Number.POSITIVE_INFINITY;

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return TIMEOUT_CODES.has(code) ? 'timeout' : code;
    return error.message;
  }
  return String(error);
}

/** One attempt: settles once, by the answer, a failure, its deadline or a cancel. */
class Attempt implements PooledRequest {
  private settled = false;
  private status = 0;
  private kept = 0;
  private readonly chunks: Buffer[] = [];
  /** The connection carrying it, while it is on one. */
  private connection: HttpConnection | undefined = undefined;
  readonly started = performance.now();

  constructor(
    readonly request: string,
    private readonly readBody: boolean,
    private readonly resolve: (outcome: AttemptOutcome) => void,
  ) {}

  onStart(connection: HttpConnection): boolean {
    if (this.settled) return false;
    this.connection = connection;
    return true;
  }

  onHead(status: number): void {
    this.status = status;
  }

  onBody(chunk: Buffer): boolean {
    if (this.readBody && this.kept < MAX_ACK_BODY) {
      // Copied: the connection's read buffer is reused for the next read.
      this.chunks.push(Buffer.from(chunk));
      this.kept += chunk.length;
    }
    return true;
  }

  onComplete(): void {
    this.connection = undefined;
    this.settle(this.readBody ? { httpStatus: this.status, body: Buffer.concat(this.chunks).toString('utf8').slice(0, MAX_ACK_BODY) } : { httpStatus: this.status });
  }

  onError(error: Error): void {
    this.connection = undefined;
    this.settle({ error: describeError(error) });
  }

  /** Ends the attempt now with `error`; a request on the wire loses its connection (its answer can never be mistaken for the next one's). */
  abort(error: string): void {
    if (this.settled) return;
    this.settle({ error });
    const connection = this.connection;
    this.connection = undefined;
    connection?.drop();
  }

  private settle(outcome: AttemptOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(outcome);
  }
}

export class CallbackSender {
  /** One keep-alive pool per notify-URL origin. */
  private readonly pools = new Map<string, OriginPool>();

  constructor(private readonly timeoutMs: number) {}

  /**
   * Sends one request. Never rejects; settles by the per-attempt timeout at the latest, or at
   * once when `handle.cancel()` is called. The answer's body is kept only when `readBody` is set
   * (up to a few KiB), else read and dropped, so the connection is reused.
   */
  send(request: CallbackRequest, readBody: boolean, handle: Cancelable): Promise<AttemptOutcome> {
    return new Promise<AttemptOutcome>((resolve) => {
      let attempt: Attempt;
      let pool: OriginPool;
      const timer = setTimeout(() => attempt.abort('timeout'), this.timeoutMs);
      const settled = (outcome: AttemptOutcome): void => {
        clearTimeout(timer);
        handle.cancel = undefined;
        resolve(outcome);
      };
      try {
        const { origin, path } = splitUrl(request.url);
        pool = this.pool(origin);
        attempt = new Attempt(encodeRequest(request.method, path, pool.address.hostHeader, request.body, request.headers), readBody, settled);
      } catch (error) {
        settled({ error: describeError(error) });
        return;
      }
      handle.cancel = () => attempt.abort('callback dispatcher closed');
      pool.send(attempt);
    });
  }

  /** Closes every connection (cancel the attempts in flight first). */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    for (const pool of pools) pool.destroy('callback dispatcher closed');
  }

  private pool(origin: string): OriginPool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      // The attempt's own deadline comes first; the connections' timeout only backs it up.
      pool = new OriginPool(originAddress(origin), this.timeoutMs, CONNECTIONS_PER_ORIGIN);
      this.pools.set(origin, pool);
    }
    return pool;
  }
}
