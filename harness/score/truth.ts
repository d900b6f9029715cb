/**
 * What a buyer would see, checked for truth (issue 14, item 13): the two invariants that read an
 * order's reported statuses and its messages against each other and against the mocks' ledgers.
 *
 * - `settled-status-holds`: an order, once settled, never goes back. The harness reads every order
 *   the run created once more after the settle phase (harness/drive/final-read.ts: `order.observed`
 *   with source `final`), so a shop that moves a delivered order back to `paid` after its buyer
 *   stopped looking is seen doing it.
 * - `truthful-messages`: a message says what happened. A "delivered" message needs cards issued to
 *   the order — by the end, and (where the supplier's ledger shows when) before it was sent; a
 *   "payment received" message needs money captured — by the end, and before it was sent.
 *
 * Pure functions of one order's facts: ./invariants.ts feeds them every buyer-created order.
 */
import type { OrderFacts, StatusReport } from '../../core/faults/facts.js';
import type { JournalEventMap } from '../../core/journal.js';
import { plural } from '../../core/units.js';

/**
 * Where an order may go once it reached a settled status (DESIGN §3). `delivered` and `refunded`
 * are final: a delivered order may still be refunded (some shops refund after delivery), nothing
 * else. `failed`, `expired` and `cancelled` may move on on a late payment — to any status that
 * follows a payment, or another ended one — but never back to asking for payment.
 */
const ALLOWED_AFTER: Readonly<Record<string, (next: string) => boolean>> = {
  delivered: (next) => next === 'delivered' || next === 'refund_pending' || next === 'refunded',
  refunded: (next) => next === 'refunded',
  failed: (next) => next !== 'pending_payment',
  expired: (next) => next !== 'pending_payment',
  cancelled: (next) => next !== 'pending_payment',
};

/** How strongly a settled status binds what may follow: a final status outranks an ended one. */
const BINDING: Readonly<Record<string, number>> = { failed: 1, expired: 1, cancelled: 1, delivered: 2, refunded: 3 };

/** Kinds of message whose claim is checked, as `mocks/message-kinds.ts` names them. */
const DELIVERED_KIND = 'delivered';
const PAID_KIND = 'payment_received';
/** The message kinds the invariants read: compacting an order's facts keeps these (./folded-run.ts). */
export const CHECKED_MESSAGE_KINDS: ReadonlySet<string> = new Set([DELIVERED_KIND, PAID_KIND]);

function seenBy(report: StatusReport): string {
  return report.source === 'final' ? 'at the final read' : 'later';
}

/**
 * The first move of the order out of a settled status that the legal transitions do not allow, as
 * a sentence; undefined when it never regressed. Judged on what the harness read (polls, sweeps and
 * the final read), not on create answers: a replayed idempotency key may answer an older view.
 */
export function statusRegression(order: OrderFacts): string | undefined {
  let settled: StatusReport | undefined;
  for (const report of order.statuses) {
    if (report.source === 'answer') continue;
    if (settled !== undefined && report.status !== settled.status && !ALLOWED_AFTER[settled.status]!(report.status)) {
      return `order ${order.orderId} was ${settled.status}, then ${seenBy(report)} read ${report.status}${report.reason ? ` / ${report.reason}` : ''}`;
    }
    const binding = BINDING[report.status];
    // A late payment may move an ended order on to delivered: the stronger status then binds.
    if (binding !== undefined && (settled === undefined || binding >= (BINDING[settled.status] ?? 0))) settled = report;
  }
  return undefined;
}

/** What the checks of `untruthfulMessages` need beyond the order. */
export interface MessageTruthContext {
  /** Cards the order got (`deliveredCount`): issued to it, or shown on it from a stockpile the supplier filled. */
  cards: number;
  /**
   * The supplier's ledger shows when cards were issued (a shop that holds its own stock has none:
   * its cards are known only from what the buyer was shown, a poll late).
   */
  supplierLedger: boolean;
}

const ms = (value: number): string => `${Math.round(value)} ms`;

/**
 * The order's messages whose claim its facts contradict, each as a reason. A message may follow its
 * fact in the same millisecond (the shop sends it once the supplier answered): only a message sent
 * strictly before the first card was issued, or the first money captured, is early.
 */
export function untruthfulMessages(order: OrderFacts, { cards, supplierLedger }: MessageTruthContext): string[] {
  const reasons: string[] = [];
  const firstIssue = supplierLedger && order.fulfilments.length > 0 ? Math.min(...order.fulfilments.map((fulfilment) => fulfilment.t)) : undefined;
  const firstCapture = order.captures.length > 0 ? Math.min(...order.captures.map((capture) => capture.t)) : undefined;
  let deliveredFalse = 0;
  let deliveredEarly: number | undefined;
  let paidFalse = 0;
  let paidEarly: number | undefined;
  for (const message of order.messages) {
    if (message.kind === DELIVERED_KIND) {
      if (cards === 0) deliveredFalse++;
      else if (firstIssue !== undefined && message.t < firstIssue) deliveredEarly = Math.max(deliveredEarly ?? 0, firstIssue - message.t);
    } else if (message.kind === PAID_KIND) {
      if (firstCapture === undefined) paidFalse++;
      else if (message.t < firstCapture) paidEarly = Math.max(paidEarly ?? 0, firstCapture - message.t);
    }
  }
  if (deliveredFalse > 0) {
    const ended = order.statuses[order.statuses.length - 1]?.status;
    reasons.push(`${plural(deliveredFalse, '"delivered" message')} sent, no card ever issued${ended ? ` (last status: ${ended})` : ''}`);
  }
  if (deliveredEarly !== undefined) reasons.push(`"delivered" message sent ${ms(deliveredEarly)} before the first card was issued`);
  if (paidFalse > 0) reasons.push(`${plural(paidFalse, '"payment received" message')} sent, no money ever captured`);
  if (paidEarly !== undefined) reasons.push(`"payment received" message sent ${ms(paidEarly)} before any money was captured`);
  return reasons;
}

/**
 * What the final read covered, for `settled-status-holds`'s description: an invariant that held on
 * a read that was cut or skipped says so rather than passing silently. Undefined for a journal with
 * no final read (recorded before it existed).
 */
export function finalReadCoverage(summary: JournalEventMap['orders.final_read'] | undefined): string | undefined {
  if (summary === undefined) return undefined;
  if (summary.skipped !== undefined) return `final read skipped: ${summary.skipped === 'target-down' ? 'the shop was down' : 'the run was stopping'}`;
  const unread = summary.unread > 0 ? `, ${summary.unread} not read${summary.cut ? ' (cut short)' : ''}` : '';
  return `final read: ${summary.read}/${summary.orders} orders read, ${summary.changed} changed${unread}`;
}
