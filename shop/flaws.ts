/**
 * Flaws: realistic defects the reference shop can switch on, so Ordeal can prove it detects them.
 * Every flaw is off by default. The pipeline consults one `FlawSet` at its decision points; there
 * is no second copy of the pipeline per flaw.
 */

export interface ShopFlawInfo {
  readonly name: string;
  /** One line: what the defect does. */
  readonly description: string;
}

/** Every flaw the reference shop knows, with a one-line description each. */
export const SHOP_FLAWS = [
  {
    name: 'no-reconcile',
    description:
      'never queries the payment provider: an unpaid order past its TTL is expired locally, so a charge whose callback was lost is neither delivered nor refunded, and a payment awaiting verification is never noticed',
  },
  {
    name: 'no-idempotent-callbacks',
    description:
      'every TRADE_SUCCESS callback (duplicates and retries too) marks the order paid and delivers again: double delivery',
  },
  {
    name: 'no-failure-notice',
    description: 'sends no message for failures (payment failed, out of stock, expired, cancelled, refunded, review rejected); success messages still go out',
  },
  {
    name: 'no-refund',
    description: 'a paid order that cannot be fulfilled is marked failed/out_of_stock and never refunded',
  },
  {
    name: 'ack-before-commit',
    description:
      'answers every callback 200 at once and processes it from an in-memory queue 100-300 ms later; orders with a received callback are skipped by the reconciler and the expiry sweep, so a crash in that gap leaves a charged order pending_payment forever',
  },
  {
    name: 'no-signature-check',
    description: 'does not verify callback signatures at all: forged and replayed successes mark unpaid orders paid and deliver',
  },
  {
    name: 'no-replay-check',
    description: 'verifies the callback signature but not its timestamp tolerance: a replayed success delivers',
  },
  {
    name: 'no-amount-check',
    description: "does not compare the callback's amount with the order's: a tampered 1-fen payment delivers the goods",
  },
  {
    name: 'no-idempotency-key',
    description: 'ignores the Idempotency-Key header and does no intent de-duplication: a double submit creates two orders, both payable',
  },
  {
    name: 'no-reservation',
    description:
      'delivers from a local card table bought in batches from the supplier, picking an unsold card, awaiting, then marking it sold: concurrent deliveries hand the same code to two orders',
  },
  {
    name: 'sold-out-marked-delivered',
    description: 'when card issue fails after payment (SOLD_OUT, RESERVATION_EXPIRED) the order is marked delivered with no cards and no refund',
  },
  {
    name: 'late-payment-dropped',
    description: 'a verified success for an expired, cancelled or failed order is acknowledged and ignored: money kept, nothing delivered, nobody told',
  },
  {
    name: 'late-payment-unchecked',
    description: 'a late success is marked delivered without reserving again: its reservation is gone, card issue fails, the order says delivered with no cards',
  },
  {
    name: 'no-stock-release',
    description: 'expiry, cancellation and payment failures never release the reservation; the stock comes back only when its TTL lapses at the supplier',
  },
  {
    name: 'no-notify-retry',
    description: 'a message the gateway refuses or does not answer is dropped, never retried',
  },
  {
    name: 'no-review-notice',
    description: 'a risk hold is not told to the buyer (no under_review message); approvals and rejections still are',
  },
] as const satisfies readonly ShopFlawInfo[];

export type ShopFlaw = (typeof SHOP_FLAWS)[number]['name'];

const FLAW_NAMES: ReadonlySet<string> = new Set(SHOP_FLAWS.map((flaw) => flaw.name));

export function isShopFlaw(name: string): name is ShopFlaw {
  return FLAW_NAMES.has(name);
}

/** Thrown by `parseFlaws` on a name that is not in `SHOP_FLAWS`. */
export class UnknownFlawError extends Error {
  constructor(readonly flaw: string) {
    super(`unknown shop flaw "${flaw}"; known flaws: ${SHOP_FLAWS.map((known) => known.name).join(', ')} (or the profile ${Object.keys(FLAW_PROFILES).join(', ')})`);
    this.name = 'UnknownFlawError';
  }
}

/** Profiles: names that stand for several flaws at once. `naive` is every flaw. */
export const FLAW_PROFILES: Readonly<Record<string, readonly ShopFlaw[]>> = {
  naive: SHOP_FLAWS.map((flaw) => flaw.name),
};

/**
 * Parses a comma- (or whitespace-) separated list of flaw names or profile names, e.g.
 * "no-reconcile,no-refund" or "naive". Empty text gives no flaws; duplicates are dropped.
 * @throws UnknownFlawError on a name that is neither in `SHOP_FLAWS` nor a profile.
 */
export function parseFlaws(text: string | undefined): ShopFlaw[] {
  if (!text) return [];
  const result: ShopFlaw[] = [];
  for (const part of text.split(/[\s,]+/)) {
    const name = part.trim();
    if (name === '') continue;
    const names = Object.hasOwn(FLAW_PROFILES, name) ? FLAW_PROFILES[name]! : isShopFlaw(name) ? [name] : undefined;
    if (!names) throw new UnknownFlawError(name);
    for (const flaw of names) if (!result.includes(flaw)) result.push(flaw);
  }
  return result;
}

/** The set the pipeline consults at its decision points. */
export class FlawSet {
  private readonly active: ReadonlySet<ShopFlaw>;

  constructor(flaws: Iterable<ShopFlaw> = []) {
    const list = [...flaws];
    for (const flaw of list) if (!isShopFlaw(flaw)) throw new UnknownFlawError(flaw);
    this.active = new Set(list);
  }

  has(flaw: ShopFlaw): boolean {
    return this.active.has(flaw);
  }

  list(): ShopFlaw[] {
    return [...this.active];
  }
}
