/**
 * What a message to a buyer is about, read from its words: e-mail and SMS carry no `kind` field, so
 * the kind the notify stage scores (`delivered`, `refunded`, …; core/faults/evidence.ts) is found
 * from phrases in the subject, then in the body.
 *
 * Phrases are compared lower-cased, with runs of white space as one space. A `*` in a phrase stands
 * for up to 120 characters on one line ("payment * failed" matches "Payment for your order 42
 * failed"). The kinds are tried in a fixed order, the most specific first, so that a refund notice
 * that says "sold out" is `refunded`, and "did not pass review and was cancelled" is
 * `review_rejected`. A run can add a shop's own wording (`{ delivered: ['your keys are ready'] }`):
 * those phrases are tried before the defaults.
 */

/** Phrases per message kind. */
export type MessageKindPhrases = Readonly<Record<string, readonly string[]>>;

/** The kind journaled for a message about an order whose words fit no kind. */
export const UNCLASSIFIED_KIND = 'unclassified';

/**
 * English and Chinese wording card shops use, in the order the kinds are tried. Kinds that report a
 * failure come before `delivered` and `payment_received`, whose words ("delivered", "payment")
 * also appear in failure notices ("could not be delivered", "payment failed").
 */
export const DEFAULT_MESSAGE_PHRASES: MessageKindPhrases = {
  review_rejected: ['did not pass * review', 'review * rejected', 'rejected * review', 'failed * review', '审核未通过', '审核不通过', '审核失败', '风控拒绝'],
  refunded: ['refunded', 'refund has been', 'refund issued', 'refund processed', 'refund completed', 'money back', '已退款', '退款成功', '退款已', '已原路退回', '退款完成', '退款通知'],
  payment_failed: [
    'payment failed',
    'payment * failed',
    'payment * declined',
    'payment was not successful',
    'payment unsuccessful',
    'could not process your payment',
    '支付失败',
    '付款失败',
    '支付未成功',
    '扣款失败',
  ],
  out_of_stock: ['out of stock', 'sold out', 'no longer available', 'not enough stock', '库存不足', '缺货', '已售罄', '售罄', '已售完'],
  expired: ['expired', 'not paid in time', 'payment window', 'timed out', '已过期', '超时未支付', '订单超时', '已超时', '已失效'],
  cancelled: ['cancelled', 'canceled', '已取消', '取消成功', '订单取消'],
  review_approved: ['passed the review', 'passed * review', 'review * approved', '审核通过', '审核已通过'],
  under_review: ['being reviewed', 'under review', 'pending review', 'manual review', '审核中', '正在审核', '等待审核', '人工审核'],
  verification_required: ['verification step', 'verify your payment', 'verification required', 'additional verification', '需要验证', '身份验证', '安全验证'],
  delayed: ['delayed', 'taking longer than usual', 'will be sent later', '延迟发货', '稍后发货', '发货延迟'],
  delivered: [
    'is delivered',
    'has been delivered',
    'was delivered',
    'been shipped',
    'your card',
    'card code',
    'your code',
    'your key',
    'here are your',
    'order complete',
    '已发货',
    '发货成功',
    '发卡成功',
    '卡密',
    '卡号',
    '提货',
    '订单已完成',
  ],
  payment_received: [
    'payment received',
    'payment confirmed',
    'payment successful',
    'payment was successful',
    'received your payment',
    'thank you for your payment',
    '支付成功',
    '付款成功',
    '已收到您的付款',
    '收款成功',
    '已支付',
  ],
};

/**
 * Why a failure notice failed, read the same way as its kind: the reasons the scorer asks of a
 * `payment_failed` or `refunded` message (core/faults/payment-policy.ts, stock.ts, callbacks.ts).
 * Tried in this order; the shop's own wording (`reason:<name>` keys) first.
 */
export const DEFAULT_REASON_PHRASES: MessageKindPhrases = {
  payment_limit: ['limit', 'velocity', 'withdrawal count', '限额', '超出额度', '超过额度', '超限'],
  cross_border_blocked: ['cross-border', 'cross border', 'abroad', 'your region', 'not allowed', 'transaction_not_allowed', '境外', '跨境'],
  payment_declined: ['declined', 'insufficient funds', 'insufficient_funds', 'not enough funds', '余额不足', '被拒', '拒绝支付'],
  amount_mismatch: ['amount did not match', 'amount does not match', 'wrong amount', 'paid short', 'underpaid', 'less than the order', '金额不符', '金额不一致', '少付'],
  out_of_stock: ['out of stock', 'sold out', 'no longer available', '库存不足', '缺货', '售罄'],
};

/** The prefix of a profile's `messages` key that gives wording for a reason rather than a kind. */
export const REASON_KEY_PREFIX = 'reason:';

/** Kinds whose messages carry a reason. */
const KINDS_WITH_REASONS: ReadonlySet<string> = new Set(['payment_failed', 'refunded']);

/** How far a `*` reaches: characters on one line. */
const WILDCARD_REACH = 120;

interface CompiledKind {
  kind: string;
  phrases: Array<string | RegExp>;
}

/** Lower-cased, runs of white space (but not line breaks) as one space. */
function normalize(text: string): string {
  return text.toLowerCase().replace(/[^\S\n]+/g, ' ');
}

function compilePhrase(phrase: string): string | RegExp {
  const normal = normalize(phrase).trim();
  if (!normal.includes('*')) return normal;
  const parts = normal
    .split('*')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(parts.join(`[^\\n]{0,${WILDCARD_REACH}}?`));
}

function compile(phrases: MessageKindPhrases): CompiledKind[] {
  return Object.entries(phrases).map(([kind, list]) => ({
    kind,
    phrases: list.filter((phrase) => phrase.trim() !== '' && phrase.trim() !== '*').map(compilePhrase),
  }));
}

/** Reads a message's kind from its words; see the module comment. */
export class MessageClassifier {
  private readonly kinds: CompiledKind[];
  private readonly reasons: CompiledKind[];

  /** @param own the shop's own wording, tried before the defaults (`reason:<name>` keys for reasons). @default none */
  constructor(own: MessageKindPhrases = {}) {
    const ownKinds = Object.fromEntries(Object.entries(own).filter(([key]) => !key.startsWith(REASON_KEY_PREFIX)));
    const ownReasons = Object.fromEntries(Object.entries(own).flatMap(([key, list]) => (key.startsWith(REASON_KEY_PREFIX) ? [[key.slice(REASON_KEY_PREFIX.length), list]] : [])));
    this.kinds = [...compile(ownKinds), ...compile(DEFAULT_MESSAGE_PHRASES)];
    this.reasons = [...compile(ownReasons), ...compile(DEFAULT_REASON_PHRASES)];
  }

  /** Why a failure notice (`payment_failed`, `refunded`) failed, by its words; undefined for other kinds or none found. */
  reasonOf(kind: string | undefined, subject: string, body: string): string | undefined {
    if (kind === undefined || !KINDS_WITH_REASONS.has(kind)) return undefined;
    return firstMatch(this.reasons, subject) ?? firstMatch(this.reasons, body);
  }

  /** The kind the subject says, else the kind the body says, else undefined. */
  classify(subject: string, body: string): string | undefined {
    return this.kindOf(subject) ?? this.kindOf(body);
  }

  private kindOf(text: string): string | undefined {
    return firstMatch(this.kinds, text);
  }
}

/** The first kind (or reason) with a phrase in `text`. */
function firstMatch(kinds: readonly CompiledKind[], text: string): string | undefined {
  if (text.trim() === '') return undefined;
  const normal = normalize(text);
  for (const { kind, phrases } of kinds) {
    for (const phrase of phrases) if (typeof phrase === 'string' ? normal.includes(phrase) : phrase.test(normal)) return kind;
  }
  return undefined;
}
