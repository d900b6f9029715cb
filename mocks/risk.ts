/**
 * The risk screening mock (native wire protocol v1, docs/ARCHITECTURE.md): assesses an order and
 * answers approve, review or reject; a review resolves after a configured time and can be polled.
 *
 * It computes the buyer's risk signals from the payload the way a real screen does — statelessly,
 * except for devices, which it remembers across the run:
 * - `new_account`: `buyer.accountAgeDays` < 7;
 * - `far_ip`: the region `buyer.ip` belongs to (core/regions.ts) is not `buyer.region`
 *   (an address outside every known block tells nothing, so it is not flagged);
 * - `payer_mismatch`: a `phone` recipient whose account is not the buyer's `contact`;
 * - `device_switching`: the `buyer.deviceId` was already seen with at least 2 other buyer ids.
 *
 * Decisions come from the fault plan, per buyer: a `risk.reject` hit rejects, else a `risk.review`
 * hit holds the order for review; a fault that lists `signals` hits only buyers showing one of
 * them. Everything else is approved. `reasons` are the signals the buyer shows.
 */
import { regionOfIp } from '../core/regions.js';
import type { RiskSignal } from '../core/scenario-schema.js';
import {
  asObject,
  errorReply,
  inline,
  LedgerClock,
  nonEmptyString,
  optionalString,
  positiveInt,
  seqId,
  seqOf,
  StringPool,
  type MockContext,
  type MockReply,
  type MockRequest,
} from './mock-types.js';
import { openRecordSpace, type RecordSpace, type RecordStore } from '../memory/index.js';
import type { FaultSubject, SubjectAwareRoute } from './transport-faults.js';

/** Accounts younger than this many days show `new_account`. */
export const NEW_ACCOUNT_DAYS = 7;
/** A device seen with at least this many other buyers shows `device_switching`. */
export const DEVICE_SWITCHING_PEERS = 2;

export type RiskDecision = 'approve' | 'review' | 'reject';
export type AssessmentStatus = 'pending' | 'approved' | 'rejected';

/** The buyer as the shop sends it (contract v1 `buyer`); only `id` is required by the mock. */
export interface RiskBuyer {
  id: string;
  contact?: string;
  ip?: string;
  region?: string;
  accountAgeDays?: number;
  deviceId?: string;
}

export interface RiskRecipient {
  kind: string;
  account: string;
}

/** What signals are computed from. */
export interface RiskPayload {
  buyer: RiskBuyer;
  recipient?: RiskRecipient;
}

/** An assessment as the mock's ledger holds it (read-only snapshot). */
export interface AssessmentRecord {
  assessmentId: string;
  orderId: string;
  buyerId: string;
  deviceId?: string;
  amount?: number;
  sku?: string;
  decision: RiskDecision;
  /** The signals the buyer showed (also the answer's `reasons`). */
  signals: RiskSignal[];
  status: AssessmentStatus;
  assessedAt: string;
  /** When the decision became final (at once for approve/reject; `resolvesAt` for a review). */
  decidedAt?: string;
  /** For a review: when it resolves, and how. */
  resolvesAt?: string;
  outcome?: 'approve' | 'reject';
  /** Index of the fault that decided it, if one did. */
  faultIndex?: number;
}

/**
 * An assessment as the ledger keeps it for the whole run: numbers and shared strings, every field
 * always present (one compact shape). `snapshot()` turns it into an AssessmentRecord.
 */
interface Assessment {
  /** The assessment id is `seqId('A', seq)`. */
  readonly seq: number;
  /** Shared with the correlation and the other ledgers. */
  readonly orderId: string;
  readonly buyerId: string;
  readonly deviceId: string | undefined;
  readonly amount: number | undefined;
  readonly sku: string | undefined;
  readonly decision: RiskDecision;
  /** Shared by every assessment showing the same signals: never changed. */
  readonly signals: readonly RiskSignal[];
  status: AssessmentStatus;
  /** Ledger times. */
  readonly assessedAt: number;
  readonly resolvesAt: number | undefined;
  decidedAt: number | undefined;
  readonly outcome: 'approve' | 'reject' | undefined;
  readonly faultIndex: number | undefined;
}

export interface RiskScreenOptions extends MockContext {
  /** Wall clock, ms since the epoch. @default Date.now */
  clock?: () => number;
  /** Where the assessments and device sightings are kept (decided, idle ones may leave the heap). @default all in the heap */
  records?: RecordSpace;
}

/**
 * The signals a buyer shows, from the assessment payload and the number of *other* buyers the
 * device was seen with before. Pure.
 */
export function riskSignalsOf(payload: RiskPayload, otherBuyersOnDevice = 0): RiskSignal[] {
  const { buyer, recipient } = payload;
  const signals: RiskSignal[] = [];
  if (buyer.accountAgeDays !== undefined && buyer.accountAgeDays < NEW_ACCOUNT_DAYS) signals.push('new_account');
  if (buyer.ip !== undefined && buyer.region !== undefined) {
    const ipRegion = regionOfIp(buyer.ip);
    if (ipRegion !== undefined && ipRegion !== buyer.region) signals.push('far_ip');
  }
  if (recipient?.kind === 'phone' && recipient.account !== buyer.contact) signals.push('payer_mismatch');
  if (otherBuyersOnDevice >= DEVICE_SWITCHING_PEERS) signals.push('device_switching');
  return signals;
}

const STATUS_OF: Record<'approve' | 'reject', AssessmentStatus> = { approve: 'approved', reject: 'rejected' };

export class RiskScreen {
  private readonly context: MockContext;
  private readonly time: LedgerClock;
  /** Assessment `seqId('A', n)` is at index n - 1. */
  private readonly assessmentsById: RecordStore<number, Assessment>;
  /** Assessments made so far (the last sequence number). */
  private assessmentCount = 0;
  /** orderId → assessment sequence number. */
  private readonly byOrder: RecordStore<string, number>;
  /**
   * Buyer ids seen per device id, in this run: the one buyer, or the first few distinct ones. A
   * list stops growing at DEVICE_SWITCHING_PEERS + 1 buyers: from then on every buyer of the device
   * has at least DEVICE_SWITCHING_PEERS others, so more would not change the signal.
   */
  private readonly buyersByDevice: RecordStore<string, string | string[]>;
  /** Reviews not yet resolved, with their timers (none once closed). */
  private readonly reviews = new Map<Assessment, NodeJS.Timeout | undefined>();
  /** One array per distinct list of signals. */
  private readonly signalLists = new Map<string, readonly RiskSignal[]>();
  private readonly strings = new StringPool();
  private closed = false;

  constructor(options: RiskScreenOptions) {
    this.context = { journal: options.journal, plan: options.plan, correlation: options.correlation };
    this.time = new LedgerClock(options.clock ?? Date.now);
    const opt = <T>(value: unknown): T | undefined => (value === null ? undefined : (value as T));
    const records = options.records ?? openRecordSpace();
    this.assessmentsById = records.store<number, Assessment>('assessment', {
      encode: (a) =>
        JSON.stringify([
          a.seq,
          a.orderId,
          a.buyerId,
          a.deviceId ?? null,
          a.amount ?? null,
          a.sku ?? null,
          a.decision,
          a.signals,
          a.status,
          a.assessedAt,
          a.resolvesAt ?? null,
          a.decidedAt ?? null,
          a.outcome ?? null,
          a.faultIndex ?? null,
        ]),
      decode: (text) => {
        const f = JSON.parse(text) as unknown[];
        const sku = opt<string>(f[5]);
        return {
          seq: f[0] as number,
          orderId: f[1] as string,
          buyerId: f[2] as string,
          deviceId: opt<string>(f[3]),
          amount: opt<number>(f[4]),
          sku: sku === undefined ? undefined : this.strings.intern(sku),
          decision: f[6] as RiskDecision,
          signals: this.shareSignals(f[7] as RiskSignal[]),
          status: f[8] as AssessmentStatus,
          assessedAt: f[9] as number,
          resolvesAt: opt<number>(f[10]),
          decidedAt: opt<number>(f[11]),
          outcome: opt<'approve' | 'reject'>(f[12]),
          faultIndex: opt<number>(f[13]),
        };
      },
      key: Number,
      // A pending review has a timer holding it: it stays until resolved.
      settled: (assessment) => assessment.status !== 'pending',
    });
    this.byOrder = records.store<string, number>('assessment_order', { encode: String, decode: Number, key: String });
    this.buyersByDevice = records.store<string, string | string[]>('device_buyers', {
      encode: (buyers) => JSON.stringify(buyers),
      decode: (text) => JSON.parse(text) as string | string[],
      key: String,
    });
  }

  /** The assessment made for an order. */
  private assessmentOfOrder(orderId: string): Assessment | undefined {
    const seq = this.byOrder.get(orderId);
    return seq === undefined ? undefined : this.assessmentsById.get(seq);
  }

  /** Cancels the review timers (reviews still resolve lazily when queried). */
  close(): void {
    this.closed = true;
    for (const [assessment, timer] of this.reviews) {
      if (timer) clearTimeout(timer);
      this.reviews.set(assessment, undefined);
    }
  }

  // ---- ledger snapshots ------------------------------------------------------------------

  assessment(assessmentId: string): AssessmentRecord | undefined {
    const assessment = this.assessmentOf(assessmentId);
    return assessment && this.snapshot(assessment);
  }

  /** The assessment made for a shop order. */
  assessmentFor(orderId: string): AssessmentRecord | undefined {
    const assessment = this.assessmentOfOrder(orderId);
    return assessment && this.snapshot(assessment);
  }

  /** Every assessment, in the order they were made. */
  assessments(): AssessmentRecord[] {
    return [...this.assessmentsById.values()].sort((a, b) => a.seq - b.seq).map((assessment) => this.snapshot(assessment));
  }

  /** Reviews not yet resolved. */
  pendingReviews(): number {
    let pending = 0;
    for (const assessment of [...this.reviews.keys()]) if (this.statusOf(assessment) === 'pending') pending += 1;
    return pending;
  }

  /** Devices remembered, and how many of them were seen with more than one buyer (for memory checks). */
  devices(): { devices: number; shared: number } {
    let shared = 0;
    let devices = 0;
    for (const buyers of this.buyersByDevice.values()) {
      devices += 1;
      if (typeof buyers !== 'string') shared += 1;
    }
    return { devices, shared };
  }

  // ---- routes ----------------------------------------------------------------------------

  /** Route names (for transport faults): assess, assessment. */
  routes(): SubjectAwareRoute[] {
    const byAssessment = (request: MockRequest): FaultSubject => {
      const assessment = this.assessmentOf(request.params.id);
      return assessment ? { orderId: assessment.orderId, buyerId: assessment.buyerId } : {};
    };
    return [
      { method: 'POST', path: '/v1/assessments', name: 'assess', handle: (request) => this.assess(request) },
      { method: 'GET', path: '/v1/assessments/:id', name: 'assessment', handle: (request) => this.query(request), subjectOf: byAssessment },
    ];
  }

  // ---- handlers --------------------------------------------------------------------------

  assess(request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body) return errorReply(400, 'INVALID_REQUEST', 'expected a JSON object body');
    const { orderId, amount, sku } = body;
    if (!nonEmptyString(orderId, 128)) return errorReply(400, 'INVALID_REQUEST', 'orderId: expected a non-empty string');
    const buyerObject = asObject(body.buyer);
    if (!buyerObject || !nonEmptyString(buyerObject.id)) return errorReply(400, 'INVALID_REQUEST', 'buyer.id: expected a non-empty string');
    const { contact, ip, region, accountAgeDays, deviceId } = buyerObject;
    if (!optionalString(contact) || !optionalString(ip) || !optionalString(region) || !optionalString(deviceId)) {
      return errorReply(400, 'INVALID_REQUEST', 'buyer.contact, buyer.ip, buyer.region, buyer.deviceId: expected strings');
    }
    if (accountAgeDays !== undefined && (typeof accountAgeDays !== 'number' || !Number.isFinite(accountAgeDays) || accountAgeDays < 0)) {
      return errorReply(400, 'INVALID_REQUEST', 'buyer.accountAgeDays: expected a non-negative number');
    }
    if (amount !== undefined && !positiveInt(amount)) return errorReply(400, 'INVALID_REQUEST', 'amount: expected a positive integer (minor units)');
    if (!optionalString(sku)) return errorReply(400, 'INVALID_REQUEST', 'sku: expected a string');
    let recipient: RiskRecipient | undefined;
    if (body.recipient !== undefined) {
      const recipientObject = asObject(body.recipient);
      if (!recipientObject || typeof recipientObject.kind !== 'string' || typeof recipientObject.account !== 'string') {
        return errorReply(400, 'INVALID_REQUEST', 'recipient: expected { kind: string, account: string }');
      }
      recipient = { kind: recipientObject.kind, account: recipientObject.account };
    }
    const buyer: RiskBuyer = {
      id: buyerObject.id,
      ...(contact === undefined ? {} : { contact }),
      ...(ip === undefined ? {} : { ip }),
      ...(region === undefined ? {} : { region }),
      ...(accountAgeDays === undefined ? {} : { accountAgeDays }),
      ...(deviceId === undefined ? {} : { deviceId }),
    };
    const journal = this.context.journal;
    const subject = this.context.correlation.subject(orderId, buyer.id);

    // A repeated assessment of an order (a retry after a lost answer) gets the same answer.
    const existing = this.assessmentOfOrder(orderId);
    if (existing) {
      journal.append('risk.assessed', {
        orderId,
        assessmentId: seqId('A', existing.seq),
        buyerId: existing.buyerId,
        decision: existing.decision,
        reasons: [...existing.signals],
        signals: [...existing.signals],
      });
      return { status: 200, body: this.assessAnswer(existing) };
    }

    const correlation = this.context.correlation;
    const buyerId = correlation.share(buyer.id, orderId);
    const otherBuyers = buyer.deviceId === undefined ? 0 : this.seenOnDevice(buyer.deviceId, buyerId);
    const signals = this.shareSignals(riskSignalsOf({ buyer, ...(recipient ? { recipient } : {}) }, otherBuyers));
    const shows = (filter: readonly RiskSignal[] | undefined): boolean => !filter || filter.some((signal) => signals.includes(signal));

    const plan = this.context.plan;
    const reject = plan.has('risk.reject') ? plan.hits('risk.reject', subject).find((hit) => shows(hit.spec.signals)) : undefined;
    const review = reject || !plan.has('risk.review') ? undefined : plan.hits('risk.review', subject).find((hit) => shows(hit.spec.signals));

    const now = this.time.now();
    const assessment: Assessment = {
      seq: this.assessmentCount + 1,
      orderId: correlation.share(orderId),
      buyerId,
      deviceId: buyer.deviceId,
      amount,
      sku: sku === undefined ? undefined : this.strings.intern(sku),
      decision: reject ? 'reject' : review ? 'review' : 'approve',
      signals,
      status: reject ? 'rejected' : review ? 'pending' : 'approved',
      assessedAt: now,
      resolvesAt: review ? inline(now + review.spec.resolveAfter) : undefined,
      decidedAt: review ? undefined : now,
      outcome: review?.spec.outcome,
      faultIndex: (reject ?? review)?.index,
    };
    const assessmentId = seqId('A', assessment.seq);
    this.assessmentCount = assessment.seq;
    this.assessmentsById.set(assessment.seq, assessment);
    this.byOrder.set(assessment.orderId, assessment.seq);

    const hit = reject ?? review;
    if (hit) {
      journal.append('fault.injected', {
        fault: hit.spec.id,
        faultIndex: hit.index,
        orderId,
        buyerId: buyer.id,
        detail: {
          assessmentId,
          decision: assessment.decision,
          signals: signals.join(','),
          ...(review ? { resolveAfter: review.spec.resolveAfter, outcome: review.spec.outcome } : {}),
        },
      });
    }
    journal.append('risk.assessed', {
      orderId,
      assessmentId,
      buyerId: buyer.id,
      decision: assessment.decision,
      reasons: [...signals],
      signals: [...signals],
    });
    if (review) {
      let timer: NodeJS.Timeout | undefined;
      if (!this.closed) {
        timer = setTimeout(() => this.resolve(assessment), review.spec.resolveAfter);
        timer.unref();
      }
      this.reviews.set(assessment, timer);
    }
    return { status: 200, body: this.assessAnswer(assessment) };
  }

  query(request: MockRequest): MockReply {
    const assessment = this.assessmentOf(request.params.id);
    if (!assessment) return errorReply(404, 'ASSESSMENT_NOT_FOUND', `no assessment ${request.params.id ?? ''}`);
    const status = this.statusOf(assessment);
    const assessmentId = seqId('A', assessment.seq);
    this.context.journal.append('risk.queried', { orderId: assessment.orderId, assessmentId, status });
    return {
      status: 200,
      body: {
        assessmentId,
        status,
        ...(assessment.decidedAt === undefined ? {} : { decidedAt: this.time.iso(assessment.decidedAt) }),
      },
    };
  }

  // ---- internals -------------------------------------------------------------------------

  /** The status now, resolving a review whose time has come (lazily, as well as by its timer). */
  private statusOf(assessment: Assessment): AssessmentStatus {
    if (assessment.status === 'pending' && assessment.resolvesAt !== undefined && this.time.now() >= assessment.resolvesAt) {
      this.resolve(assessment);
    }
    return assessment.status;
  }

  /** Ends a pending review with its outcome; journals `risk.resolved` once. */
  private resolve(assessment: Assessment): void {
    if (assessment.status !== 'pending') return;
    const timer = this.reviews.get(assessment);
    if (timer) clearTimeout(timer);
    this.reviews.delete(assessment);
    const status = STATUS_OF[assessment.outcome ?? 'approve'];
    assessment.status = status;
    assessment.decidedAt = assessment.resolvesAt ?? this.time.now();
    this.context.journal.append('risk.resolved', { orderId: assessment.orderId, assessmentId: seqId('A', assessment.seq), status: status as 'approved' | 'rejected' });
  }

  /** The assessment with this id. */
  private assessmentOf(assessmentId: string | undefined): Assessment | undefined {
    const seq = seqOf('A', assessmentId);
    return seq === 0 || seq > this.assessmentCount ? undefined : this.assessmentsById.get(seq);
  }

  /** Notes `buyerId` on the device; returns how many other buyers the device was seen with (capped, see buyersByDevice). */
  private seenOnDevice(deviceId: string, buyerId: string): number {
    const seen = this.buyersByDevice.get(deviceId);
    if (seen === undefined) {
      this.buyersByDevice.set(deviceId, buyerId);
      return 0;
    }
    if (typeof seen === 'string') {
      if (seen === buyerId) return 0;
      this.buyersByDevice.set(deviceId, [seen, buyerId]);
      return 1;
    }
    if (seen.includes(buyerId)) return seen.length - 1;
    if (seen.length <= DEVICE_SWITCHING_PEERS) seen.push(buyerId);
    return seen.length - (seen.includes(buyerId) ? 1 : 0);
  }

  /** The shared array for this list of signals. */
  private shareSignals(signals: RiskSignal[]): readonly RiskSignal[] {
    const key = signals.join(',');
    const known = this.signalLists.get(key);
    if (known) return known;
    this.signalLists.set(key, signals);
    return signals;
  }

  private assessAnswer(assessment: Assessment): Record<string, unknown> {
    return { assessmentId: seqId('A', assessment.seq), decision: assessment.decision, reasons: [...assessment.signals] };
  }

  private snapshot(assessment: Assessment): AssessmentRecord {
    const status = this.statusOf(assessment);
    return {
      assessmentId: seqId('A', assessment.seq),
      orderId: assessment.orderId,
      buyerId: assessment.buyerId,
      ...(assessment.deviceId === undefined ? {} : { deviceId: assessment.deviceId }),
      ...(assessment.amount === undefined ? {} : { amount: assessment.amount }),
      ...(assessment.sku === undefined ? {} : { sku: assessment.sku }),
      decision: assessment.decision,
      signals: [...assessment.signals],
      status,
      assessedAt: this.time.iso(assessment.assessedAt),
      ...(assessment.decidedAt === undefined ? {} : { decidedAt: this.time.iso(assessment.decidedAt) }),
      ...(assessment.resolvesAt === undefined ? {} : { resolvesAt: this.time.iso(assessment.resolvesAt) }),
      ...(assessment.outcome === undefined ? {} : { outcome: assessment.outcome }),
      ...(assessment.faultIndex === undefined ? {} : { faultIndex: assessment.faultIndex }),
    };
  }
}
