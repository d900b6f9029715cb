/**
 * The final read (issue 14, 13a): once the settle phase is over, every order the run created is
 * read once more through its buyer's session, as Jepsen reads every key at the end of a test. The
 * buyers and the settle phase stop looking at an order once it is final, so a shop that later moves
 * a delivered order back to `paid` (say, on a duplicate callback) would otherwise never be seen
 * doing it; the scorer's `settled-status-holds` invariant judges what this read journals.
 *
 * While the load runs it keeps nothing per order — a soak of millions of orders stays flat: which
 * orders there are, whose they are and what the harness last saw of each are all in the journal
 * already (`order.observed`, the events `observeOrder` writes on every change), and are read back
 * from it when the final read starts. Only the buyers' sessions are kept: once each (contract v1's
 * buyers share one), and per buyer only for an adapter that gives each buyer its own. A read that
 * finds the view last journaled journals nothing; one that differs journals an `order.observed`
 * with source `final`; the pass ends with an `orders.final_read` summary. It is bounded: a fixed
 * number of reads at a time, a time budget, and the run's stop (its deadline, the target gone)
 * cut it, the rest counted as not read.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { JournalEvent, JournalEventOf, JournalSink } from '../../core/journal.js';
import type { ShopOrderView } from '../../core/http-client.js';
import type { ShopSession } from '../targets/adapter.js';

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
  /** The views the harness journaled, in journal order: the journal file's (`observedViews`), or a memory journal's events. */
  observations: AsyncIterable<ObservedView> | Iterable<ObservedView>;
}

/** Reads at a time, by default: the settle sweep's batch is 64; this runs beside nothing else. */
const DEFAULT_CONCURRENCY = 32;

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

/** A view the harness journaled, as the final read reads it back: `order.observed` (not its own). */
export type ObservedView = Pick<JournalEventOf<'order.observed'>, 'orderId' | 'buyerId' | 'status' | 'reason' | 'cardCodes' | 'source'>;

/** What the final read knows of an order once it has read the journal: whose it is, what was seen last. */
interface OrderHandle {
  buyerId: string;
  /** `viewSignature` of the last view the harness journaled for the order. */
  seen: number;
}

/** Every order the run created (from the journal), read once more through its buyer's session. */
export class FinalReads {
  private readonly sessions: ShopSession[] = [];
  private readonly sessionIndex = new Map<ShopSession, number>();
  /** Buyers whose session is not the first one seen; contract v1's buyers share one, so this stays empty. */
  private readonly ownSessions = new Map<string, number>();
  private closed = false;

  /** Sessions kept: one for buyers that share one. */
  get sessionsKept(): number {
    return this.sessions.length;
  }

  /** Buyers kept with a session of their own (adapters that give each buyer one). */
  get buyersWithOwnSession(): number {
    return this.ownSessions.size;
  }

  /** Notes the session a buyer reads its orders through (`observeOrder` calls it on an order's first view). */
  noteSession(buyerId: string, session: ShopSession): void {
    if (this.closed) return;
    let index = this.sessionIndex.get(session);
    if (index === undefined) {
      index = this.sessions.length;
      this.sessions.push(session);
      this.sessionIndex.set(session, index);
    }
    if (index !== 0) this.ownSessions.set(buyerId, index);
  }

  private sessionOf(buyerId: string): ShopSession | undefined {
    return this.sessions[this.ownSessions.get(buyerId) ?? 0];
  }

  /**
   * Reads every order of `observations` (the journal's views, in order) once, `concurrency` at a
   * time, within the budget and until the run stops; journals each view that differs from the
   * last one journaled, then the summary.
   */
  async readAll(options: FinalReadOptions): Promise<FinalReadSummary> {
    const { journal } = options;
    const handles = new Map<string, OrderHandle>();
    for await (const view of options.observations) {
      if (view.source === 'final') continue;
      const seen = viewSignature(view.status, view.reason, (view.cardCodes ?? []).join(','));
      const known = handles.get(view.orderId);
      if (known) known.seen = seen;
      else handles.set(view.orderId, { buyerId: view.buyerId, seen });
    }
    const orders = handles.size;
    const skipped = options.targetDown() ? 'target-down' : options.stopped() ? 'stopped' : undefined;
    if (skipped !== undefined || this.closed) {
      return this.summarize(journal, { orders, read: 0, changed: 0, unread: orders, cut: false, skipped: skipped ?? 'stopped' });
    }
    const until = journal.now() + options.budgetMs;
    let read = 0;
    let changed = 0;
    let cut = false;
    const entries = handles.entries();
    const worker = async (): Promise<void> => {
      for (;;) {
        if (options.stopped() || options.targetDown() || journal.now() >= until) {
          cut = true;
          return;
        }
        const next = entries.next();
        if (next.done) return;
        const [orderId, handle] = next.value;
        const session = this.sessionOf(handle.buyerId);
        const view = session ? await options.read(session, orderId).catch(() => undefined) : undefined;
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
    return this.summarize(journal, { orders, read, changed, unread: orders - read, cut });
  }

  private summarize(journal: JournalSink, summary: FinalReadSummary): FinalReadSummary {
    journal.append('orders.final_read', { ...summary });
    return summary;
  }

  /** Lets go of the sessions. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sessions.length = 0;
    this.sessionIndex.clear();
    this.ownSessions.clear();
  }
}

/** Marks the journal lines `observedViews` parses: every other line is skipped unparsed. */
const OBSERVED_MARK = '"type":"order.observed"';

/** The harness's views of orders in a journal file, in order (`FinalReads.readAll`'s `observations`). */
export async function* observedViews(path: string): AsyncGenerator<ObservedView> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.includes(OBSERVED_MARK)) continue;
    const event = JSON.parse(line) as JournalEvent;
    if (event.type === 'order.observed') yield event;
  }
}
