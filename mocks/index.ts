/**
 * The mocks as the harness uses them: `startMocks()` builds the payment provider, stock supplier
 * and notify gateway over one journal, fault plan and correlation, serves each on its own loopback
 * port, and wires the payment provider to the callback dispatcher.
 */
import { OrdealError } from '../harness/errors.js';
import type { JournalSink } from '../harness/journal.js';
import type { Scenario } from '../harness/scenario-schema.js';
import { CallbackDispatcher, DEFAULT_CALLBACK_RETRY_DELAYS, DEFAULT_CALLBACK_TIMEOUT_MS } from './callback-dispatcher.js';
import type { FaultPlan } from './fault-plan.js';
import { isLoopbackHost, serveRoutes, type ServedRoutes } from './http-transport.js';
import { Correlation } from './mock-types.js';
import { NotifyGateway } from './notify.js';
import { PaymentProvider } from './payment.js';
import { StockSupplier } from './stock.js';

export { CallbackDispatcher, DEFAULT_CALLBACK_RETRY_DELAYS, DEFAULT_CALLBACK_TIMEOUT_MS } from './callback-dispatcher.js';
export type { CallbackDispatcherOptions, CallbackNotice, CallbackPayload, CallbackStatus, CallbackTarget } from './callback-dispatcher.js';
export { isLoopbackHost, LOOPBACK_HOSTS, serveRoutes } from './http-transport.js';
export type { ServedRoutes, ServeOptions } from './http-transport.js';
export { DEFAULT_TRADE_TTL_MS, isLoopbackUrl, PaymentProvider } from './payment.js';
export type { CallbackSink, PaymentProviderOptions, TradeRecord, TradeRefund } from './payment.js';
export { RESERVATION_SWEEP_MS, StockSupplier } from './stock.js';
export type { Card, ReservationRecord, ReservationState, StockSupplierOptions } from './stock.js';
export { NOTIFY_CHANNELS, NotifyGateway } from './notify.js';
export type { InboxFilter, InboxMessage, NotifyChannel, NotifyGatewayOptions } from './notify.js';
export { Correlation, errorReply } from './mock-types.js';
export type { HttpMethod, MockContext, MockReply, MockRequest, MockRoute, SocketFault } from './mock-types.js';
export { FaultPlan } from './fault-plan.js';
export { signBody, verifySignature, SIGNATURE_HEADER, SIGNATURE_TOLERANCE_S } from './signature.js';

export interface MockSetOptions {
  /** Catalogue for the stock supplier; faults come through `plan`. */
  scenario: Scenario;
  journal: JournalSink;
  plan: FaultPlan;
  /** Links order ids to buyers; created if absent. */
  correlation?: Correlation;
  /** Callback signing secret (ORDEAL_PAYMENT_SECRET). */
  secret: string;
  /** Interface the mocks bind to; only loopback is accepted. @default "127.0.0.1" */
  host?: string;
  /**
   * Delays between callback attempts, ms (a compressed Alipay schedule: 7 attempts).
   * @default [250, 500, 1000, 2000, 4000, 8000]
   */
  callbackRetryDelays?: number[];
  /** Per-attempt callback timeout, ms. @default 5000 */
  callbackTimeoutMs?: number;
}

export interface MockSet {
  /** Base URLs (no trailing slash): ORDEAL_PAYMENT_URL, ORDEAL_STOCK_URL, ORDEAL_NOTIFY_URL. */
  urls: { payment: string; stock: string; notify: string };
  /** The callback signing secret the shop must be given (ORDEAL_PAYMENT_SECRET). */
  secret: string;
  correlation: Correlation;
  payment: PaymentProvider;
  stock: StockSupplier;
  notify: NotifyGateway;
  dispatcher: CallbackDispatcher;
  /** Callback deliveries scheduled or in flight. */
  pendingCallbacks(): number;
  /** Resolves when no callback delivery is pending. */
  callbacksIdle(): Promise<void>;
  /** Cancels dispatcher timers and in-flight callbacks, stops the stock sweep, closes every server. */
  close(): Promise<void>;
}

/** Builds the mocks and serves each on its own loopback port. */
export async function startMocks(options: MockSetOptions): Promise<MockSet> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new OrdealError('ORDEAL_ERR_UNSAFE_TARGET', `mocks may only bind to loopback (127.0.0.1, ::1, localhost), not "${host}"`);
  }
  const correlation = options.correlation ?? new Correlation();
  const context = { journal: options.journal, plan: options.plan, correlation };
  const dispatcher = new CallbackDispatcher({
    journal: options.journal,
    plan: options.plan,
    secret: options.secret,
    retryDelays: options.callbackRetryDelays ?? DEFAULT_CALLBACK_RETRY_DELAYS,
    timeoutMs: options.callbackTimeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS,
  });
  const payment = new PaymentProvider({ ...context, callbacks: (target, notice) => void dispatcher.dispatch(target, notice) });
  const stock = new StockSupplier({ ...context, scenario: options.scenario });
  const notify = new NotifyGateway(context);

  const servers: ServedRoutes[] = [];
  const closeAll = async (): Promise<void> => {
    await dispatcher.close();
    stock.close();
    await Promise.all(servers.map((server) => server.close()));
  };
  try {
    servers.push(await serveRoutes(payment.routes(), { host, name: 'payment' }));
    servers.push(await serveRoutes(stock.routes(), { host, name: 'stock' }));
    servers.push(await serveRoutes(notify.routes(), { host, name: 'notify' }));
  } catch (error) {
    await closeAll();
    throw error;
  }
  const [paymentServer, stockServer, notifyServer] = servers as [ServedRoutes, ServedRoutes, ServedRoutes];
  payment.baseUrl = paymentServer.url;

  let closing: Promise<void> | undefined;
  return {
    urls: { payment: paymentServer.url, stock: stockServer.url, notify: notifyServer.url },
    secret: options.secret,
    correlation,
    payment,
    stock,
    notify,
    dispatcher,
    pendingCallbacks: () => dispatcher.pending(),
    callbacksIdle: () => dispatcher.idle(),
    close: () => (closing ??= closeAll()),
  };
}
