/**
 * The final read (issue 14, 13a): once the settle phase is over, every order the run created is
 * read once more through its buyer's session, as Jepsen reads every key at the end of a test. The
 * buyers and the settle phase stop looking at an order once it is final, so a shop that later moves
 * a delivered order back to `paid` (say, on a duplicate callback) would otherwise never be seen
 * doing it; the scorer's `settled-status-holds` invariant judges what this read journals.
 *
 * What it keeps per order is what reading it again takes and no more: the buyer's id, the session's
 * index (sessions are kept once each: contract v1's buyers share one) and a 32-bit hash of the last
 * view the harness journaled — in a record store that moves the idle handles of settled orders to a
 * SQLite file (memory/), so a 100k-order run keeps them off the heap, and an order still changing
 * is not fetched back from it at each change. A read that finds the same view journals
 * nothing; one that differs journals an `order.observed` with source `final`; the pass ends with an
 * `orders.final_read` summary. It is bounded: a fixed number of reads at a time, a time budget, and
 * the run's stop (its deadline, the target gone) cut it, the rest counted as not read.
 */
import { SETTLED_STATUSES, type JournalSink } from '../../core/journal.js';
import type { ShopOrderView } from '../../core/http-client.js';
import { openRecordSpace, type RecordSpace, type RecordStore } from '../../memory/index.js';
import type { ShopSession } from '../targets/adapter.js';

/** What the final read keeps of one order. */
interface OrderHandle {
  buyerId: string;
  /** Index into `FinalReads.sessions`. */
  session: number;
  /** `viewSignature` of the last view the harness journaled for the order. */
  seen: number;
  /** That view's status was a settled one: the handle may leave the heap (an open order changes soon). */
  settled: boolean;
}

/** Reads an order's view through a session; undefined when the shop gave no usable answer (`fetchOrder`). */
export type OrderReader = (session: ShopSession, orderId: string) => Promise<ShopOrderView | undefined>;

/** How the final read ended, as `orders.final_read` journals it. */
export interface FinalReadSummary {
  orders: number;
  read: number;
  changed: number;
  unread: number;
  cut: boolean;
  skipped?: 'target-down' | 'stopped';
}

export interface FinalReadOptions {
  journal: JournalSink;
  read: OrderReader;
  /** True once the run is stopping (its deadline passed, the target went away): the read ends. */
  stopped(): boolean;
  /** True while the shop is down: nothing to read. */
  targetDown(): boolean;
  /** Journal time (ms) the read may take at most. */
  budgetMs: number;
  /** Reads at a time. @default 32 */
  concurrency?: number;
}

/** Reads at a time, by default: the settle sweep's batch is 64; this runs beside nothing else. */
const DEFAULT_CONCURRENCY = 32;
/** How often idle handles leave the heap (ms). */
const SWEEP_EVERY_MS = 1000;

/** The codes of a view's cards, as `observeOrder` journals them (`String(code)`); joined by commas, what it compares. */
export function cardCodesOf(view: ShopOrderView): string[] {
  return Array.isArray(view.delivery?.cards) ? view.delivery.cards.map((card) => String(card.code)) : [];
}

/**
 * A 32-bit FNV-1a hash of what `observeOrder` compares (status, reason, card codes): two views that
 * differ hash apart but for about one pair in 4·10⁹ — a change the final read would then not journal.
 */
export function viewSignature(status: string, reason: string | undefined, codeKey: string): number {
  let hash = 0x811c9dc5;
  const text = `${status}\u0000${reason ?? ''}\u0000${codeKey}`;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Every order the run created, with what reading it once more takes. */
export class FinalReads {
  private readonly space: RecordSpace;
  private readonly ownsSpace: boolean;
  private readonly handles: RecordStore<string, OrderHandle>;
  private readonly sessions: ShopSession[] = [];
  private readonly sessionIndex = new Map<ShopSession, number>();
  /** While the read walks the store, nothing may leave the heap under it. */
  private reading = false;
  private closed = false;

  /** `records`: the space to keep the handles in (default: an own one spilling to SQLite, closed by `close`). */
  constructor(records?: RecordSpace) {
    this.ownsSpace = records === undefined;
    this.space = records ?? openRecordSpace({ spill: 'lookups', sweepEveryMs: SWEEP_EVERY_MS });
    this.handles = this.space.store<string, OrderHandle>('final_reads', {
      // Only a settled order's handle is archived, which stays archived but for a late payment.
      encode: (handle) => `${handle.session} ${handle.seen} ${handle.buyerId}`,
      decode: (text) => {
        const first = text.indexOf(' ');
        const second = text.indexOf(' ', first + 1);
        return { session: Number(text.slice(0, first)), seen: Number(text.slice(first + 1, second)), buyerId: text.slice(second + 1), settled: true };
      },
      key: String,
      settled: (handle) => handle.settled && !this.reading,
    });
  }

  /** Orders noted. */
  get size(): number {
    return this.handles.size;
  }

  /** Notes the view the harness last journaled for an order (`observeOrder` calls it on every change). */
  note(orderId: string, buyerId: string, session: ShopSession, status: string, reason: string | undefined, codeKey: string): void {
    if (this.closed) return;
    const seen = viewSignature(status, reason, codeKey);
    const settled = SETTLED_STATUSES.has(status);
    const known = this.handles.get(orderId);
    if (known) {
      known.seen = seen;
      known.settled = settled;
      return;
    }
    let index = this.sessionIndex.get(session);
    if (index === undefined) {
      index = this.sessions.length;
      this.sessions.push(session);
      this.sessionIndex.set(session, index);
    }
    this.handles.set(orderId, { buyerId, session: index, seen, settled });
  }

  /**
   * Reads every noted order once, `concurrency` at a time, within the budget and until the run
   * stops; journals each view that differs from the last one seen, then the summary.
   */
  async readAll(options: FinalReadOptions): Promise<FinalReadSummary> {
    const { journal } = options;
    const orders = this.handles.size;
    const skipped = options.targetDown() ? 'target-down' : options.stopped() ? 'stopped' : undefined;
    if (skipped !== undefined || this.closed) {
      return this.summarize(journal, { orders, read: 0, changed: 0, unread: orders, cut: false, skipped: skipped ?? 'stopped' });
    }
    const until = journal.now() + options.budgetMs;
    let read = 0;
    let changed = 0;
    let cut = false;
    this.reading = true;
    try {
      const entries = this.handles.entries();
      const worker = async (): Promise<void> => {
        for (;;) {
          if (options.stopped() || options.targetDown() || journal.now() >= until) {
            cut = true;
            return;
          }
          const next = entries.next();
          if (next.done) return;
          const [orderId, handle] = next.value;
          const view = await options.read(this.sessions[handle.session]!, orderId).catch(() => undefined);
          if (!view) continue;
          read++;
          const codes = cardCodesOf(view);
          if (viewSignature(view.status, view.reason, codes.join(',')) === handle.seen) continue;
          changed++;
          journal.append('order.observed', {
            orderId,
            buyerId: handle.buyerId,
            status: view.status,
            ...(view.reason === undefined ? {} : { reason: view.reason }),
            cards: codes.length,
            ...(codes.length > 0 ? { cardCodes: codes } : {}),
            source: 'final',
          });
        }
      };
      const workers = Math.max(1, Math.min(options.concurrency ?? DEFAULT_CONCURRENCY, orders));
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      this.reading = false;
    }
    return this.summarize(journal, { orders, read, changed, unread: orders - read, cut });
  }

  private summarize(journal: JournalSink, summary: FinalReadSummary): FinalReadSummary {
    journal.append('orders.final_read', { ...summary });
    return summary;
  }

  /** Lets go of the sessions and the handles (deletes the spill file when the space is its own). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sessions.length = 0;
    this.sessionIndex.clear();
    if (this.ownsSpace) this.space.close();
  }
}
