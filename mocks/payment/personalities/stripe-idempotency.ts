/**
 * Stripe's `Idempotency-Key`: the first answer to a key is saved with the parameters it was for; the
 * same key with the same parameters replays that answer (with `Idempotent-Replayed: true`), with
 * other parameters it is an `idempotency_error`, and while the first request is still under way
 * (its answer held back by injected latency) a repeat gets 409.
 *
 * As on Stripe, only requests that started executing are saved: not the ones refused before (bad
 * key, invalid parameters, rate limits), nor — Ordeal's reading of "started executing" — the
 * channel failures and hangs of `payment.error` / `payment.timeout`, which the fault model defines
 * as having had no effect, so a retry with the same key runs again. Stripe keeps a key for 24
 * hours; Ordeal keeps the most recent `capacity` keys (retries come seconds apart).
 */
import type { MockReply } from '../../mock-types.js';

/** The longest key Stripe accepts. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

interface SavedAnswer {
  fingerprint: string;
  status: number;
  headers: Readonly<Record<string, string>>;
  /** The JSON text sent the first time. */
  body: string;
  /** The first request's id (`Original-Request`). */
  requestId: string;
  /** When the first answer went out (after its injected latency), ms. */
  readyAt: number;
}

export type IdempotencyLookup =
  | { kind: 'new' }
  | { kind: 'replay'; reply: MockReply }
  | { kind: 'in_progress' }
  | { kind: 'mismatch' };

export class IdempotencyKeys {
  private readonly saved = new Map<string, SavedAnswer>();

  /**
   * @param capacity keys kept (the oldest is forgotten first). @default 4096
   * @param clock ms. @default Date.now
   */
  constructor(
    private readonly capacity = 4096,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Keys held (for memory checks). */
  get size(): number {
    return this.saved.size;
  }

  lookup(key: string, fingerprint: string): IdempotencyLookup {
    const saved = this.saved.get(key);
    if (!saved) return { kind: 'new' };
    if (saved.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (this.clock() < saved.readyAt) return { kind: 'in_progress' };
    return {
      kind: 'replay',
      reply: {
        status: saved.status,
        headers: { ...saved.headers, 'idempotent-replayed': 'true', 'original-request': saved.requestId },
        body: saved.body,
      },
    };
  }

  /** Saves the answer a request with this key got (its latency and socket faults are the channel's, not the answer's). */
  save(key: string, fingerprint: string, reply: MockReply, requestId: string): void {
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    for (const [name, value] of Object.entries(reply.headers ?? {})) headers[name] = value;
    this.saved.delete(key);
    this.saved.set(key, { fingerprint, status: reply.status, headers, body, requestId, readyAt: this.clock() + (reply.delayMs ?? 0) });
    if (this.saved.size > this.capacity) {
      const oldest = this.saved.keys().next().value;
      if (oldest !== undefined) this.saved.delete(oldest);
    }
  }
}
