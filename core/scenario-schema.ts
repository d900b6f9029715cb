/**
 * The scenario schema: the single source of the scenario's TypeScript types, of validation for
 * YAML and TS scenarios alike, and of the JSON Schema editors use for completion.
 *
 * Input types (`ScenarioInput`) accept the friendly forms ("1.5s", "20/s"); output types
 * (`Scenario`) hold milliseconds and arrivals per second, with every default filled in.
 */
import { z } from 'zod';
import { durationSchema, MAX_DURATION_MS, MAX_RATE_PER_SECOND, money, PAYMENT_PROTOCOLS, rateSchema, RISK_SIGNALS } from './schema-parts.js';
import { INVARIANT_IDS } from './invariant-ids.js';
import { BUYER_BEHAVIOURS, FAULT_IDS, faultDefinition, faultSchema, INCIDENT_CLASSES, type FaultId, type FaultSpec, type IncidentClass as IncidentClassName } from './faults/index.js';

export { durationSchema, rateSchema, windowSchema, delaySchema, RISK_SIGNALS, MOCK_SERVICES, PAYMENT_PROTOCOLS, PAYMENT_ROUTES } from './schema-parts.js';
export type { DelayDistribution, MockService, PaymentProtocol, PaymentRoute, RiskSignal } from './schema-parts.js';
export { BUYER_BEHAVIOURS, BUYER_INCIDENT_CLASSES, FAULT_IDS, faultSchema } from './faults/index.js';
export type { BuyerBehaviour, BuyerIncidentClass, BuyerMistake, FaultId, FaultSpec, IncidentClass } from './faults/index.js';

const stageDeadlines = z.strictObject({
  /** Deadline for the shop to show it noticed the failure. */
  detect: durationSchema.optional(),
  /** Deadline for the buyer to be told. */
  notify: durationSchema.optional(),
  /** Deadline for the order to be made whole (delivered, or refunded and released). */
  recover: durationSchema.optional(),
});

export { INVARIANT_IDS, type InvariantId } from './invariant-ids.js';

const skuSchema = z.strictObject({
  sku: z.string().regex(/^[A-Za-z0-9_-]+$/, { error: 'expected letters, digits, "_" or "-"' }),
  name: z.string().min(1),
  /** Unit price in minor units. */
  price: z.number().int().positive(),
  currency: z.string().length(3).default('CNY'),
  /** Cards the supplier holds at the start. */
  stock: z.number().int().nonnegative(),
  /** Restock time the supplier announces when sold out, relative to the start. */
  restockIn: durationSchema.optional(),
});

const couponSchema = z.strictObject({
  code: z.string().min(1),
  discount: money,
  minAmount: money,
});

const stageSchema = z.strictObject({
  /** Arrival rate at the start of the stage. */
  rate: rateSchema,
  duration: durationSchema,
  /** Ramp linearly to this rate by the end of the stage. @default rate (constant) */
  rampTo: rateSchema.optional(),
});
export type LoadStage = z.output<typeof stageSchema>;

/**
 * Open model (the default): buyers arrive at the stages' rates whatever the shop does — a ramp up,
 * a hold, a spike and a ramp down are four stages. At most `maxInFlight` orders are in flight;
 * an arrival beyond that is dropped and counted (`load.dropped`), never queued.
 */
const openLoadSchema = z.strictObject({
  model: z.literal('open').default('open'),
  /** Consecutive stages, e.g. `[{ rate: 5/s, rampTo: 80/s, duration: 3s }, { rate: 80/s, duration: 3s }]`. */
  stages: z.array(stageSchema).min(1),
  /** Orders in flight at most; arrivals beyond are dropped and counted. @default 200 */
  maxInFlight: z.number().int().positive().max(1_000_000).default(200),
});

/**
 * Closed model: `buyers` buyers each order, wait for the outcome, think for `thinkTime`, and order
 * again, until `duration` is over; at most `buyers` orders are in flight, so nothing is dropped.
 * Latency is measured from when the buyer meant to start each order.
 */
const closedLoadSchema = z.strictObject({
  model: z.literal('closed'),
  /** Concurrent buyers: each places one order at a time. */
  buyers: z.number().int().positive().max(10_000),
  /** Time a buyer waits between the end of one order and the start of the next. @default 0 */
  thinkTime: durationSchema.default(0),
  /** How long buyers keep starting new orders (orders in flight then finish). */
  duration: durationSchema,
});

/** Most arrivals one scenario may plan (ten million: hours at a real shop's peak). */
export const MAX_PLANNED_ARRIVALS = 10_000_000;

/** Arrivals the stages plan: each stage's mean rate (a ramp's average) times its duration. */
function plannedArrivals(stages: ReadonlyArray<{ rate: number; rampTo?: number; duration: number }>): number {
  return stages.reduce((sum, stage) => sum + ((stage.rate + (stage.rampTo ?? stage.rate)) / 2) * (stage.duration / 1000), 0);
}

/** `load`: open (arrival rate, the default) or closed (concurrent buyers with think time). */
export const loadSchema = z
  .discriminatedUnion('model', [openLoadSchema, closedLoadSchema], {
    error: 'expected `model: open` with `stages` (arrivals per second) or `model: closed` with `buyers`, `duration` and `thinkTime`',
  })
  .transform((load) => {
    if (load.model === 'open') return load;
    // maxInFlight is implied (one order per buyer). `stages` holds the load's duration with no
    // planned arrivals, so code that only needs the load's length can read it from either model.
    const stages: LoadStage[] = [{ rate: 0, duration: load.duration }];
    return { ...load, maxInFlight: load.buyers, stages };
  });
export type LoadModel = z.output<typeof loadSchema>;

/**
 * A recovery rule: within `within` after the fault's window ends, a sliding window of order
 * completions must meet every threshold given, and keep meeting them until the run's last
 * completion. The report gives the measured time to recover.
 */
const recoveryRuleSchema = z
  .strictObject({
    /** The fault whose window ends the clock: its index in `faults`, or its id when one fault has it. */
    after: z.union([z.number().int().nonnegative(), z.enum(FAULT_IDS as [FaultId, ...FaultId[]])], {
      error: 'expected a fault index (0-based, in `faults`) or a fault id',
    }),
    /** Longest acceptable time from the end of the fault's window to recovery. */
    within: durationSchema,
    /** p95 completion time (intended arrival to outcome) the window must stay under. @default not checked */
    p95: durationSchema.optional(),
    /** Share (0–1) of the window's orders that must be delivered. @default not checked */
    successRate: z.number().min(0).max(1).optional(),
    /** Length of the sliding window of completions the thresholds are measured over. @default "5s" */
    window: durationSchema
      .refine((value) => value > 0, { error: 'expected a window longer than 0' })
      .default(5000),
  })
  .refine((rule) => rule.p95 !== undefined || rule.successRate !== undefined, {
    error: 'expected at least one threshold: p95 or successRate',
  });
export type RecoveryRuleSpec = z.output<typeof recoveryRuleSchema>;

export const scenarioSchema = z
  .strictObject({
    /** Used in reports and run folders: letters, digits, "-", "_" and ".". */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
      error: 'expected a name of letters, digits, ".", "_" or "-"',
    }),
    description: z.string().optional(),
    /** Seed for buyers and fault decisions; `--seed` overrides it. @default 1 */
    seed: z.number().int().nonnegative().default(1),
    catalog: z.strictObject({
      skus: z.array(skuSchema).min(1),
      coupons: z.array(couponSchema).default([]),
    }),
    /** The payment provider Ordeal plays. */
    provider: z
      .strictObject({
        /** The wire protocol the shop speaks to it (its primary channel); `--protocol` overrides. @default "native" */
        protocol: z.enum(PAYMENT_PROTOCOLS).default('native'),
        /**
         * Further channels the shop offers beside the primary, one protocol each (a shop with Alipay,
         * WeChat Pay and cards): each served on its own port, over one ledger. @default []
         */
        channels: z.array(z.enum(PAYMENT_PROTOCOLS)).max(PAYMENT_PROTOCOLS.length - 1).default([]),
      })
      .superRefine((provider, context) => {
        const protocols = [provider.protocol, ...provider.channels];
        const repeated = protocols.find((protocol, index) => protocols.indexOf(protocol) !== index);
        if (repeated !== undefined) {
          context.addIssue({ code: 'custom', path: ['channels'], message: `one channel per protocol: "${repeated}" is named twice (protocol and channels together)` });
        }
      })
      .default({ protocol: 'native', channels: [] }),
    /** Timers handed to the built-in shop (any managed shop gets them in ORDEAL_SHOP_CONFIG). */
    shop: z
      .strictObject({
        /** An unpaid order expires after this. @default "8s" */
        orderTtl: durationSchema.default(8000),
        /** Query the provider about an unpaid order this long after it was created. @default "1.5s" */
        reconcileAfter: durationSchema.default(1500),
        /** Then query again this often. @default "1s" */
        reconcileEvery: durationSchema.default(1000),
      })
      .default({ orderTtl: 8000, reconcileAfter: 1500, reconcileEvery: 1000 }),
    /** Open model (`stages`, `maxInFlight`; the default) or closed model (`model: closed`, `buyers`, `thinkTime`, `duration`). */
    load: loadSchema,
    buyers: z
      .strictObject({
        /** Share of each behaviour; normalised. @default { normal: 1 } */
        mix: z.partialRecord(z.enum(BUYER_BEHAVIOURS), z.number().nonnegative()).default({ normal: 1 }),
        /** Cards per order, inclusive range. @default 1..1 */
        quantity: z
          .strictObject({ min: z.number().int().min(1), max: z.number().int().min(1) })
          .default({ min: 1, max: 1 }),
        /** Share of buyers showing each risk signal (independently). @default none */
        signals: z.partialRecord(z.enum(RISK_SIGNALS), z.number().min(0).max(1)).default({}),
        /** Share of buyers paying from abroad (region outside CN). @default 0 */
        abroad: z.number().min(0).max(1).default(0),
        /** Time a buyer spends at the cashier before paying. @default "50ms" */
        payAfter: durationSchema.default(50),
        /** Status polling interval. @default "200ms" */
        pollEvery: durationSchema.default(200),
        /** Share of ordinary buyers who apply a valid coupon of the shop's (when their order reaches one). @default 0.25 */
        coupons: z.number().min(0).max(1).default(0.25),
      })
      .default({ mix: { normal: 1 }, quantity: { min: 1, max: 1 }, signals: {}, abroad: 0, payAfter: 50, pollEvery: 200, coupons: 0.25 }),
    faults: z.array(faultSchema).default([]),
    /** Stage deadlines per fault id, overriding the defaults. */
    expect: z.partialRecord(z.enum(INCIDENT_CLASSES as [IncidentClassName, ...IncidentClassName[]]), stageDeadlines).default({}),
    /** Class weights for the overall score. @default money at risk in the class */
    weights: z.partialRecord(z.enum(INCIDENT_CLASSES as [IncidentClassName, ...IncidentClassName[]]), z.number().positive()).optional(),
    gate: z
      .strictObject({
        /** Overall score (0–100) below which the gate fails; `--min-score` overrides. @default 0 */
        minScore: z.number().min(0).max(100).default(0),
        /** Invariants that fail the gate when broken. @default "all" */
        invariants: z.union([z.literal('all'), z.array(z.enum(INVARIANT_IDS))]).default('all'),
        steadyState: z
          .strictObject({
            /** Share of fault-free orders that must be delivered. @default 0.99 */
            successRate: z.number().min(0).max(1).default(0.99),
            /** p95 from arrival to delivered for fault-free orders. @default none */
            p95: durationSchema.optional(),
          })
          .default({ successRate: 0.99 }),
        /**
         * Recovery rules: e.g. `{ after: 1, within: 5s, p95: 800ms, successRate: 0.95 }` — within 5 s
         * after the window of `faults[1]` ends, p95 completion is back under 800 ms and at least 95%
         * of orders are delivered (over a sliding 5 s window), and it stays so. @default none
         */
        recovery: z.array(recoveryRuleSchema).optional(),
        /**
         * Share of arrivals (open model) that may be dropped at the in-flight cap (`load.maxInFlight`)
         * before the gate fails: past it the shop was not sent the load the scenario describes, and
         * a pass would say nothing about it. @default 0.01
         */
        maxDropped: z.number().min(0).max(1).default(0.01),
      })
      .default({ minScore: 0, invariants: 'all', steadyState: { successRate: 0.99 }, maxDropped: 0.01 }),
    /**
     * After load ends, wait at most this long for every order to reach a final state; `auto`: long
     * enough for every stage deadline the scenario can raise to be decided (twice the longest, on
     * the shop's timers). The settle ends early once everything has settled. @default "10s"
     */
    settle: z.union([z.literal('auto'), durationSchema], { error: 'expected a duration (e.g. "10s") or "auto"' }).default(10_000),
    /**
     * The most the load and the settle may take together: past it the run is cut, what happened
     * before is scored, and the gate fails saying so — a shop that hangs every request cannot hold
     * a run (or a CI job) for ever. @default load + settle + 30s
     */
    deadline: durationSchema.optional(),
  })
  .superRefine((scenario, context) => {
    // Checked only on stages that parsed, and within their own limits (a stage past the rate or
    // duration limit, or a load that did not parse at all, is refused on its own).
    const stages: unknown = (scenario.load as { stages?: unknown } | undefined)?.stages;
    const parsed = Array.isArray(stages) && stages.every((stage: { rate?: unknown; rampTo?: unknown; duration?: unknown }) => typeof stage?.rate === 'number' && typeof stage.duration === 'number');
    const typedStages = parsed ? (stages as LoadStage[]) : [];
    const planned = plannedArrivals(typedStages);
    const stagesAllowed = parsed && typedStages.every((stage) => Math.max(stage.rate, stage.rampTo ?? 0) <= MAX_RATE_PER_SECOND && stage.duration <= MAX_DURATION_MS);
    if (stagesAllowed && planned > MAX_PLANNED_ARRIVALS) {
      context.addIssue({ code: 'custom', path: ['load'], message: `plans ${Math.round(planned).toLocaleString('en')} arrivals; at most ${MAX_PLANNED_ARRIVALS.toLocaleString('en')} per scenario (split it, or lower the rates or durations)` });
    }
    const skus = new Set<string>();
    scenario.catalog.skus.forEach((sku, index) => {
      if (skus.has(sku.sku)) {
        context.addIssue({ code: 'custom', path: ['catalog', 'skus', index, 'sku'], message: `duplicate SKU "${sku.sku}"` });
      }
      skus.add(sku.sku);
    });
    const { min, max } = scenario.buyers.quantity;
    if (max < min) context.addIssue({ code: 'custom', path: ['buyers', 'quantity', 'max'], message: 'expected max ≥ min' });
    const mixTotal = Object.values(scenario.buyers.mix).reduce((sum, share) => sum + (share ?? 0), 0);
    if (mixTotal <= 0) context.addIssue({ code: 'custom', path: ['buyers', 'mix'], message: 'expected at least one behaviour with a share above 0' });
    scenario.gate.recovery?.forEach((rule, index) => {
      const resolved = recoveryFaultOf(scenario.faults, rule.after);
      if ('problem' in resolved) context.addIssue({ code: 'custom', path: ['gate', 'recovery', index, 'after'], message: resolved.problem });
    });
    scenario.faults.forEach((fault, index) => {
      if (!('skus' in fault) || !fault.skus) return;
      fault.skus.forEach((sku, skuIndex) => {
        if (!skus.has(sku)) {
          context.addIssue({ code: 'custom', path: ['faults', index, 'skus', skuIndex], message: `unknown SKU "${sku}" (not in catalog.skus)` });
        }
      });
    });
  });

/**
 * The fault a recovery rule's `after` names, and when its window ends (load time, ms): the end of
 * its `window`, or for `target.crash` the end of the pause (`at + pause`). A problem when the
 * index is out of range, the id names no fault or several, or the fault's window has no end.
 */
export function recoveryFaultOf(
  faults: readonly FaultSpec[],
  after: number | FaultId,
): { index: number; fault: FaultSpec; windowEnd: number } | { problem: string } {
  let index: number;
  if (typeof after === 'number') {
    if (after >= faults.length) return { problem: `no fault at index ${after} (faults has ${faults.length})` };
    index = after;
  } else {
    const matches = faults.flatMap((fault, position) => (fault.id === after ? [position] : []));
    if (matches.length === 0) return { problem: `no fault with id "${after}" in faults` };
    if (matches.length > 1) return { problem: `${matches.length} faults have id "${after}" (at ${matches.join(', ')}): name one by its index` };
    index = matches[0]!;
  }
  const fault = faults[index]!;
  const definition = faultDefinition(fault.id) as { windowEnd?: (spec: FaultSpec) => number | undefined };
  const end = definition.windowEnd ? definition.windowEnd(fault) : 'window' in fault ? fault.window?.to : undefined;
  if (end === undefined || !Number.isFinite(end)) {
    return { problem: `fault ${index} (${fault.id}) has no window end to recover from: give it a window such as "3s..6s"` };
  }
  return { index, fault, windowEnd: end };
}

/** A scenario as written (friendly units, defaults optional). */
export type ScenarioInput = z.input<typeof scenarioSchema>;
/** A validated scenario: milliseconds, arrivals per second, every default filled in. */
export type Scenario = z.output<typeof scenarioSchema>;
export type CatalogSku = Scenario['catalog']['skus'][number];

/** Identity function that exists for types, like vitest's defineConfig. */
export function defineScenario(scenario: ScenarioInput): ScenarioInput {
  return scenario;
}

/** JSON Schema of the scenario file, for editors (`# yaml-language-server: $schema=...`). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
