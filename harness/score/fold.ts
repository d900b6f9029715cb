/**
 * The fold: journal events, one at a time, into per-order and per-buyer facts (`FoldedRun`, see
 * ./folded-run.ts) and, beside them, the run's latency metrics (./metrics.ts). Scoring those facts
 * is ./score.ts.
 *
 * A fold of a journal file (`foldJournalFile`) keeps its memory flat however long the run: it
 * compacts and checks settled buyers as it goes (`FoldOptions`), and folds again keeping whole
 * what a later event turned out to need.
 */
import { readJournalBatches, type JournalEvent, type ReadJournalOptions } from '../../core/journal.js';
import type { ScenarioMetrics } from '../../core/report-types.js';
import type { BuyerFacts, OrderFacts } from '../../core/faults/facts.js';
import { foldWithinBounds, openRecordSpace, type FoldPass, type IdSet, type RecordStore } from '../../memory/index.js';
import { invariantChecker, type InvariantChecker } from './invariants.js';
import { buyerTallier, NO_FAULT_MARKS, type BuyerTallier } from './recovery.js';
import { MetricsFolder } from './metrics.js';
import { OrderLedger } from './accounting.js';
import { append, appendTime, compactBuyerFacts, faultHitKey, newFoldedRun, resolveFromBuyer, sameCode, withCode, type FoldedRun } from './folded-run.js';

/** Events in journal order, from memory or streamed from disk. */
export type JournalSource = Iterable<JournalEvent> | AsyncIterable<JournalEvent>;

/** Events in journal order, in batches (`readJournalBatches` reads a journal file so). */
export type JournalBatches = Iterable<readonly JournalEvent[]> | AsyncIterable<readonly JournalEvent[]>;

/** A folded run as the scorer holds it: the facts, the metrics (./metrics.ts), and what a bounded fold checked as it went. */
export type FoldedRunWithMetrics = FoldedRun & { metrics?: ScenarioMetrics; finalized?: FinalizedChecks };

/**
 * A bounded fold checks each settled buyer no fault touched as it settles and drops it (and its
 * orders): the invariant checks and the buyer tally holding them, which `scoreFolded` feeds the
 * buyers left in the heap and finishes. Such a run is scored once.
 */
interface FinalizedChecks {
  checker: InvariantChecker;
  tallier: BuyerTallier;
  ledger: OrderLedger;
  scored: boolean;
}


/** Options of `JournalFolder`: what it may forget as it goes (`foldJournalFile` gives one pass's). */
export interface FoldOptions extends Partial<FoldPass> {
  /**
   * Compact a buyer's facts this long (run clock, ms) after it finished, unless a fault hit names it
   * or one of its orders (`compactBuyerFacts`: what only incidents read is dropped), so that the fold
   * does not hold every order in full. A fault hit that comes later still finds the facts gone:
   * `lostFacts()` then names the buyers to keep whole in another pass (`foldJournalFile` does it).
   * @default undefined (nothing is compacted)
   * @example 1000
   */
  compactAfterMs?: number;
  /** Buyers (and orders) never compacted nor dropped; `'everything'`: nothing is. @default none */
  keepWhole?: FoldPass['keepWhole'];
  /**
   * Keep the fold's memory flat however long the run: also check each settled buyer no fault
   * touched, with its orders, into the invariant checks and buyer tally when it is compacted, and
   * drop them (noted in `dropped`; a later event naming one is reported by `lostFacts()`). Needs
   * `compactAfterMs`; the folded run is then scored once.
   * @default false
   */
  bounded?: boolean;
  /** Where card owners, trade numbers and the metrics' marks are kept; closed with the fold. @default all in the heap */
  records?: FoldPass['records'];
  /** Where the ids of dropped buyers and orders are noted. @default a `Set` */
  dropped?: IdSet;
}

/** Folds journal events, one at a time, into a `FoldedRun` (and, beside it, the run's latency metrics). */
export class JournalFolder {
  private readonly state: FoldedRunWithMetrics;
  /** Trade number → order id, for queries that name only the trade. */
  private readonly tradeOrders: RecordStore<string, string>;
  private readonly metrics: MetricsFolder;
  private readonly compactAfterMs: number | undefined;
  private readonly keepWhole: ReadonlySet<string>;
  /** Finished buyers waiting to be compacted, with when (run clock), in journal order from `dueHead` on. */
  private dueBuyers: BuyerFacts[] = [];
  private dueAt: number[] = [];
  private dueHead = 0;
  /** Buyers and orders some fault hit named (never compacted). */
  private readonly faultedBuyers = new Set<string>();
  private readonly faultedOrders = new Set<string>();

  /** One copy of each repeated short value (status, reason, kind…): JSON.parse makes a new string each time. */
  private readonly names = new Map<string, string>();

  constructor(options: FoldOptions = {}) {
    const everything = options.keepWhole === 'everything';
    this.compactAfterMs = everything ? undefined : options.compactAfterMs;
    this.keepWhole = options.keepWhole === undefined || options.keepWhole === 'everything' ? new Set() : options.keepWhole;
    const records = options.records ?? openRecordSpace();
    this.state = newFoldedRun(records);
    this.tradeOrders = records.store<string, string>('trade_orders', { encode: (orderId) => orderId, decode: (orderId) => orderId, key: (tradeNo) => tradeNo });
    this.metrics = new MetricsFolder(records);
    this.dropped = options.dropped ?? new Set();
    if (options.bounded && this.compactAfterMs !== undefined) {
      this.state.finalized = { checker: invariantChecker(this.state), tallier: buyerTallier(this.state), ledger: new OrderLedger(), scored: false };
    }
  }

  /** The folder's one copy of a repeated value; values past `MAX_NAMES` distinct ones are kept as they come. */
  private name<T extends string | undefined>(value: T): T {
    if (value === undefined) return value;
    const known = this.names.get(value);
    if (known !== undefined) return known as T;
    if (this.names.size < MAX_NAMES) this.names.set(value, value);
    return value;
  }

  private order(orderId: string): OrderFacts {
    return this.state.orders.obtain(orderId, this.noteIfFinalized);
  }

  private buyer(buyerId: string): BuyerFacts {
    return this.state.buyers.obtain(buyerId, this.noteIfFinalized);
  }

  /** Ids (buyers and orders) the fold checked and dropped. */
  private readonly dropped: IdSet;
  /** Finalized ids a later event named: their facts were incomplete when checked; fold again keeping them whole. */
  private readonly reopened = new Set<string>();

  /** Called for an id the fold does not hold: notes it when the fold checked and dropped it earlier. */
  private readonly noteIfFinalized = (id: string): void => {
    if (this.dropped.has(id)) this.reopened.add(id);
  };

  /**
   * Checks a settled buyer no fault touched, with the orders it owns, into the run's invariant
   * checks and buyer tally, and drops them from the heap — unless something the checks read could
   * still change: an order it lists but does not own, or a card shown on an order that the
   * supplier did not issue to it (whether anyone was issued it may yet change).
   */
  private finalize(buyer: BuyerFacts): boolean {
    const finalized = this.state.finalized;
    if (!finalized) return false;
    const { orders, buyers } = this.state;
    const owned: Array<{ order: OrderFacts; rank: number }> = [];
    for (const orderId of buyer.orders) {
      const ranked = orders.ranked(orderId);
      if (!ranked || ranked.facts.buyerId !== buyer.buyerId) return false;
      for (const code of ranked.facts.shownCards) if (!ranked.facts.cards.has(code)) return false;
      owned.push({ order: ranked.facts, rank: ranked.rank });
    }
    for (const { order } of owned) resolveFromBuyer(order, buyer);
    const group = { buyer, orders: owned };
    finalized.checker.add(group);
    finalized.tallier.add(group, NO_FAULT_MARKS);
    finalized.ledger.add(group);
    for (const { order } of owned) {
      orders.drop(order.orderId);
      this.dropped.add(order.orderId);
    }
    buyers.drop(buyer.buyerId);
    this.dropped.add(buyer.buyerId);
    return true;
  }

  private link(orderId: string, buyerId: string | undefined): OrderFacts {
    const order = this.order(orderId);
    if (buyerId !== undefined) {
      // The ids kept are the map keys: one copy of each.
      const buyer = this.buyer(buyerId);
      order.buyerId ??= buyer.buyerId;
      if (!buyer.orders.includes(orderId)) buyer.orders = append(buyer.orders, order.orderId);
    }
    return order;
  }

  /** A call the shop made to a mock about the order (evidence that it is working on it). */
  private shopCall(orderId: string, t: number): OrderFacts {
    const order = this.order(orderId);
    order.shopCalls = appendTime(order.shopCalls, t);
    return order;
  }

  /** Folds a batch of events, in order. */
  addAll(events: readonly JournalEvent[]): void {
    for (let index = 0; index < events.length; index++) this.add(events[index] as JournalEvent);
  }

  add(event: JournalEvent): void {
    if (this.dueHead < this.dueAt.length && event.t >= (this.dueAt[this.dueHead] as number)) this.compactDue(event.t);
    this.metrics.add(event);
    this.state.requests.add(event);
    if (event.t > this.state.endedAt) this.state.endedAt = event.t;
    switch (event.type) {
      case 'run.started':
        this.state.run = { scenario: event.scenario, seed: event.seed, replay: event.replay };
        if (event.protocol !== undefined) this.state.provider.protocol = event.protocol;
        if (event.channels !== undefined) this.state.provider.channels = event.channels;
        if (event.observes !== undefined) this.state.observes = event.observes;
        break;
      case 'mock.outside_request':
        this.state.outside.add(event);
        break;
      case 'fault.not_injected':
        this.state.provider.notInjected.push({ faultIndex: event.faultIndex, fault: event.fault, reason: event.reason, ...(event.cause ? { cause: event.cause } : {}) });
        break;
      case 'run.finished':
        if (this.state.finished !== 'target-crashed') this.state.finished = event.reason;
        break;
      case 'load.finished':
        this.state.counters.loadFinished = { arrivals: event.arrivals, dropped: event.dropped };
        break;
      case 'orders.final_read':
        this.state.finalRead = { orders: event.orders, read: event.read, changed: event.changed, unread: event.unread, cut: event.cut, ...(event.skipped ? { skipped: event.skipped } : {}) };
        break;
      case 'target.killed':
        this.state.target.kills.push(event.t);
        break;
      case 'target.restarted':
        this.state.target.restarts.push(event.t);
        break;
      case 'buyer.arrived': {
        this.state.counters.arrived++;
        const buyer = this.buyer(event.buyerId);
        buyer.behaviour = this.name(event.behaviour);
        buyer.sku = this.name(event.sku);
        buyer.quantity = event.quantity;
        buyer.contact = event.contact;
        buyer.region = this.name(event.region);
        buyer.signals = event.signals;
        buyer.intendedAt = event.intendedAt;
        break;
      }
      case 'buyer.dropped': {
        this.state.counters.dropped++;
        const buyer = this.buyer(event.buyerId);
        buyer.dropped = true;
        buyer.intendedAt ??= event.intendedAt;
        // Nothing more happens to a buyer dropped at the in-flight cap.
        if (!this.keepWhole.has(buyer.buyerId) && !this.faultedBuyers.has(buyer.buyerId)) this.finalize(buyer);
        break;
      }
      case 'order.create.answered': {
        if (event.error !== undefined || (event.httpStatus !== undefined && event.httpStatus >= 500)) this.state.counters.httpErrors++;
        else if (event.httpStatus !== undefined && event.httpStatus >= 400) this.state.counters.rejected++;
        const buyer = this.buyer(event.buyerId);
        const order = event.orderId === undefined ? undefined : this.link(event.orderId, event.buyerId);
        buyer.submissions = append(buyer.submissions, {
          t: event.t,
          idempotencyKey: event.idempotencyKey,
          intent: event.intent,
          httpStatus: event.httpStatus,
          orderId: order?.orderId,
          status: this.name(event.status),
          errorCode: this.name(event.errorCode),
          error: event.error,
        });
        if (order === undefined) break;
        order.createdByBuyer = true;
        order.intent ??= event.intent;
        if (event.amount !== undefined) order.amount ??= event.amount;
        if (event.httpStatus === 201) order.created201At ??= event.t;
        if (event.status !== undefined) {
          order.statuses = append(order.statuses, { t: event.t, status: this.name(event.status), reason: this.name(event.reason), source: 'answer' });
        }
        break;
      }
      case 'order.cancel.answered': {
        const order = this.link(event.orderId, event.buyerId);
        order.cancels = append(order.cancels, { t: event.t, httpStatus: event.httpStatus, status: this.name(event.status) });
        break;
      }
      case 'order.observed': {
        const order = this.link(event.orderId, event.buyerId);
        // A view from a create answer (possibly a replayed key's older view) counts as an answer.
        const source = event.source === 'create' ? 'answer' : event.source === 'final' ? 'final' : 'observed';
        order.statuses = append(order.statuses, { t: event.t, status: this.name(event.status), reason: this.name(event.reason), source, cards: event.cards });
        if (event.cardCodes !== undefined) {
          // A shop that holds its own stock issues its cards itself: what it shows the buyer is what it issued.
          const ownStock = this.state.observes?.stockSupplier === false;
          let issued = 0;
          for (const shown of event.cardCodes) {
            const code = sameCode(order.cards, shown);
            order.shownCards = withCode(order.shownCards, code);
            this.state.shownCardOwners.add(code, order.orderId);
            if (ownStock && !order.cards.has(code)) {
              order.cards = withCode(order.cards, code);
              this.state.cardOwners.add(code, order.orderId, order.sku);
              issued++;
            }
          }
          if (issued > 0) order.fulfilments = append(order.fulfilments, { t: event.t, cards: issued });
        }
        break;
      }
      case 'cashier.paid':
        this.tradeOrders.set(event.tradeNo, this.link(event.orderId, event.buyerId).orderId);
        break;
      case 'cashier.verified':
        this.link(event.orderId, event.buyerId);
        break;
      case 'buyer.finished': {
        const buyer = this.buyer(event.buyerId);
        buyer.finished = { outcome: this.name(event.outcome), latencyMs: event.latencyMs, finalStatus: this.name(event.finalStatus) };
        if (event.orderId !== undefined) this.link(event.orderId, event.buyerId);
        if (this.compactAfterMs !== undefined && (!buyer.compacted || this.state.finalized !== undefined)) {
          this.dueBuyers.push(buyer);
          this.dueAt.push(event.t + this.compactAfterMs);
        }
        break;
      }
      case 'payment.trade.created': {
        const order = this.shopCall(event.orderId, event.t);
        order.tradeAmount ??= event.amount;
        order.tradeCreations = append(order.tradeCreations, { t: event.t, repeat: event.repeat });
        this.tradeOrders.set(event.tradeNo, order.orderId);
        break;
      }
      case 'payment.trade.refused': {
        const order = this.shopCall(event.orderId, event.t);
        order.tradeRefusals = append(order.tradeRefusals, { t: event.t, code: this.name(event.code) });
        break;
      }
      case 'payment.trade.paid': {
        const order = this.order(event.orderId);
        // The payer is usually a buyer: then its id is the buyer map's key.
        const payerId = this.state.buyers.find(event.payerId)?.buyerId ?? event.payerId;
        order.captures = append(order.captures, { t: event.t, amount: event.amount, payerId });
        this.tradeOrders.set(event.tradeNo, order.orderId);
        break;
      }
      case 'payment.trade.pay_failed': {
        const order = this.order(event.orderId);
        order.payFailures = append(order.payFailures, { t: event.t, code: this.name(event.code) });
        break;
      }
      case 'payment.trade.queried': {
        const orderId = event.orderId ?? (event.tradeNo !== undefined ? this.tradeOrders.get(event.tradeNo) : undefined);
        if (orderId === undefined) break;
        const order = this.shopCall(orderId, event.t);
        order.queries = appendTime(order.queries, event.t);
        break;
      }
      case 'payment.trade.closed': {
        const order = this.shopCall(event.orderId, event.t);
        if (event.result === 'has_success') order.closedWithSuccess = appendTime(order.closedWithSuccess, event.t);
        else order.closes = appendTime(order.closes, event.t);
        break;
      }
      case 'payment.refund': {
        const order = this.shopCall(event.orderId, event.t);
        order.refundAttempts = appendTime(order.refundAttempts, event.t);
        if (event.ok && !event.repeat) order.refunds = append(order.refunds, { t: event.t, amount: event.amount });
        break;
      }
      case 'payment.callback.sent': {
        const order = this.order(event.orderId);
        order.callbacks = append(order.callbacks, {
          t: event.t,
          acked: event.acked,
          status: this.name(event.status),
          forgery: this.name(event.forgery),
          ...(event.copy > 1 ? { copy: event.copy } : {}),
          ...(event.httpStatus === undefined ? {} : { httpStatus: event.httpStatus }),
        });
        break;
      }
      case 'stock.reserved': {
        const order = this.shopCall(event.orderId, event.t);
        order.sku ??= this.name(event.sku);
        order.reservedQuantity ??= event.quantity;
        if (!event.repeat) order.reservations = appendTime(order.reservations, event.t);
        break;
      }
      case 'stock.refused': {
        const order = this.shopCall(event.orderId, event.t);
        order.sku ??= this.name(event.sku);
        order.stockRefusals = appendTime(order.stockRefusals, event.t);
        break;
      }
      // Not counted as a shop call: the supplier also releases on its own (a sold-out fulfil).
      case 'stock.released': {
        const order = this.order(event.orderId);
        order.releases = append(order.releases, { t: event.t, reason: event.reason });
        break;
      }
      case 'stock.fulfil_failed': {
        const order = this.shopCall(event.orderId, event.t);
        order.fulfilFailures = appendTime(order.fulfilFailures, event.t);
        break;
      }
      case 'stock.fulfilled': {
        const order = this.shopCall(event.orderId, event.t);
        if (event.repeat) break;
        order.sku ??= this.name(event.sku);
        order.fulfilments = append(order.fulfilments, { t: event.t, cards: event.cards.length });
        this.state.cardOwners.issuing(event.sku);
        for (const code of event.cards) {
          order.cards = withCode(order.cards, code);
          this.state.cardOwners.add(code, order.orderId, event.sku);
        }
        break;
      }
      case 'notify.message': {
        const order = this.shopCall(event.orderId, event.t);
        const kind = this.name(event.kind);
        order.messageAttempts = append(order.messageAttempts, { t: event.t, kind, refused: false });
        if (!event.duplicate) {
          // Messages go to the buyer's contact: then the contact is the one copy kept.
          const contact = order.buyerId === undefined ? undefined : this.state.buyers.find(order.buyerId)?.contact;
          const to = contact === event.to ? contact : event.to;
          order.messages = append(order.messages, { t: event.t, to, kind, reason: this.name(event.reason) });
        }
        break;
      }
      case 'notify.refused': {
        const order = this.shopCall(event.orderId, event.t);
        order.messageAttempts = append(order.messageAttempts, { t: event.t, kind: this.name(event.kind), refused: true });
        break;
      }
      case 'risk.assessed': {
        this.link(event.orderId, event.buyerId);
        const order = this.shopCall(event.orderId, event.t);
        order.risk = append(order.risk, { t: event.t, decision: event.decision });
        break;
      }
      case 'risk.queried':
        this.shopCall(event.orderId, event.t);
        break;
      case 'risk.resolved': {
        const order = this.order(event.orderId);
        order.risk = append(order.risk, { t: event.t, decision: event.status });
        break;
      }
      case 'fault.injected': {
        let key: string;
        if (event.orderId !== undefined) {
          const order = this.link(event.orderId, event.buyerId);
          this.faultedOrders.add(order.orderId);
          if (order.buyerId !== undefined) this.faultedBuyers.add(order.buyerId);
          key = faultHitKey('order', event.fault, event.orderId);
        } else if (event.buyerId !== undefined) {
          this.buyer(event.buyerId);
          key = faultHitKey('buyer', event.fault, event.buyerId);
        } else {
          break;
        }
        if (event.buyerId !== undefined) this.faultedBuyers.add(event.buyerId);
        const known = this.state.faultHits.get(key);
        if (!known) {
          this.state.faultHits.set(key, {
            fault: this.name(event.fault),
            t: event.t,
            faultIndex: event.faultIndex,
            orderId: event.orderId,
            buyerId: event.buyerId,
            times: [event.t],
          });
        } else {
          insertSorted(known.times, event.t);
          known.buyerId ??= event.buyerId;
          if (event.t < known.t) {
            known.t = event.t;
            known.faultIndex = event.faultIndex;
          }
        }
        break;
      }
      default:
        // order.create.sent, payment.verification.*, target.started/ready/exited, harness.error:
        // nothing to fold.
        break;
    }
  }

  /**
   * Compacts the buyers due by `now` (run clock) that no fault hit concerns, and lets them and the
   * orders they own go to the archive once idle. What incidents read stays in the heap: the
   * report lists every incident anyway.
   */
  private compactDue(now: number): void {
    const { orders, buyers } = this.state;
    while (this.dueHead < this.dueAt.length && (this.dueAt[this.dueHead] as number) <= now) {
      // The queued object may be gone (checked and dropped already) or a newer one.
      const buyer = buyers.find((this.dueBuyers[this.dueHead] as BuyerFacts).buyerId);
      this.dueHead++;
      if (!buyer || this.keepWhole.has(buyer.buyerId) || this.faultedBuyers.has(buyer.buyerId)) continue;
      const faulted = buyer.orders.some((orderId) => {
        const owner = orders.find(orderId)?.buyerId;
        return (
          this.faultedOrders.has(orderId) ||
          this.keepWhole.has(orderId) ||
          (owner !== undefined && (this.faultedBuyers.has(owner) || this.keepWhole.has(owner)))
        );
      });
      if (faulted) continue;
      if (!buyer.compacted) compactBuyerFacts(buyer, orders);
      this.finalize(buyer);
    }
    if (this.dueHead > 4096 && this.dueHead * 2 > this.dueAt.length) {
      this.dueBuyers = this.dueBuyers.slice(this.dueHead);
      this.dueAt = this.dueAt.slice(this.dueHead);
      this.dueHead = 0;
    }
  }

  /**
   * The buyers whose facts the incidents read — named by a fault hit, owning an order one names, or
   * owning an order of such a buyer — when the fold compacted any of them (a fault hit that came
   * after the compaction), with the ids (buyers, orders) the fold checked and dropped that a later
   * event named; undefined when there are none. Fold again keeping these whole.
   */
  lostFacts(): ReadonlySet<string> | undefined {
    const { orders, buyers } = this.state;
    const read = new Set<string>();
    // Ids the incidents read whose facts the fold checked and dropped (their owner unknown now).
    const gone = new Set<string>(this.reopened);
    const addOwner = (orderId: string): void => {
      const owner = orders.get(orderId)?.buyerId;
      if (owner !== undefined) read.add(owner);
      else if (this.dropped.has(orderId)) gone.add(orderId);
    };
    for (const hit of this.state.faultHits.values()) {
      if (hit.buyerId !== undefined) read.add(hit.buyerId);
      if (hit.orderId !== undefined) addOwner(hit.orderId);
    }
    for (const buyerId of [...read]) for (const orderId of buyers.get(buyerId)?.orders ?? []) addOwner(orderId);
    for (const buyerId of read) if (buyers.get(buyerId) === undefined && this.dropped.has(buyerId)) gone.add(buyerId);
    if (gone.size > 0) return new Set([...read, ...gone]);
    for (const buyerId of read) if (buyers.get(buyerId)?.compacted) return read;
    return undefined;
  }

  /**
   * Resolves what needs the whole journal (buyer contact and quantity per order) and returns the
   * state; orders the fold checked and dropped were resolved when checked.
   */
  finish(): FoldedRun & { metrics: ScenarioMetrics } {
    for (const order of this.state.orders.values()) {
      const buyer = order.buyerId !== undefined ? this.state.buyers.get(order.buyerId) : undefined;
      if (buyer) resolveFromBuyer(order, buyer);
    }
    return Object.assign(this.state, { metrics: this.metrics.finish() });
  }

  /** Releases what the fold kept out of the heap (a fold given up; a finished one's run does the same). */
  close(): void {
    this.state.close();
  }
}

/** Distinct values `JournalFolder.name` keeps one copy of (statuses, reasons, kinds and codes are few). */
const MAX_NAMES = 10_000;

function insertSorted(times: number[], t: number): void {
  let index = times.length;
  while (index > 0 && (times[index - 1] as number) > t) index--;
  times.splice(index, 0, t);
}

/** Folds a journal (array, generator or async stream) in one pass. */
export async function foldJournal(events: JournalSource): Promise<FoldedRun & { metrics: ScenarioMetrics }> {
  const folder = new JournalFolder();
  for await (const event of events) folder.add(event);
  return folder.finish();
}

/** Folds a journal read in batches (`readJournalBatches`) in one pass: no promise per event. */
export async function foldJournalBatches(batches: JournalBatches): Promise<FoldedRun & { metrics: ScenarioMetrics }> {
  const folder = new JournalFolder();
  for await (const batch of batches) folder.addAll(batch);
  return folder.finish();
}

/**
 * How long after a buyer finished `foldJournalFile` compacts its facts (run clock, ms): a moment for
 * stragglers (a stale or duplicate callback right after the delivery). Facts compacted soon die
 * young, which keeps the scorer's peak memory low; a fault hit later than this costs a second read.
 */
export const COMPACT_AFTER_MS = 1000;

/** Options of `foldJournalFile` (and `scoreJournalFile`). */
export interface FoldFileOptions extends ReadJournalOptions {
  /** @default COMPACT_AFTER_MS */
  compactAfterMs?: number;
  /** Keep memory flat however long the run (`FoldOptions.bounded`); false keeps every record in the heap. @default true */
  bounded?: boolean;
  /** @deprecated The earlier name of `bounded` (the bounded fold archived records on disk). */
  archive?: boolean;
}

/**
 * Folds a journal file, read in batches, compacting the facts of settled buyers no incident
 * concerns as it goes (`FoldOptions.compactAfterMs`) and — unless `bounded: false` — checking and
 * dropping them, so that memory stays flat however long the run. When a later event needed what
 * was compacted or dropped (a late fault hit, a late capture), the file is folded again keeping
 * those buyers whole (`foldWithinBounds`): the result is always the same as folding everything in
 * full. Score the result once, then `close()` it.
 */
export async function foldJournalFile(path: string, options: FoldFileOptions = {}): Promise<FoldedRun & { metrics: ScenarioMetrics }> {
  const compactAfterMs = options.compactAfterMs ?? COMPACT_AFTER_MS;
  return foldWithinBounds(() => readJournalBatches(path, options), (pass) => new JournalFolder({ ...pass, compactAfterMs }), {
    bounded: options.bounded ?? options.archive ?? true,
    sweepEveryMs: compactAfterMs,
  });
}
