/**
 * A payment personality: one wire protocol of the provider (docs/ARCHITECTURE.md). It only translates —
 * parses and verifies the merchant's requests, maps each to one provider-core operation, renders
 * the core's answers and refusals, renders and signs callbacks, says which answer acknowledges a
 * callback, and lays out the cashier the buyers pay at. Money, fault decisions, retries and the
 * journal stay in the core and the dispatcher, so a run journals the same events whatever the
 * protocol.
 *
 * The shape is meant for the protocols of PROVIDERS.md as well as `native`:
 * - routes: REST paths (native, WeChat Pay v3, Stripe) or one gateway path whose operation is a
 *   request field (Alipay's `gateway.do` `method`, epay's `api.php?act=`); a route handler may
 *   dispatch to several core operations. Request verification (epay's MD5 `sign` with the
 *   merchant key, Alipay's RSA2, WeChat's `Authorization` header, Stripe's bearer key) happens in
 *   the handler before the core is called, and fails as `INVALID_SIGNATURE`;
 * - callbacks: any method and encoding (epay's GET query, Alipay's form POST, WeChat's JSON with
 *   an encrypted resource, Stripe's `Event` with `Stripe-Signature`), each signing intent of the
 *   fault plan rendered the protocol's way;
 * - acknowledgement: by status (native and WeChat: 2xx; Stripe: 2xx) or by body (epay: contains
 *   `success`; Alipay: exactly `success`).
 */
import type { PaymentProtocol } from '../../core/schema-parts.js';
import type { FaultId } from '../../core/faults/index.js';
import type { MockReply } from '../mock-types.js';
import type { SubjectAwareRoute } from '../transport-faults.js';
import type { CoreAnswer, PaymentOperation, PaymentRefusal } from './answers.js';
import type { PaymentCore } from './core.js';
import type { CallbackProtocol } from './notices.js';

export type { CallbackAck, CallbackRequest, NoticeSigning } from './notices.js';

export type { PaymentProtocol } from '../../core/schema-parts.js';

/** Where a personality is served; `baseUrl` (no trailing slash) is set once its transport listens. */
export interface PaymentSite {
  baseUrl: string;
  /** The channel this personality serves when a run has several (its protocol); absent for the primary. */
  channel?: string;
}

/** The `channel` a personality passes to `PaymentCore.create`: the site's, when it serves one of several. */
export function channelOf(site: PaymentSite): { channel?: string } {
  return site.channel === undefined ? {} : { channel: site.channel };
}

/** A request the harness, as the buyer, sends to the cashier (JSON body, sent by the harness's own client). */
export interface CashierRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** What the cashier's answer meant: paid, refused (the payment failed), waiting for a verification, or not known. */
export type CashierOutcome = 'paid' | 'refused' | 'verifying' | 'unknown';

export interface CashierAnswer {
  outcome: CashierOutcome;
  /** The refusal or error code the answer carried. */
  code?: string;
  /** `verifying`: what the buyer completes next. */
  verificationId?: string;
  /** The provider's trade number, when the cashier says it (the shop may have shown only a link). */
  tradeNo?: string;
}

/** The cashier the buyers pay at, in the personality's own layout. */
export interface PaymentCashier {
  /**
   * The buyer pays: `tradeNo` and `payUrl` are what the shop showed (either may be missing — ''
   * for no trade number — when its protocol gives the shop only one), `providerUrl` is where the
   * personality is served.
   */
  payRequest(input: { providerUrl: string; tradeNo: string; payUrl?: string; payerId: string; method: string }): CashierRequest;
  /** `status` and `body` are undefined when no answer came (or the body was not JSON). */
  readPayAnswer(status: number | undefined, body: unknown): CashierAnswer;
  /** The buyer completes the extra verification a payment waits for. */
  verificationRequest(input: { providerUrl: string; verificationId: string }): CashierRequest;
  readVerificationAnswer(status: number | undefined, body: unknown): CashierAnswer;
}

/** The payment faults: each has a form in every protocol, or is declared inexpressible in it. */
export type PaymentFaultId = Extract<FaultId, `payment.${string}`>;

/**
 * How one payment fault reaches a shop speaking this protocol: `shopSees` says what the shop gets
 * (its own error code, the notify that never comes, the signature that does not verify), or the
 * fault is `inexpressible` in the protocol — with why — and the personality serves it as the
 * closest protocol-native behaviour it names (or not at all).
 */
export type FaultForm = { shopSees: string } | { inexpressible: string };

export interface PaymentPersonality extends CallbackProtocol {
  readonly protocol: PaymentProtocol;
  /** Every payment fault's form in this protocol (the README's fault × protocol table is generated from these). */
  readonly faultForms: Readonly<Record<PaymentFaultId, FaultForm>>;
  /**
   * The protocol's real notify retry gaps, ms (e.g. epay's 2, 16, 36 and 60 minutes), which the
   * dispatcher compresses by the run's time scale. @default the native schedule
   */
  readonly callbackRetryGapsMs?: readonly number[];
  /**
   * The merchant-facing routes, over `core`. Each handler parses and verifies the request, calls
   * one core operation and renders its answer (`renderAnswer`); each route names its subject
   * (`subjectOf`, from the core's `subjectOf…`) so transport faults can be decided per buyer, and
   * a payment-route name (`create`, `pay`, `query`, `close`, `refund`) so faults can target it.
   */
  routes(core: PaymentCore, site: PaymentSite): SubjectAwareRoute[];
  /** A core refusal as this protocol answers it (its own status and error code). */
  renderRefusal(operation: PaymentOperation, refusal: PaymentRefusal): MockReply;
  readonly cashier: PaymentCashier;
}

/**
 * A core answer as a reply: the value rendered by `render`, a refusal by the personality, then
 * what the channel does to it — the latency before it, a reset instead of it (the operation took
 * effect), or a hang (nothing ever answers).
 */
export function renderAnswer<T>(
  personality: Pick<PaymentPersonality, 'renderRefusal'>,
  operation: PaymentOperation,
  answer: CoreAnswer<T>,
  render: (value: T) => MockReply,
): MockReply {
  if (answer.kind === 'hang') return { status: 504, socketFault: 'hang' };
  let reply = answer.kind === 'ok' ? render(answer.value) : personality.renderRefusal(operation, answer.refusal);
  if (answer.kind === 'ok' && answer.lost) reply = { ...reply, socketFault: answer.lost };
  return answer.delayMs > 0 ? { ...reply, delayMs: answer.delayMs } : reply;
}
