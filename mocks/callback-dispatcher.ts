/**
 * The callback dispatcher: sends the payment provider's signed callbacks to the shop's notifyUrl,
 * outside the route handlers, so both transports share it. Retries on a schedule until a 2xx,
 * applies the callback faults (drop, delay, duplicate, reorder), sends the forgeries the provider
 * asks for (forged, replayed), and journals every attempt.
 *
 * Callbacks go out through undici's core API: one keep-alive `Pool` per notify-URL origin and
 * `pool.dispatch()` (no redirect is followed, like `redirect: 'manual'`), each attempt bounded by
 * the per-attempt timeout. Notify URLs are loopback, so msw's in-process transport lets them pass
 * untouched either way.
 */
import { Pool, type Dispatcher } from 'undici';
import type { JournalSink } from '../core/journal.js';
import { splitUrl } from '../core/http-client.js';
import type { FaultPlan } from './fault-plan.js';
import { signBody } from './signature.js';

/** A compressed Alipay schedule: 7 attempts in about 16 s. */
export const DEFAULT_CALLBACK_RETRY_DELAYS: readonly number[] = [250, 500, 1000, 2000, 4000, 8000];
export const DEFAULT_CALLBACK_TIMEOUT_MS = 5000;
/** A forgery is retried like any callback (an attacker would retry too), but at most this often in all. */
export const FORGERY_MAX_ATTEMPTS = 3;

export type CallbackStatus = 'TRADE_SUCCESS' | 'PAY_FAILED';

/** The callback body as the shop receives it. */
export interface CallbackPayload {
  /** Stable across retries and duplicate copies of one notification. */
  notifyId: string;
  tradeNo: string;
  outTradeNo: string;
  status: CallbackStatus;
  amount: number;
  paidAt?: string;
  failCode?: string;
}

/** What to notify, without the notifyId (the dispatcher assigns it). */
export type CallbackNotice = Omit<CallbackPayload, 'notifyId'>;

/** How a notice that is not genuine is signed. */
export type CallbackForgeryKind = 'forged' | 'replayed';
/** Every kind of non-genuine notice, as `payment.callback.sent` names it. */
export type CallbackForgery = CallbackForgeryKind | 'stale';

/**
 * A notice the provider never issued for real, sent by `payment.callback.forged` (signed with a
 * wrong secret) or `payment.callback.replayed` (genuinely signed, with a timestamp `ageMs` old).
 * Callback faults (drop, delay, duplicate, reorder) do not apply to it.
 */
export interface CallbackForgeryOptions {
  kind: CallbackForgeryKind;
  /** Index of the fault in the scenario, for the `fault.injected` journaled when it is first sent. */
  faultIndex: number;
  /** replayed: how old the signature's timestamp is, ms. @default 3_600_000 */
  ageMs?: number;
  /** Extra fields for the `fault.injected` detail. */
  detail?: Record<string, string | number | boolean>;
}

export interface CallbackTarget {
  /** The shop's callback URL (validated as loopback by the provider). */
  notifyUrl: string;
  /** Fault decisions' subject: the payer's buyer id, else the correlation's subject. */
  subject: string;
  /** For `fault.injected` events. */
  buyerId?: string;
  /** Set when the notice is a forgery rather than the provider's own word. */
  forgery?: CallbackForgeryOptions;
}

export interface CallbackDispatcherOptions {
  journal: JournalSink;
  plan: FaultPlan;
  /** Signing secret (ORDEAL_PAYMENT_SECRET). */
  secret: string;
  /** Delays between attempts, ms; attempts = delays + 1. @default DEFAULT_CALLBACK_RETRY_DELAYS */
  retryDelays?: readonly number[];
  /** Per-attempt timeout, ms. @default 5000 */
  timeoutMs?: number;
}

/** A `fault.injected` journaled when a delivery is first attempted. */
interface InjectedAtSend {
  fault: 'payment.callback.forged' | 'payment.callback.replayed' | 'payment.callback.reorder';
  faultIndex: number;
  buyerId?: string;
  detail: Record<string, string | number | boolean>;
}

/** One copy of a notification being delivered (with its own retries). */
interface Delivery {
  notifyUrl: string;
  payload: CallbackPayload;
  rawBody: string;
  copy: number;
  attempt: number;
  /** Attempts allowed in all (1 + retries). */
  maxAttempts: number;
  /** A fixed signature header (forgeries: the attacker sends the same one each time); else signed per attempt. */
  signature?: string;
  forgery?: CallbackForgery;
  injected?: InjectedAtSend;
  /** Runs once, after the first attempt was journaled (reorder schedules its stale notice here). */
  afterFirstAttempt?: () => void;
  timer?: NodeJS.Timeout;
  /** Cancels the attempt in flight (set while one is). */
  cancel?: () => void;
}

/** What one attempt got: an HTTP status, or an error (`timeout`, a code such as `ECONNREFUSED`, else a message). */
interface AttemptOutcome {
  httpStatus?: number;
  error?: string;
}

/** undici's own timeouts: a backstop behind the attempt's deadline, journaled alike. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return TIMEOUT_CODES.has(code) ? 'timeout' : code;
    return error.message;
  }
  return String(error);
}

/** The reason an attempt is aborted with (never journaled: the attempt's outcome is decided first). */
class AttemptAborted extends Error {
  constructor(readonly why: 'timeout' | 'closed') {
    super(why === 'timeout' ? 'callback attempt timed out' : 'callback dispatcher closed');
  }
}

export class CallbackDispatcher {
  private readonly journal: JournalSink;
  private readonly plan: FaultPlan;
  private readonly secret: string;
  private readonly retryDelays: readonly number[];
  private readonly timeoutMs: number;
  private readonly deliveries = new Set<Delivery>();
  /** One keep-alive pool per notify-URL origin. */
  private readonly pools = new Map<string, Pool>();
  private idleWaiters: Array<() => void> = [];
  private notifySeq = 0;
  private closed = false;

  constructor(options: CallbackDispatcherOptions) {
    this.journal = options.journal;
    this.plan = options.plan;
    this.secret = options.secret;
    this.retryDelays = options.retryDelays ?? DEFAULT_CALLBACK_RETRY_DELAYS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS;
  }

  /**
   * Schedules the callback for a notice. Callback faults are decided here, for `TRADE_SUCCESS`
   * only (never for a forgery). Returns the notifyId (also when a drop fault means nothing is
   * ever sent).
   */
  dispatch(target: CallbackTarget, notice: CallbackNotice): string {
    const notifyId = this.nextNotifyId();
    if (this.closed) return notifyId;
    const payload: CallbackPayload = { notifyId, ...notice };
    const orderId = notice.outTradeNo;
    const buyer = target.buyerId === undefined ? {} : { buyerId: target.buyerId };

    if (target.forgery) {
      this.dispatchForgery(target, target.forgery, payload);
      return notifyId;
    }

    let firstDelay = 0;
    let copies = 1;
    let spacing = 0;
    let afterFirstAttempt: (() => void) | undefined;
    if (notice.status === 'TRADE_SUCCESS') {
      const drop = this.plan.first('payment.callback.drop', target.subject);
      if (drop) {
        this.journal.append('fault.injected', { fault: drop.spec.id, faultIndex: drop.index, orderId, ...buyer, detail: {} });
        return notifyId;
      }
      const delay = this.plan.first('payment.callback.delay', target.subject);
      if (delay) {
        firstDelay = Math.max(0, Math.round(this.plan.delayFor(delay.index, delay.spec.delay, target.subject, `callback:${notice.tradeNo}`)));
        this.journal.append('fault.injected', {
          fault: delay.spec.id,
          faultIndex: delay.index,
          orderId,
          ...buyer,
          detail: { delayMs: firstDelay },
        });
      }
      const duplicate = this.plan.first('payment.callback.duplicate', target.subject);
      if (duplicate) {
        copies = duplicate.spec.copies;
        spacing = duplicate.spec.spacing;
        this.journal.append('fault.injected', {
          fault: duplicate.spec.id,
          faultIndex: duplicate.index,
          orderId,
          ...buyer,
          detail: { copies, spacing },
        });
      }
      const reorder = this.plan.first('payment.callback.reorder', target.subject);
      if (reorder) {
        // The buyer's earlier, declined attempt: its PAY_FAILED notice arrives after the success.
        afterFirstAttempt = () => {
          const stale: CallbackPayload = {
            notifyId: this.nextNotifyId(),
            tradeNo: notice.tradeNo,
            outTradeNo: notice.outTradeNo,
            status: 'PAY_FAILED',
            amount: notice.amount,
            failCode: 'DECLINED',
          };
          const delivery = this.newDelivery(target.notifyUrl, stale, {
            forgery: 'stale',
            injected: {
              fault: reorder.spec.id,
              faultIndex: reorder.index,
              ...buyer,
              detail: { gap: reorder.spec.gap, notifyId: stale.notifyId, successNotifyId: notifyId },
            },
          });
          this.schedule(delivery, reorder.spec.gap);
        };
      }
    }

    for (let copy = 1; copy <= copies; copy++) {
      const delivery = this.newDelivery(target.notifyUrl, payload, { copy, ...(copy === 1 && afterFirstAttempt ? { afterFirstAttempt } : {}) });
      this.schedule(delivery, firstDelay + (copy - 1) * spacing);
    }
    return notifyId;
  }

  /** Deliveries (copies) scheduled or in flight. */
  pending(): number {
    return this.deliveries.size;
  }

  /** Resolves when no delivery is pending (immediately if none is). */
  idle(): Promise<void> {
    if (this.deliveries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels every timer and in-flight request and closes the connections; nothing is journaled afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    for (const delivery of this.deliveries) {
      if (delivery.timer) clearTimeout(delivery.timer);
      delivery.cancel?.();
    }
    this.deliveries.clear();
    this.settleIdle();
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  private nextNotifyId(): string {
    this.notifySeq += 1;
    return `N${String(this.notifySeq).padStart(10, '0')}`;
  }

  private newDelivery(notifyUrl: string, payload: CallbackPayload, extra: Partial<Delivery> = {}): Delivery {
    const delivery: Delivery = {
      notifyUrl,
      payload,
      rawBody: JSON.stringify(payload),
      copy: 1,
      attempt: 0,
      maxAttempts: this.retryDelays.length + 1,
      ...extra,
    };
    this.deliveries.add(delivery);
    return delivery;
  }

  /** A forged or replayed notice: signed once (wrongly, or long ago), at most FORGERY_MAX_ATTEMPTS attempts. */
  private dispatchForgery(target: CallbackTarget, forgery: CallbackForgeryOptions, payload: CallbackPayload): void {
    const rawBody = JSON.stringify(payload);
    const nowS = Math.floor(Date.now() / 1000);
    let signature: string;
    const detail: Record<string, string | number | boolean> = { ...forgery.detail, notifyId: payload.notifyId };
    if (forgery.kind === 'forged') {
      signature = signBody(`not-${this.secret}`, rawBody, nowS);
    } else {
      const ageS = Math.max(1, Math.round((forgery.ageMs ?? 3_600_000) / 1000));
      signature = signBody(this.secret, rawBody, nowS - ageS);
      detail.ageS = ageS;
    }
    // The attacker signs once and sends the same header on every attempt.
    const delivery = this.newDelivery(target.notifyUrl, payload, {
      maxAttempts: Math.min(FORGERY_MAX_ATTEMPTS, this.retryDelays.length + 1),
      signature,
      forgery: forgery.kind,
      injected: {
        fault: forgery.kind === 'forged' ? 'payment.callback.forged' : 'payment.callback.replayed',
        faultIndex: forgery.faultIndex,
        ...(target.buyerId === undefined ? {} : { buyerId: target.buyerId }),
        detail,
      },
    });
    this.schedule(delivery, 0);
  }

  private schedule(delivery: Delivery, delayMs: number): void {
    if (delayMs <= 0) {
      void this.attempt(delivery);
      return;
    }
    delivery.timer = setTimeout(() => {
      delivery.timer = undefined;
      void this.attempt(delivery);
    }, delayMs);
  }

  private finish(delivery: Delivery): void {
    this.deliveries.delete(delivery);
    this.settleIdle();
  }

  private settleIdle(): void {
    if (this.deliveries.size > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async attempt(delivery: Delivery): Promise<void> {
    if (this.closed) return;
    delivery.attempt += 1;
    if (delivery.attempt === 1 && delivery.injected) {
      const { fault, faultIndex, buyerId, detail } = delivery.injected;
      this.journal.append('fault.injected', {
        fault,
        faultIndex,
        orderId: delivery.payload.outTradeNo,
        ...(buyerId === undefined ? {} : { buyerId }),
        detail,
      });
    }
    const started = performance.now();
    const { httpStatus, error } = await this.post(delivery);
    if (this.closed) return;
    const acked = error === undefined && httpStatus !== undefined && httpStatus >= 200 && httpStatus < 300;
    this.journal.append('payment.callback.sent', {
      orderId: delivery.payload.outTradeNo,
      tradeNo: delivery.payload.tradeNo,
      notifyId: delivery.payload.notifyId,
      status: delivery.payload.status,
      attempt: delivery.attempt,
      copy: delivery.copy,
      ...(delivery.forgery === undefined ? {} : { forgery: delivery.forgery }),
      acked,
      latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
      ...(httpStatus === undefined ? {} : { httpStatus }),
      ...(error === undefined ? {} : { error }),
    });
    if (delivery.attempt === 1 && delivery.afterFirstAttempt) {
      // Scheduled before this delivery may finish, so pending() never dips to 0 in between.
      const after = delivery.afterFirstAttempt;
      delivery.afterFirstAttempt = undefined;
      after();
    }
    const nextDelay = delivery.attempt < delivery.maxAttempts ? this.retryDelays[delivery.attempt - 1] : undefined;
    if (acked || nextDelay === undefined) {
      this.finish(delivery);
      return;
    }
    this.schedule(delivery, nextDelay);
  }

  /**
   * One attempt: POSTs the body (signed now, unless the delivery carries a fixed signature) to the
   * notify URL. Never rejects; settles by the per-attempt timeout at the latest, or at once when
   * `delivery.cancel()` is called. The answer's body is read and dropped, so the connection is reused.
   */
  private post(delivery: Delivery): Promise<AttemptOutcome> {
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      let controller: Dispatcher.DispatchController | undefined;
      /** An abort asked for before the request reached a connection: applied when it does. */
      let pendingAbort: AttemptAborted | undefined;
      let httpStatus = 0;
      const settle = (outcome: AttemptOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        delivery.cancel = undefined;
        resolve(outcome);
      };
      const abort = (reason: AttemptAborted): void => {
        // Settled first: undici reports the abort back through onResponseError, which is then ignored.
        settle({ error: reason.why === 'timeout' ? 'timeout' : reason.message });
        if (controller) controller.abort(reason);
        else pendingAbort = reason;
      };
      const timer = setTimeout(() => abort(new AttemptAborted('timeout')), this.timeoutMs);
      delivery.cancel = () => abort(new AttemptAborted('closed'));
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(started) {
          controller = started;
          if (pendingAbort) started.abort(pendingAbort);
        },
        onResponseStart(_controller, statusCode) {
          httpStatus = statusCode;
        },
        onResponseData() {
          // The shop's answer ("success") carries nothing the provider acts on.
        },
        onResponseEnd() {
          settle({ httpStatus });
        },
        onResponseError(_controller, error) {
          settle({ error: describeError(error) });
        },
      };
      try {
        const { origin, path } = splitUrl(delivery.notifyUrl);
        this.pool(origin).dispatch(
          {
            method: 'POST',
            path,
            headers: { 'content-type': 'application/json', 'ordeal-signature': delivery.signature ?? signBody(this.secret, delivery.rawBody) },
            body: delivery.rawBody,
          },
          handler,
        );
      } catch (error) {
        settle({ error: describeError(error) });
      }
    });
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      // The attempt's own deadline comes first; undici's timeouts only back it up.
      pool = new Pool(origin, { headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, connectTimeout: this.timeoutMs });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}
