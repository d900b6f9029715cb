/**
 * Which order a message to a buyer is about, when the channel does not say (e-mail, SMS):
 *
 * 1. an order number in the text — a token of the subject, then of the body, that is an order id
 *    the run knows (`Correlation.knows`). When the recipient is a known buyer, only that buyer's
 *    orders count, and a token shorter than 4 characters counts only then (a "#42" in a shop with
 *    small order numbers must not be read off a price);
 * 2. the recipient's contact — the buyer's latest order (`Correlation.buyerOfContact`);
 * 3. another id in the text that leads to an order (`identify`: the payment provider's trade
 *    number, say).
 *
 * Tokens are runs of ASCII letters, digits, `-` and `_` (so "订单号：2024050612345已发货" yields
 * the number); at most `MAX_TOKENS` distinct ones are looked up per message.
 */
import type { Correlation } from './mock-types.js';

export type MatchMethod = 'order-number' | 'contact' | 'content';

export interface MessageMatch {
  orderId: string;
  by: MatchMethod;
  /** The order's buyer, when known. */
  buyerId?: string;
  /** The recipient as the buyer gave it (for the journal), when the recipient is a known contact. */
  contact?: string;
}

export interface MatchInput {
  /** The recipients' addresses or numbers, as the shop wrote them. */
  recipients: readonly string[];
  /** The texts to search, most telling first (subject, then body). */
  texts: readonly string[];
}

/** Distinct tokens looked up per message. */
export const MAX_TOKENS = 200;
/** Tokens shorter than this are looked up only among the recipient's own orders. */
const SHORT_TOKEN = 4;
const TOKEN = /[A-Za-z0-9][A-Za-z0-9_-]*/g;

/** The distinct tokens of `texts` in order of appearance, at most `limit`. */
export function tokensOf(texts: readonly string[], limit = MAX_TOKENS): string[] {
  const seen = new Set<string>();
  for (const text of texts) {
    for (const match of text.matchAll(TOKEN)) {
      const token = match[0].replace(/[-_]+$/, '');
      if (token !== '') seen.add(token);
      if (seen.size >= limit) return [...seen];
    }
  }
  return [...seen];
}

export class MessageMatcher {
  /**
   * @param identify an order id for another kind of id found in a message (a trade number), or
   *   undefined. @default none
   */
  constructor(
    private readonly correlation: Correlation,
    private readonly identify: (token: string) => string | undefined = () => undefined,
  ) {}

  /** The recipient known as a buyer's contact first, else the first recipient; undefined when none. */
  recipientOf(recipients: readonly string[]): { to: string; buyerId?: string; contact?: string } | undefined {
    for (const recipient of recipients) {
      const link = this.correlation.buyerOfContact(recipient);
      if (link) return { to: link.contact, buyerId: link.buyerId, contact: link.contact };
    }
    const first = recipients[0];
    return first === undefined ? undefined : { to: first };
  }

  match(input: MatchInput): MessageMatch | undefined {
    const recipient = this.recipientOf(input.recipients);
    const ownBuyer = recipient?.buyerId;
    const contact = recipient?.contact === undefined ? {} : { contact: recipient.contact };
    const tokens = tokensOf(input.texts);

    for (const token of tokens) {
      if (!this.correlation.knows(token)) continue;
      const buyerId = this.correlation.buyerOf(token);
      if (ownBuyer !== undefined ? buyerId !== ownBuyer : token.length < SHORT_TOKEN) continue;
      return { orderId: token, by: 'order-number', ...(buyerId === undefined ? {} : { buyerId }), ...contact };
    }

    if (ownBuyer !== undefined) {
      const latest = this.correlation.latestOrderOf(ownBuyer);
      if (latest !== undefined) return { orderId: latest, by: 'contact', buyerId: ownBuyer, ...contact };
    }

    for (const token of tokens) {
      const orderId = this.identify(token);
      if (orderId === undefined) continue;
      const buyerId = this.correlation.buyerOf(orderId);
      if (ownBuyer !== undefined && buyerId !== undefined && buyerId !== ownBuyer) continue;
      return { orderId, by: 'content', ...(buyerId === undefined ? {} : { buyerId }), ...contact };
    }
    return undefined;
  }
}
