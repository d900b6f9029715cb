/**
 * The journal: one typed, timestamped, append-only stream of everything that happened in a run,
 * streamed to disk as NDJSON while the run goes. Scoring is a pure function of (journal, scenario).
 *
 * `t` is milliseconds since the run's clock origin (monotonic); `run.started` carries wall time.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { OrdealError } from './errors.js';
import type { BuyerBehaviour, FaultId, IncidentClass, PaymentProtocol, RiskSignal } from './scenario-schema.js';

/** Why a fault was not injected when not for the payment protocol: `attached` — Ordeal does not run the shop. */
export type NotInjectedCause = 'attached';

export const JOURNAL_FILE = 'journal.ndjson';

/** A file journal writes what it gathered this often, or sooner when this much is gathered. */
const FLUSH_AT_CHARS = 64 * 1024;
const FLUSH_EVERY_MS = 20;

/** Statuses of contract v1. */
export const ORDER_STATUSES = [
  'pending_payment',
  'awaiting_verification',
  'under_review',
  'paid',
  'fulfilling',
  'delivered',
  'cancelled',
  'expired',
  'failed',
  'refund_pending',
  'refunded',
] as const;
/** Statuses after which a buyer stops waiting (failed/expired/cancelled can still move on a late payment). */
export const SETTLED_STATUSES: ReadonlySet<string> = new Set(['delivered', 'refunded', 'failed', 'expired', 'cancelled']);

export type TradeStatus = 'WAIT_BUYER_PAY' | 'VERIFYING' | 'TRADE_SUCCESS' | 'PAY_FAILED' | 'TRADE_CLOSED';

/** Event payloads by type. Every mock event that concerns an order carries its `orderId`. */
export interface JournalEventMap {
  /** `protocol`: the payment provider's wire protocol (absent in journals written before there was a choice: native). */
  'run.started': {
    scenario: string;
    seed: number;
    startedAt: string;
    replay: string;
    /** The command that starts the shop. */
    target: string;
    protocol?: PaymentProtocol;
    channels?: PaymentProtocol[];
    /** The target profile's name, when the shop was described by one. */
    targetProfile?: string;
    /** How buyers drove the shop: "contract-v1", "declarative:NAME", a defineTarget name. */
    adapter?: string;
    /** What the shop let Ordeal observe (absent: everything, as contract v1 shops do). */
    observes?: TargetObservation;
    /** `--segment i/n`: this journal holds segment `index` of `count` (absent: the whole run). */
    segment?: { index: number; count: number };
  };
  /** `--intercept`: the proxy refused a host that is not a provider's served in this run (nothing was dialled). */
  'intercept.refused': { host: string; port: number; method: string; reason: 'not-a-provider-host' | 'protocol-not-served' | 'port-not-intercepted' };
  /** `--intercept`: a client broke off the TLS handshake with the run CA's certificate (it pins certificates, or does not trust the CA). */
  'intercept.handshake_failed': { host: string; port: number; message: string };
  /** A scenario fault the payment protocol cannot express — or, `cause: attached`, a shop Ordeal does not run cannot meet: it is never injected in this run. */
  'fault.not_injected': { faultIndex: number; fault: FaultId; protocol: PaymentProtocol; reason: string; cause?: NotInjectedCause };
  /**
   * `deadline`: the scenario's overall deadline cut the run; `interrupted`: the run was stopped
   * (Ctrl-C, SIGTERM, the caller's AbortSignal). What happened before is scored either way.
   */
  'run.finished': { reason: 'completed' | 'target-crashed' | 'aborted' | 'deadline' | 'interrupted' };
  'load.finished': { arrivals: number; dropped: number };
  /**
   * The final read of every order the run created, after the settle phase: how many there were, how
   * many the shop answered, how many of those differed from the harness's last look (each journaled
   * as an `order.observed` with source `final`), how many it did not answer; `cut` when the run's
   * stop or the read's time budget ended it early (the rest counted as not read), `skipped` when it
   * could not run at all (the shop was down, the run was stopping).
   */
  'orders.final_read': { orders: number; read: number; changed: number; unread: number; cut: boolean; skipped?: 'target-down' | 'stopped' };
  'target.started': { pid: number; url: string; command: string };
  'target.ready': { afterMs: number };
  'target.exited': { code: number | null; signal: string | null; expected: boolean };
  /** Ordeal killed the managed target on purpose (target.crash). */
  'target.killed': { pid: number; signal: string };
  'target.restarted': { pid: number; url: string; downMs: number };

  'buyer.arrived': {
    buyerId: string;
    seq: number;
    behaviour: BuyerBehaviour;
    sku: string;
    quantity: number;
    contact: string;
    region: string;
    /** Risk signals this buyer shows. */
    signals: RiskSignal[];
    /** When the open model intended this arrival (latency is measured from here). */
    intendedAt: number;
  };
  'buyer.dropped': { buyerId: string; seq: number; intendedAt: number; inFlight: number };
  'order.create.sent': {
    buyerId: string;
    idempotencyKey: string;
    attempt: number;
    /** Why this submission differs from a plain order (the buyer's mistake, or its correction). */
    intent?: 'order' | 'mistake' | 'correction' | 'second_window';
    sku?: string;
    /** When the buyer meant to send this request (run clock, ms): latency from intended start is measured from here. */
    intendedAt?: number;
  };
  'order.create.answered': {
    buyerId: string;
    idempotencyKey: string;
    latencyMs: number;
    httpStatus?: number;
    orderId?: string;
    status?: string;
    reason?: string;
    amount?: number;
    tradeNo?: string;
    errorCode?: string;
    /** Transport error: the request got no HTTP answer. */
    error?: string;
    intent?: 'order' | 'mistake' | 'correction' | 'second_window';
    /** When the buyer meant to send this request (run clock, ms): latency from intended start is measured from here. */
    intendedAt?: number;
  };
  'order.cancel.answered': {
    buyerId: string;
    orderId: string;
    latencyMs: number;
    httpStatus?: number;
    status?: string;
    errorCode?: string;
    error?: string;
    /** When the buyer meant to send this request (run clock, ms): latency from intended start is measured from here. */
    intendedAt?: number;
  };
  'cashier.paid': {
    buyerId: string;
    orderId: string;
    tradeNo: string;
    latencyMs: number;
    httpStatus?: number;
    result: 'TRADE_SUCCESS' | 'PAY_FAILED' | 'VERIFYING' | 'error';
    code?: string;
    verificationId?: string;
    /** When the buyer meant to pay (its think time over; run clock, ms). */
    intendedAt?: number;
  };
  'cashier.verified': {
    buyerId: string;
    orderId: string;
    verificationId: string;
    latencyMs: number;
    httpStatus?: number;
    result: string;
    /** When the buyer meant to complete the verification (run clock, ms). */
    intendedAt?: number;
  };
  /**
   * A status the harness saw the shop report, journaled when it changes. `final`: the read of every
   * order the run created, once more after the settle phase (harness/drive/final-read.ts), journaled
   * only where it differs from what the harness saw last.
   */
  'order.observed': {
    orderId: string;
    buyerId: string;
    status: string;
    reason?: string;
    cards: number;
    /** The card codes the shop showed the buyer (checked against the supplier's ledger). */
    cardCodes?: string[];
    source: 'create' | 'poll' | 'sweep' | 'final';
  };
  'buyer.finished': {
    buyerId: string;
    orderId?: string;
    finalStatus?: string;
    outcome: 'delivered' | 'failed' | 'timeout' | 'rejected' | 'error' | 'abandoned';
    /** From the intended arrival to the last observation. */
    latencyMs: number;
  };

  'payment.trade.created': {
    orderId: string;
    tradeNo: string;
    amount: number;
    method: string;
    payerId?: string;
    /** The channel (protocol) it was created at, when the shop offers several; absent: the primary. */
    channel?: string;
    repeat: boolean;
  };
  'payment.trade.refused': { orderId: string; code: string; httpStatus: number };
  'payment.trade.paid': { orderId: string; tradeNo: string; amount: number; payerId: string };
  'payment.verification.started': { orderId: string; tradeNo: string; verificationId: string };
  'payment.verification.completed': { orderId: string; tradeNo: string; verificationId: string; result: 'TRADE_SUCCESS' | 'TRADE_CLOSED' };
  'payment.trade.pay_failed': { orderId: string; tradeNo: string; code: string };
  'payment.trade.queried': { orderId?: string; tradeNo?: string; status: TradeStatus | 'NOT_FOUND' };
  'payment.trade.closed': { orderId: string; tradeNo: string; result: 'closed' | 'has_success' };
  'payment.refund': {
    orderId: string;
    tradeNo: string;
    refundNo: string;
    amount: number;
    /** A repeat of a refund number already done: no new money moved. */
    repeat: boolean;
    ok: boolean;
    code?: string;
  };
  'payment.callback.sent': {
    orderId: string;
    tradeNo: string;
    notifyId: string;
    status: 'TRADE_SUCCESS' | 'PAY_FAILED';
    attempt: number;
    /** Copy number when a duplicate fault sends several. */
    copy: number;
    /** Not a genuine notice: a forged signature, a replayed stale one, or a stale PAY_FAILED sent out of order. */
    forgery?: 'forged' | 'replayed' | 'altered' | 'stale';
    acked: boolean;
    latencyMs: number;
    httpStatus?: number;
    error?: string;
  };

  'stock.reserved': { orderId: string; reservationId: string; sku: string; quantity: number; repeat: boolean };
  'stock.refused': { orderId: string; sku: string; quantity: number; code: string; restockAt?: string };
  'stock.released': { orderId: string; reservationId: string; reason: 'released' | 'expired' };
  'stock.fulfilled': { orderId: string; reservationId: string; sku: string; cards: string[]; repeat: boolean };
  'stock.fulfil_failed': { orderId: string; reservationId: string; code: string };

  /** The notify channel refused a message about the order (a fault): one event per refused attempt. */
  'notify.refused': {
    orderId: string;
    to: string;
    /** The message's kind; absent when its content was not seen (an e-mail refused before its data was sent). */
    kind?: string;
    /** The HTTP status answered (the native notify API, the SMS gateway). */
    httpStatus?: number;
    /** The SMTP reply code answered (e-mail); absent when the connection was dropped instead. */
    smtpCode?: number;
    /** The channel: sms, email, inbox. Absent in journals written before there was a choice. */
    channel?: string;
  };
  'risk.assessed': { orderId: string; assessmentId: string; buyerId?: string; decision: 'approve' | 'review' | 'reject'; reasons: string[]; signals: RiskSignal[] };
  'risk.queried': { orderId: string; assessmentId: string; status: 'pending' | 'approved' | 'rejected' };
  'risk.resolved': { orderId: string; assessmentId: string; status: 'approved' | 'rejected' };
  'notify.message': {
    messageId: string;
    orderId: string;
    to: string;
    channel: string;
    kind: string;
    reason?: string;
    text: string;
    messageKey?: string;
    /** Same messageKey seen before: the gateway dropped it. */
    duplicate: boolean;
  };

  /**
   * Every e-mail the SMTP capture server read (matched to an order or not; `notify.message` follows
   * for a matched one it accepted). `messageId` is the Message-ID header (or one Ordeal made up).
   */
  'notify.email.received': {
    messageId: string;
    from: string;
    /** The envelope's recipients (at most 10). */
    to: string[];
    subject: string;
    bytes: number;
    /** How the session was protected: STARTTLS on the plain port, implicit TLS (SMTPS), or none. */
    tls: 'starttls' | 'implicit' | 'none';
    /** The user the mailer logged in as; absent when it did not log in. The password is never kept. */
    user?: string;
    orderId?: string;
    /** How the order was found: an order number in the text, the recipient's contact, another id in the text. */
    matchedBy?: 'order-number' | 'contact' | 'content';
    kind?: string;
    /** accepted (250), refused (`smtpCode`: 451 outage, 552 too large), dropped (connection destroyed before the reply). */
    outcome: 'accepted' | 'refused' | 'dropped';
    smtpCode?: number;
  };
  /** Every recipient of a message the SMS gateway was asked to send, matched to an order or not. */
  'notify.sms.received': {
    mobile: string;
    chars: number;
    orderId?: string;
    matchedBy?: 'order-number' | 'contact' | 'content';
    kind?: string;
    /** The gateway's answer code (0: accepted; see mocks/sms-gateway.ts). */
    code: number;
  };

  'fault.injected': {
    /** A fault id, or `buyer.<behaviour>` when the incident is the buyer's own mistake. */
    fault: IncidentClass;
    /** Index of the fault in the scenario's `faults` list. */
    faultIndex: number;
    orderId?: string;
    buyerId?: string;
    detail: Record<string, string | number | boolean>;
  };
  'harness.error': { where: string; message: string };
  /**
   * A request to a mock without the run's credentials (no key, a wrong key, a signature that does
   * not verify), refused before it reached any ledger: from another process, or a shop that signs
   * wrongly. `path` has no query string; no credential given is recorded.
   */
  'mock.outside_request': { mock: string; method: string; path: string; remoteAddress?: string; reason: string };
  /** A mocks service (`ordeal mocks serve`): a driver segment (`i/n`) is ready to start its load, or has finished it. */
  'segment.ready': { segment: string };
  'segment.done': { segment: string };
  /**
   * A driver of a mocks service read the service's clock: `serviceT` on the service's journal clock
   * at `t` on this journal's (the midpoint of a round trip of `rttMs`). `ordeal merge` moves this
   * journal's times onto the service's by the offset, and reports the drift between the first and the last.
   */
  'clock.sync': { serviceT: number; rttMs: number };
}

/** What a target lets Ordeal observe (the profile's `observes`): what it cannot is `n/a` in reports. */
export interface TargetObservation {
  stockSupplier: boolean;
  riskScreening: boolean;
  notify: Array<'api' | 'email' | 'sms'>;
  buyerCancel: boolean;
  /** The shop takes where the goods go (a game id, a phone) and can catch a mistyped one. */
  recipient: boolean;
}

export type JournalEventType = keyof JournalEventMap;
export type JournalEventOf<K extends JournalEventType> = { seq: number; t: number; type: K } & JournalEventMap[K];
export type JournalEvent = { [K in JournalEventType]: JournalEventOf<K> }[JournalEventType];

/** Anything that can record events: the file journal, or a memory one in tests. */
export interface JournalSink {
  /** Milliseconds since the run's clock origin. */
  now(): number;
  append<K extends JournalEventType>(type: K, payload: JournalEventMap[K]): JournalEventOf<K>;
}

type Listener = (event: JournalEvent) => void;

/** Shared by the file and memory journals: clock, sequence numbers and listeners. */
abstract class BaseJournal implements JournalSink {
  private seq = 0;
  private readonly listeners = new Set<Listener>();
  protected constructor(private readonly origin: number) {}

  now(): number {
    return performance.now() - this.origin;
  }

  append<K extends JournalEventType>(type: K, payload: JournalEventMap[K]): JournalEventOf<K> {
    const event = { seq: this.seq++, t: Math.round(this.now() * 1000) / 1000, type, ...payload } as JournalEventOf<K>;
    this.write(event as JournalEvent);
    for (const listener of this.listeners) listener(event as JournalEvent);
    return event;
  }

  /** Watch events as they are appended; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get count(): number {
    return this.seq;
  }

  protected abstract write(event: JournalEvent): void;
}

/**
 * Streams events to an NDJSON file as they come; lines are gathered and handed to the file every
 * 20 ms (or every 64 KiB), because one stream write per event — and, under load, one per turn of
 * the event loop — cost more than the events themselves. `synced()` and `close()` write at once.
 */
export class FileJournal extends BaseJournal {
  private readonly stream: WriteStream;
  private failure: Error | undefined;
  private pending = '';
  private flushScheduled = false;
  private readonly flushSoon = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(readonly path: string, origin = performance.now()) {
    super(origin);
    // A journal is one run's: a file left from another run is started over, never appended to.
    this.stream = createWriteStream(path, { flags: 'w' });
    this.stream.on('error', (error) => {
      this.failure = error;
    });
  }

  protected write(event: JournalEvent): void {
    if (this.failure) throw this.failure;
    this.pending += `${JSON.stringify(event)}\n`;
    if (this.pending.length >= FLUSH_AT_CHARS) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setTimeout(this.flushSoon, FLUSH_EVERY_MS);
    }
  }

  /** Hands the gathered lines to the file stream. */
  private flush(): void {
    if (this.pending === '') return;
    this.stream.write(this.pending);
    this.pending = '';
  }

  /** Resolves once every event appended so far is in the file (it can be read back, e.g. by the final read). */
  async synced(): Promise<void> {
    if (this.stream.closed) return;
    this.flush();
    // Stream writes complete in order: this one's callback runs after every earlier one's.
    await new Promise<void>((done) => this.stream.write('', () => done()));
    if (this.failure) throw this.failure;
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    if (this.stream.closed) return;
    this.flush();
    this.stream.end();
    await once(this.stream, 'close');
    if (this.failure) throw this.failure;
  }
}

/** Keeps events in an array: for tests and hand-built journals. */
export class MemoryJournal extends BaseJournal {
  readonly events: JournalEvent[] = [];
  constructor(origin = performance.now()) {
    super(origin);
  }
  protected write(event: JournalEvent): void {
    this.events.push(event);
  }
}

/** Options of `readJournalBatches`. */
export interface ReadJournalOptions {
  /**
   * Bytes read from the file at a time; each batch holds the events whose lines end in one read.
   * A line longer than this is still read whole (the buffer grows to fit it).
   * @default 262144 (256 KiB)
   * @minimum 1
   */
  chunkSize?: number;
}

/**
 * Why a parsed line cannot be a journal event, or undefined: an object with a string `type`, a
 * numeric `t`, and string ids where ids are given — what the fold keys its tables by. A few
 * `typeof`s a line, so that a journal edited or damaged on disk is refused (`ordeal report`), not
 * a crash inside the fold.
 */
function eventShapeProblem(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'not an object';
  const { type, t, orderId, buyerId } = event as Record<string, unknown>;
  if (typeof type !== 'string') return 'no type';
  if (typeof t !== 'number') return 'no time';
  if (orderId !== undefined && typeof orderId !== 'string') return 'an orderId that is not a string';
  if (buyerId !== undefined && typeof buyerId !== 'string') return 'a buyerId that is not a string';
  return undefined;
}

/** 256 KiB: large reads, and batches small enough that their events die young. */
const DEFAULT_CHUNK_SIZE = 256 * 1024;
const NEWLINE = 0x0a;

/**
 * Reads a journal back as batches of events, in order: the file is read in large chunks, split on
 * `\n` (as bytes, so a multi-byte character split between two reads is decoded whole), and each line
 * parsed. Blank lines are skipped. A run killed mid-write leaves a torn last line: it is dropped
 * there, and is an error anywhere else (thrown once the events before it are handed over). Empty
 * batches are never yielded.
 */
export async function* readJournalBatches(path: string, options: ReadJournalOptions = {}): AsyncGenerator<JournalEvent[]> {
  const chunkSize = Math.max(1, Math.floor(options.chunkSize ?? DEFAULT_CHUNK_SIZE));
  const file = await open(path, 'r');
  try {
    let buffer = Buffer.allocUnsafe(chunkSize);
    /** Bytes held at the start of `buffer`: a line not yet ended by a newline. */
    let carried = 0;
    let lineNumber = 0;
    let torn: Error | undefined;
    /** Parses the lines of `text` (every one complete) into a batch; throws when a torn line is followed by another. */
    const parse = (text: string, batch: JournalEvent[]): Error | undefined => {
      let start = 0;
      while (start < text.length) {
        let end = text.indexOf('\n', start);
        if (end < 0) end = text.length;
        const line = text.slice(start, end);
        start = end + 1;
        lineNumber += 1;
        if (line.length === 0) continue;
        if (torn) {
          if (line.trim() === '') continue;
          return torn;
        }
        let event: unknown;
        try {
          event = JSON.parse(line);
        } catch (error) {
          if (line.trim() === '') continue;
          torn = new OrdealError('ORDEAL_ERR_RUN_DIR', `${path}:${lineNumber}: not a journal event (${(error as Error).message})`, { cause: error });
          continue;
        }
        const misshapen = eventShapeProblem(event);
        if (misshapen !== undefined) return new OrdealError('ORDEAL_ERR_RUN_DIR', `${path}:${lineNumber}: not a journal event (${misshapen})`);
        batch.push(event as JournalEvent);
      }
      return undefined;
    };
    for (;;) {
      if (carried === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, carried);
        buffer = bigger;
      }
      const { bytesRead } = await file.read(buffer, carried, buffer.length - carried, null);
      const filled = carried + bytesRead;
      // At the end of the file, what is left is the last line (with no newline after it).
      const cut = bytesRead === 0 ? filled : buffer.lastIndexOf(NEWLINE, filled - 1) + 1;
      const batch: JournalEvent[] = [];
      const failure = cut > 0 ? parse(buffer.toString('utf8', 0, cut), batch) : undefined;
      if (batch.length > 0) yield batch;
      if (failure) throw failure;
      if (bytesRead === 0) return;
      buffer.copy(buffer, 0, cut, filled);
      carried = filled - cut;
    }
  } finally {
    await file.close();
  }
}

/** Reads a journal back as a stream of events, in order (see `readJournalBatches`). */
export async function* readJournal(path: string, options: ReadJournalOptions = {}): AsyncGenerator<JournalEvent> {
  for await (const batch of readJournalBatches(path, options)) yield* batch;
}

/** Reads a whole journal into memory (tests and small runs). */
export async function loadJournal(path: string): Promise<JournalEvent[]> {
  const events: JournalEvent[] = [];
  for await (const batch of readJournalBatches(path)) for (const event of batch) events.push(event);
  return events;
}
