/**
 * The order book: placing an order (validating it, taking a coupon use, reserving its cards),
 * settling a payment (selling the reserved cards, or recording that a refund is due), closing an
 * unpaid order (releasing its cards). Each change is one SQLite transaction, so an order and its
 * cards never disagree.
 */
import { ORDER_STATUS, newOrderNo, type CouponRow, type Db, type GoodsRow, type OrderRow, type OrderStatus } from './database.js';
import { yuan } from './html.js';

export const PAY_TYPES = ['alipay', 'wxpay'] as const;
export type PayType = (typeof PAY_TYPES)[number];

export const PAY_TYPE_NAMES: Readonly<Record<PayType, string>> = { alipay: '支付宝 Alipay', wxpay: '微信支付 WeChat Pay' };

/** The order form as posted (all text, as a browser sends it). */
/** How long an unpaid order stands for a repeat of itself (same e-mail, goods, quantity, coupon). */
const SAME_ORDER_WINDOW_MS = 10 * 60_000;

export interface OrderForm {
  goodsId: number;
  email: string;
  quantity: string;
  coupon: string;
  payType: string;
  /** The one-time id the order form was rendered with: a second submission of one form is the same order (防重复提交). */
  formId: string;
}

export type ProblemCode =
  | 'unknown_goods'
  | 'invalid_email'
  | 'invalid_quantity'
  | 'invalid_payment_type'
  | 'unknown_coupon'
  | 'coupon_used_up'
  | 'coupon_below_threshold'
  | 'out_of_stock';

export interface OrderProblem {
  code: ProblemCode;
  /** Chinese, then English, as the page shows it. */
  message: string;
  httpStatus: number;
}

/** What a confirmed payment did to its order. */
export type SettleOutcome =
  | { kind: 'delivered'; cards: string[]; again: boolean }
  | { kind: 'settled-before' }
  | { kind: 'refund-due'; reason: 'amount_mismatch' | 'out_of_stock'; amountFen: number }
  | { kind: 'unknown-order' };

export interface PaymentEvidence {
  tradeNo: string;
  paidFen: number;
}

const EMAIL = /^[^\s@<>"'(),;:\\[\]]+@[^\s@<>"'(),;:\\[\]]+\.[^\s@<>"'(),;:\\[\]]+$/;
const ORDER_SELECT = 'SELECT o.*, g.title AS goods_title FROM orders o JOIN goods g ON g.id = o.goods_id';
const MAX_ORDER_NO_ATTEMPTS = 5;

function problem(code: ProblemCode, message: string, httpStatus = 400): { problem: OrderProblem } {
  return { problem: { code, message, httpStatus } };
}

export class OrderBook {
  constructor(
    private readonly db: Db,
    private readonly maxQuantity: number,
  ) {}

  catalogue(): GoodsRow[] {
    return this.db
      .prepare(
        `SELECT g.id, g.title, g.description, g.price_fen,
           (SELECT COUNT(*) FROM cards c WHERE c.goods_id = g.id AND c.status = 'available') AS stock
         FROM goods g WHERE g.is_open = 1 ORDER BY g.sort, g.id`,
      )
      .all() as GoodsRow[];
  }

  goods(goodsId: number): GoodsRow | undefined {
    return this.catalogue().find((goods) => goods.id === goodsId);
  }

  activeCoupons(): CouponRow[] {
    return this.db.prepare('SELECT * FROM coupons WHERE remaining > 0 ORDER BY min_fen, code').all() as CouponRow[];
  }

  order(orderNo: string): OrderRow | undefined {
    return this.db.prepare(`${ORDER_SELECT} WHERE o.order_no = ?`).get(orderNo) as OrderRow | undefined;
  }

  /** The codes sold to the order, in the order they were sold. */
  cardsOf(orderNo: string): string[] {
    return (this.db.prepare("SELECT code FROM cards WHERE order_no = ? AND status = 'sold' ORDER BY updated_at, id").all(orderNo) as { code: string }[]).map((row) => row.code);
  }

  /** Validates the form and, when it is good, creates the order and reserves its cards. */
  place(form: OrderForm, now: number): { order: OrderRow } | { problem: OrderProblem } {
    return this.db.transaction(() => {
      // A double click or a refresh posts the same form again: the buyer gets the order it already made.
      const formId = /^[A-Za-z0-9_-]{16,64}$/.test(form.formId) ? form.formId : null;
      if (formId !== null) {
        const already = this.db.prepare('SELECT order_no FROM orders WHERE form_id = ?').get(formId) as { order_no: string } | undefined;
        const order = already ? this.order(already.order_no) : undefined;
        if (order) return { order };
      }
      const goods = this.goods(form.goodsId);
      if (!goods) return problem('unknown_goods', '商品不存在或已下架 · No such goods.', 404);
      const email = form.email.trim();
      // The same buyer ordering the same again while that order waits for payment (a second tab,
      // a back button): they get the unpaid order, not a second one to pay as well.
      const open = this.db
        .prepare('SELECT order_no FROM orders WHERE email = ? COLLATE NOCASE AND goods_id = ? AND quantity = ? AND IFNULL(coupon, \'\') = ? AND status = ? AND created_at > ? ORDER BY created_at DESC LIMIT 1')
        .get(email, goods.id, Number(form.quantity.trim()), form.coupon.trim().toUpperCase(), ORDER_STATUS.UNPAID, now - SAME_ORDER_WINDOW_MS) as { order_no: string } | undefined;
      const pending = open ? this.order(open.order_no) : undefined;
      if (pending) return { order: pending };
      if (email.length > 254 || !EMAIL.test(email)) return problem('invalid_email', '邮箱格式不正确 · Please enter a valid e-mail address.');
      const quantity = /^\d{1,3}$/.test(form.quantity.trim()) ? Number(form.quantity.trim()) : 0;
      if (quantity < 1 || quantity > this.maxQuantity) {
        return problem('invalid_quantity', `购买数量须为 1 到 ${this.maxQuantity} · Quantity must be 1 to ${this.maxQuantity}.`);
      }
      if (!(PAY_TYPES as readonly string[]).includes(form.payType)) return problem('invalid_payment_type', '请选择支付方式 · Choose a payment method.');
      const subtotal = goods.price_fen * quantity;
      const code = form.coupon.trim().toUpperCase();
      let coupon: CouponRow | undefined;
      if (code !== '') {
        coupon = this.db.prepare('SELECT * FROM coupons WHERE code = ?').get(code) as CouponRow | undefined;
        if (!coupon) return problem('unknown_coupon', '优惠码无效 · Unknown coupon code.');
        if (coupon.remaining <= 0) return problem('coupon_used_up', '优惠码已被领完 · This coupon has been used up.');
        if (subtotal < coupon.min_fen) {
          return problem('coupon_below_threshold', `未满 ${yuan(coupon.min_fen)} 元，不能使用此优惠码 · This coupon needs an order of ${yuan(coupon.min_fen)} or more.`);
        }
      }
      if (goods.stock < quantity) return problem('out_of_stock', `库存不足，仅剩 ${goods.stock} 件 · Only ${goods.stock} left in stock.`, 409);

      const discount = coupon ? coupon.discount_fen : 0;
      // The gateway takes no zero amount: a coupon worth the whole order leaves one fen to pay.
      const amount = Math.max(1, subtotal - discount);
      const orderNo = this.freshOrderNo(now);
      this.db
        .prepare(
          `INSERT INTO orders (order_no, goods_id, quantity, email, coupon, discount_fen, amount_fen, pay_type, status, created_at, form_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(orderNo, goods.id, quantity, email, coupon?.code ?? null, subtotal - amount, amount, form.payType, ORDER_STATUS.UNPAID, now, formId);
      if (coupon) this.db.prepare('UPDATE coupons SET remaining = remaining - 1 WHERE code = ?').run(coupon.code);
      this.takeCards(goods.id, orderNo, quantity, 'reserved', now);
      return { order: this.order(orderNo)! };
    })();
  }

  /**
   * A payment the shop has confirmed: sells the order's cards (its reserved ones; after it was
   * closed, fresh ones if there are enough), or records that the money must go back. `redeliver`
   * sells another set to an order that is completed already.
   */
  settlePaid(orderNo: string, evidence: PaymentEvidence, now: number, redeliver = false): SettleOutcome {
    return this.db.transaction((): SettleOutcome => {
      const order = this.order(orderNo);
      if (!order) return { kind: 'unknown-order' };
      if (order.status === ORDER_STATUS.COMPLETED && redeliver) {
        const cards = this.takeCards(order.goods_id, orderNo, order.quantity, 'sold', now);
        return cards.length === order.quantity ? { kind: 'delivered', cards, again: true } : { kind: 'settled-before' };
      }
      if (order.status !== ORDER_STATUS.UNPAID && order.status !== ORDER_STATUS.CLOSED) return { kind: 'settled-before' };

      const paid = (status: OrderStatus, refundDue: number, note: string | null): void => {
        this.db
          .prepare('UPDATE orders SET status = ?, trade_no = ?, paid_fen = ?, paid_at = ?, refund_due_fen = ?, note = ? WHERE order_no = ?')
          .run(status, evidence.tradeNo, evidence.paidFen, now, refundDue, note, orderNo);
      };
      if (evidence.paidFen !== order.amount_fen) {
        this.releaseCards(orderNo, now);
        paid(ORDER_STATUS.PAID, evidence.paidFen, `amount_mismatch: paid ${yuan(evidence.paidFen)}, due ${yuan(order.amount_fen)}`);
        return { kind: 'refund-due', reason: 'amount_mismatch', amountFen: evidence.paidFen };
      }
      // Reserved cards become sold; a closed order's were released, so it takes fresh ones.
      const sold = this.db
        .prepare("UPDATE cards SET status = 'sold', updated_at = ? WHERE order_no = ? AND status = 'reserved'")
        .run(now, orderNo).changes;
      if (sold < order.quantity) {
        const more = this.takeCards(order.goods_id, orderNo, order.quantity - sold, 'sold', now);
        if (sold + more.length < order.quantity) {
          this.releaseCards(orderNo, now);
          paid(ORDER_STATUS.PAID, evidence.paidFen, 'out_of_stock: paid after the order closed and the stock ran out');
          return { kind: 'refund-due', reason: 'out_of_stock', amountFen: evidence.paidFen };
        }
      }
      paid(ORDER_STATUS.COMPLETED, 0, order.status === ORDER_STATUS.CLOSED ? 'paid after it closed; delivered' : null);
      return { kind: 'delivered', cards: this.cardsOf(orderNo), again: false };
    })();
  }

  /** Closes an unpaid order: its cards and its coupon use go back. False when it is no longer unpaid. */
  close(orderNo: string, now: number, note: string): boolean {
    return this.db.transaction(() => {
      const order = this.order(orderNo);
      if (!order || order.status !== ORDER_STATUS.UNPAID) return false;
      this.releaseCards(orderNo, now);
      if (order.coupon !== null) this.db.prepare('UPDATE coupons SET remaining = remaining + 1 WHERE code = ?').run(order.coupon);
      this.db.prepare('UPDATE orders SET status = ?, closed_at = ?, note = ? WHERE order_no = ?').run(ORDER_STATUS.CLOSED, now, note, orderNo);
      return true;
    })();
  }

  /** Unpaid orders created at or before `createdBefore`, oldest first. */
  unpaidCreatedBefore(createdBefore: number, limit: number): string[] {
    return this.orderNos('SELECT order_no FROM orders WHERE status = 0 AND created_at <= ? ORDER BY created_at LIMIT ?', createdBefore, limit);
  }

  /** Unpaid orders, the longest unchecked first. */
  unpaidLeastRecentlyChecked(limit: number): string[] {
    return this.orderNos('SELECT order_no FROM orders WHERE status = 0 ORDER BY checked_at, created_at LIMIT ?', limit);
  }

  markChecked(orderNo: string, now: number): void {
    this.db.prepare('UPDATE orders SET checked_at = ? WHERE order_no = ?').run(now, orderNo);
  }

  /** Paid orders whose money is still to go back. */
  refundsDue(limit: number): OrderRow[] {
    return this.db.prepare(`${ORDER_SELECT} WHERE o.status = 1 AND o.refund_due_fen > 0 ORDER BY o.paid_at LIMIT ?`).all(limit) as OrderRow[];
  }

  /** The outcome of one refund attempt: refunded, or after `giveUpAfter` failures abnormal. Returns the new status. */
  recordRefund(orderNo: string, ok: boolean, detail: string, giveUpAfter: number): OrderStatus | undefined {
    return this.db.transaction(() => {
      const order = this.order(orderNo);
      if (!order || order.status !== ORDER_STATUS.PAID || order.refund_due_fen <= 0) return undefined;
      const note = `${order.note ?? ''}; refund: ${detail}`.replace(/^; /, '');
      if (ok) {
        this.db.prepare('UPDATE orders SET status = 5, refund_due_fen = 0, refund_tries = refund_tries + 1, note = ? WHERE order_no = ?').run(note, orderNo);
        return ORDER_STATUS.REFUNDED;
      }
      const status = order.refund_tries + 1 >= giveUpAfter ? ORDER_STATUS.ABNORMAL : ORDER_STATUS.PAID;
      this.db.prepare('UPDATE orders SET status = ?, refund_tries = refund_tries + 1, note = ? WHERE order_no = ?').run(status, note, orderNo);
      return status;
    })();
  }

  private orderNos(sql: string, ...params: (number | string)[]): string[] {
    return (this.db.prepare(sql).all(...params) as { order_no: string }[]).map((row) => row.order_no);
  }

  private freshOrderNo(now: number): string {
    const exists = this.db.prepare('SELECT 1 FROM orders WHERE order_no = ?');
    for (let attempt = 0; attempt < MAX_ORDER_NO_ATTEMPTS; attempt += 1) {
      const orderNo = newOrderNo(now);
      if (!exists.get(orderNo)) return orderNo;
    }
    throw new Error('could not draw an unused order number');
  }

  /** Marks up to `count` available cards of the goods as the order's; returns their codes. */
  private takeCards(goodsId: number, orderNo: string, count: number, status: 'reserved' | 'sold', now: number): string[] {
    const rows = this.db.prepare("SELECT id, code FROM cards WHERE goods_id = ? AND status = 'available' ORDER BY id LIMIT ?").all(goodsId, count) as { id: number; code: string }[];
    const mark = this.db.prepare('UPDATE cards SET status = ?, order_no = ?, updated_at = ? WHERE id = ?');
    for (const row of rows) mark.run(status, orderNo, now, row.id);
    return rows.map((row) => row.code);
  }

  private releaseCards(orderNo: string, now: number): void {
    this.db.prepare("UPDATE cards SET status = 'available', order_no = NULL, updated_at = ? WHERE order_no = ? AND status = 'reserved'").run(now, orderNo);
  }
}
