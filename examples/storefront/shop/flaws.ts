/**
 * Mistakes real shops make, built in so a tester can be shown catching them. All off unless
 * `SHOP_FLAWS` names them (comma-separated).
 */
export const FLAWS = {
  'trust-unverified-webhooks': 'the webhook endpoint parses the event without checking its Stripe-Signature, so a forged or replayed event is believed',
  'fulfil-twice': 'a redelivered webhook (the same event id) fulfils the order again: another set of license keys and another e-mail',
  'ignore-amount': 'a payment_intent.succeeded is trusted for any amount: an order paid short is fulfilled',
  'no-reconcile': 'the shop never asks Stripe about a payment: no reconcile job, and the payment window cancels an order locally even when it was paid',
} as const;

export type Flaw = keyof typeof FLAWS;

function isFlaw(name: string): name is Flaw {
  return Object.hasOwn(FLAWS, name);
}

export function parseFlaws(text: string | undefined, fail: (message: string) => Error): ReadonlySet<Flaw> {
  const flaws = new Set<Flaw>();
  for (const name of (text ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    if (!isFlaw(name)) throw fail(`SHOP_FLAWS: unknown flaw "${name}" (known: ${Object.keys(FLAWS).join(', ')})`);
    flaws.add(name);
  }
  return flaws;
}
