/**
 * Scoring: a pure function of (journal, scenario). The journal is consumed as a stream and folded,
 * in one pass, into per-order state (`foldJournal`); incidents, stage credits, class and overall
 * scores, invariants and the steady state are then computed from that state (`scoreFolded`).
 *
 * Model (DESIGN.md §6): an incident is one fault id hitting one order, starting at the first
 * `fault.injected` for the pair. Each stage earns 1 within its deadline D, falling linearly to 0
 * at 2D, 0 if never met. Incident score = 0.3·detect + 0.2·notify + 0.5·recover; class score =
 * mean incident score × 100; overall = Σ(weight × class score) / Σ weight, weights by money at risk
 * unless `scenario.weights` says otherwise; with no incidents, the steady-state success rate × 100.
 */
import type { IncidentClass, Scenario } from '../../core/scenario-schema.js';
import { invariantChecker } from './invariants.js';
import { buyerTallier, evaluateRecovery, faultMarksOf, type BuyerTally } from './recovery.js';
import {
  STAGE_NAMES,
  type ClassScore,
  type IncidentReport,
  type IncidentStage,
  type LoadFigures,
  type ScenarioScore,
  type StageDeadlines,
  type StageName,
  type StageSummary,
  type SteadyState,
} from '../../core/report-types.js';
import { stagesOf } from '../../core/faults/index.js';
import { notifyStageUnobservable, unobservableReason } from '../../core/faults/observability.js';
import type { TargetObservation } from '../../core/journal.js';
import { STAGE_WEIGHTS, deadlinesFor, specFor, stageCredit } from './credit.js';
import { amountOf } from '../../core/faults/evidence.js';
import { outsideRequestsOf } from './outside-requests.js';
import { buyerGroups, newOrderFacts, type FaultHitFacts, type FoldedRun } from './folded-run.js';
import { accountingOf, addUnownedOrders, OrderLedger } from './accounting.js';
import { foldJournal, foldJournalFile, type FoldFileOptions, type FoldedRunWithMetrics, type JournalSource } from './fold.js';
import type { OrderFacts } from '../../core/faults/facts.js';

export type {
  ClassScore,
  IncidentReport,
  IncidentStage,
  InvariantResult,
  InvariantViolation,
  LoadFigures,
  ScenarioScore,
  StageSummary,
  SteadyState,
} from '../../core/report-types.js';

export { COMPACT_AFTER_MS, foldJournal, foldJournalBatches, foldJournalFile, JournalFolder } from './fold.js';
export type { FoldedRunWithMetrics, FoldFileOptions, FoldOptions, JournalBatches, JournalSource } from './fold.js';

/** Scores a journal file (`foldJournalFile`, then `scoreFolded`), deleting the fold's archive after; with how the run ended. */
export async function scoreJournalFile(
  path: string,
  scenario: Scenario,
  options: FoldFileOptions = {},
): Promise<{ score: ScenarioScore; finished: FoldedRun['finished'] }> {
  const folded = await foldJournalFile(path, options);
  try {
    return { score: scoreFolded(folded, scenario), finished: folded.finished };
  } finally {
    folded.close();
  }
}

/** Scores a scenario's journal. Consumes `events` once, as a stream. */
export async function scoreScenario(events: JournalSource, scenario: Scenario): Promise<ScenarioScore> {
  return scoreFolded(await foldJournal(events), scenario);
}

// ---------------------------------------------------------------------------------------------

const round = (value: number, digits = 4): number => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** Nearest-rank percentile of ascending-sorted values; null when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

interface ResolvedIncident {
  fault: IncidentClass;
  orderId: string | null;
  buyerId: string | null;
  start: number;
  faultIndex: number;
  /** Every `fault.injected` time of the incident, ascending. */
  hits: number[];
}

/**
 * Incidents: one per (class, order). A hit naming only a buyer attaches to the order its class
 * says (the corrected order for an input mistake; else the buyer's first order).
 */
function resolveIncidents(run: FoldedRun): { incidents: ResolvedIncident[]; unattached: number } {
  const byKey = new Map<string, ResolvedIncident>();
  const buyerHits: FaultHitFacts[] = [];
  const add = (hit: FaultHitFacts, orderId: string | null, buyerId: string | null, key: string): void => {
    const known = byKey.get(key);
    if (!known) {
      byKey.set(key, { fault: hit.fault, orderId, buyerId, start: hit.t, faultIndex: hit.faultIndex, hits: [...hit.times] });
      return;
    }
    if (hit.t < known.start) {
      known.start = hit.t;
      known.faultIndex = hit.faultIndex;
    }
    known.hits = [...known.hits, ...hit.times].sort((a, b) => a - b);
    known.buyerId ??= buyerId;
  };
  for (const hit of run.faultHits.values()) {
    if (hit.orderId === undefined) {
      buyerHits.push(hit);
      continue;
    }
    const buyerId = run.orders.get(hit.orderId)?.buyerId ?? hit.buyerId ?? null;
    add(hit, hit.orderId, buyerId, `${hit.fault}\u0000${hit.orderId}`);
  }
  let unattached = 0;
  for (const hit of buyerHits) {
    const buyerId = hit.buyerId as string;
    const buyer = run.buyers.get(buyerId);
    const attach = stagesOf(hit.fault).attach;
    const orderId = buyer ? (attach ? attach(buyer) : buyer.orders[0]) : undefined;
    if (orderId !== undefined) add(hit, orderId, buyerId, `${hit.fault}\u0000${orderId}`);
    else {
      unattached++;
      add(hit, null, buyerId, `${hit.fault}\u0000\u0000${buyerId}`);
    }
  }
  const incidents = [...byKey.values()].sort(
    (a, b) =>
      a.start - b.start ||
      a.fault.localeCompare(b.fault) ||
      (a.orderId ?? '').localeCompare(b.orderId ?? '') ||
      (a.buyerId ?? '').localeCompare(b.buyerId ?? ''),
  );
  return { incidents, unattached };
}

/** Money at risk for an incident: the order's amount, else the catalogue price × the buyer's quantity. */
function incidentAmount(run: FoldedRun, scenario: Scenario, order: OrderFacts | undefined, buyerId: string | null): number {
  const amount = order ? amountOf(order) : 0;
  if (amount > 0) return amount;
  const buyer = buyerId !== null ? run.buyers.get(buyerId) : undefined;
  const sku = order?.sku ?? buyer?.sku;
  const price = scenario.catalog.skus.find((entry) => entry.sku === sku)?.price ?? 0;
  return price * (order?.quantity ?? buyer?.quantity ?? 1);
}

interface ScoredIncident {
  report: IncidentReport;
  /** The deadlines this incident was scored against (its fault's own parameters). */
  deadlines: StageDeadlines;
}

function scoreIncident(run: FoldedRun, scenario: Scenario, incident: ResolvedIncident, hidden: ReadonlySet<StageName>): ScoredIncident {
  const known = incident.orderId !== null ? run.orders.get(incident.orderId) : undefined;
  const order = known ?? newOrderFacts(incident.orderId ?? '');
  const table = stagesOf(incident.fault);
  const spec = specFor(scenario, incident.fault, incident.faultIndex);
  const deadlines = deadlinesFor(incident.fault, scenario, spec);
  const buyerId = incident.buyerId ?? order.buyerId;
  const buyer = buyerId !== undefined && buyerId !== null ? run.buyers.get(buyerId) : undefined;
  const context = { run, scenario, spec, buyer, hits: incident.hits };
  const stages = {} as Record<StageName, IncidentStage>;
  // Stage times count from the clock's start (the shop's restart, for a crash); never negative.
  const clock = table.clockFrom?.(incident.start, context) ?? incident.start;
  let score = 0;
  let weights = 0;
  for (const name of STAGE_NAMES) {
    if (hidden.has(name)) {
      // A stage the target cannot show: n/a, and the others carry the incident score.
      stages[name] = { credit: 0, observable: false };
      continue;
    }
    weights += STAGE_WEIGHTS[name];
    const outcome = table[name](order, incident.start, context);
    const stage: IncidentStage = { credit: 0 };
    if (outcome.at !== undefined && Number.isFinite(outcome.at)) {
      stage.at = outcome.at;
      const ms = Math.max(0, outcome.at - clock);
      stage.ms = round(ms, 3);
      stage.credit = outcome.voided ? 0 : round(stageCredit(ms, deadlines[name]));
      if (outcome.voided) stage.note = outcome.voided;
    }
    stages[name] = stage;
    score += STAGE_WEIGHTS[name] * stage.credit;
  }
  return {
    report: {
      class: incident.fault,
      orderId: incident.orderId,
      buyerId: incident.buyerId,
      startedAt: incident.start,
      amount: incidentAmount(run, scenario, known, incident.buyerId),
      stages,
      score: round(weights > 0 ? score / weights : 0),
    },
    deadlines,
  };
}

function summarise(incidents: ScoredIncident[], name: StageName, hidden: ReadonlySet<StageName>): StageSummary {
  if (hidden.has(name)) return { met: 0, reached: 0, p50: null, p95: null, observable: false };
  const times: number[] = [];
  let met = 0;
  for (const { report, deadlines } of incidents) {
    const stage = report.stages[name];
    if (stage.ms === undefined) continue;
    times.push(stage.ms);
    if (stage.note === undefined && stage.ms <= deadlines[name]) met++;
  }
  times.sort((a, b) => a - b);
  return { met, reached: times.length, p50: percentile(times, 50), p95: percentile(times, 95) };
}

function scoreClasses(incidents: ScoredIncident[], scenario: Scenario, observes: TargetObservation | undefined, hidden: ReadonlySet<StageName>): Partial<Record<IncidentClass, ClassScore>> {
  const groups = new Map<IncidentClass, ScoredIncident[]>();
  for (const incident of incidents) {
    const group = groups.get(incident.report.class) ?? [];
    group.push(incident);
    groups.set(incident.report.class, group);
  }
  // The classes the scenario asks for, with incidents or not: one the target cannot show is n/a.
  for (const incidentClass of scenarioClasses(scenario)) if (!groups.has(incidentClass) && unobservableReason(incidentClass, observes) !== undefined) groups.set(incidentClass, []);
  const classes: Partial<Record<IncidentClass, ClassScore>> = {};
  for (const fault of [...groups.keys()].sort()) {
    const group = groups.get(fault) as ScoredIncident[];
    const stages = {
      detect: summarise(group, 'detect', hidden),
      notify: summarise(group, 'notify', hidden),
      recover: summarise(group, 'recover', hidden),
    };
    const reason = unobservableReason(fault, observes);
    if (reason !== undefined) {
      classes[fault] = { score: null, observable: false, reason, weight: 0, incidents: group.length, deadlines: deadlinesFor(fault, scenario), stages };
      continue;
    }
    const mean = group.reduce((sum, incident) => sum + incident.report.score, 0) / group.length;
    const moneyAtRisk = group.reduce((sum, incident) => sum + incident.report.amount, 0);
    classes[fault] = {
      score: round(mean * 100),
      weight: scenario.weights?.[fault] ?? Math.max(1, moneyAtRisk),
      incidents: group.length,
      deadlines: deadlinesFor(fault, scenario),
      stages,
    };
  }
  return classes;
}

/** The incident classes a scenario can produce: its faults, and the mistakes in its buyer mix. */
export function scenarioClasses(scenario: Scenario): IncidentClass[] {
  const classes = new Set<IncidentClass>(scenario.faults.map((fault) => fault.id));
  for (const [behaviour, share] of Object.entries(scenario.buyers.mix)) {
    if (behaviour !== 'normal' && (share ?? 0) > 0) classes.add(`buyer.${behaviour}` as IncidentClass);
  }
  return [...classes];
}

/** The buyers and orders that incidents and fault hits name (left out of the steady state). */
function faultedOf(run: FoldedRun, incidents: IncidentReport[]): { buyers: Set<string>; orders: Set<string> } {
  const buyers = new Set<string>();
  const orders = new Set<string>();
  for (const incident of incidents) {
    if (incident.buyerId !== null) buyers.add(incident.buyerId);
    if (incident.orderId !== null) orders.add(incident.orderId);
  }
  for (const hit of run.faultHits.values()) if (hit.buyerId !== undefined) buyers.add(hit.buyerId);
  return { buyers, orders };
}

/** Normal buyers, not dropped, whose orders no fault touched: the fraction delivered, and how fast. */
function steadyStateOf(scenario: Scenario, tally: BuyerTally): SteadyState {
  const { orders, succeeded, soldOut, caughtByCrash } = tally.steady;
  const latencies = tally.steady.latencies.sorted();
  const successRate = orders === 0 ? 1 : succeeded / orders;
  const latency = { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
  const thresholds: SteadyState['thresholds'] = { successRate: scenario.gate.steadyState.successRate };
  if (scenario.gate.steadyState.p95 !== undefined) thresholds.p95 = scenario.gate.steadyState.p95;
  const ok = successRate >= thresholds.successRate && (thresholds.p95 === undefined || latency.p95 === null || latency.p95 <= thresholds.p95);
  return { orders, succeeded, successRate: round(successRate, 6), latency, thresholds, ok, ...(soldOut > 0 ? { soldOut } : {}), ...(caughtByCrash > 0 ? { caughtByCrash } : {}) };
}

function loadOf(run: FoldedRun, unattachedFaults: number): LoadFigures {
  const { counters } = run;
  return {
    arrivals: counters.loadFinished?.arrivals ?? counters.arrived + counters.dropped,
    dropped: counters.loadFinished?.dropped ?? counters.dropped,
    ordersCreated: run.orders.size,
    httpErrors: counters.httpErrors,
    rejected: counters.rejected,
    unattachedFaults,
  };
}

/** Scores an already folded run (e.g. merged segment journals); its metrics, when it has them, go along. */
export function scoreFolded(run: FoldedRunWithMetrics, scenario: Scenario): ScenarioScore {
  const { incidents: resolved, unattached } = resolveIncidents(run);
  const hidden = new Set<StageName>(notifyStageUnobservable(run.observes) === undefined ? [] : ['notify']);
  const scored = resolved.map((incident) => scoreIncident(run, scenario, incident, hidden));
  const incidents = scored.map((incident) => incident.report);
  const classes = scoreClasses(scored, scenario, run.observes, hidden);
  // The buyers an archiving fold already checked are in its accumulators; one walk over the buyers
  // left (and their orders) feeds the same tally and invariant checks.
  if (run.finalized?.scored) throw new Error('scoreFolded: a fold that checked settled buyers as it went is scored once');
  const { tallier, checker, ledger } = run.finalized ?? { tallier: buyerTallier(run), checker: invariantChecker(run), ledger: new OrderLedger() };
  if (run.finalized) run.finalized.scored = true;
  const marks = faultMarksOf(run, faultedOf(run, incidents));
  for (const group of buyerGroups(run)) {
    tallier.add(group, marks);
    checker.add(group);
    ledger.add(group);
  }
  addUnownedOrders(run, ledger);
  const { tally } = tallier;
  const steadyState = steadyStateOf(scenario, tally);

  let score: number | null;
  const all = Object.values(classes);
  const weighted = all.filter((entry): entry is ClassScore & { score: number } => entry.score !== null);
  if (all.length === 0) score = steadyState.successRate * 100;
  else if (weighted.length === 0) score = null;
  else {
    const totalWeight = weighted.reduce((sum, entry) => sum + entry.weight, 0);
    score = weighted.reduce((sum, entry) => sum + entry.weight * entry.score, 0) / totalWeight;
  }

  return {
    scenario: scenario.name,
    seed: run.run?.seed ?? scenario.seed,
    score: score === null ? null : round(score),
    ...(score === null ? { observable: false as const } : {}),
    classes,
    incidents,
    invariants: checker.finish(scenario),
    steadyState,
    load: loadOf(run, unattached),
    ...(scenario.gate.recovery === undefined ? {} : { recovery: evaluateRecovery(run, scenario, tally) }),
    ...(run.metrics === undefined ? {} : { metrics: run.metrics }),
    accounting: accountingOf(run, run.requests, ledger),
    ...(run.provider.protocol === undefined
      ? {}
      : { provider: { protocol: run.provider.protocol, ...(run.provider.channels ? { channels: run.provider.channels } : {}), notInjected: run.provider.notInjected } }),
    ...outsideRequestsOf(run),
  };
}
