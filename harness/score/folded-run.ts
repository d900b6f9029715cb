/**
 * The whole journal folded into per-order and per-buyer facts (the types are core/faults/facts.ts,
 * which the fault registry's rules read), and how the fold builds and compacts them: shared empty
 * lists, card codes kept as one string until an order has two, incident-only facts dropped once a
 * buyer is settled and untouched by any fault.
 */
import type { JournalEventMap, TargetObservation } from '../../core/journal.js';
import type { NotInjectedFault } from '../../core/report-types.js';
import type { PaymentProtocol } from '../../core/schema-parts.js';
import type { IncidentClass } from '../../core/faults/index.js';
import type { BuyerFacts, CardCodes, OrderFacts } from '../../core/faults/facts.js';
import { openRecordSpace, type RecordSpace } from '../../memory/index.js';
import { CardOwners, FactsTable } from './fold-store.js';
import { CHECKED_MESSAGE_KINDS } from './truth.js';
import { RequestLedger } from './accounting.js';
import { OutsideRequestTally } from './outside-requests.js';

/** The first `fault.injected` for one (class, order) — or (class, buyer) when no order was named. */
export interface FaultHitFacts {
  fault: IncidentClass;
  t: number;
  /** Index in `scenario.faults` (-1 for buyer behaviours). */
  faultIndex: number;
  orderId?: string;
  buyerId?: string;
  /** Every `fault.injected` time for the pair, ascending (a fault may bite more than once). */
  times: number[];
}

/** The `FoldedRun.faultHits` key of the first hit of one class on one order, or on one buyer when the hit named no order. */
export function faultHitKey(target: 'order' | 'buyer', fault: string, id: string): string {
  return `${target}\u0000${fault}\u0000${id}`;
}

/** A whole journal folded into per-order and per-buyer state, plus the supplier's issue ledger. */
export interface FoldedRun {
  /** From `run.started`, when present. */
  run?: { scenario: string; seed: number; replay: string };
  /** What the target let Ordeal observe (`run.started`); absent: everything (contract v1 shops). */
  observes?: TargetObservation;
  /** The payment protocol (`run.started`), and the faults it could not express (`fault.not_injected`). */
  provider: { protocol?: PaymentProtocol; channels?: PaymentProtocol[]; notInjected: NotInjectedFault[] };
  /** Requests the mocks refused for lacking the run's credentials (`mock.outside_request`): apart from every order. */
  outside: OutsideRequestTally;
  /** Why the run ended, from `run.finished`, when present. */
  finished?: JournalEventMap['run.finished']['reason'];
  /** How the final read of every order went (`orders.final_read`), when the run made one. */
  finalRead?: JournalEventMap['orders.final_read'];
  orders: FactsTable<OrderFacts>;
  buyers: FactsTable<BuyerFacts>;
  /** Card code → the ids the supplier issued it to (orders, or a shop's stockpile); distinct codes per SKU. */
  cardOwners: CardOwners;
  /** Card code → the orders the shop showed it on. */
  shownCardOwners: CardOwners;
  /** First hit per (class, order), then per (class, buyer) for hits naming only a buyer. */
  faultHits: Map<string, FaultHitFacts>;
  /** Ordeal killing and restarting the managed shop (`target.crash`). */
  target: { kills: number[]; restarts: number[] };
  /** The latest event time seen (run clock, ms). */
  endedAt: number;
  counters: {
    arrived: number;
    dropped: number;
    httpErrors: number;
    rejected: number;
    /** From `load.finished`, when present. */
    loadFinished?: { arrivals: number; dropped: number };
  };
  /** Order-create requests and the order ids their answers named (the accounting line's request side). */
  requests: RequestLedger;
  /** Releases what the fold kept out of the heap, once the run is scored. */
  close(): void;
}

/** A buyer with the orders it owns (`order.buyerId` is the buyer's), each with its first-seen rank among all the run's orders. */
export interface BuyerGroup {
  buyer: BuyerFacts;
  orders: ReadonlyArray<{ order: OrderFacts; rank: number }>;
}

/**
 * Every buyer with the orders it owns, in no promised order: the one pass the end-of-run checks
 * make (an archived fold reads each buyer and its orders from disk once). Sort what is reported by
 * `rank` to keep the first-seen order of orders.
 */
export function* buyerGroups(run: Pick<FoldedRun, 'orders' | 'buyers'>): Generator<BuyerGroup> {
  for (const buyer of run.buyers.values()) {
    const orders: Array<{ order: OrderFacts; rank: number }> = [];
    for (const orderId of buyer.orders) {
      const ranked = run.orders.ranked(orderId);
      if (ranked?.facts.buyerId !== buyer.buyerId) continue;
      resolveFromBuyer(ranked.facts, buyer);
      orders.push({ order: ranked.facts, rank: ranked.rank });
    }
    yield { buyer, orders };
  }
}

/** Fills in what an order takes from its buyer's arrival when nothing of its own said it: contact, quantity, SKU. */
export function resolveFromBuyer(order: OrderFacts, buyer: BuyerFacts): void {
  order.contact ??= buyer.contact;
  order.quantity ??= buyer.quantity;
  order.sku ??= buyer.sku;
}

/** The list every list of a new `OrderFacts` (and `BuyerFacts`) starts as: shared and frozen. */
export const NO_ENTRIES: readonly never[] = Object.freeze([]);

/** `list` with `item` added at the end: a list of its own on the first entry (lists start as the shared `NO_ENTRIES`). */
export function append<T extends object | string>(list: readonly T[], item: T): readonly T[] {
  if (list === NO_ENTRIES) return [item];
  (list as T[]).push(item);
  return list;
}

/** `append` for lists of times: apart, so that V8 keeps them as unboxed doubles. */
export function appendTime(list: readonly number[], t: number): readonly number[] {
  if (list === NO_ENTRIES) return [t];
  (list as number[]).push(t);
  return list;
}

/** The card codes every new `OrderFacts` starts with: none, shared, never added to. */
export const NO_CODES: CardCodes = Object.freeze({
  size: 0,
  has: () => false,
  *[Symbol.iterator](): Generator<string> {},
});

/** One card code: what most orders get, without the memory of a `Set` of one. */
class OneCode implements CardCodes {
  constructor(readonly code: string) {}
  get size(): number {
    return 1;
  }
  has(code: string): boolean {
    return code === this.code;
  }
  *[Symbol.iterator](): Generator<string> {
    yield this.code;
  }
}

/** `codes` with `code` added: a new value when it held none or one, else the same `Set`. */
export function withCode(codes: CardCodes, code: string): CardCodes {
  if (codes === NO_CODES) return new OneCode(code);
  if (codes instanceof OneCode) return codes.code === code ? codes : new Set([codes.code, code]);
  (codes as Set<string>).add(code);
  return codes;
}

/** `code` as `codes` keeps it when that is its one code (one copy of the string kept), else `code`. */
export function sameCode(codes: CardCodes, code: string): string {
  return codes instanceof OneCode && codes.code === code ? codes.code : code;
}

export function newOrderFacts(orderId: string): OrderFacts {
  return {
    orderId,
    buyerId: undefined,
    createdByBuyer: false,
    intent: undefined,
    contact: undefined,
    quantity: undefined,
    sku: undefined,
    amount: undefined,
    tradeAmount: undefined,
    reservedQuantity: undefined,
    created201At: undefined,
    statuses: NO_ENTRIES,
    tradeCreations: NO_ENTRIES,
    tradeRefusals: NO_ENTRIES,
    captures: NO_ENTRIES,
    payFailures: NO_ENTRIES,
    refunds: NO_ENTRIES,
    refundAttempts: NO_ENTRIES,
    queries: NO_ENTRIES,
    closedWithSuccess: NO_ENTRIES,
    closes: NO_ENTRIES,
    callbacks: NO_ENTRIES,
    reservations: NO_ENTRIES,
    releases: NO_ENTRIES,
    stockRefusals: NO_ENTRIES,
    fulfilments: NO_ENTRIES,
    fulfilFailures: NO_ENTRIES,
    cards: NO_CODES,
    shownCards: NO_CODES,
    messages: NO_ENTRIES,
    messageAttempts: NO_ENTRIES,
    cancels: NO_ENTRIES,
    risk: NO_ENTRIES,
    shopCalls: NO_ENTRIES,
  };
}

export function newBuyerFacts(buyerId: string): BuyerFacts {
  return {
    buyerId,
    behaviour: undefined,
    sku: undefined,
    quantity: undefined,
    contact: undefined,
    region: undefined,
    signals: undefined,
    intendedAt: undefined,
    dropped: false,
    orders: NO_ENTRIES,
    submissions: NO_ENTRIES,
    finished: undefined,
    compacted: false,
  };
}

/** A list trimmed to its length (a list grown by pushes holds spare room). */
function trimmed<T>(list: readonly T[]): readonly T[] {
  return list.length === 0 ? NO_ENTRIES : list.slice();
}

/**
 * Drops, from a settled buyer that no incident concerns, what only the stage functions read: its
 * submissions, and in the orders it owns (`order.buyerId`) everything but what the invariants, the
 * steady state and the recovery rules read — amounts, quantities, statuses, captures, refunds,
 * fulfilments, cards, stock refusals and the `delivered` messages. Kept lists are trimmed to size.
 * Later events for the buyer or its orders are still folded (into lists of their own).
 */
export function compactBuyerFacts(buyer: BuyerFacts, orders: Pick<FactsTable<OrderFacts>, 'find'>): void {
  for (const orderId of buyer.orders) {
    const order = orders.find(orderId);
    if (order?.buyerId === buyer.buyerId) compactOrderFacts(order);
  }
  buyer.orders = trimmed(buyer.orders);
  buyer.submissions = NO_ENTRIES;
  buyer.signals = undefined;
  buyer.compacted = true;
}

function compactOrderFacts(order: OrderFacts): void {
  order.statuses = trimmed(order.statuses);
  order.captures = trimmed(order.captures);
  order.refunds = trimmed(order.refunds);
  order.fulfilments = trimmed(order.fulfilments);
  order.stockRefusals = trimmed(order.stockRefusals);
  // The invariants read delivered and payment-received messages (no-silent-late-delivery, truthful-messages).
  order.messages = trimmed(order.messages.filter((message) => CHECKED_MESSAGE_KINDS.has(message.kind)));
  order.tradeCreations = NO_ENTRIES;
  order.tradeRefusals = NO_ENTRIES;
  order.payFailures = NO_ENTRIES;
  order.refundAttempts = NO_ENTRIES;
  order.queries = NO_ENTRIES;
  order.closedWithSuccess = NO_ENTRIES;
  order.closes = NO_ENTRIES;
  order.callbacks = NO_ENTRIES;
  order.reservations = NO_ENTRIES;
  order.releases = NO_ENTRIES;
  order.fulfilFailures = NO_ENTRIES;
  order.messageAttempts = NO_ENTRIES;
  order.cancels = NO_ENTRIES;
  order.risk = NO_ENTRIES;
  order.shopCalls = NO_ENTRIES;
}

/** An empty fold, its card ledgers kept in `records` (closed with the run). */
export function newFoldedRun(records: RecordSpace = openRecordSpace()): FoldedRun {
  const buyers = new FactsTable(newBuyerFacts);
  const orders = new FactsTable(newOrderFacts, (order) => {
    const buyer = order.buyerId === undefined ? undefined : buyers.get(order.buyerId);
    if (buyer) resolveFromBuyer(order, buyer);
  });
  return {
    orders,
    buyers,
    cardOwners: new CardOwners(records, 'card_owners'),
    shownCardOwners: new CardOwners(records, 'shown_card_owners'),
    faultHits: new Map(),
    target: { kills: [], restarts: [] },
    provider: { notInjected: [] },
    outside: new OutsideRequestTally(),
    endedAt: 0,
    counters: { arrived: 0, dropped: 0, httpErrors: 0, rejected: 0 },
    requests: new RequestLedger(),
    close: () => records.close(),
  };
}
