/**
 * Target adapters and profiles: what a shop's own adapter module imports (`defineTarget`, the
 * kit, the types), and what the run uses to load a profile.
 */
export { defineTarget, type TargetDefinition } from './define.js';
export type {
  BuyerIdentity,
  CanonicalStatus,
  HttpAnswer,
  OrderRequest,
  ShopCatalog,
  ShopOrderView,
  ShopSession,
  TargetAdapter,
  TargetContext,
  TargetObservability,
} from './adapter.js';
export { loadTarget, validateProfile, type LoadedTarget } from './profile.js';
export { formatDotenv, shopSettings } from './shop-env.js';
export { declarativeAdapterSchema, type DeclarativeAdapterSpec } from './declarative.js';
export * from './kit/index.js';
