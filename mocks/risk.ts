/**
 * The risk screening mock (native wire protocol v1, DESIGN.md §4.1): assesses an order and
 * answers approve, review or reject; a review resolves after a configured time and can be polled.
 *
 * It computes the buyer's risk signals from the payload the way a real screen does — statelessly,
 * except for devices, which it remembers across the run:
 * - `new_account`: `buyer.accountAgeDays` < 7;
 * - `far_ip`: the region `buyer.ip` belongs to (harness/regions.ts) is not `buyer.region`
 *   (an address outside every known block tells nothing, so it is not flagged);
 * - `payer_mismatch`: a `phone` recipient whose account is not the buyer's `contact`;
 * - `device_switching`: the `buyer.deviceId` was already seen with at least 2 other buyer ids.
 *
 * Decisions come from the fault plan, per buyer: a `risk.reject` hit rejects, else a `risk.review`
 * hit holds the order for review; a fault that lists `signals` hits only buyers showing one of
 * them. Everything else is approved. `reasons` are the signals the buyer shows.
 */
import { regionOfIp } from '../harness/regions.js';
import type { RiskSignal } from '../harness/scenario-schema.js';
import {
  asObject,
  errorReply,
  nonEmptyString,
  positiveInt,
  type MockContext,
  type MockReply,
  type MockRequest,
} from './mock-types.js';
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

interface Assessment extends Omit<AssessmentRecord, 'resolvesAt' | 'decidedAt' | 'signals'> {
  signals: RiskSignal[];
  assessedAtMs: number;
  resolvesAtMs?: number;
  decidedAtMs?: number;
  timer?: NodeJS.Timeout;
}

export interface RiskScreenOptions extends MockContext {
  /** Wall clock, ms since the epoch. @default Date.now */
  clock?: () => number;
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

function optionalString(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

const STATUS_OF: Record<'approve' | 'reject', AssessmentStatus> = { approve: 'approved', reject: 'rejected' };

export class RiskScreen {
  private readonly context: MockContext;
  private readonly clock: () => number;
  private readonly assessmentsById = new Map<string, Assessment>();
  private readonly byOrder = new Map<string, Assessment>();
  /** Buyer ids seen per device id, in this run. */
  private readonly buyersByDevice = new Map<string, Set<string>>();
  private assessmentSeq = 0;
  private closed = false;

  constructor(options: RiskScreenOptions) {
    this.context = { journal: options.journal, plan: options.plan, correlation: options.correlation };
    this.clock = options.clock ?? Date.now;
  }

  /** Cancels the review timers (reviews still resolve lazily when queried). */
  close(): void {
    this.closed = true;
    for (const assessment of this.assessmentsById.values()) {
      if (assessment.timer) clearTimeout(assessment.timer);
      assessment.timer = undefined;
    }
  }

  // ---- ledger snapshots ------------------------------------------------------------------

  assessment(assessmentId: string): AssessmentRecord | undefined {
    const assessment = this.assessmentsById.get(assessmentId);
    return assessment && this.snapshot(assessment);
  }

  /** The assessment made for a shop order. */
  assessmentFor(orderId: string): AssessmentRecord | undefined {
    const assessment = this.byOrder.get(orderId);
    return assessment && this.snapshot(assessment);
  }

  /** Every assessment, in the order they were made. */
  assessments(): AssessmentRecord[] {
    return [...this.assessmentsById.values()].map((assessment) => this.snapshot(assessment));
  }

  /** Reviews not yet resolved. */
  pendingReviews(): number {
    let pending = 0;
    for (const assessment of this.assessmentsById.values()) if (this.statusOf(assessment) === 'pending') pending += 1;
    return pending;
  }

  // ---- routes ----------------------------------------------------------------------------

  /** Route names (for transport faults): assess, assessment. */
  routes(): SubjectAwareRoute[] {
    const byAssessment = (request: MockRequest): FaultSubject => {
      const assessment = this.assessmentsById.get(request.params.id ?? '');
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
    const existing = this.byOrder.get(orderId);
    if (existing) {
      journal.append('risk.assessed', {
        orderId,
        assessmentId: existing.assessmentId,
        buyerId: existing.buyerId,
        decision: existing.decision,
        reasons: [...existing.signals],
        signals: [...existing.signals],
      });
      return { status: 200, body: this.assessAnswer(existing) };
    }

    let otherBuyers = 0;
    if (buyer.deviceId !== undefined) {
      const seen = this.buyersByDevice.get(buyer.deviceId) ?? new Set<string>();
      otherBuyers = seen.size - (seen.has(buyer.id) ? 1 : 0);
      seen.add(buyer.id);
      this.buyersByDevice.set(buyer.deviceId, seen);
    }
    const signals = riskSignalsOf({ buyer, ...(recipient ? { recipient } : {}) }, otherBuyers);
    const shows = (filter: readonly RiskSignal[] | undefined): boolean => !filter || filter.some((signal) => signals.includes(signal));

    const plan = this.context.plan;
    const reject = plan.has('risk.reject') ? plan.hits('risk.reject', subject).find((hit) => shows(hit.spec.signals)) : undefined;
    const review = reject || !plan.has('risk.review') ? undefined : plan.hits('risk.review', subject).find((hit) => shows(hit.spec.signals));

    const now = this.clock();
    this.assessmentSeq += 1;
    const assessment: Assessment = {
      assessmentId: `A${String(this.assessmentSeq).padStart(10, '0')}`,
      orderId,
      buyerId: buyer.id,
      ...(buyer.deviceId === undefined ? {} : { deviceId: buyer.deviceId }),
      ...(amount === undefined ? {} : { amount }),
      ...(sku === undefined ? {} : { sku }),
      decision: reject ? 'reject' : review ? 'review' : 'approve',
      signals,
      status: reject ? 'rejected' : review ? 'pending' : 'approved',
      assessedAt: new Date(now).toISOString(),
      assessedAtMs: now,
    };
    if (review) {
      assessment.resolvesAtMs = now + review.spec.resolveAfter;
      assessment.outcome = review.spec.outcome;
      assessment.faultIndex = review.index;
    } else {
      assessment.decidedAtMs = now;
      if (reject) assessment.faultIndex = reject.index;
    }
    this.assessmentsById.set(assessment.assessmentId, assessment);
    this.byOrder.set(orderId, assessment);

    const hit = reject ?? review;
    if (hit) {
      journal.append('fault.injected', {
        fault: hit.spec.id,
        faultIndex: hit.index,
        orderId,
        buyerId: buyer.id,
        detail: {
          assessmentId: assessment.assessmentId,
          decision: assessment.decision,
          signals: signals.join(','),
          ...(review ? { resolveAfter: review.spec.resolveAfter, outcome: review.spec.outcome } : {}),
        },
      });
    }
    journal.append('risk.assessed', {
      orderId,
      assessmentId: assessment.assessmentId,
      buyerId: buyer.id,
      decision: assessment.decision,
      reasons: [...signals],
      signals: [...signals],
    });
    if (review && !this.closed) {
      const timer = setTimeout(() => {
        assessment.timer = undefined;
        this.resolve(assessment);
      }, review.spec.resolveAfter);
      timer.unref();
      assessment.timer = timer;
    }
    return { status: 200, body: this.assessAnswer(assessment) };
  }

  query(request: MockRequest): MockReply {
    const assessment = this.assessmentsById.get(request.params.id ?? '');
    if (!assessment) return errorReply(404, 'ASSESSMENT_NOT_FOUND', `no assessment ${request.params.id ?? ''}`);
    const status = this.statusOf(assessment);
    this.context.journal.append('risk.queried', { orderId: assessment.orderId, assessmentId: assessment.assessmentId, status });
    return {
      status: 200,
      body: {
        assessmentId: assessment.assessmentId,
        status,
        ...(assessment.decidedAtMs === undefined ? {} : { decidedAt: new Date(assessment.decidedAtMs).toISOString() }),
      },
    };
  }

  // ---- internals -------------------------------------------------------------------------

  /** The status now, resolving a review whose time has come (lazily, as well as by its timer). */
  private statusOf(assessment: Assessment): AssessmentStatus {
    if (assessment.status === 'pending' && assessment.resolvesAtMs !== undefined && this.clock() >= assessment.resolvesAtMs) {
      this.resolve(assessment);
    }
    return assessment.status;
  }

  /** Ends a pending review with its outcome; journals `risk.resolved` once. */
  private resolve(assessment: Assessment): void {
    if (assessment.status !== 'pending') return;
    if (assessment.timer) clearTimeout(assessment.timer);
    assessment.timer = undefined;
    const status = STATUS_OF[assessment.outcome ?? 'approve'];
    assessment.status = status;
    assessment.decidedAtMs = assessment.resolvesAtMs ?? this.clock();
    this.context.journal.append('risk.resolved', { orderId: assessment.orderId, assessmentId: assessment.assessmentId, status: status as 'approved' | 'rejected' });
  }

  private assessAnswer(assessment: Assessment): Record<string, unknown> {
    return { assessmentId: assessment.assessmentId, decision: assessment.decision, reasons: [...assessment.signals] };
  }

  private snapshot(assessment: Assessment): AssessmentRecord {
    const status = this.statusOf(assessment);
    const { assessedAtMs: _assessed, resolvesAtMs, decidedAtMs, timer: _timer, signals, ...rest } = assessment;
    return {
      ...rest,
      signals: [...signals],
      status,
      ...(resolvesAtMs === undefined ? {} : { resolvesAt: new Date(resolvesAtMs).toISOString() }),
      ...(decidedAtMs === undefined ? {} : { decidedAt: new Date(decidedAtMs).toISOString() }),
    };
  }
}
