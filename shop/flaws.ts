/**
 * Flaws: realistic defects the reference shop can switch on, so Ordeal can prove it detects them.
 * Every flaw is off by default.
 *
 * This file is the one place a flaw is declared: its id (what `--flaws` takes), the defect it
 * models, and the decision of the shop it changes. The stages never ask for a flaw by its id; they
 * read `ShopDecisions`, a set of named booleans built once from the active flaws
 * (`decisionsFor`), each true when its flaw is on. There is no second copy of any stage per flaw.
 */

interface FlawEntry {
  /** What `--flaws` and `ORDEAL_SHOP_FLAWS` take. */
  readonly id: string;
  /** The name of the decision this flaw turns on, as the stages read it. */
  readonly decision: string;
  /** One line: what the defect does, as a buyer or the provider would see it. */
  readonly defect: string;
  /** What the shop decides differently, and where. */
  readonly changes: string;
}

/** Every flaw the reference shop knows. A new flaw is one entry here plus one read of its decision. */
export const FLAW_CATALOGUE = [
  {
    id: 'no-reconcile',
    decision: 'relyOnCallbacksOnly',
    defect:
      'never queries the payment provider: an unpaid order past its TTL is expired locally, so a charge whose callback was lost is neither delivered nor refunded, and a payment awaiting verification is never noticed',
    changes:
      'reconciliation: an unpaid order is neither queried nor closed; it is looked at only at its deadline, and then expired locally. payment: a trade creation whose answer was lost is not looked up by outTradeNo',
  },
  {
    id: 'no-idempotent-callbacks',
    decision: 'deliverOnEveryCallback',
    defect: 'every payment-success callback (duplicates and retries too) marks the order paid and delivers again: double delivery',
    changes: 'payment: a success callback skips the compare-and-set to paid and starts a delivery whatever the order\u2019s status',
  },
  {
    id: 'no-failure-notice',
    decision: 'keepQuietAboutFailures',
    defect: 'sends no message for failures (payment failed, out of stock, expired, cancelled, refunded, review rejected); success messages still go out',
    changes: 'notifications: a message of a failure kind is not written to the outbox',
  },
  {
    id: 'no-refund',
    decision: 'failInsteadOfRefunding',
    defect: 'a paid order that cannot be fulfilled is marked failed/out_of_stock and never refunded',
    changes: 'fulfilment: a paid order that gets no cards ends failed instead of going to refund_pending',
  },
  {
    id: 'ack-before-commit',
    decision: 'acknowledgeBeforeCommitting',
    defect:
      'answers every callback 200 at once and processes it from an in-memory queue 300-600 ms later; orders with a received callback are skipped by the reconciler and the expiry sweep, so a crash in that gap leaves a charged order pending_payment forever',
    changes:
      'callbacks: answer 200 first and run the verification and transition from an in-memory queue; reconciliation: an order whose callback was received is left to that queue (no query, no expiry)',
  },
  {
    id: 'no-signature-check',
    decision: 'acceptUnsignedCallbacks',
    defect: 'does not verify callback signatures at all: forged and replayed successes mark unpaid orders paid and deliver',
    changes: 'callbacks: the notify\'s signature is not checked (nor, for an encrypted notify, its authentication)',
  },
  {
    id: 'no-replay-check',
    decision: 'acceptStaleSignatures',
    defect: 'verifies the callback signature but not its timestamp tolerance: a replayed success delivers',
    changes: 'callbacks: a correctly signed callback of any age is accepted',
  },
  {
    id: 'nack-duplicate-callbacks',
    decision: 'refuseDuplicateNotifies',
    defect:
      'answers a repeated success notify for an order it already marked paid with an error, as shops that answer `fail` to a duplicate do: the provider keeps retrying a settled order (for a day, in real life)',
    changes: 'callbacks: a success notify that changes nothing, the order being paid already, is refused instead of acknowledged',
  },
  {
    id: 'no-amount-check',
    decision: 'acceptAnyPaidAmount',
    defect: "does not compare the callback's amount with the order's: a tampered 1-fen payment delivers the goods",
    changes: 'payment: a verified success counts as paid in full whatever amount was captured (callback, query or close)',
  },
  {
    id: 'no-idempotency-key',
    decision: 'treatEverySubmitAsNew',
    defect: 'ignores the Idempotency-Key header and does no intent de-duplication: a double submit creates two orders, both payable',
    changes: 'intake: neither the Idempotency-Key nor the buying intent is looked up; every request makes an order',
  },
  {
    id: 'no-reservation',
    decision: 'deliverFromLocalStockpile',
    defect:
      'delivers from a local card table bought in batches from the supplier, picking an unsold card, awaiting, then marking it sold: concurrent deliveries hand the same code to two orders',
    changes: 'fulfilment: cards come from the local stockpile (pick, await, mark sold) instead of fulfilling the order\u2019s reservation',
  },
  {
    id: 'sold-out-marked-delivered',
    decision: 'markDeliveredWhenIssueFails',
    defect: 'when card issue fails after payment (SOLD_OUT, RESERVATION_EXPIRED) the order is marked delivered with no cards and no refund',
    changes: 'fulfilment: a fulfil answered SOLD_OUT or RESERVATION_EXPIRED, or no stock to reserve, ends the order delivered without cards',
  },
  {
    id: 'late-payment-dropped',
    decision: 'ignoreLatePayments',
    defect: 'a verified success for an expired, cancelled or failed order is acknowledged and ignored: money kept, nothing delivered, nobody told',
    changes: 'payment: a success callback for an ended, never-paid order changes nothing',
  },
  {
    id: 'late-payment-unchecked',
    decision: 'deliverLatePaymentsWithoutReserving',
    defect: 'a late success is marked delivered without reserving again: its reservation is gone, card issue fails, the order says delivered with no cards',
    changes: 'payment: a success callback for an ended, never-paid order marks it delivered at once and fulfils the lapsed reservation afterwards',
  },
  {
    id: 'no-stock-release',
    decision: 'leaveReservationsToLapse',
    defect: 'expiry, cancellation and payment failures never release the reservation; the stock comes back only when its TTL lapses at the supplier',
    changes: 'an unpaid order that ends (expiry, cancellation, payment failure, risk rejection, failed creation, wrong amount) does not mark its reservation for release',
  },
  {
    id: 'no-notify-retry',
    decision: 'sendMessagesOnlyOnce',
    defect: 'a message the gateway refuses or does not answer is dropped, never retried',
    changes: 'notifications: the first failed send of a message gives it up',
  },
  {
    id: 'no-review-notice',
    decision: 'holdForReviewSilently',
    defect: 'a risk hold is not told to the buyer (no under_review message); approvals and rejections still are',
    changes: 'review: an order held for review queues no under_review message',
  },
  {
    id: 'reopen-on-duplicate-callback',
    decision: 'reopenOnRepeatedSuccess',
    defect:
      'a repeated success notify for an order already delivered puts it back to paid (the handler sets the status before looking at it): the buyer, reading the order later, sees a delivered order waiting for delivery again',
    changes: 'payment: a success callback that finds the order paid already moves a delivered order back to paid (and nothing delivers it again)',
  },
  {
    id: 'announce-delivery-early',
    decision: 'announceDeliveryBeforeIssuing',
    defect:
      'tells the buyer "delivered" as soon as delivery starts, before the supplier issued any card: when the issue then fails and the order is refunded, the buyer was told a delivery that never happened',
    changes: 'fulfilment: a "delivered" message (no cards) is queued when the order moves to fulfilling, before the fulfil call; the message with the cards still follows on success',
  },
] as const satisfies readonly FlawEntry[];

export type ShopFlaw = (typeof FLAW_CATALOGUE)[number]['id'];
export type Decision = (typeof FLAW_CATALOGUE)[number]['decision'];

/**
 * What the shop decides at each flaw's decision point: true when the flaw is on. The resilient
 * shop has every decision false.
 */
export type ShopDecisions = { readonly [D in Decision]: boolean };

export interface ShopFlawInfo {
  readonly name: ShopFlaw;
  /** One line: what the defect does. */
  readonly description: string;
}

/**
 * Every flaw as `{ name, description }`. Kept for callers written before `FLAW_CATALOGUE`; a
 * harness learns a shop's flaws from `node dist/shop/main.js --list-flaws` instead.
 */
export const SHOP_FLAWS: readonly ShopFlawInfo[] = FLAW_CATALOGUE.map((flaw) => ({ name: flaw.id, description: flaw.defect }));

/** The catalogue as `--list-flaws` prints it. */
export function flawListing(): Array<{ id: ShopFlaw; description: string }> {
  return FLAW_CATALOGUE.map((flaw) => ({ id: flaw.id, description: flaw.defect }));
}

const FLAW_IDS: ReadonlySet<string> = new Set(FLAW_CATALOGUE.map((flaw) => flaw.id));

export function isShopFlaw(name: string): name is ShopFlaw {
  return FLAW_IDS.has(name);
}

/** Thrown by `parseFlaws` on a name that is not in the catalogue. */
export class UnknownFlawError extends Error {
  constructor(readonly flaw: string) {
    super(`unknown shop flaw "${flaw}"; known flaws: ${FLAW_CATALOGUE.map((known) => known.id).join(', ')} (or the profile ${Object.keys(FLAW_PROFILES).join(', ')})`);
    this.name = 'UnknownFlawError';
  }
}

/** Profiles: names that stand for several flaws at once. `naive` is every flaw. */
export const FLAW_PROFILES: Readonly<Record<string, readonly ShopFlaw[]>> = {
  naive: FLAW_CATALOGUE.map((flaw) => flaw.id),
};

/**
 * Parses a comma- (or whitespace-) separated list of flaw names or profile names, e.g.
 * "no-reconcile,no-refund" or "naive". Empty text gives no flaws; duplicates are dropped.
 * @throws UnknownFlawError on a name that is neither a flaw nor a profile.
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

/** The flaws switched on for one shop. */
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

/** The shop's decisions with these flaws on (and every other decision the resilient one). */
export function decisionsFor(flaws: FlawSet | Iterable<ShopFlaw>): ShopDecisions {
  const set = flaws instanceof FlawSet ? flaws : new FlawSet(flaws);
  const decisions = {} as Record<Decision, boolean>;
  for (const flaw of FLAW_CATALOGUE) decisions[flaw.decision] = set.has(flaw.id);
  return Object.freeze(decisions);
}
