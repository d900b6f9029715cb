/**
 * A driver's side of a mocks service (`harness/mocks-service/`): what the buyers and the settle
 * phase need of the mocks — where to pay and how, the order → buyer and contact → buyer links the
 * mocks decide faults and match messages by, the callbacks still pending — over the service's
 * control API instead of in the process. Links are sent in batches (every `LINK_FLUSH_MS`); the
 * service's clock is read at the start and the end and journaled (`clock.sync`) for `ordeal merge`.
 */
import { OrdealError } from '../../core/errors.js';
import type { JournalSink } from '../../core/journal.js';
import type { Segment } from '../../core/segments.js';
import { isReachableUrl, reachRule } from '../../core/network-scope.js';
import { Correlation, loadPersonality, type PaymentChannel } from '../../mocks/index.js';
import { withBuyerToken } from '../../mocks/run-credentials.js';
import type { PaymentCashier } from '../../mocks/payment/personality.js';
import { CONTROL_PATHS, type ClockAnswer, type InFlightAnswer, type InFlightRequest, type LinksRequest, type PendingAnswer, type ReadyAnswer, type ServiceRun } from '../mocks-service/protocol.js';
import type { SharedInFlight } from './send-load.js';
import { Agent, request } from 'undici';

/** Where a mocks service's control API is, and its key (`mocks-service.json`). */
export interface MocksServiceAddress {
  url: string;
  key: string;
  /**
   * How long the first contact may keep trying a service that does not answer yet (ms): pods start
   * in no particular order, and a driver may be up before the service or its DNS name. @default 0: one try
   */
  waitMs?: number;
}

/** The service did not answer at all (refused, no such name, timed out): worth another try while it may be starting. */
class ServiceUnreachable extends OrdealError {}

/** Links are sent at most this often (ms): a burst of buyers becomes one request. */
const LINK_FLUSH_MS = 20;
/** A control request that takes longer than this failed (ms); `/ready` waits for the other segments, up to `READY_TIMEOUT_MS`. */
const CONTROL_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 10 * 60_000;

/** A correlation that also tells the service each link it learns. */
class ForwardingCorrelation extends Correlation {
  constructor(private readonly forward: (kind: 'orders' | 'contacts', pair: [string, string]) => void) {
    super();
  }

  override link(orderId: string, buyerId: string): void {
    if (this.buyerOf(orderId) === undefined) this.forward('orders', [orderId, buyerId]);
    super.link(orderId, buyerId);
  }

  override linkContact(contact: string, buyerId: string, orderId?: string): void {
    if (this.buyerOfContact(contact) === undefined) this.forward('contacts', [contact, buyerId]);
    super.linkContact(contact, buyerId, orderId);
  }
}

export class RemoteMocks {
  readonly correlation: Correlation;
  private pendingLinks: Required<LinksRequest> = { orders: [], contacts: [] };
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private inFlight = { local: 0, others: 0, sending: false, timer: undefined as NodeJS.Timeout | undefined };

  private constructor(
    private readonly address: MocksServiceAddress,
    private readonly journal: JournalSink,
    private readonly segment: Segment,
    readonly run: ServiceRun,
    readonly paymentChannels: ReadonlyArray<{ protocol: string; url: string; cashier: PaymentCashier }>,
  ) {
    this.correlation = new ForwardingCorrelation((kind, pair) => this.queueLink(kind, pair));
  }

  /** Reads the service's run, checks it is this scenario's, journals the clock. */
  static async connect(address: MocksServiceAddress, journal: JournalSink, scenario: string, segment: Segment): Promise<RemoteMocks> {
    if (!isReachableUrl(address.url)) throw new OrdealError('ORDEAL_ERR_UNSAFE_TARGET', `the mocks service must be on ${reachRule()}, not ${address.url}`);
    const run = await firstContact(address);
    if (run.scenario !== scenario) throw new OrdealError('ORDEAL_ERR_USAGE', `the mocks service at ${address.url} serves scenario "${run.scenario}", not "${scenario}"`);
    if (run.segments !== segment.count) {
      throw new OrdealError('ORDEAL_ERR_USAGE', `the mocks service at ${address.url} waits for ${run.segments} segment${run.segments === 1 ? '' : 's'}; this driver runs segment ${segment.index}/${segment.count}`);
    }
    const channels = await Promise.all(
      run.channels.map(async (served) => {
        const personality = await loadPersonality({ protocol: served.protocol, credentials: served.credentials } as PaymentChannel);
        return { protocol: served.protocol, url: served.url, cashier: withBuyerToken(personality.cashier, run.buyerToken) };
      }),
    );
    const remote = new RemoteMocks(address, journal, segment, run, channels);
    await remote.syncClock();
    return remote;
  }

  /** The channel a buyer pays an order at: the service serves one. */
  channelOfOrder(_orderId: string): { url: string; cashier: PaymentCashier } {
    return this.paymentChannels[0]!;
  }

  /**
   * The run-wide in-flight cap's view from this segment: its own count is sent to the service and
   * the others' read back every few tens of ms (`inFlightEveryMs`) until `close()`.
   */
  sharedInFlight(): SharedInFlight {
    const state = this.inFlight;
    state.timer ??= setInterval(() => {
      if (state.sending || this.closed) return;
      state.sending = true;
      control<InFlightAnswer>(this.address, 'POST', CONTROL_PATHS.inFlight, { segment: this.segment, inFlight: state.local } satisfies InFlightRequest)
        .then((answer) => (state.others = Math.max(0, Number(answer.others) || 0)))
        // A missed beat keeps the last count; the run does not stop for it.
        .catch(() => undefined)
        .finally(() => (state.sending = false));
    }, inFlightEveryMs(this.segment.count)).unref();
    return {
      report: (count) => (state.local = count),
      others: () => state.others,
    };
  }

  /** Waits at the service's start barrier; resolves with how long from now (ms) the load starts. */
  async ready(): Promise<number> {
    const answer = await control<ReadyAnswer>(this.address, 'POST', CONTROL_PATHS.ready, { segment: this.segment }, READY_TIMEOUT_MS);
    // The answer left the service a one-way trip ago (under a millisecond on loopback or in a cluster).
    return answer.startsInMs;
  }

  async pendingCallbacks(): Promise<number> {
    await this.flush();
    return (await control<PendingAnswer>(this.address, 'GET', CONTROL_PATHS.pending)).callbacks;
  }

  /** Journals the service's clock against this journal's (`clock.sync`). */
  async syncClock(): Promise<void> {
    const sentAt = this.journal.now();
    const answer = await control<ClockAnswer>(this.address, 'GET', CONTROL_PATHS.clock);
    const rttMs = this.journal.now() - sentAt;
    // The service read its clock about half a round trip ago: `serviceT` is its clock at this event's `t`, within rtt / 2.
    this.journal.append('clock.sync', { serviceT: answer.now + rttMs / 2, rttMs });
  }

  /**
   * Sends the last links, reads the clock once more and tells the service this segment is done.
   * A service already gone (stopped, interrupted) is journaled, not thrown: the segment's journal
   * is what matters now, and it is ended either way.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.inFlight.timer);
    try {
      await this.flush();
      await this.syncClock();
      await control(this.address, 'POST', CONTROL_PATHS.done, { segment: this.segment });
    } catch (error) {
      this.journal.append('harness.error', { where: 'mocks service', message: (error as Error).message });
    }
  }

  private queueLink(kind: 'orders' | 'contacts', pair: [string, string]): void {
    this.pendingLinks[kind].push(pair);
    this.flushTimer ??= setTimeout(() => void this.flush().catch(() => undefined), LINK_FLUSH_MS);
  }

  /** Sends the links queued so far (one request at a time, in order). */
  private flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.pendingLinks;
    if (batch.orders.length === 0 && batch.contacts.length === 0) return this.flushing;
    this.pendingLinks = { orders: [], contacts: [] };
    this.flushing = this.flushing.then(() => control(this.address, 'POST', CONTROL_PATHS.links, batch)).then(() => undefined);
    return this.flushing;
  }
}

/** How often a segment tells the service its in-flight count: every 25 ms, slower with many segments (at most ~200 requests/s in all). */
export function inFlightEveryMs(segments: number): number {
  return Math.max(25, 5 * segments);
}

/** `GET /run`, tried again with a growing pause while the service does not answer, for at most `address.waitMs`. */
async function firstContact(address: MocksServiceAddress): Promise<ServiceRun> {
  const deadline = performance.now() + (address.waitMs ?? 0);
  let pauseMs = 250;
  for (;;) {
    try {
      return await control<ServiceRun>(address, 'GET', CONTROL_PATHS.run);
    } catch (error) {
      if (!(error instanceof ServiceUnreachable) || performance.now() + pauseMs > deadline) throw error;
      await new Promise((wake) => setTimeout(wake, pauseMs));
      pauseMs = Math.min(2000, pauseMs * 2);
    }
  }
}

/**
 * The drivers' connections to their service: undici's request on a keep-alive agent of its own,
 * not fetch — the links and in-flight counts go out every few tens of ms, and fetch's per-request
 * streams cost a driver several per cent of its CPU. Idle sockets do not hold the process open.
 */
const controlAgent = new Agent({ connections: 4, keepAliveTimeout: 30_000 });

/** One control request with the service's key; an answer that is not 2xx JSON is an error naming the service. */
async function control<T>(address: MocksServiceAddress, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = CONTROL_TIMEOUT_MS): Promise<T> {
  let status: number;
  let text: string;
  try {
    const response = await request(`${address.url.replace(/\/+$/, '')}${path}`, {
      method,
      dispatcher: controlAgent,
      headers: { authorization: `Bearer ${address.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    const code = (error as Error & { code?: string; cause?: { code?: string } }).code ?? (error as Error & { cause?: { code?: string } }).cause?.code;
    throw new ServiceUnreachable('ORDEAL_ERR_MOCKS_SERVICE', `the mocks service at ${address.url} did not answer ${method} ${path}: ${(error as Error).message}${code ? ` (${code})` : ''}`);
  }
  if (status < 200 || status > 299) throw new OrdealError('ORDEAL_ERR_MOCKS_SERVICE', `the mocks service at ${address.url} answered ${method} ${path} with ${status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new OrdealError('ORDEAL_ERR_MOCKS_SERVICE', `the mocks service at ${address.url} answered ${method} ${path} with something that is not JSON`);
  }
}
