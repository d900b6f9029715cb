/**
 * Plain-language texts for the HTML report, for readers who never saw Ordeal: what each incident
 * class models, and how to escape text for HTML.
 */

/** What each incident class (fault id or buyer behaviour) models, in a few words. */
export const CLASS_TEXT: Readonly<Record<string, string>> = {
  'payment.latency': 'the payment channel answers slowly',
  'payment.error': 'the payment channel answers with errors (5xx, or 429 rate limits)',
  'payment.timeout': 'a payment call never answers',
  'payment.ambiguous': 'the trade is created but the answer is lost',
  'payment.limit.single': 'the payment exceeds a single quick-pay limit',
  'payment.limit.daily': "the payment exceeds the payer's daily limit",
  'payment.cross_border': 'the channel is blocked for payers abroad',
  'payment.verification': 'the provider asks for extra verification, completed late or never',
  'payment.decline': 'the payment is declined (insufficient funds)',
  'payment.callback.drop': 'the buyer is charged but the payment callback never arrives',
  'payment.callback.delay': 'the payment callback arrives late',
  'payment.callback.duplicate': 'the payment callback arrives several times',
  'payment.callback.reorder': 'a stale "payment failed" notice arrives after the success',
  'payment.callback.late': 'the payment succeeds after the shop expired the order',
  'payment.callback.forged': 'a "paid" notice signed with the wrong key',
  'payment.callback.replayed': 'a genuine "paid" notice replayed an hour later',
  'payment.callback.tampered': 'the buyer paid a different amount than the order',
  'payment.query.error': "the shop's payment status queries fail for a while",
  'payment.refund.error': 'refunds fail for a while',
  'stock.stale': 'stock shown available but the supplier is sold out',
  'stock.lag': 'the supplier finds out slowly that it is sold out',
  'stock.sold_out_after_payment': 'cards run out after the buyer paid',
  'stock.fulfil.error': 'issuing the cards fails for a while',
  'risk.review': 'risk control holds the order for manual review',
  'risk.reject': 'risk control rejects the order',
  'notify.error': 'the SMS/e-mail gateway is down',
  'transport.reset': 'connections to a dependency are reset',
  'transport.empty': 'a dependency answers with an empty reply',
  'transport.malformed': 'a dependency answers with a truncated reply',
  'transport.dribble': 'a dependency answers a few bytes at a time',
  'target.crash': 'the shop is killed mid-run and restarted',
  'buyer.typo_recipient': 'the buyer mistypes the recipient, then corrects it',
  'buyer.wrong_sku_then_cancel': 'the buyer orders the wrong card, cancels and reorders',
  'buyer.coupon_below_threshold': 'the buyer uses a coupon below its minimum amount',
  'buyer.double_submit': 'the buyer submits the same order twice',
  'buyer.multi_window': 'the buyer orders the same thing from two windows',
  'buyer.abandon_payment': 'the buyer never pays',
  'buyer.slow_payment': 'the buyer pays just before the order expires',
};

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/** JSON safe inside a `<script type="application/json">` element: no `<`, `>`, `&` or line separators. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
