/**
 * The facts a fault's evidence rules read: one order and one buyer as the scorer folds them from
 * the journal (what the shop said, what the mocks' ledgers recorded), and the run-wide facts a rule
 * may look up. Plain data: the scorer builds them (harness/score/), the fault registry reads them.
 */
import type { RiskSignal } from '../schema-parts.js';

/** Distinct card codes (a `Set<string>` is one). */
export interface CardCodes extends Iterable<string> {
  readonly size: number;
  has(code: string): boolean;
}

/**
 * A status the shop reported for an order: in its create answer, seen by the harness later, or in
 * the final read of every order after the settle phase (`final`: only where it differed from the
 * harness's last look).
 */
export interface StatusReport {
  t: number;
  status: string;
  reason?: string;
  source: 'answer' | 'observed' | 'final';
  /** Cards the shop showed with an observed status. */
  cards?: number;
}

/** Why a buyer's create request differs from a plain order (see `order.create.sent`). */
export type CreateIntent = 'order' | 'mistake' | 'correction' | 'second_window';

/**
 * One order, folded from the journal: what the shop said and what the mocks' ledgers recorded.
 *
 * Lists and sets are read-only here: a new order's all start as the shared `NO_ENTRIES` /
 * `NO_CODES` (most stay empty), and only the fold (`JournalFolder`) adds to them.
 */
export interface OrderFacts {
  orderId: string;
  buyerId: string | undefined;
  /** Some buyer's create request was answered with this order id. */
  createdByBuyer: boolean;
  /** The intent of the submission that created it, when the harness named one. */
  intent: CreateIntent | undefined;
  /** The buyer's contact (resolved from `buyer.arrived` once folding is done). */
  contact: string | undefined;
  /** Cards the buyer asked for (resolved from `buyer.arrived`; else the reservation's quantity). */
  quantity: number | undefined;
  sku: string | undefined;
  /** The amount the shop quoted in its create answer (minor units). */
  amount: number | undefined;
  /** The amount of the payment trade the shop created (minor units). */
  tradeAmount: number | undefined;
  reservedQuantity: number | undefined;
  /** First `order.create.answered` with HTTP 201 for this order. */
  created201At: number | undefined;
  statuses: readonly StatusReport[];
  /** Trade creations the provider accepted (`repeat`: the same outTradeNo again). */
  tradeCreations: ReadonlyArray<{ t: number; repeat: boolean }>;
  /** Trade creations the provider refused (cross-border, single limit, …). */
  tradeRefusals: ReadonlyArray<{ t: number; code: string }>;
  /** Money captured from the buyer (`payment.trade.paid`). */
  captures: ReadonlyArray<{ t: number; amount: number; payerId?: string }>;
  /** Payments the provider refused at the cashier. */
  payFailures: ReadonlyArray<{ t: number; code: string }>;
  /** Money returned: ok, non-repeat refunds only. */
  refunds: ReadonlyArray<{ t: number; amount: number }>;
  /** Every refund call the shop made (failed and repeated ones included). */
  refundAttempts: readonly number[];
  queries: readonly number[];
  /** `payment.trade.closed` answered TRADE_HAS_SUCCESS. */
  closedWithSuccess: readonly number[];
  /** `payment.trade.closed` that closed the trade. */
  closes: readonly number[];
  /**
   * Every callback attempt: `copy` (set from 2 on) tells duplicate copies apart, each delivered
   * and retried on its own; `httpStatus` is the shop's answer, absent when none came.
   */
  callbacks: ReadonlyArray<{ t: number; acked: boolean; status?: 'TRADE_SUCCESS' | 'PAY_FAILED'; forgery?: 'forged' | 'replayed' | 'altered' | 'stale'; copy?: number; httpStatus?: number }>;
  /** Non-repeat reservations. */
  reservations: readonly number[];
  /** Reservations freed: `released` by the shop, or `expired` (lapsed at the supplier's TTL). */
  releases: ReadonlyArray<{ t: number; reason: 'released' | 'expired' }>;
  stockRefusals: readonly number[];
  /** Non-repeat fulfilments. */
  fulfilments: ReadonlyArray<{ t: number; cards: number }>;
  /** Card-issue calls the supplier failed. */
  fulfilFailures: readonly number[];
  /** Distinct card codes the supplier issued to the order. */
  cards: CardCodes;
  /** Distinct card codes the shop showed the buyer for this order. */
  shownCards: CardCodes;
  /** Messages the gateway accepted (duplicates dropped by the gateway are not kept). */
  messages: ReadonlyArray<{ t: number; to: string; kind: string; reason?: string }>;
  /** Every message the shop tried to send: accepted, dropped as duplicate, or refused. */
  messageAttempts: ReadonlyArray<{ t: number; kind?: string; refused: boolean }>;
  /** The buyer's cancel requests and the shop's answers. */
  cancels: ReadonlyArray<{ t: number; httpStatus?: number; status?: string }>;
  /** Risk screening: assessments and resolutions of reviews. */
  risk: ReadonlyArray<{ t: number; decision: 'approve' | 'review' | 'reject' | 'approved' | 'rejected' }>;
  /** Times of every call the shop made to a mock about this order (trade, stock, risk, notify). */
  shopCalls: readonly number[];
}

/** One answer to a buyer's create request. */
export interface SubmissionFacts {
  t: number;
  idempotencyKey: string;
  intent?: CreateIntent;
  httpStatus?: number;
  orderId?: string;
  status?: string;
  errorCode?: string;
  /** Transport error: no HTTP answer. */
  error?: string;
}

export interface BuyerFacts {
  buyerId: string;
  /** The buyer's behaviour (`normal`, or a mistake scored as `buyer.<behaviour>`). */
  behaviour: string | undefined;
  sku: string | undefined;
  quantity: number | undefined;
  contact: string | undefined;
  region: string | undefined;
  signals: RiskSignal[] | undefined;
  intendedAt: number | undefined;
  dropped: boolean;
  /** Orders created for the buyer, in the order they were first seen. */
  orders: readonly string[];
  /** Answers to the buyer's create requests, in journal order. */
  submissions: readonly SubmissionFacts[];
  finished: { outcome: string; latencyMs: number; finalStatus?: string } | undefined;
  /** Its submissions and its orders' incident-only facts were dropped (`compactBuyerFacts`). */
  compacted: boolean;
}

/** Run-wide facts a rule may look up besides its own order. */
export interface RunFacts {
  /** Every order of the run, by id. */
  orders: { get(orderId: string): OrderFacts | undefined };
  /** Card codes the supplier issued (to any order, or to a shop's own stockpile). */
  cardOwners: { has(code: string): boolean };
  /** Ordeal killing and restarting the managed shop (`target.crash`). */
  target: { kills: readonly number[]; restarts: readonly number[] };
}

/** The shop's own timers, as the scenario hands them to it (ms). */
export interface ShopTimers {
  orderTtl: number;
  reconcileAfter: number;
  reconcileEvery: number;
}
