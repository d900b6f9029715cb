/**
 * The accounting line as text, shared by the gate and every renderer: its equations (figures only,
 * nothing the shop wrote) and its gaps. Order ids in a gap are the shop's: callers pass how to
 * show them (escaped for their format).
 */
import type { Accounting, AccountingGap } from './report-types.js';
import { plural } from './units.js';

/** How many order ids a gap shows in a line of text before "…". */
const SHOWN_IDS = 3;

/** The line's equations, one short phrase each, in the order of `ACCOUNTING_CHECKS`: "arrivals 80 planned = 78 sent + 2 dropped", … */
export function accountingEquations(accounting: Accounting): string[] {
  const { arrivals, requests, orders, money, cards } = accounting;
  const inFlight = requests.inFlight > 0 ? ` (${requests.inFlight} in flight)` : '';
  const moneyInTransit = money.inTransit > 0 ? ` + ${money.inTransit} in transit` : '';
  const elsewhere = money.elsewhere > 0 ? `; ${money.elsewhere} captured for ids no buyer was given` : '';
  const cardsInTransit = cards.inTransit > 0 ? ` + ${cards.inTransit} in transit` : '';
  const cardsElsewhere = cards.elsewhere > 0 ? `; ${cards.elsewhere} issued to ids no buyer was given` : '';
  return [
    `arrivals ${arrivals.planned} planned = ${arrivals.sent} sent + ${arrivals.dropped} dropped`,
    `requests ${requests.sent} sent = ${requests.created} created + ${requests.rejected} rejected + ${requests.failed} failed + ${requests.unanswered} unanswered${inFlight}`,
    `orders ${orders.created} created = ${orders.settled} settled + ${orders.unsettled} unsettled`,
    `money ${money.captured} captured − ${money.refunded} refunded: ${plural(money.ordersHoldingMoney, 'order')} holding money, ${money.ordersShownPaid} shown paid${moneyInTransit}${elsewhere}`,
    cards.observable === false
      ? `cards n/a (the shop holds its own stock: ${cards.shown} shown)`
      : `cards ${cards.issued} issued, ${cards.shown} shown${cardsInTransit}${cardsElsewhere}`,
  ];
}

/** "money: 2 orders shown paid … (ord_a, ord_b)", the ids through `showIds` (which escapes them for the format). */
export function accountingGapText(gap: AccountingGap, showIds: (ids: string) => string = (ids) => ids): string {
  if (gap.orderIds.length === 0) return `${gap.check}: ${gap.message}`;
  const more = gap.difference > SHOWN_IDS || gap.orderIds.length > SHOWN_IDS ? ', …' : '';
  return `${gap.check}: ${gap.message} (${showIds(gap.orderIds.slice(0, SHOWN_IDS).join(', '))}${more})`;
}

/** The gate's reason when the line does not balance; undefined when it does. */
export function accountingReason(accounting: Accounting | undefined): string | undefined {
  if (accounting === undefined || accounting.balanced) return undefined;
  return `accounting does not balance: ${accounting.gaps.map((gap) => accountingGapText(gap)).join('; ')}`;
}
