/**
 * Invariants, checked on the folded ledgers once the run is over (Jepsen-style: record the
 * history, then check it). Each names the orders that break it.
 *
 * Payment and delivery rules consider the orders some buyer created (an id seen in an
 * `order.create.answered`); cards the supplier issued to other ids (a shop's own stockpile) count
 * only for the card-code rules — and count as an order's cards when the shop showed them on it.
 */
import { INVARIANT_IDS, type InvariantId, type Scenario } from '../../core/scenario-schema.js';
import type { InvariantResult, InvariantViolation } from '../../core/report-types.js';
import { INCIDENT_CLASSES, incidentDefinition } from '../../core/faults/index.js';
import { amountOf, capturedTotal, deliveredCount, netCharge, quantityOf, refundedTotal } from '../../core/faults/evidence.js';
import { plural } from '../../core/units.js';
import { type BuyerGroup, faultHitKey, type FoldedRun } from './folded-run.js';
import type { OrderFacts } from '../../core/faults/facts.js';
import { finalReadCoverage, statusRegression, untruthfulMessages } from './truth.js';

export const INVARIANT_DESCRIPTIONS: Record<InvariantId, string> = {
  'no-double-charge': 'one capture per order and per buyer intent',
  'no-oversell': 'a card code goes to one order (as issued and as shown to buyers); issued cards never exceed the initial stock',
  'no-double-delivery': 'no order gets more distinct cards than its quantity',
  'paid-orders-settled': 'no order is left paid, neither delivered nor refunded',
  'no-delivery-without-payment': 'no cards are issued to an order with no capture',
  conservation: 'per order, captured − refunded = amount × delivered share',
  'truthful-status': 'the shop never reports delivered without a card, nor moves a final status backwards',
  'no-silent-late-delivery': 'an expired or cancelled order is never delivered silently',
  'no-fake-success': 'the shop never reports delivered without its cards, nor success for an order that ends failed, nor shows card codes the supplier never issued',
  'no-delivery-on-forged-callback': 'no cards for an order whose only payment evidence was a forged, replayed or short-paid notice',
  'notifies-acknowledged': 'every genuine payment notify the shop kept answering was, in the end, acknowledged the protocol\'s way',
  'settled-status-holds':
    'a settled order never goes back, as the buyer reads it — also once more after the settle phase: delivered stays delivered (or is refunded), refunded stays refunded, an ended order never asks for payment again',
  'truthful-messages': 'a "delivered" message only once the order\'s cards were issued, a "payment received" message only once money was captured',
};

/** Statuses a shop may never leave once reported. */
const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['delivered', 'refunded']);

/** Money tolerance for the conservation check (minor units): a share of a price may not divide evenly. */
const CONSERVATION_TOLERANCE = 1;

/** One buyer-created order as the checks see it, with what several of them need computed once. */
interface OrderView {
  order: OrderFacts;
  /** First-seen index among all the run's orders: violations are reported in this order. */
  rank: number;
  /** `deliveredCount(order, run)`. */
  cards: number;
}

/**
 * One invariant's check, fed every buyer-created order once (by `invariantChecker`, in the scorer's
 * single pass over the buyer groups), then asked for its result. Checks keep only their violations
 * and running totals: the orders may come from an on-disk archive, read once.
 */
interface Check {
  order?(view: OrderView): void;
  /** After a buyer's orders: those of them it created (any order; sort by `rank`). */
  group?(buyerId: string, orders: readonly OrderView[]): void;
  finish(scenario: Scenario): { violations: InvariantViolation[]; description?: string };
}

/**
 * Violations collected in group order, reported in the first-seen order of their orders (the sort
 * is stable, so one order's violations keep the sequence they were found in).
 */
class RankedViolations {
  private readonly entries: Array<{ rank: number; violation: InvariantViolation }> = [];

  add(rank: number, violation: InvariantViolation): void {
    this.entries.push({ rank, violation });
  }

  sorted(): InvariantViolation[] {
    return this.entries.sort((a, b) => a.rank - b.rank).map((entry) => entry.violation);
  }
}

/** A check that judges each order alone; `flag` reports one violation of the order. */
function perOrder(judge: (view: OrderView, flag: (message: string) => void) => void): Check {
  const found = new RankedViolations();
  return {
    order(view) {
      judge(view, (message) => found.add(view.rank, { orderIds: [view.order.orderId], message }));
    },
    finish: () => ({ violations: found.sorted() }),
  };
}

/** Incident classes whose payment notice is not genuine money for the order (recovery kind `refuse-the-notice`). */
const FORGED_CLASSES: ReadonlySet<string> = new Set(INCIDENT_CLASSES.filter((name) => incidentDefinition(name).recovery === 'refuse-the-notice'));

/** When the order first got its goods: a fulfilment, else (cards from a stockpile) the first delivered report. */
function firstDeliveryAt(order: OrderFacts): number | undefined {
  const fulfilled = order.fulfilments.map((fulfilment) => fulfilment.t);
  if (fulfilled.length > 0) return Math.min(...fulfilled);
  return order.statuses.find((report) => report.status === 'delivered')?.t;
}

/** Card-code rules: they read the supplier's and the shop's code ledgers, not the orders. */
function oversold(run: FoldedRun, scenario: Scenario): InvariantViolation[] {
  const violations: InvariantViolation[] = [];
  for (const [code, orderIds] of run.cardOwners.shared()) {
    violations.push({ orderIds, message: `card ${code} issued to ${orderIds.length} orders: ${orderIds.join(', ')}` });
  }
  for (const [code, orderIds] of run.shownCardOwners.shared()) {
    if (run.cardOwners.count(code) > 1) continue;
    const issued = run.cardOwners.has(code) ? 'issued once by the supplier' : 'never issued by the supplier';
    violations.push({ orderIds, message: `card ${code} shown on ${orderIds.length} orders: ${orderIds.join(', ')} (${issued})` });
  }
  const initialStock = new Map(scenario.catalog.skus.map((sku) => [sku.sku, sku.stock]));
  for (const [sku, issued] of run.cardOwners.issuedCounts()) {
    const stock = initialStock.get(sku);
    if (stock === undefined || issued <= stock) continue;
    violations.push({ orderIds: run.cardOwners.holdersOf(sku), message: `SKU ${sku}: ${plural(issued, 'card')} issued, initial stock ${stock}` });
  }
  return violations;
}

/** Each invariant's check, made fresh for one run. */
const CHECKS: Record<InvariantId, (run: FoldedRun) => Check> = {
  'no-double-charge': () => {
    const chargedTwice = new RankedViolations();
    // Ranked by the buyer's first charged order: where the buyer's entry was first made when orders were read in first-seen order.
    const buyersCharged = new RankedViolations();
    return {
      order({ order, rank }) {
        if (order.captures.length > 1) {
          chargedTwice.add(rank, {
            orderIds: [order.orderId],
            message: `order ${order.orderId} charged ${order.captures.length} times (${order.captures.map((capture) => capture.amount).join(' + ')})`,
          });
        }
      },
      // One buyer, one intent: more than one order still holding the buyer's money (a refunded extra is fine).
      // A buyer-created order always has `buyerId` (its create answer named the buyer), and its group is that
      // buyer's, so grouping by group is grouping by `order.buyerId ?? captures[0].payerId`.
      group(buyerId, orders) {
        const charged = orders.filter(({ order }) => netCharge(order) > 0).sort((a, b) => a.rank - b.rank);
        if (charged.length < 2) return;
        const orderIds = charged.map(({ order }) => order.orderId);
        buyersCharged.add(charged[0]!.rank, { orderIds, message: `buyer ${buyerId} charged on ${orderIds.length} orders: ${orderIds.join(', ')}` });
      },
      finish: () => ({ violations: [...chargedTwice.sorted(), ...buyersCharged.sorted()] }),
    };
  },

  'no-oversell': (run) => ({ finish: (scenario) => ({ violations: oversold(run, scenario) }) }),

  'no-double-delivery': () =>
    perOrder(({ order, cards }, flag) => {
      const quantity = quantityOf(order);
      if (cards > quantity) flag(`order ${order.orderId} got ${plural(cards, 'card')} for quantity ${quantity}`);
    }),

  'paid-orders-settled': () =>
    perOrder(({ order, cards }, flag) => {
      const quantity = quantityOf(order);
      if (netCharge(order) > 0 && cards < quantity) {
        flag(
          `order ${order.orderId} paid, neither delivered nor refunded: charged ${capturedTotal(order)}, refunded ${refundedTotal(order)}, ${cards}/${quantity} cards issued`,
        );
      }
    }),

  'no-delivery-without-payment': () =>
    perOrder(({ order, cards }, flag) => {
      if (cards > 0 && order.captures.length === 0) flag(`order ${order.orderId}: ${plural(cards, 'card')} issued, nothing captured`);
    }),

  conservation: () => {
    const found = new RankedViolations();
    let charged = 0;
    let refunded = 0;
    // A float sum taken in group order, not first-seen order: its last bits may differ from a
    // first-seen-order sum, which the `Math.round` in the description hides.
    let delivered = 0;
    return {
      order({ order, rank, cards }) {
        const captured = capturedTotal(order);
        const returned = refundedTotal(order);
        const quantity = quantityOf(order);
        // Goods handed out count at their value, extras included: doubled cards are value lost.
        const expected = (amountOf(order) * cards) / quantity;
        charged += captured;
        refunded += returned;
        delivered += expected;
        const net = captured - returned;
        if (Math.abs(net - expected) > CONSERVATION_TOLERANCE) {
          found.add(rank, {
            orderIds: [order.orderId],
            message: `order ${order.orderId}: captured − refunded = ${net}, value delivered = ${Math.round(expected)} (${cards}/${quantity} cards of ${amountOf(order)})`,
          });
        }
      },
      finish: () => ({
        violations: found.sorted(),
        description: `${INVARIANT_DESCRIPTIONS.conservation} (total: charged ${charged}, refunded ${refunded}, value delivered ${Math.round(delivered)})`,
      }),
    };
  },

  'truthful-status': () =>
    perOrder(({ order, cards }, flag) => {
      if (cards === 0 && order.statuses.some((report) => report.status === 'delivered')) {
        flag(`order ${order.orderId} reported delivered with no card issued`);
      }
      // Backwards moves are judged on what the harness observed (create answers of a replayed
      // idempotency key may be journaled after a newer observation).
      let terminal: string | undefined;
      for (const report of order.statuses) {
        if (report.source !== 'observed') continue;
        if (terminal !== undefined && report.status !== terminal) {
          flag(`order ${order.orderId} reported ${report.status} after ${terminal}`);
          break;
        }
        if (TERMINAL_STATUSES.has(report.status)) terminal = report.status;
      }
    }),

  'no-silent-late-delivery': () =>
    perOrder(({ order, cards }, flag) => {
      if (cards === 0) return;
      const deliveredAt = firstDeliveryAt(order) ?? Number.POSITIVE_INFINITY;
      const closed = order.statuses.find((report) => (report.status === 'expired' || report.status === 'cancelled') && report.t <= deliveredAt);
      if (!closed) return;
      const told = order.messages.some(
        (message) => message.kind === 'delivered' && message.t >= closed.t && (order.contact === undefined || message.to === order.contact),
      );
      if (!told) flag(`order ${order.orderId} reported ${closed.status}, then got ${plural(cards, 'card')} without a delivered message`);
    }),

  'no-fake-success': (run) =>
    perOrder(({ order, cards }, flag) => {
      const reasons: string[] = [];
      const quantity = quantityOf(order);
      const deliveredReports = order.statuses.filter((report) => report.status === 'delivered');
      if (deliveredReports.length > 0 && cards === 0) reasons.push('reported delivered with no card issued');
      else if (deliveredReports.length > 0 && cards < quantity) reasons.push(`reported delivered with ${cards}/${quantity} cards issued`);
      const short = deliveredReports.find((report) => report.source === 'observed' && report.cards !== undefined && report.cards < quantity);
      if (short && cards >= quantity) reasons.push(`showed delivered with ${short.cards}/${quantity} cards`);
      const final = order.statuses[order.statuses.length - 1];
      const success = order.statuses.find((report) => report.status === 'delivered' || report.status === 'paid');
      if (final?.status === 'failed' && success) reasons.push(`reported ${success.status}, then ended failed${final.reason ? ` / ${final.reason}` : ''}`);
      // Codes the buyer was shown that the supplier never issued — to this order, or to a stockpile
      // the shop filled — are made up. (A shop holding its own stock issues what it shows: the fold
      // counts those as issued.)
      const madeUp: string[] = [];
      for (const code of order.shownCards) if (!order.cards.has(code) && !run.cardOwners.has(code)) madeUp.push(code);
      if (madeUp.length > 0) reasons.push(`showed ${plural(madeUp.length, 'card code')} the supplier never issued (${madeUp.slice(0, 3).join(', ')}${madeUp.length > 3 ? ', …' : ''})`);
      if (reasons.length > 0) flag(`order ${order.orderId} ${reasons.join('; ')}`);
    }),

  'no-delivery-on-forged-callback': (run) => {
    // Orders may be checked while the journal is still being folded, as hits keep coming: only an
    // order short of its money with cards, that a forged hit names (direct look-ups), rebuilds the
    // map of first forged hit per order (in hit order), and only when hits were added since.
    const namedByForgedHit = (orderId: string): boolean => {
      for (const fault of FORGED_CLASSES) if (run.faultHits.has(faultHitKey('order', fault, orderId))) return true;
      return false;
    };
    const hitOrders = new Map<string, string>();
    let hitsSeen = -1;
    return perOrder(({ order, cards }, flag) => {
      if (cards === 0) return;
      const captured = capturedTotal(order);
      if (captured >= amountOf(order) || !namedByForgedHit(order.orderId)) return;
      if (hitsSeen !== run.faultHits.size) {
        hitsSeen = run.faultHits.size;
        for (const hit of run.faultHits.values()) {
          if (hit.orderId !== undefined && FORGED_CLASSES.has(hit.fault) && !hitOrders.has(hit.orderId)) hitOrders.set(hit.orderId, hit.fault);
        }
      }
      const fault = hitOrders.get(order.orderId);
      if (fault === undefined) return;
      flag(`order ${order.orderId} (${fault}) got ${plural(cards, 'card')} with ${captured} of ${amountOf(order)} captured`);
    });
  },
  'settled-status-holds': (run) => {
    const check = perOrder(({ order }, flag) => {
      const regression = statusRegression(order);
      if (regression !== undefined) flag(regression);
    });
    return {
      ...check,
      finish: (scenario) => {
        const coverage = finalReadCoverage(run.finalRead);
        return { ...check.finish(scenario), ...(coverage ? { description: `${INVARIANT_DESCRIPTIONS['settled-status-holds']} (${coverage})` } : {}) };
      },
    };
  },

  'truthful-messages': (run) =>
    perOrder(({ order, cards }, flag) => {
      const reasons = untruthfulMessages(order, { cards, supplierLedger: run.observes?.stockSupplier !== false });
      if (reasons.length > 0) flag(`order ${order.orderId}: ${reasons.join('; ')}`);
    }),

  'notifies-acknowledged': () =>
    perOrder(({ order }, flag) => {
      for (const notice of unacknowledgedNotices(order)) {
        flag(
          `order ${order.orderId}: the provider's ${notice.label} notify was never acknowledged in ${plural(notice.attempts, 'attempt')} (last answer: HTTP ${notice.lastStatus})`,
        );
      }
    }),
};

/**
 * The provider's own notices about an order (forgeries and stale copies aside) that the shop
 * answered at least twice — so it was up, and saw the retry — without ever acknowledging: a
 * provider retries those for a day. One answer alone may be a shop caught shutting down. Each
 * status and each duplicate copy is a notice of its own, delivered and retried on its own.
 */
function unacknowledgedNotices(order: OrderFacts): Array<{ label: string; attempts: number; lastStatus: number }> {
  const notices = new Map<string, { label: string; attempts: number; answers: number; lastStatus?: number; acked: boolean }>();
  for (const callback of order.callbacks) {
    if (callback.forgery !== undefined) continue;
    const copy = callback.copy ?? 1;
    const key = `${callback.status ?? ''}#${copy}`;
    let notice = notices.get(key);
    if (!notice) {
      notice = { label: `${callback.status ?? 'payment'}${copy > 1 ? ` (copy ${copy})` : ''}`, attempts: 0, answers: 0, acked: false };
      notices.set(key, notice);
    }
    notice.attempts++;
    notice.acked ||= callback.acked;
    if (callback.httpStatus !== undefined) {
      notice.answers++;
      notice.lastStatus = callback.httpStatus;
    }
  }
  const found: Array<{ label: string; attempts: number; lastStatus: number }> = [];
  for (const { label, attempts, answers, lastStatus, acked } of notices.values()) {
    if (!acked && answers >= 2 && lastStatus !== undefined) found.push({ label, attempts, lastStatus });
  }
  return found;
}

/** See `invariantChecker`. */
export interface InvariantChecker {
  add(group: BuyerGroup): void;
  finish(scenario: Scenario): InvariantResult[];
}

/**
 * The invariant checks of one run, fed its buyer groups one at a time (`scoreFolded` feeds the
 * same walk to the buyer tally), then asked for the results in `INVARIANT_IDS` order. Payment and
 * delivery rules consider only orders a buyer created; violations come out in the first-seen order
 * of their orders.
 */
export function invariantChecker(run: FoldedRun): InvariantChecker {
  const checks = INVARIANT_IDS.map((id) => ({ id, check: CHECKS[id](run) }));
  return {
    add(group) {
      const created: OrderView[] = [];
      for (const { order, rank } of group.orders) {
        if (!order.createdByBuyer) continue;
        const view: OrderView = { order, rank, cards: deliveredCount(order, run) };
        created.push(view);
        for (const { check } of checks) check.order?.(view);
      }
      for (const { check } of checks) check.group?.(group.buyer.buyerId, created);
    },
    finish: (scenario) =>
      checks.map(({ id, check }) => {
        const { violations, description } = check.finish(scenario);
        return { id, ok: violations.length === 0, description: description ?? INVARIANT_DESCRIPTIONS[id], violations };
      }),
  };
}

