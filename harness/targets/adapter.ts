/**
 * Target adapters: how buyers drive a shop and how Ordeal reads the outcome back, the way a buyer
 * can (DESIGN §10). One interface, three kinds: contract v1 (`./contract-v1.ts`), the declarative
 * YAML adapter for JSON and form REST shops (`./declarative.ts`), and `defineTarget()` in
 * TypeScript for the rest. The buyer flow only ever talks to a `ShopSession`; what a shop's pages
 * or API look like stays inside its adapter.
 *
 * Every answer is data (`HttpAnswer`): a 4xx, a reset, a page that does not parse is something to
 * journal and score, never an exception.
 */
import type { HttpAnswer, HttpClient, ShopOrderView } from '../../core/http-client.js';
import type { JournalSink, TargetObservation } from '../../core/journal.js';

export type { HttpAnswer, ShopOrderView } from '../../core/http-client.js';

/**
 * Canonical order statuses (contract v1's): an adapter maps the shop's own words to these.
 * `pending_payment` → pay; `delivered`, `refunded` are final; `failed`, `expired`, `cancelled`
 * are settled but may still move on a late payment.
 */
export type CanonicalStatus =
  | 'pending_payment'
  | 'awaiting_verification'
  | 'under_review'
  | 'paid'
  | 'fulfilling'
  | 'delivered'
  | 'cancelled'
  | 'expired'
  | 'failed'
  | 'refund_pending'
  | 'refunded';

/** What one buyer wants: the adapter turns it into the shop's own requests. */
export interface OrderRequest {
  sku: string;
  quantity: number;
  /** Where the goods go (a game id, a phone number, an e-mail). */
  recipient: { kind: 'game_id' | 'phone' | 'email'; account: string };
  /** The buyer's contact: where the shop should tell them (phone or e-mail). */
  contact: string;
  coupon?: string;
  /** alipay, wechat or card: what the buyer picks at checkout. */
  paymentMethod: string;
  buyer: BuyerIdentity;
}

/** Who the buyer is, as far as a shop may ask (risk screens read these). */
export interface BuyerIdentity {
  id: string;
  contact: string;
  /** The buyer's own client address (sent as X-Forwarded-For by adapters of shops behind a proxy). */
  ip: string;
  region: string;
  accountAgeDays: number;
  deviceId: string;
}

/** The catalogue as the shop shows it: what buyers choose from. */
export interface ShopCatalog {
  skus: Array<{ sku: string; price: number; name?: string; currency?: string }>;
  /** Coupons the shop offers (its promotions); minor units. @default [] */
  coupons?: Array<{ code: string; discount: number; minAmount: number }>;
}

/**
 * One buyer's dealings with the shop (its cookies, tokens, CSRF state live here). Created when a
 * buyer arrives, dropped when it is done; orders it created are read back through it.
 */
export interface ShopSession {
  /**
   * Places an order. The answer's body, when the order was created (status 200/201), is the order
   * as the shop shows it in canonical terms, with where the buyer pays (`payment.payUrl` at the
   * provider's cashier, or `payment.tradeNo`). `idempotencyKey` is the same for a retry of one intent.
   */
  createOrder(request: OrderRequest, idempotencyKey: string): Promise<HttpAnswer<ShopOrderView>>;
  /** The order as the buyer can see it now (status 200 with a body, else what went wrong). */
  readOrder(orderId: string): Promise<HttpAnswer<ShopOrderView>>;
  /** Cancels an unpaid order, when the shop lets buyers (else an answer with status 405). */
  cancelOrder(orderId: string): Promise<HttpAnswer<ShopOrderView>>;
}

/**
 * What the shop lets Ordeal observe (the profile's `observes`). What it cannot show is "not
 * observable": the classes and stages that need it are `n/a` in the report and carry no weight —
 * never a score of 0 or 100.
 */
export type TargetObservability = TargetObservation;

/** Everything a shop can show. */
export const FULLY_OBSERVABLE: Readonly<TargetObservability> = { stockSupplier: true, riskScreening: true, notify: ['api'], buyerCancel: true, recipient: true };

/** What an adapter gets for one scenario run. */
export interface TargetContext {
  /** The shop's base URL (a restarted shop keeps it). */
  readonly shopUrl: string;
  /** The run's pooled HTTP client (contract-v1-style JSON calls). */
  readonly client: HttpClient;
  readonly journal: JournalSink;
  /** Where each payment protocol of the run is served (its personality's base URL). */
  readonly providerUrls: Readonly<Record<string, string>>;
}

/** A target adapter bound to one run. */
export interface TargetAdapter {
  /** For reports and logs: "contract-v1", "declarative:storefront", a defineTarget name. */
  readonly name: string;
  readonly observes: TargetObservability;
  /** The shop's own catalogue, or undefined when it has no way to list one (the profile's, then the scenario's, is used). */
  catalog(): Promise<ShopCatalog | undefined>;
  /** A session for one buyer. Adapters without per-buyer state may return one shared session. */
  session(buyer: BuyerIdentity): ShopSession;
  /** Releases what the adapter holds (connections of its own). */
  close?(): Promise<void>;
}

/** Builds a run's adapter from its context: what a target module exports. */
export type TargetFactory = (context: TargetContext) => TargetAdapter;
