/**
 * `notify.email.outage`: which of the mail server's replies fail or stall for a hit mailer, and
 * what is journaled for it.
 *
 * Decisions are made per buyer (the recipient's, or the matched order's), else per order, else per
 * recipient address, like every other fault — so the same buyer's retries meet the same outage until
 * its window closes. Where a reply comes before anything says who the mail is for (the greeting,
 * MAIL FROM), only a slow fault that hits every buyer (`probability: 1`) holds it back.
 *
 * Each hit is journaled as `fault.injected` once per fault and order (or recipient, when no order
 * is known), and — when the order is known — a refused attempt as `notify.refused` (channel
 * `email`, the SMTP code; no code for a dropped connection), so the notify stage rules score it.
 */
import type { FaultHit } from '../fault-plan.js';
import type { MockContext } from '../mock-types.js';

const FAULT = 'notify.email.outage';
/** The subject of a decision that concerns every mailer (made before a recipient is named). */
const EVERYONE = '*';
type OutageHit = FaultHit<typeof FAULT>;

/** Who a reply concerns, as far as is known when it is made. */
export interface MailTarget {
  /** The recipient as journaled (the buyer's contact when known). */
  to: string;
  orderId?: string;
  buyerId?: string;
  kind?: string;
}

/** What to do at RCPT TO: refuse with a code, and/or hold the reply back. */
export interface RecipientVerdict {
  refuseCode?: 421 | 554;
  delayMs: number;
}

/** What to do once the message's data arrived. */
export interface DataVerdict {
  action?: 'tempfail' | 'drop';
  delayMs: number;
}

/** The reply code a tempfail answers with. */
export const TEMPFAIL_CODE = 451;

export class EmailOutage {
  /** `${faultIndex}\0${order or subject}` already journaled as `fault.injected`. */
  private readonly injected = new Set<string>();

  constructor(private readonly context: MockContext) {}

  /** Whether the scenario has the fault at all (cheap pre-check). */
  get configured(): boolean {
    return this.context.plan.has(FAULT);
  }

  /**
   * How long a reply made before the recipient is known is held back (`stage`: greeting, mail).
   * Such a hit names no order: it is journaled once per fault, so that a mailer that gives up
   * before naming its recipient still leaves the fault in the journal (as an unattached hit).
   */
  connectionDelay(stage: string): number {
    if (!this.configured) return 0;
    let delayMs = 0;
    for (const hit of this.context.plan.hits(FAULT, EVERYONE)) {
      if (hit.spec.mode !== 'slow' || hit.spec.probability < 1) continue;
      const held = this.delayOf(hit, EVERYONE, stage);
      delayMs = Math.max(delayMs, held);
      this.journal(hit, EVERYONE, { to: '' }, { delayMs: held, stage });
    }
    return delayMs;
  }

  /** The verdict on one recipient of a transaction; refusals and slow hits are journaled. */
  atRecipient(target: MailTarget): RecipientVerdict {
    const verdict: RecipientVerdict = { delayMs: 0 };
    if (!this.configured) return verdict;
    const subject = this.subjectOf(target);
    for (const hit of this.context.plan.hits(FAULT, subject)) {
      if (hit.spec.mode === 'refuse' && verdict.refuseCode === undefined) {
        verdict.refuseCode = hit.spec.code;
        this.journal(hit, subject, target, { smtpCode: hit.spec.code, stage: 'rcpt' });
      } else if (hit.spec.mode === 'slow') {
        const delayMs = this.delayOf(hit, subject, 'rcpt');
        verdict.delayMs = Math.max(verdict.delayMs, delayMs);
        this.journal(hit, subject, target, { delayMs, stage: 'rcpt' });
      }
    }
    return verdict;
  }

  /** The verdict once the message was read (its order and kind known when they could be found). */
  atData(target: MailTarget): DataVerdict {
    const verdict: DataVerdict = { delayMs: 0 };
    if (!this.configured) return verdict;
    const subject = this.subjectOf(target);
    for (const hit of this.context.plan.hits(FAULT, subject)) {
      if ((hit.spec.mode === 'tempfail' || hit.spec.mode === 'drop') && verdict.action === undefined) {
        verdict.action = hit.spec.mode;
        this.journal(hit, subject, target, hit.spec.mode === 'tempfail' ? { smtpCode: TEMPFAIL_CODE, stage: 'data' } : { stage: 'data' });
      } else if (hit.spec.mode === 'slow') {
        const delayMs = this.delayOf(hit, subject, 'data');
        verdict.delayMs = Math.max(verdict.delayMs, delayMs);
        this.journal(hit, subject, target, { delayMs, stage: 'data' });
      }
    }
    return verdict;
  }

  /** The key decisions are made on: the buyer, else the order, else the recipient. */
  private subjectOf(target: MailTarget): string {
    if (target.buyerId !== undefined) return target.buyerId;
    if (target.orderId !== undefined) return this.context.correlation.subject(target.orderId);
    return target.to.toLowerCase();
  }

  private delayOf(hit: OutageHit, subject: string, stage: string): number {
    return Math.round(this.context.plan.delayFor(hit.index, hit.spec.delay, subject, stage));
  }

  /**
   * `fault.injected` once per fault and order (or subject); `notify.refused` for every refused or
   * dropped attempt about a known order (a slow reply refuses nothing).
   */
  private journal(hit: OutageHit, subject: string, target: MailTarget, detail: { smtpCode?: number; delayMs?: number; stage: string }): void {
    const { journal, correlation } = this.context;
    const { orderId, to, kind } = target;
    const once = `${hit.index}\u0000${orderId ?? subject}`;
    if (!this.injected.has(once)) {
      this.injected.add(once);
      const buyerId = target.buyerId ?? (orderId === undefined ? undefined : correlation.buyerOf(orderId));
      journal.append('fault.injected', {
        fault: FAULT,
        faultIndex: hit.index,
        ...(orderId === undefined ? {} : { orderId }),
        ...(buyerId === undefined ? {} : { buyerId }),
        detail: {
          mode: hit.spec.mode,
          stage: detail.stage,
          to,
          ...(detail.smtpCode === undefined ? {} : { smtpCode: detail.smtpCode }),
          ...(detail.delayMs === undefined ? {} : { delayMs: detail.delayMs }),
        },
      });
    }
    if (orderId !== undefined && hit.spec.mode !== 'slow') {
      journal.append('notify.refused', {
        orderId,
        to,
        ...(kind === undefined ? {} : { kind }),
        ...(detail.smtpCode === undefined ? {} : { smtpCode: detail.smtpCode }),
        channel: 'email',
      });
    }
  }
}
