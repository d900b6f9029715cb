/**
 * The accounting line: every arrival, order request, order, payment and card of a run accounted
 * for, from the journal alone, in equations whose sides are counted apart —
 *
 * - arrivals planned (the load's own count) = buyers sent + dropped at the in-flight cap;
 * - order requests sent = created + rejected + failed + unanswered (by each request's last answer);
 * - orders named in create answers = settled + unsettled at the end (the orders the fold kept);
 * - the payment ledger against the shop's answers: every order holding money is shown paid, and
 *   every order shown paid holds money;
 * - the supplier's card ledger against the codes shown: every card issued to an order was shown
 *   on it, and every code shown on it was issued to it.
 *
 * What a cut run leaves open (a request in flight, money or cards not yet shown on an unsettled
 * order) is counted as such, never as a gap. Two parts feed it: `RequestLedger`, event by event
 * (the fold drops a settled buyer's requests early), and `OrderLedger`, buyer group by buyer group
 * (the fold's one pass over the orders, as the invariant checks are fed).
 */
import { SETTLED_STATUSES, type JournalEvent, type JournalEventMap } from '../../core/journal.js';
import { ACCOUNTING_NAMED_ORDERS, type Accounting, type AccountingCheck, type AccountingGap } from '../../core/report-types.js';
import { amountOf, capturedTotal, lastStatus, refundedTotal } from '../../core/faults/evidence.js';
import type { OrderFacts } from '../../core/faults/facts.js';
import { plural } from '../../core/units.js';

/** Statuses in which the shop tells the buyer it holds their money. */
const SHOWN_PAID: ReadonlySet<string> = new Set(['paid', 'fulfilling', 'delivered', 'refund_pending']);
/** Statuses that claim a payment went through: shown with no money held, a gap (`refund_pending` may show a refund done). */
const CLAIMS_PAYMENT: ReadonlySet<string> = new Set(['paid', 'fulfilling', 'delivered']);

type RequestOutcome = 'created' | 'rejected' | 'failed' | 'unanswered';

/** One order-create request (a buyer's idempotency key): its last answer, and whether an attempt is still out. */
interface RequestState {
  outcome: RequestOutcome | undefined;
  awaiting: boolean;
}

/** A buyer's open requests and the order ids its create answers named. */
interface OpenBuyer {
  requests: Map<string, RequestState>;
  orderIds: Set<string>;
}

type RequestCounts = Accounting['requests'];

const newRequestCounts = (): RequestCounts => ({ sent: 0, created: 0, rejected: 0, failed: 0, unanswered: 0, inFlight: 0 });

/**
 * Order-create requests and the order ids their answers named, folded event by event. A buyer's
 * requests are tallied when it finishes (its requests are all answered then) and forgotten, so the
 * ledger holds only the buyers in flight.
 */
export class RequestLedger {
  private readonly open = new Map<string, OpenBuyer>();
  private readonly counts = newRequestCounts();
  /** Order ids named in create answers, distinct per buyer, of the buyers tallied. */
  private namedOrders = 0;

  add(event: JournalEvent): void {
    switch (event.type) {
      case 'order.create.sent':
        this.request(event.buyerId, event.idempotencyKey, true).awaiting = true;
        break;
      case 'order.create.answered': {
        const buyer = this.buyer(event.buyerId);
        let request = buyer.requests.get(event.idempotencyKey);
        // An answer whose request was not journaled (hand-built journals) still counts as a request sent.
        request ??= this.request(event.buyerId, event.idempotencyKey, false);
        request.awaiting = false;
        request.outcome = outcomeOf(event.httpStatus, event.orderId, event.error);
        if (event.orderId !== undefined) buyer.orderIds.add(event.orderId);
        break;
      }
      case 'buyer.finished': {
        const buyer = this.open.get(event.buyerId);
        if (buyer === undefined) break;
        tally(buyer, this.counts);
        this.namedOrders += buyer.orderIds.size;
        this.open.delete(event.buyerId);
        break;
      }
      default:
        break;
    }
  }

  /** The counts so far, buyers still in flight included (their requests with an attempt out are in flight). */
  totals(): { requests: RequestCounts; namedOrders: number } {
    const requests = { ...this.counts };
    let namedOrders = this.namedOrders;
    for (const buyer of this.open.values()) {
      tally(buyer, requests);
      namedOrders += buyer.orderIds.size;
    }
    return { requests, namedOrders };
  }

  private buyer(buyerId: string): OpenBuyer {
    let buyer = this.open.get(buyerId);
    if (buyer === undefined) {
      buyer = { requests: new Map(), orderIds: new Set() };
      this.open.set(buyerId, buyer);
    }
    return buyer;
  }

  private request(buyerId: string, key: string, sent: boolean): RequestState {
    const { requests } = this.buyer(buyerId);
    let request = requests.get(key);
    if (request === undefined) {
      request = { outcome: undefined, awaiting: sent };
      requests.set(key, request);
    }
    return request;
  }
}

function outcomeOf(httpStatus: number | undefined, orderId: string | undefined, error: string | undefined): RequestOutcome {
  if (httpStatus === undefined || error !== undefined) return 'unanswered';
  if (httpStatus >= 200 && httpStatus < 300) return orderId === undefined ? 'failed' : 'created';
  if (httpStatus >= 400 && httpStatus < 500) return 'rejected';
  return 'failed';
}

function tally(buyer: OpenBuyer, counts: RequestCounts): void {
  for (const request of buyer.requests.values()) {
    counts.sent++;
    if (request.awaiting) {
      // An attempt still out when the run ended: whatever an earlier attempt got, the request is open.
      counts.unanswered++;
      counts.inFlight++;
    } else counts[request.outcome ?? 'unanswered']++;
  }
}

// ---------------------------------------------------------------------------------------------

/** Orders a gap names, first seen first, at most `ACCOUNTING_NAMED_ORDERS` kept. */
class NamedOrders {
  count = 0;
  private readonly named: Array<{ rank: number; orderId: string }> = [];

  add(rank: number, orderId: string): void {
    this.count++;
    this.named.push({ rank, orderId });
    // Keep the first-seen few: trim once the list is twice the size kept.
    if (this.named.length >= 2 * ACCOUNTING_NAMED_ORDERS) this.trim();
  }

  ids(): string[] {
    this.trim();
    return this.named.map((entry) => entry.orderId);
  }

  private trim(): void {
    this.named.sort((a, b) => a.rank - b.rank);
    this.named.length = Math.min(this.named.length, ACCOUNTING_NAMED_ORDERS);
  }
}

/** What the ledger reads of a buyer group (`BuyerGroup`): the orders the buyer owns, with their first-seen rank. */
export interface AccountingGroup {
  orders: ReadonlyArray<{ order: OrderFacts; rank: number }>;
}

/**
 * The money and card ledgers against the shop's answers, order by order: fed each buyer group
 * once (the fold's bounded checks, then the scorer's pass), and the orders no buyer owns.
 */
export class OrderLedger {
  private created = 0;
  private settled = 0;
  private readonly money = { captured: 0, refunded: 0, ordersHoldingMoney: 0, ordersShownPaid: 0, inTransit: 0, elsewhere: 0 };
  private readonly cards = { issued: 0, shown: 0, inTransit: 0, elsewhere: 0 };
  /** Orders that ended failed, expired or cancelled still holding money. */
  private readonly keptUnshown = new NamedOrders();
  private keptUnshownAmount = 0;
  /** Orders shown refunded whose money the payment ledger still holds. */
  private readonly keptRefunded = new NamedOrders();
  private keptRefundedAmount = 0;
  /** Orders shown paid, fulfilling or delivered with no money held. */
  private readonly shownUnpaid = new NamedOrders();
  /** Cards issued to a settled order, never shown on it. */
  private readonly issuedUnshown = new NamedOrders();
  private issuedUnshownCards = 0;
  /** Codes shown on an order the supplier did not issue to it. */
  private readonly shownUnissued = new NamedOrders();
  private shownUnissuedCards = 0;

  add(group: AccountingGroup): void {
    for (const { order, rank } of group.orders) this.addOrder(order, rank);
  }

  /** One order: a buyer-created one is balanced; one no create answer named only counts as `elsewhere`. */
  addOrder(order: OrderFacts, rank: number): void {
    const captured = capturedTotal(order);
    if (!order.createdByBuyer) {
      this.money.elsewhere += captured;
      this.cards.elsewhere += order.cards.size;
      return;
    }
    const refunded = refundedTotal(order);
    const status = lastStatus(order)?.status;
    const settled = status !== undefined && SETTLED_STATUSES.has(status);
    this.created++;
    if (settled) this.settled++;

    this.money.captured += captured;
    this.money.refunded += refunded;
    const holding = captured - refunded > 0;
    const shownPaid = status !== undefined && SHOWN_PAID.has(status);
    if (holding) this.money.ordersHoldingMoney++;
    if (shownPaid) this.money.ordersShownPaid++;
    if (holding && !shownPaid) {
      if (settled) {
        if (status === 'refunded') {
          this.keptRefunded.add(rank, order.orderId);
          this.keptRefundedAmount += captured - refunded;
        } else {
          this.keptUnshown.add(rank, order.orderId);
          this.keptUnshownAmount += captured - refunded;
        }
      } else this.money.inTransit++;
    }
    if (!holding && status !== undefined && CLAIMS_PAYMENT.has(status) && amountOf(order) > 0) this.shownUnpaid.add(rank, order.orderId);

    this.cards.issued += order.cards.size;
    let unshown = 0;
    let unissued = 0;
    if (order.shownCards.size > 0) {
      this.cards.shown += order.shownCards.size;
      for (const code of order.cards) if (!order.shownCards.has(code)) unshown++;
      for (const code of order.shownCards) if (!order.cards.has(code)) unissued++;
    } else {
      // Cards shown without their codes: only their number can be checked.
      const shown = shownCardCount(order);
      this.cards.shown += shown;
      unshown = Math.max(0, order.cards.size - shown);
    }
    if (unshown > 0) {
      if (settled) {
        this.issuedUnshown.add(rank, order.orderId);
        this.issuedUnshownCards += unshown;
      } else this.cards.inTransit += unshown;
    }
    if (unissued > 0) {
      this.shownUnissued.add(rank, order.orderId);
      this.shownUnissuedCards += unissued;
    }
  }

  /**
   * The ledgers' side of the line, with their gaps (`ownStock`: the cards are n/a). In a run that
   * did not complete (`cut`), money held on an order that ended failed, expired or cancelled is in
   * transit: the shop may not have had the time to refund a late payment.
   */
  result(ownStock: boolean, cut: boolean): { orders: { created: number; settled: number }; money: Accounting['money']; cards: Accounting['cards']; gaps: AccountingGap[] } {
    const gaps: AccountingGap[] = [];
    const money = { ...this.money };
    if (this.keptRefunded.count > 0) {
      gaps.push(gap('money', this.keptRefunded, `${plural(this.keptRefunded.count, 'order')} shown refunded ${this.keptRefunded.count === 1 ? 'holds' : 'hold'} ${this.keptRefundedAmount} captured (minor units)`));
    }
    // Failed, expired or cancelled: a late payment the shop had no time to refund when the run was cut.
    if (cut) money.inTransit += this.keptUnshown.count;
    else if (this.keptUnshown.count > 0) {
      gaps.push(
        gap('money', this.keptUnshown, `${plural(this.keptUnshown.count, 'settled order')} ${this.keptUnshown.count === 1 ? 'holds' : 'hold'} ${this.keptUnshownAmount} captured (minor units) the shop does not show paid`),
      );
    }
    if (this.shownUnpaid.count > 0) {
      gaps.push(gap('money', this.shownUnpaid, `${plural(this.shownUnpaid.count, 'order')} shown paid or delivered with no money held`));
    }
    if (!ownStock && this.issuedUnshown.count > 0) {
      gaps.push(
        gap('cards', this.issuedUnshown, `${plural(this.issuedUnshownCards, 'card')} issued to ${plural(this.issuedUnshown.count, 'settled order')} never shown to the buyer`, this.issuedUnshownCards),
      );
    }
    if (!ownStock && this.shownUnissued.count > 0) {
      gaps.push(
        gap('cards', this.shownUnissued, `${plural(this.shownUnissuedCards, 'card')} shown on ${plural(this.shownUnissued.count, 'order')} the supplier never issued to it`, this.shownUnissuedCards),
      );
    }
    const cards: Accounting['cards'] = ownStock
      ? { issued: this.cards.shown, shown: this.cards.shown, inTransit: 0, elsewhere: 0, observable: false }
      : { ...this.cards };
    return { orders: { created: this.created, settled: this.settled }, money, cards, gaps };
  }
}

/** The most cards the shop showed on the order at once (`order.observed`'s count, for views without codes). */
function shownCardCount(order: OrderFacts): number {
  let most = 0;
  for (const report of order.statuses) most = Math.max(most, report.cards ?? 0);
  return most;
}

function gap(check: AccountingCheck, orders: NamedOrders, message: string, difference = orders.count): AccountingGap {
  return { check, difference, message, orderIds: orders.ids() };
}

/** What the accounting line reads of the folded run besides the two ledgers. */
export interface AccountingRun {
  counters: { arrived: number; dropped: number; loadFinished?: { arrivals: number; dropped: number } };
  /** Why the run ended (`run.finished`), when it says. */
  finished?: JournalEventMap['run.finished']['reason'];
  observes?: { stockSupplier: boolean };
}

/** The accounting line from the two ledgers; `balanced` when no equation leaves a difference. */
export function accountingOf(run: AccountingRun, requests: RequestLedger, orders: OrderLedger): Accounting {
  const gaps: AccountingGap[] = [];
  const { arrived, dropped, loadFinished } = run.counters;
  const planned = loadFinished?.arrivals ?? arrived + dropped;
  if (planned !== arrived + dropped) {
    gaps.push({
      check: 'arrivals',
      difference: Math.abs(planned - arrived - dropped),
      message: `${plural(planned, 'arrival')} planned, but ${arrived} sent + ${dropped} dropped = ${arrived + dropped}`,
      orderIds: [],
    });
  }
  if (loadFinished !== undefined && loadFinished.dropped !== dropped) {
    gaps.push({ check: 'arrivals', difference: Math.abs(loadFinished.dropped - dropped), message: `the load counted ${loadFinished.dropped} dropped, the journal ${dropped}`, orderIds: [] });
  }

  const sent = requests.totals();
  // A run that completed waited for every buyer: a request still out is lost, not in flight.
  if (run.finished === 'completed' && sent.requests.inFlight > 0) {
    gaps.push({ check: 'requests', difference: sent.requests.inFlight, message: `${plural(sent.requests.inFlight, 'order request')} never answered in a run that completed`, orderIds: [] });
  }

  const ledger = orders.result(run.observes?.stockSupplier === false, run.finished !== 'completed');
  if (sent.namedOrders !== ledger.orders.created) {
    const difference = sent.namedOrders - ledger.orders.created;
    const message =
      difference > 0
        ? `${plural(sent.namedOrders, 'order')} named in create answers, ${ledger.orders.created} at the end: ${plural(difference, 'order')} named to more than one buyer or lost`
        : `${plural(ledger.orders.created, 'order')} at the end, only ${sent.namedOrders} named in create answers`;
    gaps.push({ check: 'orders', difference: Math.abs(difference), message, orderIds: [] });
  }
  gaps.push(...ledger.gaps);

  return {
    balanced: gaps.length === 0,
    arrivals: { planned, sent: arrived, dropped },
    requests: sent.requests,
    orders: { created: sent.namedOrders, settled: ledger.orders.settled, unsettled: ledger.orders.created - ledger.orders.settled },
    money: ledger.money,
    cards: ledger.cards,
    gaps,
  };
}

/** Feeds `ledger` the orders no buyer owns (buyer groups carry the others): ids the mocks saw that no create answer named. */
export function addUnownedOrders(
  run: { orders: { values(): Iterable<OrderFacts>; ranked(id: string): { rank: number } | undefined } },
  ledger: OrderLedger,
): void {
  for (const order of run.orders.values()) {
    if (order.buyerId === undefined) ledger.addOrder(order, run.orders.ranked(order.orderId)?.rank ?? 0);
  }
}
