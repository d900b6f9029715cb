/**
 * One buyer's journey through the shop, as a real buyer would make it: create the order (with the
 * buyer's own mistakes, if it makes one), pay at the provider's cashier (unless the behaviour or an
 * attack scenario says otherwise), then follow the order's status with bounded polling.
 * Everything seen is journaled; nothing the shop does is an exception.
 */
import { randomUUID } from 'node:crypto';
import type { FaultPlan } from '../../mocks/fault-plan.js';
import type { Correlation } from '../../mocks/mock-types.js';
import type { CashierOutcome, PaymentCashier } from '../../mocks/payment/personality.js';
import type { Buyer } from './buyers.js';
import { FORGERY_FAULTS } from '../../core/faults/callbacks.js';
import { SETTLED_STATUSES, type JournalEventMap, type JournalSink } from '../../core/journal.js';
import type { BuyerMistake, Scenario } from '../../core/scenario-schema.js';
import type { HttpAnswer, HttpClient, ShopOrderView } from '../../core/http-client.js';
import type { OrderRequest, ShopSession, TargetAdapter } from '../targets/adapter.js';
import { guardSession } from '../targets/order-view.js';
import type { FinalReads } from './final-read.js';

export interface OrderTrack {
  orderId: string;
  buyerId: string;
  status?: string;
  reason?: string;
  cards: number;
  cardCodes: string;
  /** The buyer's session the order is read back through (its cookies, its token). */
  session: ShopSession;
}

/**
 * Statuses an order never leaves (DESIGN §3): `delivered` and `refunded`. `failed`, `expired` and
 * `cancelled` are settled but still move on a late payment, so their tracks are kept.
 */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['delivered', 'refunded']);

/** What every buyer shares: where the shop and cashier are, and the orders that can still change. */
export interface BuyerContext {
  scenario: Scenario;
  journal: JournalSink;
  /** For the cashier: the provider's pages the buyer pays at. */
  client: HttpClient;
  /** How buyers drive the shop and read their orders back. */
  target: TargetAdapter;
  /**
   * Where a shop order's buyer pays: the channel its trade was created at (the primary until it has
   * one) — its base URL and its cashier (what the buyer sends to pay, and what the answers mean).
   */
  cashierFor(orderId: string): { url: string; cashier: PaymentCashier };
  correlation: Correlation;
  plan: FaultPlan;
  /**
   * Orders that can still change, by id: those a buyer is following, and those its buyer left in
   * any status but a final one (`FINAL_STATUSES`). A buyer's delivered and refunded orders are
   * released when it finishes, so this holds the orders in flight plus the few that a late payment
   * could still move — what the settle phase and its final sweep look at — not every order of the run.
   */
  orders: Map<string, OrderTrack>;
  /** Every order the run created, for the read once more after the settle phase (noted at each change seen). */
  finalReads?: FinalReads;
  /** Prefix that keeps Idempotency-Keys unique across runs against a long-lived shop. */
  runId: string;
  /** True once the run is stopping (target gone, or aborted): buyers stop waiting. */
  stopped(): boolean;
  /** Waits `ms` unless the run stops first. */
  pause(ms: number): Promise<void>;
}

type Intent = NonNullable<JournalEventMap['order.create.sent']['intent']>;
type Outcome = JournalEventMap['buyer.finished']['outcome'];

/** What the buyer pays with: the trade number, the link, or both (the shop gave at least one). */
type PaymentLink = NonNullable<ShopOrderView['payment']>;

/** The shop's payment details when the buyer can pay with them (a non-empty trade number or link). */
function payable(payment: ShopOrderView['payment']): PaymentLink | undefined {
  if (!payment) return undefined;
  const tradeNo = typeof payment.tradeNo === 'string' && payment.tradeNo !== '' ? payment.tradeNo : undefined;
  const payUrl = typeof payment.payUrl === 'string' && payment.payUrl !== '' ? payment.payUrl : undefined;
  if (tradeNo === undefined && payUrl === undefined) return undefined;
  return { ...(tradeNo === undefined ? {} : { tradeNo }), ...(payUrl === undefined ? {} : { payUrl }) };
}

/** A cashier outcome as `cashier.paid` journals it (the journal's protocol-neutral trade vocabulary). */
const PAY_RESULTS: Readonly<Record<CashierOutcome, JournalEventMap['cashier.paid']['result']>> = {
  paid: 'TRADE_SUCCESS',
  refused: 'PAY_FAILED',
  verifying: 'VERIFYING',
  unknown: 'error',
};

export function newRunId(): string {
  return randomUUID().slice(0, 8);
}

/** Journals the order's status when it changed since last seen. */
export function observeOrder(context: BuyerContext, buyerId: string, session: ShopSession, view: ShopOrderView, source: 'create' | 'poll' | 'sweep'): OrderTrack {
  let track = context.orders.get(view.orderId);
  if (!track) {
    track = { orderId: view.orderId, buyerId, cards: 0, cardCodes: '', session };
    context.orders.set(view.orderId, track);
    context.finalReads?.noteSession(buyerId, session);
  }
  const cards: readonly ShopCard[] = Array.isArray(view.delivery?.cards) ? view.delivery.cards : NO_CARDS;
  // Polled every few hundred ms per order: compare without building the codes array.
  let codeKey = '';
  for (let index = 0; index < cards.length; index++) codeKey += index === 0 ? String(cards[index]!.code) : `,${String(cards[index]!.code)}`;
  if (track.status !== view.status || track.reason !== view.reason || track.cards !== cards.length || track.cardCodes !== codeKey) {
    track.status = view.status;
    track.reason = view.reason;
    track.cards = cards.length;
    track.cardCodes = codeKey;
    context.journal.append('order.observed', {
      orderId: view.orderId,
      buyerId: track.buyerId,
      status: view.status,
      ...(view.reason === undefined ? {} : { reason: view.reason }),
      cards: cards.length,
      ...(cards.length > 0 ? { cardCodes: cards.map((card) => String(card.code)) } : {}),
      source,
    });
  }
  return track;
}

type ShopCard = NonNullable<ShopOrderView['delivery']>['cards'][number];
const NO_CARDS: readonly ShopCard[] = [];

/** Reads an order's current view through its buyer's session; undefined when the shop gave no usable answer. */
export async function fetchOrder(session: ShopSession, orderId: string): Promise<ShopOrderView | undefined> {
  const answer = await session.readOrder(orderId);
  const view = answer.body;
  if (answer.status === 200 && view && typeof view === 'object' && typeof view.status === 'string' && typeof view.orderId === 'string') return view;
  return undefined;
}

/** What the buyer asks the shop for (the main intent, or a mistake's variation of it). */
export function orderRequest(buyer: Buyer, overrides: { sku?: string; recipient?: Buyer['recipient']; coupon?: string } = {}): OrderRequest {
  const coupon = overrides.coupon ?? buyer.coupon;
  return {
    sku: overrides.sku ?? buyer.sku,
    quantity: buyer.quantity,
    recipient: overrides.recipient ?? buyer.recipient,
    contact: buyer.contact,
    paymentMethod: buyer.paymentMethod,
    ...(coupon ? { coupon } : {}),
    buyer: {
      id: buyer.id,
      contact: buyer.contact,
      ip: buyer.ip,
      region: buyer.region,
      accountAgeDays: buyer.accountAgeDays,
      deviceId: buyer.deviceId,
    },
  };
}

/** Longest a buyer follows one order: expiry, reconciliation, the slowest configured fault, slack. */
export function followLimitMs(scenario: Scenario): number {
  const { orderTtl, reconcileAfter, reconcileEvery } = scenario.shop;
  let extra = 0;
  for (const fault of scenario.faults) {
    if (fault.id === 'risk.review') extra = Math.max(extra, fault.resolveAfter);
    if (fault.id === 'payment.callback.late') extra = Math.max(extra, (fault.after ?? orderTtl + 1000) + orderTtl);
    if (fault.id === 'payment.verification' && fault.completeAfter !== undefined) extra = Math.max(extra, fault.completeAfter);
  }
  return orderTtl + reconcileAfter + 2 * reconcileEvery + 3000 + extra;
}

/** A 2xx: the shop took the request (contract v1 answers 201 or 200; other shops any 2xx). */
const isSuccess = (status: number | undefined): boolean => status !== undefined && status >= 200 && status < 300;

const round3 = (value: number): number => Math.round(value * 1000) / 1000;
/** A buyer whose order page failed retries after this long. */
const RETRY_AFTER_MS = 600;
/** A multi-window buyer opens the second window this long after the first. */
const SECOND_WINDOW_AFTER_MS = 100;

class BuyerSession {
  private readonly journal: JournalSink;
  private readonly baseKey: string;
  /** The buyer's dealings with the shop: its cookies and tokens, if the shop has any. */
  private readonly shop: ShopSession;
  /** Ids of the orders this buyer created or followed (one, or two for a mistake or a second window). */
  private readonly orderIds: string[] = [];

  constructor(
    private readonly context: BuyerContext,
    private readonly buyer: Buyer,
    private readonly intendedAt: number,
  ) {
    this.journal = context.journal;
    this.baseKey = `${context.runId}-${buyer.id}`;
    // Whatever the shop answers reaches the run only in the shape the run reads (ids and statuses as text, cards with codes).
    this.shop = guardSession(context.target.session(orderRequest(buyer).buyer));
  }

  private mistake(kind: BuyerMistake, orderId?: string, detail: Record<string, string | number | boolean> = {}): void {
    this.journal.append('fault.injected', {
      fault: `buyer.${kind}`,
      faultIndex: -1,
      buyerId: this.buyer.id,
      ...(orderId === undefined ? {} : { orderId }),
      detail,
    });
  }

  /**
   * Submits an order; like a real buyer whose page failed to load, retries with the same key when
   * the shop gave no answer or a 5xx (bounded: a few attempts over about three seconds).
   * `intendedAt` is when the buyer meant to submit (journal time); a retry is meant when its wait ends.
   */
  private async submit(body: OrderRequest, key: string, intent: Intent, intendedAt: number, attempt = 1): Promise<HttpAnswer<ShopOrderView>> {
    let answer = await this.submitOnce(body, key, intent, attempt, intendedAt);
    for (let retry = 1; retry <= 5 && intent !== 'mistake' && !this.context.stopped(); retry++) {
      if (answer.status !== undefined && answer.status < 500) break;
      const retryAt = this.journal.now() + RETRY_AFTER_MS;
      await this.context.pause(RETRY_AFTER_MS);
      answer = await this.submitOnce(body, key, intent, attempt + retry, retryAt);
    }
    return answer;
  }

  private async submitOnce(body: OrderRequest, key: string, intent: Intent, attempt: number, intendedAt: number): Promise<HttpAnswer<ShopOrderView>> {
    const { journal, buyer } = this;
    const meantAt = round3(intendedAt);
    journal.append('order.create.sent', { buyerId: buyer.id, idempotencyKey: key, attempt, intent, sku: body.sku, intendedAt: meantAt });
    const answer = await this.shop.createOrder(body, key);
    const view = answer.body;
    journal.append('order.create.answered', {
      buyerId: buyer.id,
      idempotencyKey: key,
      latencyMs: round3(answer.latencyMs),
      intent,
      ...(answer.status === undefined ? {} : { httpStatus: answer.status }),
      ...(answer.error === undefined ? {} : { error: answer.error }),
      ...(view?.orderId ? { orderId: view.orderId } : {}),
      ...(view?.status ? { status: view.status } : {}),
      ...(view?.reason ? { reason: view.reason } : {}),
      ...(typeof view?.amount === 'number' ? { amount: view.amount } : {}),
      ...(view?.payment?.tradeNo ? { tradeNo: view.payment.tradeNo } : {}),
      ...(view?.error?.code ? { errorCode: view.error.code } : {}),
      intendedAt: meantAt,
    });
    if (view?.orderId && isSuccess(answer.status)) {
      this.context.correlation.link(view.orderId, buyer.id);
      this.observe(view, 'create');
    }
    return answer;
  }

  private created(answer: HttpAnswer<ShopOrderView>): ShopOrderView | undefined {
    return isSuccess(answer.status) && answer.body?.orderId ? answer.body : undefined;
  }

  private async cancel(orderId: string, intendedAt: number): Promise<void> {
    const answer = await this.shop.cancelOrder(orderId);
    this.journal.append('order.cancel.answered', {
      buyerId: this.buyer.id,
      orderId,
      latencyMs: round3(answer.latencyMs),
      ...(answer.status === undefined ? {} : { httpStatus: answer.status }),
      ...(answer.body?.status ? { status: answer.body.status } : {}),
      ...(answer.body?.error?.code ? { errorCode: answer.body.error.code } : {}),
      ...(answer.error === undefined ? {} : { error: answer.error }),
      intendedAt: round3(intendedAt),
    });
  }

  /** Creates the order(s) the buyer ends up following; the first is the buyer's main order. */
  private async placeOrders(): Promise<ShopOrderView[] | HttpAnswer<ShopOrderView>[]> {
    const { buyer } = this;
    const key = this.baseKey;
    switch (buyer.behaviour) {
      case 'typo_recipient': {
        // One digit short: the classic mistyped game id.
        const wrong = { ...buyer.recipient, account: buyer.recipient.account.slice(0, -1) };
        this.mistake('typo_recipient', undefined, { account: wrong.account });
        const answer = await this.submit(orderRequest(buyer, { recipient: wrong }), `${key}-m`, 'mistake', this.intendedAt);
        const accepted = this.created(answer);
        if (accepted) return [accepted];
        // The buyer corrects as soon as the rejection shows.
        return this.collect([await this.submit(orderRequest(buyer), key, 'correction', this.journal.now())]);
      }
      case 'coupon_below_threshold': {
        if (!buyer.couponBelowThreshold) break;
        this.mistake('coupon_below_threshold', undefined, { coupon: buyer.couponBelowThreshold });
        const answer = await this.submit(orderRequest(buyer, { coupon: buyer.couponBelowThreshold }), `${key}-m`, 'mistake', this.intendedAt);
        const accepted = this.created(answer);
        if (accepted) return [accepted];
        return this.collect([await this.submit(orderRequest(buyer), key, 'correction', this.journal.now())]);
      }
      case 'wrong_sku_then_cancel': {
        const answer = await this.submit(orderRequest(buyer, { sku: buyer.wrongSku ?? buyer.sku }), `${key}-m`, 'mistake', this.intendedAt);
        const wrong = this.created(answer);
        if (wrong) {
          const cancelAt = this.journal.now() + this.context.scenario.buyers.payAfter;
          await this.context.pause(this.context.scenario.buyers.payAfter);
          this.mistake('wrong_sku_then_cancel', wrong.orderId, { sku: buyer.wrongSku ?? buyer.sku });
          await this.cancel(wrong.orderId, cancelAt);
        }
        return this.collect([await this.submit(orderRequest(buyer), key, 'correction', this.journal.now())]);
      }
      case 'double_submit': {
        // A refresh or two windows: the same intent, the same key, at once.
        const answers = await Promise.all([
          this.submit(orderRequest(buyer), key, 'order', this.intendedAt),
          this.submit(orderRequest(buyer), key, 'order', this.intendedAt),
        ]);
        const first = answers.map((answer) => this.created(answer)).find(Boolean);
        this.mistake('double_submit', first?.orderId);
        return this.collect(answers);
      }
      case 'multi_window': {
        const firstWindow = this.submit(orderRequest(buyer), `${key}-w1`, 'order', this.intendedAt);
        await this.context.pause(SECOND_WINDOW_AFTER_MS);
        const secondWindow = this.submit(orderRequest(buyer), `${key}-w2`, 'second_window', this.intendedAt + SECOND_WINDOW_AFTER_MS);
        const answers = await Promise.all([firstWindow, secondWindow]);
        const first = answers.map((answer) => this.created(answer)).find(Boolean);
        this.mistake('multi_window', first?.orderId);
        return this.collect(answers);
      }
      default:
        break;
    }
    return this.collect([await this.submit(orderRequest(buyer), key, 'order', this.intendedAt)]);
  }

  /** Distinct orders from the answers, or the failed answers when none created an order. */
  private collect(answers: HttpAnswer<ShopOrderView>[]): ShopOrderView[] | HttpAnswer<ShopOrderView>[] {
    const views = new Map<string, ShopOrderView>();
    for (const answer of answers) {
      const view = this.created(answer);
      if (view && !views.has(view.orderId)) views.set(view.orderId, view);
    }
    return views.size > 0 ? [...views.values()] : answers;
  }

  /** When (journal time) this buyer means to pay, or undefined for never. */
  private payPlan(createdAt: number): { at?: number; whatever: boolean } {
    const { plan, scenario } = this.context;
    const { buyer } = this;
    if (buyer.behaviour === 'abandon_payment') return { whatever: false };
    // Attack scenarios: the order is never paid; a fake success notice arrives instead.
    if (this.isAttackTarget()) return { whatever: false };
    const late = plan.first('payment.callback.late', this.subject());
    if (late) return { at: createdAt + (late.spec.after ?? scenario.shop.orderTtl + 1000), whatever: true };
    if (buyer.behaviour === 'slow_payment') {
      return { at: createdAt + Math.max(scenario.buyers.payAfter, scenario.shop.orderTtl - 300), whatever: false };
    }
    return { whatever: false };
  }

  /** Pays at the cashier; `intendedAt` is when the buyer meant to (its think time over). */
  private async pay(orderId: string, payment: PaymentLink, intendedAt: number): Promise<void> {
    const { journal, buyer, context } = this;
    if (buyer.behaviour === 'slow_payment') this.mistake('slow_payment', orderId);
    const { url, cashier } = context.cashierFor(orderId);
    const request = cashier.payRequest({
      providerUrl: url,
      tradeNo: payment.tradeNo ?? '',
      ...(payment.payUrl ? { payUrl: payment.payUrl } : {}),
      payerId: buyer.id,
      method: buyer.paymentMethod,
    });
    const answer = await context.client.send(request.method, request.url, request.body, request.headers);
    const { outcome, code, verificationId, tradeNo } = cashier.readPayAnswer(answer.status, answer.body);
    journal.append('cashier.paid', {
      buyerId: buyer.id,
      orderId,
      // The provider's own number when its cashier says it: the shop may have shown only a link.
      tradeNo: tradeNo ?? payment.tradeNo ?? '',
      latencyMs: round3(answer.latencyMs),
      ...(answer.status === undefined ? {} : { httpStatus: answer.status }),
      result: PAY_RESULTS[outcome],
      ...(code ? { code } : {}),
      ...(verificationId ? { verificationId } : {}),
      intendedAt: round3(intendedAt),
    });
    if (outcome === 'verifying' && verificationId) {
      const completeAfter = context.plan.first('payment.verification', this.subject(orderId))?.spec.completeAfter;
      if (completeAfter !== undefined) void this.completeVerification(orderId, verificationId, completeAfter);
    }
  }

  private async completeVerification(orderId: string, verificationId: string, after: number): Promise<void> {
    const intendedAt = this.journal.now() + after;
    await this.context.pause(after);
    if (this.context.stopped()) return;
    const { client } = this.context;
    const { url, cashier } = this.context.cashierFor(orderId);
    const request = cashier.verificationRequest({ providerUrl: url, verificationId });
    const answer = await client.send(request.method, request.url, request.body, request.headers);
    const { outcome, code } = cashier.readVerificationAnswer(answer.status, answer.body);
    this.journal.append('cashier.verified', {
      buyerId: this.buyer.id,
      orderId,
      verificationId,
      latencyMs: round3(answer.latencyMs),
      ...(answer.status === undefined ? {} : { httpStatus: answer.status }),
      result: outcome === 'paid' ? 'TRADE_SUCCESS' : (code ?? answer.error ?? 'error'),
      intendedAt: round3(intendedAt),
    });
  }

  /** Follows one order: pays when the shop asks for payment, until it settles or time runs out. */
  private async follow(view: ShopOrderView): Promise<OrderTrack> {
    const { context, buyer } = this;
    let track = this.observe(view, 'create');
    let payment = payable(view.payment);
    const createdAt = context.journal.now();
    if (buyer.behaviour === 'abandon_payment') this.mistake('abandon_payment', view.orderId);
    const plan = this.payPlan(createdAt);
    const paysNormally = plan.at === undefined && buyer.behaviour !== 'abandon_payment' && !this.isAttackTarget();
    let paid = false;
    const deadline = createdAt + followLimitMs(context.scenario);
    const settled = (): boolean => SETTLED_STATUSES.has(track.status ?? '');
    // A late payer waits for the outcome of its own payment, whatever the shop showed before it.
    const done = (): boolean => settled() && (!plan.whatever || (paid && (track.status === 'delivered' || track.status === 'refunded')));
    while (!context.stopped() && context.journal.now() < deadline) {
      const now = context.journal.now();
      if (!paid && payment) {
        if (paysNormally && track.status === 'pending_payment') {
          const payAt = now + context.scenario.buyers.payAfter;
          await context.pause(context.scenario.buyers.payAfter);
          paid = true;
          await this.pay(track.orderId, payment, payAt);
        } else if (plan.at !== undefined && now >= plan.at && (plan.whatever || track.status === 'pending_payment')) {
          // A late buyer pays whatever the shop shows: the cashier page was still open.
          paid = true;
          await this.pay(track.orderId, payment, plan.at);
        }
      }
      if (done()) break;
      const nextPay = plan.at !== undefined && !paid ? Math.max(0, plan.at - context.journal.now()) : Number.POSITIVE_INFINITY;
      await context.pause(Math.min(context.scenario.buyers.pollEvery, nextPay));
      const fresh = await fetchOrder(this.shop, track.orderId);
      if (fresh) {
        track = this.observe(fresh, 'poll');
        // Only a buyer who has not paid yet needs the shop's payment details again.
        if (!paid) payment = payable(fresh.payment) ?? payment;
      }
    }
    return track;
  }

  private observe(view: ShopOrderView, source: 'create' | 'poll'): OrderTrack {
    const track = observeOrder(this.context, this.buyer.id, this.shop, view, source);
    if (!this.orderIds.includes(track.orderId)) this.orderIds.push(track.orderId);
    return track;
  }

  /**
   * The buyer is done: its orders in a final status can no longer change, so their tracks go (the
   * journal has what was seen). The others stay for the settle phase — and, at a shop holding its
   * own stock, the final ones too.
   */
  release(): void {
    const { orders, target } = this.context;
    // A shop that holds its own stock has no supplier ledger to show a second set of cards issued
    // after the buyer looked: its delivered orders stay for the settle phase's final read.
    if (!target.observes.stockSupplier) return;
    for (const orderId of this.orderIds) {
      const track = orders.get(orderId);
      if (track && track.buyerId === this.buyer.id && FINAL_STATUSES.has(track.status ?? '')) orders.delete(orderId);
    }
  }

  /**
   * What the mocks decided this buyer's faults on: the buyer, or — for a shop whose trade was made
   * before Ordeal knew whose order it was — the buyer's main order.
   */
  private subject(orderId = this.orderIds[0]): string {
    return orderId === undefined ? this.buyer.id : this.context.correlation.decisionSubject(orderId, this.buyer.id);
  }

  private isAttackTarget(): boolean {
    const { plan } = this.context;
    const subject = this.subject();
    return Object.values(FORGERY_FAULTS).some((fault) => plan.first(fault, subject) !== undefined);
  }

  async run(): Promise<void> {
    const placed = await this.placeOrders();
    const views = placed.filter((entry): entry is ShopOrderView => 'orderId' in entry && typeof entry.orderId === 'string');
    if (views.length === 0) {
      const answers = placed as HttpAnswer<ShopOrderView>[];
      const rejected = answers.some((answer) => answer.status !== undefined && answer.status >= 400 && answer.status < 500);
      this.finish(rejected ? 'rejected' : 'error');
      return;
    }
    const tracks = await Promise.all(views.map((view) => this.follow(view)));
    const main = tracks[0]!;
    const status = main.status;
    if (status === 'delivered') this.finish('delivered', main.orderId, status);
    else if (status !== undefined && SETTLED_STATUSES.has(status)) {
      const abandoned = (this.buyer.behaviour === 'abandon_payment' || this.isAttackTarget()) && (status === 'expired' || status === 'cancelled');
      this.finish(abandoned ? 'abandoned' : 'failed', main.orderId, status);
    } else this.finish('timeout', main.orderId, status);
  }

  private finish(outcome: Outcome, orderId?: string, finalStatus?: string): void {
    this.journal.append('buyer.finished', {
      buyerId: this.buyer.id,
      ...(orderId === undefined ? {} : { orderId }),
      ...(finalStatus === undefined ? {} : { finalStatus }),
      outcome,
      latencyMs: Math.max(0, this.journal.now() - this.intendedAt),
    });
  }
}

/** Runs one buyer's journey to its end, then releases the tracks of its orders that are final. */
export async function runBuyer(context: BuyerContext, buyer: Buyer, intendedAt: number): Promise<void> {
  const session = new BuyerSession(context, buyer, intendedAt);
  try {
    await session.run();
  } finally {
    session.release();
  }
}
