/** The invariants checked on every run's ledgers (descriptions: harness/score/invariants.ts). */
export const INVARIANT_IDS = [
  'no-double-charge',
  'no-oversell',
  'no-double-delivery',
  'paid-orders-settled',
  'no-delivery-without-payment',
  'conservation',
  'truthful-status',
  'no-silent-late-delivery',
  'no-fake-success',
  'no-delivery-on-forged-callback',
  'notifies-acknowledged',
  'settled-status-holds',
  'truthful-messages',
] as const;
export type InvariantId = (typeof INVARIANT_IDS)[number];
