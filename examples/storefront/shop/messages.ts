/** What the shop tells a buyer by e-mail at each turn of an order; every subject names the order. */
import type { OutgoingMail } from './mailer.js';
import type { DeliveredKey } from './stock.js';

const SHOP_NAME = 'Starfall Keys';

function dollars(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}

interface Recipient {
  orderNumber: string;
  to: string;
  name: string;
}

export function keysDelivered(recipient: Recipient, totalCents: number, keys: readonly DeliveredKey[]): OutgoingMail {
  return {
    orderNumber: recipient.orderNumber,
    to: recipient.to,
    subject: `Your license keys for order ${recipient.orderNumber}`,
    text: [
      `Hi ${recipient.name},`,
      '',
      `thank you for your order ${recipient.orderNumber} (${dollars(totalCents)}). Your payment was received and here are your license keys:`,
      '',
      ...keys.map((key) => `  ${key.sku}: ${key.key}`),
      '',
      `You can see them any time on your order page.`,
      '',
      `— ${SHOP_NAME}`,
    ].join('\n'),
  };
}

export function orderCanceled(recipient: Recipient, reason: string): OutgoingMail {
  const why =
    reason === 'payment_window_expired'
      ? 'it was not paid in time'
      : reason === 'verification_timeout'
        ? 'the payment was not verified with your bank in time'
        : reason === 'canceled_by_customer'
          ? 'you canceled it'
          : 'its payment was canceled';
  return {
    orderNumber: recipient.orderNumber,
    to: recipient.to,
    subject: `Order ${recipient.orderNumber} canceled`,
    text: [`Hi ${recipient.name},`, '', `your order ${recipient.orderNumber} was canceled because ${why}. You were not charged.`, '', `— ${SHOP_NAME}`].join('\n'),
  };
}

export function verificationRequired(recipient: Recipient, payBefore: number): OutgoingMail {
  return {
    orderNumber: recipient.orderNumber,
    to: recipient.to,
    subject: `Verify your payment for order ${recipient.orderNumber}`,
    text: [
      `Hi ${recipient.name},`,
      '',
      `your bank asks you to verify your payment for order ${recipient.orderNumber} (additional verification). Please complete it before ${new Date(payBefore).toISOString()}, or the order will be canceled.`,
      '',
      `— ${SHOP_NAME}`,
    ].join('\n'),
  };
}

export function paymentFailed(recipient: Recipient, reason: string): OutgoingMail {
  return {
    orderNumber: recipient.orderNumber,
    to: recipient.to,
    subject: `Payment for order ${recipient.orderNumber} failed`,
    text: [
      `Hi ${recipient.name},`,
      '',
      `the payment for your order ${recipient.orderNumber} did not go through (${reason}). You were not charged; please place a new order to try again.`,
      '',
      `— ${SHOP_NAME}`,
    ].join('\n'),
  };
}

export function orderRefunded(recipient: Recipient, refundedCents: number, reason: string): OutgoingMail {
  const why =
    reason === 'amount_mismatch'
      ? 'the amount paid did not match the order'
      : reason === 'out_of_stock'
        ? 'the payment arrived after the order had been canceled and the keys were no longer in stock'
        : reason;
  return {
    orderNumber: recipient.orderNumber,
    to: recipient.to,
    subject: `Order ${recipient.orderNumber} refunded`,
    text: [`Hi ${recipient.name},`, '', `we refunded ${dollars(refundedCents)} for your order ${recipient.orderNumber}: ${why}.`, '', `— ${SHOP_NAME}`].join('\n'),
  };
}
