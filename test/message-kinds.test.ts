/**
 * Reading a message's kind from its words, and finding its order without an order id field: the
 * defaults read the reference shop's own texts and common Chinese wording; a shop's own phrases come
 * first; order numbers are only taken when the run knows them (and belong to the recipient).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MESSAGE_PHRASES, MessageClassifier, MessageMatcher, tokensOf } from '../mocks/index.js';
import { Correlation, contactKey } from '../mocks/mock-types.js';
import { FAILURE_MESSAGE_KINDS } from '../core/faults/evidence.js';
import type { OrderRow } from '../shop/db.js';
import { messageText, type MessageContext } from '../shop/messages.js';

const order = {
  id: 'ord_7',
  sku_name: 'Monthly card',
  quantity: 1,
  amount: 3000,
  currency: 'CNY',
  refund_amount: 3000,
} as unknown as OrderRow;

function shopText(kind: MessageContext['kind'], more: Partial<MessageContext> = {}): string {
  return messageText({ order, kind, ...more });
}

describe('MessageClassifier', () => {
  const classifier = new MessageClassifier();

  it("reads every kind of the reference shop's messages from their text", () => {
    const kinds = [
      'payment_received',
      'delivered',
      'delayed',
      'verification_required',
      'under_review',
      'review_approved',
      'review_rejected',
      'payment_failed',
      'out_of_stock',
      'cancelled',
      'expired',
      'refunded',
    ] as const;
    for (const kind of kinds) expect(classifier.classify('', shopText(kind, kind === 'delivered' ? { cards: [{ code: 'C-1', pin: '1' }] } : {})), kind).toBe(kind);
    expect(classifier.classify('', shopText('refunded', { reason: 'delivery_failed' }))).toBe('refunded');
    expect(classifier.classify('', shopText('payment_failed', { reason: 'payment_limit' }))).toBe('payment_failed');
    expect(classifier.classify('', shopText('expired', { reason: 'verification_timeout' }))).toBe('expired');
    // The refund of an underpaid order reads as a failure, if not as its own kind.
    expect(FAILURE_MESSAGE_KINDS.has(classifier.classify('', shopText('payment_failed', { reason: 'amount_mismatch', received: 1000 })) ?? '')).toBe(true);
  });

  it('reads common Chinese wording', () => {
    expect(classifier.classify('订单发货通知', '您的卡密如下：ABCD-1234')).toBe('delivered');
    expect(classifier.classify('', '您的订单已支付成功，正在为您发货')).toBe('payment_received');
    expect(classifier.classify('退款通知', '')).toBe('refunded');
    expect(classifier.classify('', '抱歉，商品已售罄，订单已取消')).toBe('out_of_stock');
    expect(classifier.classify('', '您的订单超时未支付，已自动关闭')).toBe('expired');
    expect(classifier.classify('', '您的订单审核未通过')).toBe('review_rejected');
    expect(classifier.classify('', '支付失败，请重新下单')).toBe('payment_failed');
  });

  it('trusts the subject before the body, and says nothing when nothing fits', () => {
    expect(classifier.classify('Refund processed', 'Your order was delivered last week.')).toBe('refunded');
    expect(classifier.classify('Hello', 'Spring sale on all cards')).toBeUndefined();
    expect(classifier.classify('', '')).toBeUndefined();
  });

  it("tries a shop's own phrases first; `*` spans words on one line, not lines", () => {
    const own = new MessageClassifier({ delivered: ['the goods are * ready'], refunded: ['money * back'] });
    expect(own.classify('', 'The goods are finally ready!')).toBe('delivered');
    expect(own.classify('', 'The goods are\nready')).toBeUndefined();
    expect(own.classify('', 'We sent the money straight back.')).toBe('refunded');
    expect(Object.keys(DEFAULT_MESSAGE_PHRASES)).toEqual(expect.arrayContaining([...FAILURE_MESSAGE_KINDS, 'delivered', 'payment_received']));
  });
});

describe('MessageClassifier reasons', () => {
  const classifier = new MessageClassifier({ 'reason:payment_declined': ['卡被拒'] });

  it('reads why a failure notice failed, only for kinds that carry a reason', () => {
    const declined = 'Payment for order SF-000024 failed';
    const body = 'the payment for your order did not go through (insufficient_funds). You were not charged.';
    expect(classifier.reasonOf(classifier.classify(declined, body), declined, body)).toBe('payment_declined');
    expect(classifier.reasonOf('payment_failed', '', 'Your daily limit was reached (withdrawal_count_limit_exceeded)')).toBe('payment_limit');
    expect(classifier.reasonOf('payment_failed', '', '支付失败：超出单笔限额')).toBe('payment_limit');
    expect(classifier.reasonOf('refunded', 'Order 42 refunded', 'We refunded you: the amount did not match the order.')).toBe('amount_mismatch');
    expect(classifier.reasonOf('payment_failed', '', '支付失败，卡被拒')).toBe('payment_declined');
    expect(classifier.reasonOf('payment_failed', '', 'Payment failed.')).toBeUndefined();
    expect(classifier.reasonOf('delivered', '', 'declined? no, your keys are here')).toBeUndefined();
  });

  it('keeps `reason:` keys out of the kinds', () => {
    expect(classifier.classify('', '卡被拒')).toBeUndefined();
  });
});

describe('MessageMatcher', () => {
  function correlation(): Correlation {
    const links = new Correlation();
    links.linkContact('Ada@Buyers.example', 'b1');
    links.link('O-1042', 'b1');
    links.link('O-2077', 'b2');
    links.link('42', 'b1');
    links.link('30', 'b2');
    return links;
  }

  it('tokenises mixed text, and bounds the tokens looked up', () => {
    expect(tokensOf(['订单号：2024050612345已发货', '#O-1042, ref_9-'])).toEqual(['2024050612345', 'O-1042', 'ref_9']);
    expect(tokensOf([Array.from({ length: 500 }, (_, n) => `t${n}`).join(' ')])).toHaveLength(200);
  });

  it('finds the order by number (subject first), by the recipient, then by another id', () => {
    const matcher = new MessageMatcher(correlation(), (token) => (token === 'T99' ? 'O-2077' : undefined));
    expect(matcher.match({ recipients: ['x@y.example'], texts: ['Order O-2077', 'see also O-1042'] })).toEqual({ orderId: 'O-2077', by: 'order-number', buyerId: 'b2' });
    expect(matcher.match({ recipients: ['ada@buyers.example'], texts: ['Your cards', ''] })).toEqual({ orderId: '42', by: 'contact', buyerId: 'b1', contact: 'Ada@Buyers.example' });
    expect(matcher.match({ recipients: ['z@y.example'], texts: ['Paid', 'trade T99'] })).toEqual({ orderId: 'O-2077', by: 'content', buyerId: 'b2' });
    expect(matcher.match({ recipients: ['z@y.example'], texts: ['Hello', 'nothing here'] })).toBeUndefined();
  });

  it("takes only the recipient's own orders, and short numbers only from them", () => {
    const matcher = new MessageMatcher(correlation());
    // "30" is b2's order, but the message goes to b1 and says 30.00 CNY.
    expect(matcher.match({ recipients: ['ada@buyers.example'], texts: ['Order 42 delivered', 'Total 30.00 CNY'] })).toMatchObject({ orderId: '42', by: 'order-number' });
    expect(matcher.match({ recipients: ['ada@buyers.example'], texts: ['Order O-2077', ''] })).toMatchObject({ orderId: '42', by: 'contact' });
    expect(matcher.match({ recipients: ['stranger@y.example'], texts: ['Total 30.00 CNY', ''] })).toBeUndefined();
  });

  it('compares contacts in one form', () => {
    expect(contactKey(' Ada@Buyers.Example ')).toBe('ada@buyers.example');
    expect(contactKey('+86 138-0013-8000')).toBe('13800138000');
    expect(contactKey('008613800138000')).toBe('13800138000');
    expect(contactKey('13800138000')).toBe('13800138000');
  });
});
