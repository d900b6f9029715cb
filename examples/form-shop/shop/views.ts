/**
 * The shop's pages. Class names are the shop's own, stable enough for a buyer's script (or
 * Ordeal's adapter) to find things: `.goods`, `.price`, `.stock-count`, `.promotion`, `.error`,
 * `.order-no`, `.order-status`, `.cards .card-code`.
 */
import { randomBytes } from 'node:crypto';
import { ORDER_STATUS, STATUS_WORDS, type CouponRow, type GoodsRow, type OrderRow } from './database.js';
import { chinaTime, html, type SafeHtml, yuan } from './html.js';
import { PAY_TYPE_NAMES, PAY_TYPES, type OrderProblem } from './orders.js';

export function catalogueView(goods: readonly GoodsRow[], coupons: readonly CouponRow[]): SafeHtml {
  const items = goods.map(
    (item) => html`
  <li class="goods" data-goods-id="${item.id}">
    <a class="goods-title" href="/buy/${item.id}">${item.title}</a>
    <span class="goods-description">${item.description}</span>
    单价 Price: <span class="price">${yuan(item.price_fen)}</span> 元 ·
    库存 Stock: <span class="stock-count">${item.stock}</span>
    ${item.stock > 0 ? html`<a class="buy" href="/buy/${item.id}">购买 Buy</a>` : html`<span class="sold-out">已售罄 Sold out</span>`}
  </li>`,
  );
  const promotions = coupons.map(
    (coupon) => html`
  <li class="promotion" data-code="${coupon.code}" data-discount="${yuan(coupon.discount_fen)}" data-min="${yuan(coupon.min_fen)}" data-remaining="${coupon.remaining}">
    优惠码 Code <code class="coupon-code">${coupon.code}</code>:
    <span class="coupon-terms">立减 ${yuan(coupon.discount_fen)} 元，满 ${yuan(coupon.min_fen)} 元可用 · ${yuan(coupon.discount_fen)} off an order of ${yuan(coupon.min_fen)} or more</span>
    <span class="coupon-description">${coupon.description}</span>
    (剩余 <span class="coupon-remaining">${coupon.remaining}</span> 次 left)
  </li>`,
  );
  return html`<h1>商品列表 Goods</h1>
<ul class="goods-list">${items}
</ul>
<section class="promotions">
<h2>优惠活动 Active promotions</h2>
${coupons.length === 0 ? html`<p>暂无 None at the moment.</p>` : html`<ul class="promotion-list">${promotions}
</ul>`}
</section>`;
}

/** What the buyer typed, to show the form again as it was. */
export interface FormValues {
  email: string;
  quantity: string;
  coupon: string;
  payType: string;
}

export const EMPTY_FORM: FormValues = { email: '', quantity: '1', coupon: '', payType: 'alipay' };

export function orderFormView(goods: GoodsRow, csrfToken: string, maxQuantity: number, values: FormValues, problem?: OrderProblem): SafeHtml {
  const options = PAY_TYPES.map((type) => html`<option value="${type}"${type === values.payType ? html` selected` : ''}>${PAY_TYPE_NAMES[type]}</option>`);
  return html`<h1>购买 Buy: <span class="goods-title">${goods.title}</span></h1>
<p class="goods" data-goods-id="${goods.id}">单价 Price: <span class="price">${yuan(goods.price_fen)}</span> 元 · 库存 Stock: <span class="stock-count">${goods.stock}</span></p>
${problem ? html`<p class="error" role="alert" data-code="${problem.code}">${problem.message}</p>` : ''}
<form class="order-form" method="post" action="/order">
  <input type="hidden" name="_token" value="${csrfToken}">
  <input type="hidden" name="goods_id" value="${goods.id}">
  <input type="hidden" name="form_id" value="${randomBytes(12).toString('base64url')}">
  <label>邮箱 E-mail（接收卡密 cards are sent here） <input type="email" name="email" value="${values.email}" required></label>
  <label>数量 Quantity <input type="number" name="quantity" min="1" max="${maxQuantity}" value="${values.quantity}" required></label>
  <label>优惠码 Coupon <input type="text" name="coupon" value="${values.coupon}"></label>
  <label>支付方式 Payment <select name="pay_type">${options}</select></label>
  <button type="submit">提交订单 Place order</button>
</form>`;
}

/** The page that sends the browser on to the gateway's submit.php by itself. */
export function payRedirectView(order: OrderRow, submitUrl: string, fields: Readonly<Record<string, string>>): SafeHtml {
  const inputs = Object.entries(fields).map(([name, value]) => html`
  <input type="hidden" name="${name}" value="${value}">`);
  return html`<h1>正在跳转到支付页面 Taking you to the payment page…</h1>
<p>订单号 Order: <span class="order-no">${order.order_no}</span> · 金额 Amount: <span class="amount">${yuan(order.amount_fen)}</span> 元</p>
<form id="epay-submit" class="pay-form" method="post" action="${submitUrl}" accept-charset="utf-8">${inputs}
  <button type="submit">去支付 Pay now</button>
</form>
<script>document.getElementById('epay-submit').submit();</script>
<p><a href="/query?order_no=${encodeURIComponent(order.order_no)}">查看订单 View the order</a></p>`;
}

function maskEmail(email: string): string {
  const at = email.indexOf('@');
  return at <= 1 ? `*${email.slice(at)}` : `${email.slice(0, 1)}***${email.slice(at)}`;
}

/** Why a closed order closed, for the page: the buyer cancelled it, or its time ran out. */
function closedHow(order: OrderRow): string {
  if (order.status !== ORDER_STATUS.CLOSED) return '';
  return order.note === 'cancelled by the buyer' ? 'cancelled' : 'timeout';
}

export function queryView(orderNoAsked: string, order: OrderRow | undefined, cards: readonly string[], csrfToken: string, notice?: string): SafeHtml {
  const lookup = html`<h1>订单查询 Order lookup</h1>
${notice ? html`<p class="notice">${notice}</p>` : ''}
<form class="query-form" method="get" action="/query">
  <label>订单号 Order number <input type="text" name="order_no" value="${orderNoAsked}" required></label>
  <button type="submit">查询 Look up</button>
</form>`;
  if (orderNoAsked === '') return lookup;
  if (!order) return html`${lookup}<p class="error" data-code="order_not_found">订单不存在 · No such order.</p>`;
  const words = STATUS_WORDS[order.status];
  const unpaid = order.status === ORDER_STATUS.UNPAID;
  const orderNo = encodeURIComponent(order.order_no);
  return html`${lookup}
<section class="order" data-order-no="${order.order_no}">
<dl>
  <dt>订单号 Order</dt><dd class="order-no">${order.order_no}</dd>
  <dt>商品 Goods</dt><dd class="goods-title">${order.goods_title}</dd>
  <dt>数量 Quantity</dt><dd class="quantity">${order.quantity}</dd>
  <dt>优惠码 Coupon</dt><dd class="coupon">${order.coupon ?? '—'}</dd>
  <dt>金额 Amount</dt><dd class="amount">${yuan(order.amount_fen)}</dd>
  <dt>邮箱 E-mail</dt><dd class="email">${maskEmail(order.email)}</dd>
  <dt>状态 Status</dt><dd class="order-status" data-status="${order.status}" data-closed="${closedHow(order)}"><span class="status-zh">${words.zh}</span> <span class="status-en">${words.en}</span></dd>
  <dt>下单时间 Created</dt><dd class="created-at">${chinaTime(order.created_at)}</dd>
  <dt>支付时间 Paid</dt><dd class="paid-at">${chinaTime(order.paid_at)}</dd>
</dl>
${cards.length > 0 ? html`<h2>卡密 Card codes</h2>
<ul class="cards">${cards.map((code) => html`<li class="card-code">${code}</li>`)}</ul>` : ''}
${
  unpaid
    ? html`<p><a class="pay-again" href="/pay/${orderNo}">继续支付 Continue to payment</a></p>
<form class="cancel-form" method="post" action="/cancel">
  <input type="hidden" name="_token" value="${csrfToken}">
  <input type="hidden" name="order_no" value="${order.order_no}">
  <label>下单邮箱 The order's e-mail <input type="email" name="email" required></label>
  <button type="submit">取消订单 Cancel the order</button>
</form>`
    : ''
}
</section>`;
}

export function returnView(orderNo: string, genuine: boolean): SafeHtml {
  return html`<h1>${genuine ? '支付完成，正在确认 Payment received, confirming…' : '支付结果未知 Payment result unknown'}</h1>
<p>订单号 Order: <span class="order-no">${orderNo}</span>. 卡密会在确认到账后发到您的邮箱。 Your cards are e-mailed once the payment is confirmed.</p>
<p><a href="/query?order_no=${encodeURIComponent(orderNo)}">查看订单 View the order</a></p>`;
}

export function messageView(title: string, message: string, link?: { href: string; text: string }): SafeHtml {
  return html`<h1>${title}</h1>
<p class="error">${message}</p>
${link ? html`<p><a href="${link.href}">${link.text}</a></p>` : ''}`;
}
