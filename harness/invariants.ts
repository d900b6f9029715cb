/**
 * Invariants, checked on the folded ledgers once the run is over (Jepsen-style: record the
 * history, then check it). Each names the orders that break it.
 *
 * Payment and delivery rules consider the orders some buyer created (an id seen in an
 * `order.create.answered`); cards the supplier issued to other ids (a shop's own stockpile) count
 * only for the card-code rules — and count as an order's cards when the shop showed them on it.
 */
import { INVARIANT_IDS, type InvariantId, type Scenario } from './scenario-schema.js';
import type { InvariantResult, InvariantViolation } from './report-types.js';
import {
  amountOf,
  capturedTotal,
  deliveredCount,
  netCharge,
  quantityOf,
  refundedTotal,
  type FoldedRun,
  type OrderFacts,
} from './stages.js';

export const INVARIANT_DESCRIPTIONS: Record<InvariantId, string> = {
  'no-double-charge': 'one capture per order and per buyer intent',
  'no-oversell': 'a card code goes to one order (as issued and as shown to buyers); issued cards never exceed the initial stock',
  'no-double-delivery': 'no order gets more distinct cards than its quantity',
  'paid-orders-settled': 'no order is left paid, neither delivered nor refunded',
  'no-delivery-without-payment': 'no cards are issued to an order with no capture',
  conservation: 'per order, captured − refunded = amount × delivered share',
  'truthful-status': 'the shop never reports delivered without a card, nor moves a final status backwards',
  'no-silent-late-delivery': 'an expired or cancelled order is never delivered silently',
  'no-fake-success': 'the shop never reports delivered without its cards, nor success for an order that ends failed',
  'no-delivery-on-forged-callback': 'no cards for an order whose only payment evidence was a forged, replayed or short-paid notice',
};

/** Statuses a shop may never leave once reported. */
const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['delivered', 'refunded']);

/** Money tolerance for the conservation check (minor units): a share of a price may not divide evenly. */
const CONSERVATION_TOLERANCE = 1;

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

type Checker = (run: FoldedRun, scenario: Scenario) => { violations: InvariantViolation[]; description?: string };

/** Orders some buyer created, in the order they were first seen. */
function buyerOrders(run: FoldedRun): OrderFacts[] {
  return [...run.orders.values()].filter((order) => order.createdByBuyer);
}

/** Incident classes whose payment evidence is not genuine money for the order. */
const FORGED_CLASSES: ReadonlySet<string> = new Set(['payment.callback.forged', 'payment.callback.replayed', 'payment.callback.tampered']);

/** When the order first got its goods: a fulfilment, else (cards from a stockpile) the first delivered report. */
function firstDeliveryAt(order: OrderFacts): number | undefined {
  const fulfilled = order.fulfilments.map((fulfilment) => fulfilment.t);
  if (fulfilled.length > 0) return Math.min(...fulfilled);
  return order.statuses.find((report) => report.status === 'delivered')?.t;
}

const CHECKS: Record<InvariantId, Checker> = {
  'no-double-charge': (run) => {
    const violations: InvariantViolation[] = [];
    const chargedOrdersByBuyer = new Map<string, string[]>();
    for (const order of buyerOrders(run)) {
      if (order.captures.length > 1) {
        violations.push({
          orderIds: [order.orderId],
          message: `order ${order.orderId} charged ${order.captures.length} times (${order.captures.map((capture) => capture.amount).join(' + ')})`,
        });
      }
      // One buyer, one intent: more than one order still holding the buyer's money (a refunded extra is fine).
      const buyerId = order.buyerId ?? order.captures[0]?.payerId;
      if (netCharge(order) > 0 && buyerId !== undefined) {
        const list = chargedOrdersByBuyer.get(buyerId) ?? [];
        list.push(order.orderId);
        chargedOrdersByBuyer.set(buyerId, list);
      }
    }
    for (const [buyerId, orderIds] of chargedOrdersByBuyer) {
      if (orderIds.length > 1) {
        violations.push({ orderIds, message: `buyer ${buyerId} charged on ${orderIds.length} orders: ${orderIds.join(', ')}` });
      }
    }
    return { violations };
  },

  'no-oversell': (run, scenario) => {
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
    for (const [sku, codes] of run.issuedBySku) {
      const stock = initialStock.get(sku);
      if (stock === undefined || codes.size <= stock) continue;
      const orderIds = new Set<string>();
      for (const code of codes) for (const owner of run.cardOwners.get(code)) orderIds.add(owner);
      violations.push({ orderIds: [...orderIds], message: `SKU ${sku}: ${plural(codes.size, 'card')} issued, initial stock ${stock}` });
    }
    return { violations };
  },

  'no-double-delivery': (run) => {
    const violations: InvariantViolation[] = [];
    for (const order of buyerOrders(run)) {
      const quantity = quantityOf(order);
      const cards = deliveredCount(order, run);
      if (cards > quantity) {
        violations.push({
          orderIds: [order.orderId],
          message: `order ${order.orderId} got ${plural(cards, 'card')} for quantity ${quantity}`,
        });
      }
    }
    return { violations };
  },

  'paid-orders-settled': (run) => {
    const violations: InvariantViolation[] = [];
    for (const order of buyerOrders(run)) {
      const net = netCharge(order);
      const quantity = quantityOf(order);
      const cards = deliveredCount(order, run);
      if (net > 0 && cards < quantity) {
        violations.push({
          orderIds: [order.orderId],
          message: `order ${order.orderId} paid, neither delivered nor refunded: charged ${capturedTotal(order)}, refunded ${refundedTotal(order)}, ${cards}/${quantity} cards issued`,
        });
      }
    }
    return { violations };
  },

  'no-delivery-without-payment': (run) => {
    const violations: InvariantViolation[] = [];
    for (const order of buyerOrders(run)) {
      const cards = deliveredCount(order, run);
      if (cards > 0 && order.captures.length === 0) {
        violations.push({
          orderIds: [order.orderId],
          message: `order ${order.orderId}: ${plural(cards, 'card')} issued, nothing captured`,
        });
      }
    }
    return { violations };
  },

  conservation: (run) => {
    const violations: InvariantViolation[] = [];
    let charged = 0;
    let refunded = 0;
    let delivered = 0;
    for (const order of buyerOrders(run)) {
      const captured = capturedTotal(order);
      const returned = refundedTotal(order);
      const quantity = quantityOf(order);
      const cards = deliveredCount(order, run);
      // Goods handed out count at their value, extras included: doubled cards are value lost.
      const expected = (amountOf(order) * cards) / quantity;
      charged += captured;
      refunded += returned;
      delivered += expected;
      const net = captured - returned;
      if (Math.abs(net - expected) > CONSERVATION_TOLERANCE) {
        violations.push({
          orderIds: [order.orderId],
          message: `order ${order.orderId}: captured − refunded = ${net}, value delivered = ${Math.round(expected)} (${cards}/${quantity} cards of ${amountOf(order)})`,
        });
      }
    }
    return {
      violations,
      description: `${INVARIANT_DESCRIPTIONS.conservation} (total: charged ${charged}, refunded ${refunded}, value delivered ${Math.round(delivered)})`,
    };
  },

  'truthful-status': (run) => {
    const violations: InvariantViolation[] = [];
    for (const order of buyerOrders(run)) {
      if (deliveredCount(order, run) === 0 && order.statuses.some((report) => report.status === 'delivered')) {
        violations.push({ orderIds: [order.orderId], message: `order ${order.orderId} reported delivered with no card issued` });
      }
      // Backwards moves are judged on what the harness observed (create answers of a replayed
      // idempotency key may be journaled after a newer observation).
      let terminal: string | undefined;
      for (const report of order.statuses) {
        if (report.source !== 'observed') continue;
        if (terminal !== undefined && report.status !== terminal) {
          violations.push({
            orderIds: [order.orderId],
            message: `order ${order.orderId} reported ${report.status} after ${terminal}`,
          });
          break;
        }
        if (TERMINAL_STATUSES.has(report.status)) terminal = report.status;
      }
    }
    return { violations };
  },

  'no-silent-late-delivery': (run) => {
    const violations: InvariantViolation[] = [];
    for (const order of buyerOrders(run)) {
      const cards = deliveredCount(order, run);
      if (cards === 0) continue;
      const deliveredAt = firstDeliveryAt(order) ?? Number.POSITIVE_INFINITY;
      const closed = order.statuses.find((report) => (report.status === 'expired' || report.status === 'cancelled') && report.t <= deliveredAt);
      if (!closed) continue;
      const told = order.messages.some(
        (message) => message.kind === 'delivered' && message.t >= closed.t && (order.contact === undefined || message.to === order.contact),
      );
      if (told) continue;
      violations.push({
        orderIds: [order.orderId],
        message: `order ${order.orderId} reported ${closed.status}, then got ${plural(cards, 'card')} without a delivered message`,
      });
    }
    return { violations };
  },

  'no-fake-success': (run) => {
    const violations: InvariantViolation[] = [];
    for (const order of buyerOrders(run)) {
      const reasons: string[] = [];
      const quantity = quantityOf(order);
      const cards = deliveredCount(order, run);
      const deliveredReports = order.statuses.filter((report) => report.status === 'delivered');
      if (deliveredReports.length > 0 && cards === 0) reasons.push('reported delivered with no card issued');
      else if (deliveredReports.length > 0 && cards < quantity) reasons.push(`reported delivered with ${cards}/${quantity} cards issued`);
      const short = deliveredReports.find((report) => report.source === 'observed' && report.cards !== undefined && report.cards < quantity);
      if (short && cards >= quantity) reasons.push(`showed delivered with ${short.cards}/${quantity} cards`);
      const final = order.statuses[order.statuses.length - 1];
      const success = order.statuses.find((report) => report.status === 'delivered' || report.status === 'paid');
      if (final?.status === 'failed' && success) reasons.push(`reported ${success.status}, then ended failed${final.reason ? ` / ${final.reason}` : ''}`);
      if (reasons.length > 0) violations.push({ orderIds: [order.orderId], message: `order ${order.orderId} ${reasons.join('; ')}` });
    }
    return { violations };
  },

  'no-delivery-on-forged-callback': (run) => {
    const hitOrders = new Map<string, string>();
    for (const hit of run.faultHits.values()) {
      if (hit.orderId !== undefined && FORGED_CLASSES.has(hit.fault) && !hitOrders.has(hit.orderId)) hitOrders.set(hit.orderId, hit.fault);
    }
    const violations: InvariantViolation[] = [];
    for (const order of buyerOrders(run)) {
      const fault = hitOrders.get(order.orderId);
      if (fault === undefined) continue;
      const cards = deliveredCount(order, run);
      const captured = capturedTotal(order);
      if (cards === 0 || captured >= amountOf(order)) continue;
      violations.push({
        orderIds: [order.orderId],
        message: `order ${order.orderId} (${fault}) got ${plural(cards, 'card')} with ${captured} of ${amountOf(order)} captured`,
      });
    }
    return { violations };
  },
};

/** Checks every invariant on the folded run, in `INVARIANT_IDS` order. */
export function checkInvariants(run: FoldedRun, scenario: Scenario): InvariantResult[] {
  return INVARIANT_IDS.map((id) => {
    const { violations, description } = CHECKS[id](run, scenario);
    return { id, ok: violations.length === 0, description: description ?? INVARIANT_DESCRIPTIONS[id], violations };
  });
}

/** Distinct order ids across an invariant's violations, in first-seen order. */
export function violatingOrders(result: InvariantResult): string[] {
  const ids = new Set<string>();
  for (const violation of result.violations) for (const id of violation.orderIds) ids.add(id);
  return [...ids];
}
