/**
 * "Not observable" is not a score: what a target cannot show — a stock supplier it does not have,
 * risk holds it never reports, messages it never sends — makes the classes and stages that need it
 * `n/a`, left out of the weights, in every report format.
 */
import type { TargetObservation } from '../journal.js';
import type { ObservedThrough } from './define.js';
import { faultDefinition, incidentDefinition, isFaultId, type IncidentClass } from './index.js';

const NEEDS: Record<Exclude<ObservedThrough, object>, { has: (observes: TargetObservation) => boolean; missing: string }> = {
  'stock-supplier': { has: (observes) => observes.stockSupplier, missing: 'the shop holds its own stock (no external supplier to fail)' },
  'risk-screening': { has: (observes) => observes.riskScreening, missing: 'the shop does not screen orders or show risk holds to buyers' },
  'buyer-cancel': { has: (observes) => observes.buyerCancel, missing: 'buyers cannot cancel an order at this shop' },
  recipient: { has: (observes) => observes.recipient, missing: 'the shop does not ask where the goods go (no recipient to mistype)' },
};

/** What the class needs from a target: declared, else by the fault's family. */
function observedThrough(incidentClass: IncidentClass): ObservedThrough | undefined {
  const declared = incidentDefinition(incidentClass).observedThrough;
  if (declared !== undefined || !isFaultId(incidentClass)) return declared;
  const family = faultDefinition(incidentClass).family;
  return family === 'stock' ? 'stock-supplier' : family === 'risk' ? 'risk-screening' : undefined;
}

/** Why the class cannot be observed on a target with `observes`, or undefined when it can. */
export function unobservableReason(incidentClass: IncidentClass, observes: TargetObservation | undefined): string | undefined {
  if (observes === undefined) return undefined;
  const needs = observedThrough(incidentClass);
  if (needs === undefined) return undefined;
  if (typeof needs === 'object') {
    return needs.notify.some((route) => observes.notify.includes(route))
      ? undefined
      : `the shop does not tell buyers through ${needs.notify.join(' or ')}${observes.notify.length > 0 ? ` (it uses ${observes.notify.join(', ')})` : ''}`;
  }
  return NEEDS[needs].has(observes) ? undefined : NEEDS[needs].missing;
}

/** Why no notify stage can be observed on the target, or undefined when one can. */
export function notifyStageUnobservable(observes: TargetObservation | undefined): string | undefined {
  return observes !== undefined && observes.notify.length === 0 ? 'the shop does not tell buyers (no message to observe)' : undefined;
}
