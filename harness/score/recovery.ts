/**
 * Recovery rules (`gate.recovery`): how long after a fault's window ends the shop is back to
 * health, measured on order completions. Pure: a function of the folded journal and the scenario.
 *
 * Definitions (all times are load time: milliseconds since load start, the clock fault windows use):
 * - **Window end** E: the end of the named fault's `window` (for `target.crash`, `at + pause`).
 * - **Completions**: normal buyers' orders (not dropped), each completed when the buyer saw its
 *   outcome (intended arrival + the buyer's latency), with the time from intended arrival to outcome
 *   as its completion time and "delivered" as success. Orders the supplier genuinely refused for
 *   lack of stock (a sold-out answer with no stock fault involved) are a correct answer, not a
 *   failure, and are left out. Faulted orders count: the fault's aftermath is what is measured.
 * - **Window at s**: the completions in (s, s + W], for W = the rule's `window`. Windows start at
 *   s ≥ E and end by the last completion H (the last window is (H − W, H]); when fewer than W
 *   of completions follow E, the only window is (E, H].
 * - A window **fails** the rule when it holds completions and their p95 completion time is above
 *   `p95` or their share delivered is below `successRate` (thresholds not given are not checked).
 *   A window with no completion says nothing and never fails.
 * - **Recovered at** R: where the window moves on from the last failing one — the next start after
 *   it (typically the moment the last bad completion leaves the window), or E itself when no window
 *   fails. From R on, no window fails until the run's last completion: a relapse later moves R past
 *   it, and a failing last window (or no completion after E at all) means never recovered.
 * - Arrivals dropped at the in-flight cap never complete; they are counted in `load.dropped`.
 * - **Time to recover** = R − E; the rule is **met** when the shop recovered within `within`.
 */
import type { FaultId, RecoveryRuleSpec, Scenario } from '../../core/scenario-schema.js';
import { recoveryFaultOf } from '../../core/scenario-schema.js';
import { faultDefinition, isFaultId } from '../../core/faults/index.js';
import { arrivalSchedule } from '../../core/arrivals.js';
import type { RecoveryResult, RecoveryRule, RecoveryWindow } from '../../core/report-types.js';
import { NumberColumn } from './fold-store.js';
import { buyerGroups, type BuyerGroup, type FoldedRun } from './folded-run.js';
import type { BuyerFacts, OrderFacts } from '../../core/faults/facts.js';

export type { RecoveryResult, RecoveryRule, RecoveryWindow } from '../../core/report-types.js';

/** One order completion, load time. */
export interface Completion {
  /** When the buyer saw the outcome (ms since load start). */
  at: number;
  /** From intended arrival to outcome (ms). */
  latencyMs: number;
  delivered: boolean;
}

const round = (value: number, digits = 3): number => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** Stock faults' marks: `order:<id>` and `buyer:<id>` for every order and buyer one touched. */
function stockFaultMarks(run: Pick<FoldedRun, 'faultHits'>): Set<string> {
  const marks = new Set<string>();
  for (const hit of run.faultHits.values()) {
    if (!isFaultId(hit.fault) || faultDefinition(hit.fault).family !== 'stock') continue;
    if (hit.orderId !== undefined) marks.add(`order:${hit.orderId}`);
    if (hit.buyerId !== undefined) marks.add(`buyer:${hit.buyerId}`);
  }
  return marks;
}

/**
 * Whether the supplier genuinely refused the buyer's order for lack of stock: not delivered, every
 * order of theirs ended `out_of_stock` after the supplier refused a reservation, and no stock fault
 * touched them. A correct answer from the shop, not a failure of it.
 */
function soldOutGenuinely(buyer: BuyerFacts, orderOf: (orderId: string) => OrderFacts | undefined, stockFaulted: ReadonlySet<string>): boolean {
  if (buyer.orders.length === 0 || buyer.finished === undefined || buyer.finished.outcome === 'delivered') return false;
  if (stockFaulted.has(`buyer:${buyer.buyerId}`)) return false;
  return buyer.orders.every((orderId) => {
    const order = orderOf(orderId);
    if (!order || order.stockRefusals.length === 0 || stockFaulted.has(`order:${orderId}`)) return false;
    return order.statuses[order.statuses.length - 1]?.reason === 'out_of_stock';
  });
}

/** Buyers the supplier genuinely sold out to (see `soldOutGenuinely`). */
export function genuinelySoldOut(run: FoldedRun): Set<string> {
  const stockFaulted = stockFaultMarks(run);
  const soldOut = new Set<string>();
  for (const buyer of run.buyers.values()) if (soldOutGenuinely(buyer, (orderId) => run.orders.get(orderId), stockFaulted)) soldOut.add(buyer.buyerId);
  return soldOut;
}

/**
 * What the steady state and the recovery rules read of the buyers, gathered in one pass over them
 * (a long run's buyers are read from the fold's archive, once).
 */
export interface BuyerTally {
  /** The earliest intended arrival; undefined when nobody arrived. */
  firstIntendedAt: number | undefined;
  /** Completions (`counts`, genuine sell-outs left out), `at` on the run clock, in no order. */
  completions: CompletionLog;
  /** Normal buyers, not dropped, that no incident or fault hit names; `latencies` of those delivered. */
  steady: { orders: number; succeeded: number; soldOut: number; caughtByCrash: number; latencies: NumberColumn };
}

/**
 * Completions as columns, 24 bytes each instead of an object: a run keeps every normal buyer's,
 * and the recovery rules read them at the end.
 */
export class CompletionLog {
  private readonly at = new NumberColumn();
  private readonly latencyMs = new NumberColumn();
  /** 1 when delivered, else 0. */
  private readonly delivered = new NumberColumn();

  push(completion: Completion): void {
    this.at.push(completion.at);
    this.latencyMs.push(completion.latencyMs);
    this.delivered.push(completion.delivered ? 1 : 0);
  }

  get length(): number {
    return this.at.length;
  }

  *[Symbol.iterator](): Generator<Completion> {
    for (let index = 0; index < this.at.length; index++) {
      yield { at: this.at.at(index), latencyMs: this.latencyMs.at(index), delivered: this.delivered.at(index) === 1 };
    }
  }
}

/** What the tally leaves out: buyers and orders incidents and fault hits name, and stock faults' marks (`stockFaultMarks`). */
export interface FaultMarks {
  buyers: ReadonlySet<string>;
  orders: ReadonlySet<string>;
  stock: ReadonlySet<string>;
}

/** Marks of a buyer no fault touched (what the fold's early tally of settled buyers uses). */
export const NO_FAULT_MARKS: FaultMarks = { buyers: new Set(), orders: new Set(), stock: new Set() };

/** The fault marks of a folded run: `faulted` (from its incidents and hits) and its stock faults. */
export function faultMarksOf(run: Pick<FoldedRun, 'faultHits'>, faulted: { buyers: ReadonlySet<string>; orders: ReadonlySet<string> }): FaultMarks {
  return { ...faulted, stock: stockFaultMarks(run) };
}

/**
 * The buyer tally of one run, fed its buyers one at a time with the orders they own — by the fold
 * as buyers settle, then by `scoreFolded`'s walk over the rest — each with its fault marks.
 */
export interface BuyerTallier {
  add(group: BuyerGroup, marks: FaultMarks): void;
  tally: BuyerTally;
}

export function buyerTallier(run: Pick<FoldedRun, 'orders' | 'target'>): BuyerTallier {
  const tally: BuyerTally = {
    firstIntendedAt: undefined,
    completions: new CompletionLog(),
    steady: { orders: 0, succeeded: 0, soldOut: 0, caughtByCrash: 0, latencies: new NumberColumn() },
  };
  const { steady } = tally;
  const add = ({ buyer, orders }: BuyerGroup, marks: FaultMarks): void => {
    if (buyer.intendedAt !== undefined && (tally.firstIntendedAt === undefined || buyer.intendedAt < tally.firstIntendedAt)) {
      tally.firstIntendedAt = buyer.intendedAt;
    }
    if (buyer.behaviour !== 'normal' || buyer.dropped) return;
    // A sell-out the supplier really had is a correct answer, not a failure: counted apart.
    const owned = new Map(orders.map(({ order }) => [order.orderId, order]));
    const soldOut = soldOutGenuinely(buyer, (orderId) => owned.get(orderId) ?? run.orders.get(orderId), marks.stock);
    if (counts(buyer) && !soldOut) {
      const finished = buyer.finished!;
      tally.completions.push({ at: buyer.intendedAt! + finished.latencyMs, latencyMs: finished.latencyMs, delivered: finished.outcome === 'delivered' });
    }
    if (marks.buyers.has(buyer.buyerId) || buyer.orders.some((orderId) => marks.orders.has(orderId))) return;
    if (caughtByCrash(buyer, run.target)) {
      steady.caughtByCrash++;
      return;
    }
    if (soldOut) {
      steady.soldOut++;
      return;
    }
    steady.orders++;
    if (buyer.finished?.outcome === 'delivered') {
      steady.succeeded++;
      steady.latencies.push(buyer.finished.latencyMs);
    }
  };
  return { add, tally };
}

/**
 * Whether the buyer was shopping while the shop was down: from a kill until the shop answered its
 * health check again (a kill with no restart yet stays open). Such a buyer met the crash — arriving
 * to a dead shop, or waiting through its restart — whether or not the supplier's or the payment
 * ledger named the order, and how long a restart takes is the machine's as much as the shop's.
 */
export function caughtByCrash(buyer: BuyerFacts, target: FoldedRun['target']): boolean {
  if (target.kills.length === 0 || buyer.intendedAt === undefined) return false;
  const from = buyer.intendedAt;
  const until = buyer.finished === undefined ? Number.POSITIVE_INFINITY : from + buyer.finished.latencyMs;
  return target.kills.some((killedAt) => {
    const backAt = target.restarts.find((restartedAt) => restartedAt >= killedAt) ?? Number.POSITIVE_INFINITY;
    return from <= backAt && until >= killedAt;
  });
}

/** One pass over the buyers (with the orders they own): `buyerTallier` fed `buyerGroups`. */
export function tallyBuyers(run: FoldedRun, faulted: { buyers: ReadonlySet<string>; orders: ReadonlySet<string> }): BuyerTally {
  const tallier = buyerTallier(run);
  const marks = faultMarksOf(run, faulted);
  for (const group of buyerGroups(run)) tallier.add(group, marks);
  return tallier.tally;
}

/** Load start on the run clock from the first intended arrival less its place in the schedule (a closed model's loops all start at load start). */
function loadStartFrom(firstIntendedAt: number | undefined, scenario: Scenario): number | undefined {
  if (firstIntendedAt === undefined) return undefined;
  if (scenario.load.model === 'closed') return firstIntendedAt;
  for (const arrival of arrivalSchedule(scenario.load.stages)) return firstIntendedAt - arrival.at;
  return firstIntendedAt;
}

/**
 * Load start on the run clock: the first arrival's intended time less its place in the schedule
 * (a closed model's loops all start at load start). Undefined when nobody arrived.
 */
export function loadStartOf(run: FoldedRun, scenario: Scenario): number | undefined {
  return loadStartFrom(tallyBuyers(run, { buyers: new Set(), orders: new Set() }).firstIntendedAt, scenario);
}

/** Completions on the run clock, moved to load time and sorted by `at`. */
function toLoadTime(completions: Iterable<Completion>, loadStart: number): Completion[] {
  return Array.from(completions, (completion) => ({ ...completion, at: completion.at - loadStart }))
    .sort((a, b) => a.at - b.at || a.latencyMs - b.latencyMs);
}

/** Completions the recovery rules look at, in load time, sorted by `at`. */
export function completionsOf(run: FoldedRun, loadStart: number): Completion[] {
  return toLoadTime(tallyBuyers(run, { buyers: new Set(), orders: new Set() }).completions, loadStart);
}

function counts(buyer: BuyerFacts): boolean {
  return buyer.behaviour === 'normal' && !buyer.dropped && buyer.finished !== undefined && buyer.intendedAt !== undefined;
}

/** Nearest-rank percentile of ascending values. */
function percentileOf(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** Inserts into / removes from an ascending array, keeping it sorted. */
function insertSorted(values: number[], value: number): void {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle]! <= value) low = middle + 1;
    else high = middle;
  }
  values.splice(low, 0, value);
}
function removeSorted(values: number[], value: number): void {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle]! < value) low = middle + 1;
    else high = middle;
  }
  if (values[low] === value) values.splice(low, 1);
}

/**
 * Evaluates one rule on completions (load time, sorted by `at`) after a window end: the time
 * to recover, whether it was within the rule's `within`, and the deciding window's figures.
 */
export function evaluateRule(rule: RecoveryRule, windowEnd: number, sorted: readonly Completion[]): RecoveryResult {
  const after = sorted.filter((completion) => completion.at > windowEnd);
  const result: RecoveryResult = { rule, windowEnd: round(windowEnd), completions: after.length, met: false };
  if (after.length === 0) return result;

  const width = rule.window;
  const last = after[after.length - 1]!.at;
  const lastStart = Math.max(windowEnd, last - width);
  // The window's contents change only where a completion enters ((s, s + W] reaches it) or leaves
  // (s reaches it): evaluate at those starts, within [windowEnd, lastStart].
  const starts = new Set<number>([windowEnd]);
  for (const { at } of after) {
    if (at <= lastStart) starts.add(at);
    if (at - width > windowEnd && at - width <= lastStart) starts.add(at - width);
  }
  const points = [...starts].sort((a, b) => a - b);

  const latencies: number[] = [];
  let delivered = 0;
  let enter = 0; // next completion to enter
  let leave = 0; // next completion to leave
  // One entry per start; `window` undefined when the window holds no completion.
  const evaluated: Array<{ start: number; window?: RecoveryWindow; meets: boolean }> = [];
  for (const start of points) {
    const end = start === lastStart ? last : start + width;
    while (enter < after.length && after[enter]!.at <= end) {
      insertSorted(latencies, after[enter]!.latencyMs);
      if (after[enter]!.delivered) delivered++;
      enter++;
    }
    while (leave < enter && after[leave]!.at <= start) {
      removeSorted(latencies, after[leave]!.latencyMs);
      if (after[leave]!.delivered) delivered--;
      leave++;
    }
    const completions = enter - leave;
    if (completions === 0) {
      evaluated.push({ start, meets: true });
      continue;
    }
    const successRate = delivered / completions;
    const p95 = percentileOf(latencies, 95);
    const meets = (rule.p95 === undefined || p95 <= rule.p95) && (rule.successRate === undefined || successRate >= rule.successRate);
    evaluated.push({
      start,
      window: { from: round(start), to: round(end), completions, delivered, successRate: round(successRate, 6), p95: round(p95) },
      meets,
    });
  }

  // The last failing window; recovery starts where the window moves on from it.
  let lastFailure = -1;
  for (let index = evaluated.length - 1; index >= 0; index--) {
    if (!evaluated[index]!.meets) {
      lastFailure = index;
      break;
    }
  }
  if (lastFailure === evaluated.length - 1) {
    result.figures = evaluated[lastFailure]!.window!;
    return result;
  }
  const recoveredAt = lastFailure < 0 ? windowEnd : evaluated[lastFailure + 1]!.start;
  result.recoveredAt = round(recoveredAt);
  result.timeToRecoverMs = round(recoveredAt - windowEnd);
  result.met = recoveredAt - windowEnd <= rule.within;
  // The evidence: the first window with completions from recovery on (the last window has some).
  result.figures = evaluated.slice(lastFailure + 1).find((entry) => entry.window !== undefined)!.window!;
  return result;
}

/** The rule with its fault resolved; undefined when `after` names no usable fault (the schema refuses those). */
export function resolveRule(scenario: Scenario, spec: RecoveryRuleSpec): { rule: RecoveryRule; windowEnd: number } | undefined {
  const resolved = recoveryFaultOf(scenario.faults, spec.after);
  if ('problem' in resolved) return undefined;
  const rule: RecoveryRule = { after: resolved.index, fault: resolved.fault.id as FaultId, within: spec.within, window: spec.window };
  if (spec.p95 !== undefined) rule.p95 = spec.p95;
  if (spec.successRate !== undefined) rule.successRate = spec.successRate;
  return { rule, windowEnd: resolved.windowEnd };
}

/** Every `gate.recovery` rule of the scenario, evaluated on the folded journal; empty when there are none. */
export function evaluateRecovery(run: FoldedRun, scenario: Scenario, tally?: BuyerTally): RecoveryResult[] {
  const specs = scenario.gate.recovery ?? [];
  if (specs.length === 0) return [];
  const buyers = tally ?? tallyBuyers(run, { buyers: new Set(), orders: new Set() });
  const loadStart = loadStartFrom(buyers.firstIntendedAt, scenario);
  const completions = loadStart === undefined ? [] : toLoadTime(buyers.completions, loadStart);
  return specs.flatMap((spec) => {
    const resolved = resolveRule(scenario, spec);
    return resolved ? [evaluateRule(resolved.rule, resolved.windowEnd, completions)] : [];
  });
}
