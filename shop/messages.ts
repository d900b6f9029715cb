/** What the shop tells the buyer: message kinds and their texts. */
import type { OrderReason, OrderRow } from './db.js';
import type { Card, MessageKind, OutgoingMessage } from './services.js';

/** Kinds that report a failure; the decision `keepQuietAboutFailures` (no-failure-notice) drops exactly these. */
export const FAILURE_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>(['payment_failed', 'out_of_stock', 'expired', 'cancelled', 'refunded', 'review_rejected']);

export function formatMoney(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency}`;
}

function restockText(restockAt: string | null | undefined): string {
  return restockAt ? `restock expected at ${restockAt}` : 'the supplier has not announced a restock time yet';
}

const REMEDY: Partial<Record<OrderReason, string>> = {
  payment_limit: 'the payment is above your payment channel\u2019s limit; try another payment method, or split the order into smaller ones',
  cross_border_blocked: 'this payment channel does not accept cross-border payments; choose another payment method',
  payment_declined: 'your payment was declined; check your balance or choose another payment method',
  service_unavailable: 'a service we depend on could not be reached; you were not charged, please try again in a few minutes',
  verification_timeout: 'the payment verification was not completed in time',
};

/** How long a risk review usually takes, as told to the buyer. */
export const REVIEW_USUAL_TIME = 'a few minutes (rarely more than 30)';

export interface MessageContext {
  order: OrderRow;
  kind: MessageKind;
  reason?: OrderReason;
  cards?: readonly Card[];
  restockAt?: string | null;
  /** Overrides the default key `<orderId>:<kind>`. */
  messageKey?: string;
  /** Money actually received, when it is not the order's amount (a tampered payment). */
  received?: number;
}

function describe(order: OrderRow): string {
  return `order ${order.id} (${order.quantity} \u00d7 ${order.sku_name}, ${formatMoney(order.amount, order.currency)})`;
}

export function messageText(context: MessageContext): string {
  const { order, kind, reason } = context;
  const what = describe(context.order);
  switch (kind) {
    case 'delivered': {
      const cards = (context.cards ?? []).map((card) => `${card.code} / PIN ${card.pin}`).join('; ');
      return cards ? `Your ${what} is delivered. Cards: ${cards}.` : `Your ${what} is delivered.`;
    }
    case 'payment_failed':
      if (reason === 'amount_mismatch') {
        const received = formatMoney(context.received ?? 0, order.currency);
        return `The payment we received for your ${what} was ${received}, not the ${formatMoney(order.amount, order.currency)} the order costs, so nothing was delivered and the order was cancelled; the ${received} will be refunded to you.`;
      }
      return `Payment for your ${what} failed: ${REMEDY[reason ?? 'payment_declined'] ?? 'please try another payment method'}. Nothing was charged and the stock was released.`;
    case 'under_review':
      return `Your ${what} is being reviewed by our risk team before payment; this usually takes ${REVIEW_USUAL_TIME}. You have not been charged, and we will tell you as soon as it is decided.`;
    case 'review_approved':
      return `Good news: your ${what} passed the review. Please pay now to receive your cards.`;
    case 'review_rejected':
      return `Sorry, your ${what} did not pass our risk review and was cancelled. Nothing was charged and the stock was released; contact support if you think this is a mistake.`;
    case 'out_of_stock':
      return `Sorry, ${order.sku_name} is sold out, so your ${what} could not be placed; ${restockText(context.restockAt)}. Nothing was charged.`;
    case 'expired':
      return reason === 'verification_timeout'
        ? `Your ${what} expired because the payment verification was not completed in time. Nothing was charged; you can order again.`
        : `Your ${what} expired because it was not paid in time. Nothing was charged; you can order again.`;
    case 'cancelled':
      return `Your ${what} was cancelled as you asked. Nothing was charged.`;
    case 'refunded': {
      const paid = formatMoney(order.refund_amount ?? order.amount, order.currency);
      if (reason === 'amount_mismatch') return `The ${paid} you paid for your ${what} did not match the order's price and was refunded in full.`;
      return reason === 'delivery_failed'
        ? `We could not issue the cards for your ${what}, so your payment of ${paid} was refunded in full.`
        : `Sorry, ${order.sku_name} sold out before your ${what} could be delivered, so your payment of ${paid} was refunded in full; ${restockText(context.restockAt)}.`;
    }
    case 'verification_required':
      return `Your payment for ${what} needs an extra verification step; complete it at the cashier before the order expires.`;
    default:
      return `Update on your ${what}: ${kind.replace(/_/g, ' ')}.`;
  }
}

export function buildMessage(context: MessageContext): OutgoingMessage {
  const { order, kind, reason } = context;
  const message: OutgoingMessage = {
    to: order.contact,
    orderId: order.id,
    channel: order.contact.includes('@') ? 'email' : 'sms',
    kind,
    text: messageText(context),
    messageKey: context.messageKey ?? `${order.id}:${kind}`,
  };
  if (reason) message.reason = reason;
  return message;
}
