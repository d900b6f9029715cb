/**
 * What happens to an order after the form: the gateway's notify, the reconcile job, closing at
 * the timeout or on the buyer's cancel, refunds when a payment cannot be honoured, and the mails
 * that tell the buyer. The flaws (SHOP_FLAWS) are read here, where a shop would have made them.
 */
import { ORDER_STATUS, STATUS_WORDS, type OrderRow } from './database.js';
import { fenOfMoney, type EpayClient, type GatewayOrder } from './epay.js';
import type { Flaw } from './flaws.js';
import { yuan } from './html.js';
import type { MailKind, Mailer } from './mailer.js';
import type { OrderBook, PaymentEvidence, SettleOutcome } from './orders.js';

export interface NotifyAnswer {
  status: number;
  /** epay counts a notify delivered when the body contains `success`. */
  body: 'success' | 'fail';
}

type Log = (line: string) => void;

/** Orders one reconcile or close pass looks at. */
const BATCH = 50;
/** Failed refund attempts before the order is marked 异常 for the owner. */
const REFUND_TRIES = 3;

export interface FulfilmentOptions {
  book: OrderBook;
  epay: EpayClient;
  mailer: Mailer;
  flaws: ReadonlySet<Flaw>;
  /** The shop's public URL, known once it listens. */
  siteUrl: () => string;
  log: Log;
}

export class Fulfilment {
  private readonly refunding = new Set<string>();
  private stopped = false;

  constructor(private readonly options: FulfilmentOptions) {}

  private get book(): OrderBook {
    return this.options.book;
  }

  private get epay(): EpayClient {
    return this.options.epay;
  }

  /** Ends the passes under way after their current order (the shop is stopping). */
  stop(): void {
    this.stopped = true;
  }

  private flawed(flaw: Flaw): boolean {
    return this.options.flaws.has(flaw);
  }

  /** `GET /notify/epay`: verify, confirm with the gateway, settle; answer `success` or `fail`. */
  async handleNotify(params: Readonly<Record<string, string | undefined>>): Promise<NotifyAnswer> {
    const orderNo = params.out_trade_no ?? '';
    const believeAnything = this.flawed('skip-sign-check');
    if (!believeAnything) {
      if (!this.epay.signatureValid(params)) {
        this.options.log(`notify for ${orderNo || '(no order)'} refused: bad sign or pid`);
        return { status: 400, body: 'fail' };
      }
      // epay notifies successes only; anything else is acknowledged and ignored.
      if (params.trade_status !== 'TRADE_SUCCESS') return { status: 200, body: 'success' };
    }
    const order = this.book.order(orderNo);
    if (!order) {
      this.options.log(`notify for unknown order ${orderNo || '(none)'}`);
      return { status: 404, body: 'fail' };
    }
    const redeliver = this.flawed('double-deliver');
    // A repeated notify for a settled order: acknowledged, nothing more to do.
    if (!redeliver && order.status !== ORDER_STATUS.UNPAID && order.status !== ORDER_STATUS.CLOSED) return { status: 200, body: 'success' };

    let evidence: PaymentEvidence;
    if (believeAnything) {
      evidence = { tradeNo: params.trade_no ?? '', paidFen: fenOfMoney(params.money) ?? 0 };
    } else {
      // MD5 signs no time: an old genuine notify replays the same bytes. The gateway's own
      // record says whether this order was paid, and how much.
      let gateway: GatewayOrder;
      try {
        gateway = await this.epay.queryOrder(orderNo);
      } catch (error) {
        this.options.log(`notify for ${orderNo}: gateway query failed, asking for a retry: ${(error as Error).message}`);
        return { status: 503, body: 'fail' };
      }
      if (gateway.kind !== 'paid' || gateway.tradeNo !== params.trade_no) {
        this.options.log(`notify for ${orderNo} refused: the gateway says ${gateway.kind === 'paid' ? `trade ${gateway.tradeNo}` : gateway.kind}`);
        return { status: 400, body: 'fail' };
      }
      evidence = { tradeNo: gateway.tradeNo, paidFen: gateway.moneyFen };
    }
    const outcome = this.applyPayment(orderNo, evidence, 'notify', redeliver);
    return outcome.kind === 'unknown-order' ? { status: 404, body: 'fail' } : { status: 200, body: 'success' };
  }

  /** One reconcile pass: asks the gateway about unpaid orders (a dropped notify), then retries refunds. */
  async reconcile(): Promise<void> {
    for (const orderNo of this.book.unpaidLeastRecentlyChecked(BATCH)) {
      if (this.stopped) return;
      // Marked first, so an order the gateway cannot answer for goes to the back of the line.
      this.book.markChecked(orderNo, Date.now());
      let gateway: GatewayOrder;
      try {
        gateway = await this.epay.queryOrder(orderNo);
      } catch (error) {
        // Most likely the gateway is down: the next pass asks again.
        this.options.log(`reconcile: gateway query for ${orderNo} failed: ${(error as Error).message}`);
        break;
      }
      if (gateway.kind === 'paid') this.applyPayment(orderNo, { tradeNo: gateway.tradeNo, paidFen: gateway.moneyFen }, 'reconcile', false);
    }
    for (const order of this.book.refundsDue(BATCH)) {
      if (this.stopped) return;
      await this.refund(order.order_no);
    }
  }

  /** Closes the unpaid orders older than the timeout, asking the gateway first whether they were paid. */
  async closeExpired(timeoutMs: number): Promise<void> {
    let gatewayUp = !this.flawed('no-reconcile');
    for (const orderNo of this.book.unpaidCreatedBefore(Date.now() - timeoutMs, BATCH)) {
      if (this.stopped) return;
      if (gatewayUp) {
        const gateway = await this.lastLook(orderNo);
        if (gateway === undefined) gatewayUp = false;
        else if (gateway.kind === 'paid') {
          this.applyPayment(orderNo, { tradeNo: gateway.tradeNo, paidFen: gateway.moneyFen }, 'close check', false);
          continue;
        }
      }
      this.closeOrder(orderNo, 'timeout');
    }
  }

  /** The buyer's cancel of an unpaid order (order number and e-mail must match). */
  async cancel(orderNo: string, email: string): Promise<'closed' | 'paid' | 'not-unpaid' | 'not-found'> {
    const order = this.book.order(orderNo);
    if (!order || order.email.toLowerCase() !== email.trim().toLowerCase()) return 'not-found';
    if (order.status !== ORDER_STATUS.UNPAID) return 'not-unpaid';
    if (!this.flawed('no-reconcile')) {
      const gateway = await this.lastLook(orderNo);
      if (gateway?.kind === 'paid') {
        this.applyPayment(orderNo, { tradeNo: gateway.tradeNo, paidFen: gateway.moneyFen }, 'cancel check', false);
        return 'paid';
      }
    }
    return this.closeOrder(orderNo, 'cancelled by the buyer') ? 'closed' : 'not-unpaid';
  }

  /** Sends a refund due for `orderNo` (one attempt at a time per order). */
  async refund(orderNo: string): Promise<void> {
    if (this.refunding.has(orderNo)) return;
    this.refunding.add(orderNo);
    try {
      const order = this.book.order(orderNo);
      if (!order || order.status !== ORDER_STATUS.PAID || order.refund_due_fen <= 0 || order.trade_no === null) return;
      let ok = false;
      let detail: string;
      try {
        const answer = await this.epay.refund(order.trade_no, order.refund_due_fen);
        ok = answer.ok;
        detail = `${ok ? 'refunded' : 'refused'} ${yuan(order.refund_due_fen)} (${answer.msg})`;
      } catch (error) {
        detail = `failed: ${(error as Error).message}`;
      }
      const status = this.book.recordRefund(orderNo, ok, detail, REFUND_TRIES);
      this.options.log(`refund for ${orderNo}: ${detail}`);
      if (status === ORDER_STATUS.REFUNDED) this.mail(orderNo, 'refunded');
      else if (status === ORDER_STATUS.ABNORMAL) this.mail(orderNo, 'abnormal');
    } finally {
      this.refunding.delete(orderNo);
    }
  }

  private async lastLook(orderNo: string): Promise<GatewayOrder | undefined> {
    try {
      return await this.epay.queryOrder(orderNo);
    } catch (error) {
      this.options.log(`gateway query for ${orderNo} failed, closing without it: ${(error as Error).message}`);
      return undefined;
    }
  }

  private closeOrder(orderNo: string, reason: string): boolean {
    const closed = this.book.close(orderNo, Date.now(), reason);
    if (closed) {
      this.options.log(`order ${orderNo} closed (${reason})`);
      this.mail(orderNo, 'closed');
    }
    return closed;
  }

  private applyPayment(orderNo: string, evidence: PaymentEvidence, source: string, redeliver: boolean): SettleOutcome {
    const outcome = this.book.settlePaid(orderNo, evidence, Date.now(), redeliver);
    if (outcome.kind === 'delivered') {
      this.options.log(`order ${orderNo} paid (${source}, trade ${evidence.tradeNo}): ${outcome.cards.length} card(s) delivered${outcome.again ? ' again' : ''}`);
      this.mail(orderNo, 'delivered', outcome.cards);
    } else if (outcome.kind === 'refund-due') {
      this.options.log(`order ${orderNo} paid (${source}) but not deliverable (${outcome.reason}): refunding ${yuan(outcome.amountFen)}`);
      void this.refund(orderNo);
    }
    return outcome;
  }

  private mail(orderNo: string, kind: MailKind, cards: string[] = []): void {
    const order = this.book.order(orderNo);
    if (!order) return;
    this.options.mailer.send({ orderNo, to: order.email, kind, ...composeMail(order, kind, cards, this.options.siteUrl()) });
  }
}

/** Subject and body of a mail to the buyer; both name the order number. */
export function composeMail(order: OrderRow, kind: MailKind, cards: string[], siteUrl: string): { subject: string; text: string } {
  const words = STATUS_WORDS[order.status];
  const subjects: Record<MailKind, string> = {
    delivered: `订单 ${order.order_no} 已完成，卡密已发货 · Order ${order.order_no}: your cards`,
    closed: `订单 ${order.order_no} 已关闭 · Order ${order.order_no} closed`,
    refunded: `订单 ${order.order_no} 已退款 · Order ${order.order_no} refunded`,
    abnormal: `订单 ${order.order_no} 支付异常 · Order ${order.order_no}: a problem with your payment`,
  };
  const lines = [
    `订单号 Order: ${order.order_no}`,
    `商品 Goods: ${order.goods_title} × ${order.quantity}`,
    `金额 Amount: ${yuan(order.amount_fen)} 元`,
    `状态 Status: ${words.zh} ${words.en}`,
  ];
  if (kind === 'delivered') lines.push('', '卡密 Card codes:', ...cards.map((code) => `  ${code}`));
  if (kind === 'closed') lines.push('', '订单未在规定时间内支付或已取消，预留的库存已释放。 The order was not paid in time (or was cancelled); nothing was charged.');
  if (kind === 'refunded') lines.push('', `已原路退回 ${yuan(order.paid_fen ?? 0)} 元。 Your payment of ${yuan(order.paid_fen ?? 0)} was refunded.`);
  if (kind === 'abnormal') lines.push('', '您的付款无法自动处理，客服会尽快联系您退款。 Your payment could not be settled automatically; we will refund it by hand.');
  lines.push('', `查询订单 Look up the order: ${siteUrl}/query?order_no=${encodeURIComponent(order.order_no)}`);
  return { subject: subjects[kind], text: lines.join('\n') };
}
