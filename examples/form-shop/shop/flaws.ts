/**
 * Mistakes real card shops make, off unless named in SHOP_FLAWS (comma-separated). Each is read
 * at the one place in the code where a shop would have made it.
 */
export const FLAWS = {
  'skip-sign-check': 'the epay notify handler believes any notify: no MD5 sign, pid or gateway check, so forged, altered and replayed notifies mark orders paid and deliver',
  'double-deliver': 'a notify for an order that is already completed delivers its cards again (a duplicate notify sells a second set)',
  'no-reconcile': 'no reconcile job and no gateway check before closing: a paid order whose notify never came stays unpaid and is closed at its timeout',
} as const;

export type Flaw = keyof typeof FLAWS;

function isFlaw(name: string): name is Flaw {
  return Object.hasOwn(FLAWS, name);
}

/** `a,b` as flaws; an unknown name is an error listing the known ones. */
export function parseFlaws(list: string): ReadonlySet<Flaw> {
  const flaws = new Set<Flaw>();
  for (const name of list.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    if (!isFlaw(name)) throw new Error(`unknown flaw "${name}" (known: ${Object.keys(FLAWS).join(', ')})`);
    flaws.add(name);
  }
  return flaws;
}
