/**
 * Forgery scheduling: `payment.callback.forged`, `.replayed` and `.altered` send a success notice
 * for a trade the buyer never pays, `after` ms from its creation. What is scheduled is a
 * protocol-neutral intent (a notice signed with a wrong key, a genuine one signed `ageMs` ago, or
 * one signed for `signedAmount`); the dispatcher has the personality render it.
 */
import type { FaultPlan } from '../fault-plan.js';
import type { CallbackForgeryKind } from './notices.js';

export interface ForgeryJob {
  kind: CallbackForgeryKind;
  /** Index of the fault in the scenario. */
  faultIndex: number;
  /** Delay from the trade's creation, ms. */
  after: number;
  /** replayed: how old the signature's timestamp is, ms. */
  ageMs?: number;
  /** altered: the amount the notice was signed for, minor units. */
  signedAmount?: number;
}

export class Forgeries {
  /** Pending timers per trade sequence number. */
  private readonly timers = new Map<number, Set<NodeJS.Timeout>>();
  private closed = false;

  constructor(private readonly plan: FaultPlan) {}

  /** Schedules the forgeries the plan has for this subject; `fire` runs for each when its time comes. */
  schedule(seq: number, faultSubject: string, fire: (job: ForgeryJob) => void): void {
    if (this.closed) return;
    const forged = this.plan.first('payment.callback.forged', faultSubject);
    const replayed = this.plan.first('payment.callback.replayed', faultSubject);
    const altered = this.plan.first('payment.callback.altered', faultSubject);
    const jobs: ForgeryJob[] = [
      ...(forged ? [{ kind: 'forged' as const, faultIndex: forged.index, after: forged.spec.after }] : []),
      ...(replayed ? [{ kind: 'replayed' as const, faultIndex: replayed.index, after: replayed.spec.after, ageMs: replayed.spec.age }] : []),
      ...(altered ? [{ kind: 'altered' as const, faultIndex: altered.index, after: altered.spec.after, signedAmount: altered.spec.signedAmount }] : []),
    ];
    for (const job of jobs) {
      let timers = this.timers.get(seq);
      if (!timers) {
        timers = new Set();
        this.timers.set(seq, timers);
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (timers.size === 0) this.timers.delete(seq);
        fire(job);
      }, job.after);
      timers.add(timer);
    }
  }

  /** True while a forgery for this trade is pending (the trade stays out of the archive). */
  has(seq: number): boolean {
    return this.timers.has(seq);
  }

  /** Cancels the trade's pending forgeries (it was paid, failed or closed). */
  cancel(seq: number): void {
    const timers = this.timers.get(seq);
    if (!timers) return;
    for (const timer of timers) clearTimeout(timer);
    this.timers.delete(seq);
  }

  /** Forgeries scheduled but not yet fired. */
  pending(): number {
    let pending = 0;
    for (const timers of this.timers.values()) pending += timers.size;
    return pending;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Cancels every pending forgery; none is scheduled afterwards. */
  close(): void {
    this.closed = true;
    for (const timers of this.timers.values()) for (const timer of timers) clearTimeout(timer);
    this.timers.clear();
  }
}
