/**
 * The fault plan's decisions for payment faults, per subject: the payer (the trade's `payer.id`,
 * the cashier's `payerId`) when known, else the correlation's subject for the order. `times`
 * counters are per (fault index, subject, route), except `payment.query.error` and
 * `payment.refund.error`, which count the calls about one order. Every decision that hits is
 * journaled as `fault.injected`.
 */
import type { FaultId, PaymentRoute } from '../../core/scenario-schema.js';
import type { FaultHit } from '../fault-plan.js';
import type { MockContext } from '../mock-types.js';
import { refusal, type PaymentRefusal } from './answers.js';
import type { Trade } from './ledger.js';
import type { PayFailCode } from './answers.js';

/** A channel fault's answer instead of the operation's: a hang, or a refusal. */
export type ChannelStall = { hang: true } | { hang: false; refusal: PaymentRefusal };

type Detail = Record<string, string | number | boolean>;

export class PaymentFaults {
  private readonly latencyCounters = new Map<string, number>();
  /** `times` counters of the channel and reconciliation faults. */
  private readonly counters = new Map<string, number>();
  /** What each payer captured in this run; kept only when a `payment.limit.daily` fault is configured. */
  private readonly spentByPayer: Map<string, number> | undefined;

  constructor(private readonly context: MockContext) {
    this.spentByPayer = context.plan.has('payment.limit.daily') ? new Map() : undefined;
  }

  /** Payers whose captures are counted (for memory checks). */
  countedPayers(): number {
    return this.spentByPayer?.size ?? 0;
  }

  /** Counts a capture toward the payer's daily limit. */
  captured(payerId: string, amount: number): void {
    this.spentByPayer?.set(payerId, (this.spentByPayer.get(payerId) ?? 0) + amount);
  }

  /**
   * `payment.timeout` (a hang) or `payment.error` (a refusal) on this route, for the first
   * `times` calls per (fault, subject, route). The operation has no effect.
   */
  channel(route: PaymentRoute, faultSubject: string, orderId: string, buyerId?: string): ChannelStall | undefined {
    const plan = this.context.plan;
    const timeout = plan.has('payment.timeout') ? this.counted(plan.hits('payment.timeout', faultSubject), route, faultSubject) : undefined;
    if (timeout) {
      this.inject(timeout.hit, orderId, buyerId, { route, call: timeout.call });
      return { hang: true };
    }
    const error = plan.has('payment.error') ? this.counted(plan.hits('payment.error', faultSubject), route, faultSubject) : undefined;
    if (!error) return undefined;
    const status = error.hit.spec.status;
    if (status === 429) {
      const retryAfterS = Math.ceil(error.hit.spec.retryAfter / 1000);
      this.inject(error.hit, orderId, buyerId, { route, status, call: error.call, retryAfterS });
      return { hang: false, refusal: { ...refusal('RATE_LIMITED', 429, `too many requests; retry after ${retryAfterS} s`), retryAfterS } };
    }
    this.inject(error.hit, orderId, buyerId, { route, status, call: error.call });
    return { hang: false, refusal: refusal('SYSTEM_ERROR', status, 'the payment channel failed; try again') };
  }

  /** `payment.query.error` / `payment.refund.error`: the first `times` calls about the order fail. */
  reconciliation(id: 'payment.query.error' | 'payment.refund.error', route: PaymentRoute, faultSubject: string, orderId: string): ChannelStall | undefined {
    const plan = this.context.plan;
    if (!plan.has(id)) return undefined;
    for (const hit of plan.hits(id, faultSubject)) {
      const call = this.count(`${hit.index}\u0000${orderId}\u0000${route}`);
      if (call > hit.spec.times) continue;
      this.inject(hit, orderId, undefined, { route, status: hit.spec.status, call });
      return { hang: false, refusal: refusal('SYSTEM_ERROR', hit.spec.status, `the ${route} service failed; try again`) };
    }
    return undefined;
  }

  /** Injected latency for one call on a route (0 when no `payment.latency` fault hits). */
  latency(route: PaymentRoute, subject: string, orderId: string, buyerId?: string): number {
    const plan = this.context.plan;
    if (!plan.has('payment.latency')) return 0;
    const hit = plan.hits('payment.latency', subject).find((candidate) => candidate.spec.routes.includes(route));
    if (!hit) return 0;
    // A per-subject, per-route counter keeps successive draws distinct and deterministic.
    const key = `${route}\u0000${subject}`;
    const n = (this.latencyCounters.get(key) ?? 0) + 1;
    this.latencyCounters.set(key, n);
    const delayMs = Math.max(0, Math.round(plan.delayFor(hit.index, hit.spec.delay, subject, `${route}#${n}`)));
    this.inject(hit, orderId, buyerId, { route, delayMs });
    return delayMs;
  }

  /** `payment.cross_border`: a channel that does not serve payers from `region` with this method. */
  crossBorder(region: string | undefined, method: string, faultSubject: string, orderId: string, buyerId: string | undefined): boolean {
    if (region === undefined) return false;
    const blocked = this.context.plan
      .hits('payment.cross_border', faultSubject)
      .find((hit) => !region.startsWith(hit.spec.home) && (hit.spec.methods === undefined || hit.spec.methods.includes(method)));
    if (!blocked) return false;
    this.inject(blocked, orderId, buyerId, { region, method, home: blocked.spec.home });
    return true;
  }

  /** The first refusal that applies at the cashier: single limit, daily limit, decline. */
  payRefusal(trade: Trade, payerId: string, faultSubject: string): PayFailCode | undefined {
    const plan = this.context.plan;
    const orderId = trade.outTradeNo;
    const single = plan.hits('payment.limit.single', faultSubject).find((hit) => hit.spec.limit === undefined || trade.amount > hit.spec.limit);
    if (single) {
      this.inject(single, orderId, payerId, { amount: trade.amount, ...(single.spec.limit === undefined ? {} : { limit: single.spec.limit }) });
      return 'LIMIT_SINGLE';
    }
    const spent = this.spentByPayer?.get(payerId) ?? 0;
    const daily = plan.hits('payment.limit.daily', faultSubject).find((hit) => hit.spec.spentBefore + spent + trade.amount > hit.spec.limit);
    if (daily) {
      this.inject(daily, orderId, payerId, { amount: trade.amount, limit: daily.spec.limit, spent: daily.spec.spentBefore + spent });
      return 'LIMIT_DAILY';
    }
    const decline = plan.first('payment.decline', faultSubject);
    if (decline) {
      this.inject(decline, orderId, payerId, { amount: trade.amount });
      return 'DECLINED';
    }
    return undefined;
  }

  /** Journals `fault.injected` for an order, naming its buyer when known. */
  inject<I extends FaultId>(hit: FaultHit<I>, orderId: string, buyerId: string | undefined, detail: Detail): void {
    const buyer = buyerId ?? this.context.correlation.buyerOf(orderId);
    this.context.journal.append('fault.injected', {
      fault: hit.spec.id,
      faultIndex: hit.index,
      orderId,
      ...(buyer === undefined ? {} : { buyerId: buyer }),
      detail,
    });
  }

  /** The first hit listing this route whose `times` this call is still within (counted per fault, subject, route). */
  private counted<H extends { index: number; spec: { routes: readonly PaymentRoute[]; times?: number } }>(
    hits: readonly H[],
    route: PaymentRoute,
    faultSubject: string,
  ): { hit: H; call: number } | undefined {
    for (const hit of hits) {
      if (!hit.spec.routes.includes(route)) continue;
      const call = this.count(`${hit.index}\u0000${faultSubject}\u0000${route}`);
      if (hit.spec.times === undefined || call <= hit.spec.times) return { hit, call };
    }
    return undefined;
  }

  private count(key: string): number {
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    return n;
  }
}
