/**
 * `defineTarget()`: a TypeScript adapter for shops the declarative adapter cannot describe —
 * multi-step checkouts, GraphQL, server-rendered pages with forms and redirects. The module's
 * default export is the definition; the kit (`./kit/`) gives per-buyer sessions with cookies and
 * CSRF tokens, an HTML parser, form submission and auto-submitting payment forms.
 *
 * What the shop lets Ordeal observe is not here but in the target profile: one place for the
 * shop's facts.
 */
import { OrdealError } from '../../core/errors.js';
import type { BuyerIdentity, ShopCatalog, ShopSession, TargetAdapter, TargetContext, TargetObservability } from './adapter.js';

export interface TargetDefinition {
  /** Shown in reports and logs. */
  name: string;
  /** The shop's own catalogue (products, prices, coupons), read as a buyer would; undefined when it cannot be listed. */
  catalog?(context: TargetContext): Promise<ShopCatalog | undefined>;
  /** A session for one buyer: creating, reading and cancelling its orders the shop's way. */
  session(context: TargetContext, buyer: BuyerIdentity): ShopSession;
  /** Releases what the definition holds for the run. */
  close?(): Promise<void>;
}

/** Identity function that exists for types, like `defineScenario`. */
export function defineTarget(definition: TargetDefinition): TargetDefinition {
  return definition;
}

/** True for what `defineTarget` returns (checked on a module's default export). */
export function isTargetDefinition(value: unknown): value is TargetDefinition {
  const candidate = value as Partial<TargetDefinition> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.name === 'string' &&
    typeof candidate.session === 'function' &&
    (candidate.catalog === undefined || typeof candidate.catalog === 'function')
  );
}

/** A definition bound to one run: the adapter the buyer flow uses. */
export function adapterOf(definition: TargetDefinition, context: TargetContext, observes: TargetObservability): TargetAdapter {
  return {
    name: definition.name,
    observes,
    catalog: async () => (definition.catalog ? definition.catalog(context) : undefined),
    session: (buyer) => definition.session(context, buyer),
    ...(definition.close ? { close: () => definition.close!() } : {}),
  };
}

/** The error for a module that does not export a definition. */
export function notATargetDefinition(file: string): OrdealError {
  return new OrdealError('ORDEAL_ERR_TARGET_ADAPTER', `${file}: the default export is not a target definition (expected export default defineTarget({ name, session, catalog? }))`);
}
