/**
 * The mocks as the harness uses them: `startMocks()` builds the payment provider (its core, spoken
 * through the native personality), stock supplier, risk screen and notify gateway over one
 * journal, fault plan and correlation, applies the transport faults to every service's routes,
 * serves each on its own loopback port (native fastify routes), and wires the payment core to the
 * callback dispatcher.
 *
 * `createMocks()` is the transport-free part, shared with the in-process (msw) transport in
 * `./in-process.js` (`startInProcessMocks`, kept out of this module so msw loads only when used).
 */
import { OrdealError } from '../core/errors.js';
import type { JournalSink } from '../core/journal.js';
import type { MockService, Scenario } from '../core/scenario-schema.js';
import type { FaultPlan } from './fault-plan.js';
import { serveRoutes, type ServedRoutes } from './http-transport.js';
import { isBindableHost } from '../core/network-scope.js';
import { openRecordSpace, type RecordSpace } from '../memory/index.js';
import { Correlation, type MockContext, type MockReply, type MockRoute } from './mock-types.js';
import { NotifyGateway } from './notify.js';
import { MessageClassifier, type MessageKindPhrases } from './message-kinds.js';
import { MessageMatcher } from './message-match.js';
import { newSmsCredentials, SMS_SEND_PATH, SmsGateway, type SmsCredentials, type SmsEndpoint, type SmsRateLimit } from './sms-gateway.js';
import type { EmailCapture, EmailCaptureOptions, EmailEndpoint } from './email/index.js';
import { PaymentCore } from './payment/core.js';
import { CallbackDispatcher, DEFAULT_CALLBACK_RETRY_DELAYS, DEFAULT_CALLBACK_TIMEOUT_MS } from './payment/dispatcher.js';
import type { PaymentCashier, PaymentPersonality, PaymentSite } from './payment/personality.js';
import { loadPersonality, type PaymentChannel } from './payment/personalities/index.js';
import { newChannel } from './payment/credentials.js';
import { RiskScreen } from './risk.js';
import { StockSupplier } from './stock.js';
import { withTransportFaults } from './transport-faults.js';
import { guardRoutes, newBuyerToken, newServiceKeys, withBuyerToken, type ServiceKeys } from './run-credentials.js';

export { CallbackDispatcher, DEFAULT_CALLBACK_RETRY_DELAYS, DEFAULT_CALLBACK_TIMEOUT_MS } from './payment/dispatcher.js';
export type { CallbackDispatcherOptions, CallbackNotice, CallbackStatus, CallbackTarget, PaymentNotice } from './payment/dispatcher.js';
export { serveRoutes } from './http-transport.js';
export { isBindableHost, isLoopbackHost, isReachableUrl, LOOPBACK_HOSTS, networkScope, type NetworkScope } from '../core/network-scope.js';
export type { ServedRoutes, ServeOptions } from './http-transport.js';
export { DEFAULT_TRADE_TTL_MS, PaymentCore } from './payment/core.js';
export type { CallbackSink, PaymentCoreOptions } from './payment/core.js';
export type { TradeRecord, TradeRefund } from './payment/ledger.js';
export type { CashierAnswer, CashierRequest, PaymentCashier, PaymentPersonality, PaymentProtocol, PaymentSite } from './payment/personality.js';
export { NativePersonality } from './payment/personalities/native.js';
export { loadPersonality, FAULT_FORMS, inexpressibleIn, type PaymentChannel } from './payment/personalities/index.js';
export { channelFromKept, credentialFiles, generateCredentials, newChannel, type KeyFile, type ProtocolCredentials } from './payment/credentials.js';
export type { FaultForm, PaymentFaultId } from './payment/personality.js';
export { RESERVATION_SWEEP_MS, StockSupplier } from './stock.js';
export type { Card, ReservationRecord, ReservationState, StockSupplierOptions } from './stock.js';
export { DEFAULT_INBOX_LIMIT, NOTIFY_CHANNELS, NotifyGateway } from './notify.js';
export type { InboxFilter, InboxMessage, NotifyChannel, NotifyGatewayOptions } from './notify.js';
export { DEVICE_SWITCHING_PEERS, NEW_ACCOUNT_DAYS, RiskScreen, riskSignalsOf } from './risk.js';
export type { AssessmentRecord, AssessmentStatus, RiskBuyer, RiskDecision, RiskPayload, RiskRecipient, RiskScreenOptions } from './risk.js';
export { Correlation, contactKey, errorReply } from './mock-types.js';
export type { ContactLink, HttpMethod, MockContext, MockReply, MockRequest, MockRoute, SocketFault } from './mock-types.js';
export { DEFAULT_MESSAGE_PHRASES, MessageClassifier, UNCLASSIFIED_KIND, type MessageKindPhrases } from './message-kinds.js';
export { MessageMatcher, tokensOf, type MatchInput, type MatchMethod, type MessageMatch } from './message-match.js';
export { newSmsCredentials, SMS_CODES, SMS_SEND_PATH, SMS_TIMESTAMP_TOLERANCE_S, SmsGateway, smsKeyFiles, smsSignature } from './sms-gateway.js';
export type { SmsCredentials, SmsEndpoint, SmsGatewayOptions, SmsRateLimit } from './sms-gateway.js';
export type { CapturedEmail, EmailCapture, EmailCaptureOptions, EmailEndpoint, TlsMode } from './email/index.js';
export { notifyEnv, SMTP_PLACEHOLDER_LOGIN, type NotifyEnv } from './notify-env.js';
export { FaultPlan } from './fault-plan.js';
export {
  BUYER_TOKEN_HEADER,
  guardRoutes,
  newBuyerToken,
  newServiceKeys,
  SERVICE_KEY_ENV,
  serviceKeyEnv,
  serviceKeysFromKept,
  type GuardOptions,
  type ServiceKeys,
} from './run-credentials.js';
export { openRecordSpace, type RecordCodec, type RecordSpace, type RecordStore } from '../memory/index.js';
export { signBody, verifySignature, SIGNATURE_HEADER, SIGNATURE_TOLERANCE_S } from './signature.js';
// The intercept proxy (`./intercept/index.ts`) and the SMTP capture server (`./email/index.ts`) are
// imported on their own, by the runs that use them.

/**
 * How much faster than real time a personality's notify retry schedule runs: 1/480 turns epay's
 * gaps of 2, 16, 36 and 60 minutes into 0.25, 2, 4.5 and 7.5 s — the span of the native schedule.
 */
export const CALLBACK_TIME_SCALE = 1 / 480;

/** The dispatcher's retry delays for `personality`: its real schedule compressed, or the native one. */
export function callbackRetryDelaysOf(personality: Pick<PaymentPersonality, 'callbackRetryGapsMs'>): number[] {
  const gaps = personality.callbackRetryGapsMs;
  return gaps ? gaps.map((gap) => Math.max(1, Math.round(gap * CALLBACK_TIME_SCALE))) : [...DEFAULT_CALLBACK_RETRY_DELAYS];
}

/** How often `createMocks()` moves settled, idle ledger records out of the heap, ms: each ledger once per period. */
export const ARCHIVE_SWEEP_MS = 1000;

export interface MockSetOptions {
  /** Catalogue for the stock supplier; faults come through `plan`. */
  scenario: Scenario;
  journal: JournalSink;
  plan: FaultPlan;
  /** Links order ids to buyers; created if absent. */
  correlation?: Correlation;
  /** The native protocol's callback secret (ORDEAL_PAYMENT_SECRET), when `channel` is not given. @default a random one */
  secret?: string;
  /** The protocol the payment provider speaks, with the run's credentials for it. @default native, signed with `secret` */
  channel?: PaymentChannel;
  /**
   * Further payment channels the shop offers beside `channel` (one per protocol, none of them the
   * primary's): each served on its own port by its protocol's personality, over the same provider
   * core — one ledger, one fault plan — and each trade's notices rendered by the channel it was
   * created at. @default none
   */
  channels?: PaymentChannel[];
  /** Interface the mocks bind to: loopback, or in a cluster run (core/network-scope.ts) every interface. @default "127.0.0.1" */
  host?: string;
  /** The host name the mocks' URLs carry when others reach them by another name than the bound address (a Kubernetes Service). @default the bound address */
  advertisedHost?: string;
  /**
   * Delays between callback attempts, ms. @default the protocol's own schedule, compressed by
   * `CALLBACK_TIME_SCALE` (native: [250, 500, 1000, 2000, 4000, 8000], 7 attempts)
   */
  callbackRetryDelays?: number[];
  /** Per-attempt callback timeout, ms. @default 5000 */
  callbackTimeoutMs?: number;
  /**
   * How often settled ledger records not touched since the previous sweep leave the heap (for an
   * on-disk archive, deleted when the mocks stop), ms; 0 keeps every record in the heap. @default 1000
   */
  archiveSweepMs?: number;
  /** The SMS gateway beside the native notify API (`POST <notify URL>/sms/send`). @default a new account and key, 20 messages per number per minute */
  sms?: { credentials?: SmsCredentials; rateLimit?: Partial<SmsRateLimit> };
  /** The shop's own wording per message kind, for e-mail and SMS (tried before the defaults of mocks/message-kinds.ts). */
  messageKinds?: MessageKindPhrases;
  /** The keys the stock supplier, risk screen and notify API require on state-changing requests (the shop's ORDEAL_STOCK_KEY, …). @default fresh ones */
  serviceKeys?: ServiceKeys;
  /** The token Ordeal's buyers pay and verify with at the provider (`Ordeal-Buyer-Token`). @default a fresh one */
  buyerToken?: string;
  /** Serve the SMTP capture server too (startMocks only). @default off */
  email?: EmailMockOptions;
  /** Fixed ports to serve on (startMocks only), for a shop configured once; each one absent is picked by the OS. @default none */
  ports?: MockPorts;
  /** Where `ports` were set, e.g. `target.yaml: mocks.ports`: a port that is taken is named as `<portsField>.stock`. */
  portsField?: string;
}

/** Fixed ports of the served mocks (a target profile's `mocks.ports`). */
export interface MockPorts {
  /** The primary payment channel. */
  payment?: number;
  stock?: number;
  /** The notify API and the SMS gateway (`<notify URL>/sms/send`). */
  notify?: number;
  risk?: number;
  /** The payment channels beside the primary, by protocol. */
  channels?: Partial<Record<PaymentChannel['protocol'], number>>;
  /** The mail server's plain port (STARTTLS) and its implicit-TLS port. */
  smtp?: number;
  smtps?: number;
}

/** The SMTP capture server's settings that are the run's to choose (`EmailCaptureOptions`). */
export type EmailMockOptions = Pick<EmailCaptureOptions, 'authority' | 'caDir' | 'keepCa' | 'requireTls' | 'maxMessageBytes' | 'recentLimit' | 'socketTimeoutMs' | 'maxClients'>;


/** Base URLs (no trailing slash): ORDEAL_PAYMENT_URL, ORDEAL_STOCK_URL, ORDEAL_NOTIFY_URL, ORDEAL_RISK_URL. */
export type MockUrls = Record<MockService, string>;

/** A payment channel beside the primary, as `createMocks` builds it: served on a port of its own. */
export interface ExtraPaymentChannel {
  channel: PaymentChannel;
  /** Where it is served: set `baseUrl` once the transport listens. */
  site: PaymentSite;
  cashier: PaymentCashier;
  dispatcher: CallbackDispatcher;
  routes: MockRoute[];
}

/** A payment channel as a served mock set offers it to the buyers. */
export interface ServedPaymentChannel {
  protocol: PaymentChannel['protocol'];
  url: string;
  cashier: PaymentCashier;
}

/** The mocks without a transport: their state, and the routes a transport serves. */
export interface MockParts {
  /** The payment provider's protocol and credentials. */
  channel: PaymentChannel;
  correlation: Correlation;
  payment: PaymentCore;
  /** Where the payment personality is served: set its `baseUrl` once the transport listens. */
  paymentSite: PaymentSite;
  /** The cashier the buyers pay at, in the payment personality's protocol. */
  cashier: PaymentCashier;
  stock: StockSupplier;
  notify: NotifyGateway;
  /** The SMS gateway (served with the notify routes) and its account. */
  sms: SmsGateway;
  smsCredentials: SmsCredentials;
  /** Matches a message without an order id to an order (e-mail, SMS). */
  matcher: MessageMatcher;
  /** Reads a message's kind from its words (e-mail, SMS). */
  classifier: MessageClassifier;
  risk: RiskScreen;
  dispatcher: CallbackDispatcher;
  /** The channels beside the primary (`MockSetOptions.channels`). */
  extraChannels: ExtraPaymentChannel[];
  /** The keys of the stock, risk and notify APIs (the shop's ORDEAL_STOCK_KEY, ORDEAL_RISK_KEY, ORDEAL_NOTIFY_KEY). */
  serviceKeys: ServiceKeys;
  /** What Ordeal's buyers send as `Ordeal-Buyer-Token` when they pay or complete a verification. */
  buyerToken: string;
  /** Each service's routes, with the scenario's transport faults applied. */
  routes: Record<MockService, MockRoute[]>;
  /** Where the mocks keep their ledgers (for memory checks: `records.sizes(kind)`). */
  records: RecordSpace;
  /** Moves the settled records idle since the previous sweep out of the heap (also done every `archiveSweepMs`). Returns how many moved. */
  sweepArchive(): number;
  /**
   * Cancels the provider's pending forgeries, dispatcher timers and in-flight callbacks, the stock
   * sweep, the review timers and the archive sweep; closes (and deletes) the archive, so records
   * archived by then are gone from the ledgers.
   */
  stop(): Promise<void>;
}

export interface MockSet {
  /** Base URLs (no trailing slash): ORDEAL_PAYMENT_URL, ORDEAL_STOCK_URL, ORDEAL_NOTIFY_URL, ORDEAL_RISK_URL. */
  urls: MockUrls;
  /** The payment provider's protocol and the credentials the shop must be given (`credentialFiles`). */
  channel: PaymentChannel;
  /** The native protocol's callback secret (ORDEAL_PAYMENT_SECRET); '' under another protocol. */
  secret: string;
  /** The keys of the stock, risk and notify APIs, for the shop's environment (`serviceKeyEnv`). */
  serviceKeys: ServiceKeys;
  /** What Ordeal's buyers send as `Ordeal-Buyer-Token` at the cashier (never given to the shop). */
  buyerToken: string;
  correlation: Correlation;
  payment: PaymentCore;
  /** The cashier the buyers pay at, in the payment personality's protocol. */
  cashier: PaymentCashier;
  stock: StockSupplier;
  notify: NotifyGateway;
  /** The SMS gateway's URL and account (for the shop's SMS settings; `smsKeyFiles` for the keys folder). */
  sms: SmsEndpoint;
  /** The SMTP capture server, when `email` was asked for. */
  email?: EmailEndpoint;
  risk: RiskScreen;
  dispatcher: CallbackDispatcher;
  /** Every payment channel, the primary first, with where it is served and its cashier. */
  paymentChannels: ServedPaymentChannel[];
  /** The channel a shop order's trade was created at (the primary when it has none yet): where its buyer pays. */
  channelOfOrder(orderId: string): ServedPaymentChannel;
  /** Callback deliveries scheduled or in flight. */
  pendingCallbacks(): number;
  /** Resolves when no callback delivery is pending. */
  callbacksIdle(): Promise<void>;
  /** Cancels dispatcher timers and in-flight callbacks, stops the stock sweep, closes every server. */
  close(): Promise<void>;
}

/** Services in the order they are built and served. */
const SERVICES: readonly MockService[] = ['payment', 'stock', 'notify', 'risk'];

/** A native merchant request without the bearer secret, refused as the native personality refuses it. */
function refuseNativeMerchant(reason: string): MockReply {
  return { status: 401, body: { code: 'INVALID_SIGNATURE', message: `${reason}: merchant requests carry Authorization: Bearer <ORDEAL_PAYMENT_SECRET>` } };
}

/** Builds the mocks over one journal, plan and correlation; serves nothing. */
export async function createMocks(options: Omit<MockSetOptions, 'host'>): Promise<MockParts> {
  const sweepMs = options.archiveSweepMs ?? ARCHIVE_SWEEP_MS;
  const records = openRecordSpace(sweepMs > 0 ? { spill: 'lookups', sweepEveryMs: sweepMs } : {});
  const correlation = options.correlation ?? new Correlation(records);
  const context: MockContext = { journal: options.journal, plan: options.plan, correlation };
  const channel: PaymentChannel = options.channel ?? (options.secret === undefined ? newChannel('native') : { protocol: 'native', credentials: { secret: options.secret } });
  const extras = options.channels ?? [];
  const protocols = [channel, ...extras].map((each) => each.protocol);
  if (new Set(protocols).size !== protocols.length) throw new TypeError(`channels: one channel per protocol (got ${protocols.join(', ')})`);
  const dispatcherFor = (personality: PaymentPersonality): CallbackDispatcher =>
    new CallbackDispatcher({
      journal: options.journal,
      plan: options.plan,
      personality,
      retryDelays: options.callbackRetryDelays ?? callbackRetryDelaysOf(personality),
      timeoutMs: options.callbackTimeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS,
    });
  const personality = await loadPersonality(channel);
  const dispatcher = dispatcherFor(personality);
  const extraPersonalities = await Promise.all(extras.map(loadPersonality));
  const extraDispatchers = new Map(extras.map((extra, index) => [extra.protocol as string, dispatcherFor(extraPersonalities[index]!)]));
  // A trade's notices go out in the words of the channel it was created at.
  const payment = new PaymentCore({
    ...context,
    records,
    callbacks: (target, notice) => void ((target.channel === undefined ? undefined : extraDispatchers.get(target.channel)) ?? dispatcher).dispatch(target, notice),
  });
  const paymentSite: PaymentSite = { baseUrl: '' };
  const stock = new StockSupplier({ ...context, records, scenario: options.scenario });
  const notify = new NotifyGateway({ ...context, records });
  // A trade number in a message leads to its order (content matching).
  const matcher = new MessageMatcher(correlation, (token) => payment.trade(token)?.outTradeNo);
  const classifier = new MessageClassifier(options.messageKinds);
  const smsCredentials = options.sms?.credentials ?? newSmsCredentials();
  const sms = new SmsGateway({ ...context, notify, matcher, classifier, credentials: smsCredentials, ...(options.sms?.rateLimit ? { rateLimit: options.sms.rateLimit } : {}) });
  const risk = new RiskScreen({ ...context, records });
  const own: Record<MockService, MockRoute[]> = {
    payment: personality.routes(payment, paymentSite),
    stock: stock.routes(),
    notify: [...notify.routes(), ...sms.routes()],
    risk: risk.routes(),
  };
  const serviceKeys = options.serviceKeys ?? newServiceKeys();
  const buyerToken = options.buyerToken ?? newBuyerToken();
  // Outermost: a request without the run's credentials is refused before a transport fault or a ledger sees it.
  // The native provider's state-changing routes are checked here too (its handlers check every route again,
  // queries included); the other protocols' signatures are verified by their personalities.
  const guard = (mock: string, served: MockRoute[], key?: string): MockRoute[] =>
    guardRoutes(served, {
      mock,
      journal: options.journal,
      buyerToken,
      ...(key === undefined ? {} : { key }),
      ...(mock.startsWith('payment') ? { refuse: refuseNativeMerchant } : {}),
      ownAuth: ['sms-send'],
    });
  const nativeKey = (served: PaymentChannel): string | undefined => (served.protocol === 'native' ? served.credentials.secret : undefined);
  const keyOf: Record<MockService, string | undefined> = { payment: nativeKey(channel), stock: serviceKeys.stock, notify: serviceKeys.notify, risk: serviceKeys.risk };
  const routes = {} as Record<MockService, MockRoute[]>;
  for (const service of SERVICES) routes[service] = guard(service, withTransportFaults(service, own[service], context), keyOf[service]);
  const extraChannels = extras.map((extra, index): ExtraPaymentChannel => {
    const served = extraPersonalities[index]!;
    const site: PaymentSite = { baseUrl: '', channel: extra.protocol };
    const extraRoutes = guard(`payment (${extra.protocol})`, withTransportFaults('payment', served.routes(payment, site), context), nativeKey(extra));
    return { channel: extra, site, cashier: served.cashier, dispatcher: extraDispatchers.get(extra.protocol)!, routes: extraRoutes };
  });
  return {
    channel,
    correlation,
    payment,
    paymentSite,
    cashier: personality.cashier,
    stock,
    notify,
    sms,
    smsCredentials,
    matcher,
    classifier,
    risk,
    dispatcher,
    extraChannels,
    serviceKeys,
    buyerToken,
    routes,
    records,
    sweepArchive: () => records.sweep(),
    async stop(): Promise<void> {
      payment.close();
      await Promise.all([dispatcher, ...extraDispatchers.values()].map((each) => each.close()));
      stock.close();
      risk.close();
      records.close();
    },
  };
}

/** Builds the mocks and serves each on its own loopback port. */
export async function startMocks(options: MockSetOptions): Promise<MockSet> {
  const host = options.host ?? '127.0.0.1';
  if (!isBindableHost(host)) {
    throw new OrdealError('ORDEAL_ERR_UNSAFE_TARGET', `mocks may not bind to "${host}": only loopback, or every interface in a cluster run`);
  }
  const parts = await createMocks(options);
  const servers = new Map<MockService, ServedRoutes>();
  const extraServers: ServedRoutes[] = [];
  let email: EmailCapture | undefined;
  const closeAll = async (): Promise<void> => {
    await parts.stop();
    await Promise.all([...servers.values(), ...extraServers, ...(email ? [email] : [])].map((server) => server.close()));
  };
  const ports = options.ports ?? {};
  const fieldOf = (name: string): string | undefined => (options.portsField === undefined ? undefined : `${options.portsField}.${name}`);
  try {
    for (const service of SERVICES) servers.set(service, await serveRoutes(parts.routes[service], { host, advertisedHost: options.advertisedHost, name: service, port: ports[service] ?? 0, portField: fieldOf(service) }));
    for (const extra of parts.extraChannels) {
      const protocol = extra.channel.protocol;
      const served = await serveRoutes(extra.routes, { host, advertisedHost: options.advertisedHost, name: `payment (${protocol})`, port: ports.channels?.[protocol] ?? 0, portField: fieldOf(`channels.${protocol}`) });
      extraServers.push(served);
      extra.site.baseUrl = served.url;
    }
    if (options.email) {
      const { startEmailCapture } = await import('./email/index.js');
      email = await startEmailCapture({
        ...options.email,
        journal: options.journal,
        plan: options.plan,
        correlation: parts.correlation,
        notify: parts.notify,
        host,
        ports: { starttls: ports.smtp ?? 0, tls: ports.smtps ?? 0, fields: { starttls: fieldOf('smtp'), tls: fieldOf('smtps') } },
        identify: (token) => parts.payment.trade(token)?.outTradeNo,
        ...(options.messageKinds ? { kinds: options.messageKinds } : {}),
      });
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  const urls = {} as MockUrls;
  for (const service of SERVICES) urls[service] = (servers.get(service) as ServedRoutes).url;
  parts.paymentSite.baseUrl = urls.payment;

  return assembleMockSet(parts, urls, closeAll, email);
}

/** The MockSet face of served mock parts, whatever transport serves them; close() runs once. */
export function assembleMockSet(parts: MockParts, urls: MockUrls, closeAll: () => Promise<void>, email?: EmailCapture): MockSet {
  let closing: Promise<void> | undefined;
  const { channel } = parts;
  // The buyers' requests carry the run's buyer token: only they may pay and verify.
  const cashier = withBuyerToken(parts.cashier, parts.buyerToken);
  const primary: ServedPaymentChannel = { protocol: channel.protocol, url: urls.payment, cashier };
  const paymentChannels = [
    primary,
    ...parts.extraChannels.map((extra) => ({ protocol: extra.channel.protocol, url: extra.site.baseUrl, cashier: withBuyerToken(extra.cashier, parts.buyerToken) })),
  ];
  const dispatchers = [parts.dispatcher, ...parts.extraChannels.map((extra) => extra.dispatcher)];
  return {
    urls,
    channel,
    secret: channel.protocol === 'native' ? channel.credentials.secret : '',
    serviceKeys: parts.serviceKeys,
    buyerToken: parts.buyerToken,
    correlation: parts.correlation,
    payment: parts.payment,
    cashier,
    stock: parts.stock,
    notify: parts.notify,
    sms: { url: `${urls.notify}${SMS_SEND_PATH}`, credentials: parts.smsCredentials },
    ...(email === undefined ? {} : { email: endpointOf(email) }),
    risk: parts.risk,
    dispatcher: parts.dispatcher,
    paymentChannels,
    channelOfOrder: (orderId) => {
      const protocol = parts.payment.channelOfOrder(orderId);
      return (protocol === undefined ? undefined : paymentChannels.find((each) => each.protocol === protocol)) ?? primary;
    },
    // Forged notices still to be sent count too: the settle phase waits for them.
    pendingCallbacks: () => dispatchers.reduce((sum, each) => sum + each.pending(), 0) + parts.payment.pendingForgeries(),
    callbacksIdle: async () => {
      await Promise.all(dispatchers.map((each) => each.idle()));
    },
    close: () => (closing ??= closeAll()),
  };
}

/** The capture server without its close(): MockSet.close() closes it. */
function endpointOf(email: EmailCapture): EmailEndpoint {
  return { host: email.host, starttlsPort: email.starttlsPort, tlsPort: email.tlsPort, caFile: email.caFile, recent: () => email.recent(), received: () => email.received() };
}
