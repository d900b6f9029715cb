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
      'never queries the payment provider: an unpaid order past its TTL is expired locally, so a charge whose callback was lost is neither delivered nor refunded',
  },
  {
    name: 'no-idempotent-callbacks',
    description:
      'every TRADE_SUCCESS callback (duplicates and retries too) marks the order paid and delivers again: double delivery',
  },
  {
    name: 'no-failure-notice',
    description: 'sends no message for failures (payment failed, out of stock, expired, cancelled, refunded); success messages still go out',
  },
  {
    name: 'no-refund',
    description: 'a paid order that cannot be fulfilled is marked failed/out_of_stock and never refunded',
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
    super(`unknown shop flaw "${flaw}"; known flaws: ${SHOP_FLAWS.map((known) => known.name).join(', ')}`);
    this.name = 'UnknownFlawError';
  }
}

/**
 * Parses a comma- (or whitespace-) separated list of flaw names, e.g. "no-reconcile,no-refund".
 * Empty text gives no flaws; duplicates are dropped.
 * @throws UnknownFlawError on a name that is not in `SHOP_FLAWS`.
 */
export function parseFlaws(text: string | undefined): ShopFlaw[] {
  if (!text) return [];
  const result: ShopFlaw[] = [];
  for (const part of text.split(/[\s,]+/)) {
    const name = part.trim();
    if (name === '') continue;
    if (!isShopFlaw(name)) throw new UnknownFlawError(name);
    if (!result.includes(name)) result.push(name);
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
