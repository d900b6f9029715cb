/**
 * The schema of `report.json`: one zod schema that validates reports (`reportSchema.parse`) and
 * exports the JSON Schema committed as `docs/report.schema.json` (`ordeal schema report`).
 *
 * It mirrors the `Report` type of `report-types.ts` exactly; a compile-time check at the bottom of
 * this file fails the build when the two drift apart. The schema is versioned by `schemaVersion`:
 * it changes only together with a bump of `REPORT_SCHEMA_VERSION`.
 *
 * Units: times on the run clock (`at`, `startedAt`) and durations (`ms`, percentiles, deadlines)
 * are milliseconds; money is integer minor units (fen, cents); class and overall scores are
 * 0–100; incident scores, stage credits and success rates are 0–1.
 */
import { z } from 'zod';
import { ACCOUNTING_CHECKS, ACCOUNTING_NAMED_ORDERS, REPORT_SCHEMA_VERSION, type Report } from './report-types.js';
import { INTERRUPT_SIGNALS } from './interruption.js';
import { BUYER_INCIDENT_CLASSES, FAULT_IDS, INVARIANT_IDS, PAYMENT_PROTOCOLS, type FaultId, type IncidentClass } from './scenario-schema.js';

/** Identifies this schema; the last segment is the `schemaVersion` it describes. */
export const REPORT_SCHEMA_ID = `urn:ordeal:schema:report:${REPORT_SCHEMA_VERSION}`;

const INCIDENT_CLASSES = [...FAULT_IDS, ...BUYER_INCIDENT_CLASSES] as [IncidentClass, ...IncidentClass[]];

const describe = <T extends z.ZodType>(schema: T, description: string): T => schema.meta({ description });
/** A named definition: `$defs/<id>` in the JSON Schema. */
const define = <T extends z.ZodType>(id: string, schema: T, description: string): T => schema.meta({ id, description });

/** A duration in milliseconds. */
const ms = (description: string) => describe(z.number(), `${description} (ms).`);
const nullableMs = (description: string) => describe(z.number().nullable(), `${description} (ms); null when there is no sample.`);
const count = (description: string) => describe(z.number().int().nonnegative(), description);

const incidentClassSchema = define(
  'IncidentClass',
  z.enum(INCIDENT_CLASSES),
  'An incident class: a fault id from the fault catalogue, or `buyer.<behaviour>` for a buyer\'s own mistake.',
);

const stageDeadlinesSchema = define(
  'StageDeadlines',
  z.strictObject({
    detect: ms('Deadline for the shop to show it noticed the failure, from the incident\'s start'),
    notify: ms('Deadline for the buyer to be told, from the incident\'s start'),
    recover: ms('Deadline for the order to reach a correct final state, from the incident\'s start'),
  }),
  'A deadline per stage, in milliseconds from the incident\'s start.',
);

const incidentStageSchema = define(
  'IncidentStage',
  z.strictObject({
    at: ms('When the stage was met, on the run clock; absent when it never was').optional(),
    ms: ms('Time from the incident\'s start to `at`; absent when the stage was never met').optional(),
    credit: describe(
      z.number().min(0).max(1),
      'Credit 0–1: 1 within the deadline, falling linearly to 0 at twice the deadline, 0 when never met or voided.',
    ),
    note: describe(z.string(), 'Why the credit was forced to 0 although the stage was reached (e.g. a duplicate delivery).').optional(),
    observable: describe(z.literal(false), 'Present when the target cannot show this stage (a shop that never tells buyers): n/a, left out of the incident score.').optional(),
  }),
  'How one stage of one incident went.',
);

const incidentSchema = define(
  'Incident',
  z.strictObject({
    class: incidentClassSchema,
    orderId: describe(z.string().nullable(), 'The shop\'s order id; null when the fault hit a buyer whose order never existed.'),
    buyerId: describe(z.string().nullable(), 'The harness\'s buyer id; null when unknown.'),
    startedAt: ms('The incident\'s start on the run clock: the first injection of the fault on the order'),
    amount: describe(z.number().int().nonnegative(), 'Money at risk: the order\'s amount in integer minor units (fen, cents); 0 when unknown.'),
    stages: describe(
      z.strictObject({ detect: incidentStageSchema, notify: incidentStageSchema, recover: incidentStageSchema }),
      'Detect, notify and recover: each stage with its time and credit.',
    ),
    score: describe(z.number().min(0).max(1), 'Incident score 0–1: 0.3·detect + 0.2·notify + 0.5·recover credits (a stage the target cannot show left out, the others re-weighted).'),
  }),
  'One fault (or buyer mistake) hitting one order.',
);

const stageSummarySchema = define(
  'StageSummary',
  z.strictObject({
    met: count('Incidents whose stage earned credit within the deadline.'),
    reached: count('Incidents whose stage was met at all (late or voided included).'),
    p50: nullableMs('Median time to the stage over the incidents that reached it'),
    p95: nullableMs('95th-percentile time to the stage over the incidents that reached it'),
    observable: describe(z.literal(false), 'Present when the target cannot show this stage: n/a.').optional(),
  }),
  'Stage figures over a class\'s incidents.',
);

const classScoreSchema = define(
  'ClassScore',
  z.strictObject({
    score: describe(z.number().min(0).max(100).nullable(), 'Class score 0–100: the mean incident score × 100; null when the target cannot show the class.'),
    observable: describe(z.literal(false), 'Present when the target cannot show this class at all (no stock supplier, no risk holds, no such channel to buyers): n/a, weight 0.').optional(),
    reason: describe(z.string(), 'Why the class is not observable on the target.').optional(),
    weight: describe(
      z.number().nonnegative(),
      'Weight of the class in the overall score: the scenario\'s `weights[class]`, else the money at risk in minor units (at least 1); 0 for a class the target cannot show.',
    ),
    incidents: count('Incidents in the class.'),
    deadlines: describe(stageDeadlinesSchema, 'Deadlines used (ms), after the scenario\'s `expect` overrides.'),
    stages: describe(
      z.strictObject({ detect: stageSummarySchema, notify: stageSummarySchema, recover: stageSummarySchema }),
      'Per stage: how many incidents met it within the deadline, how many reached it, and p50/p95 time to it.',
    ),
  }),
  'Scores and stage figures of one incident class.',
);

const violationSchema = define(
  'InvariantViolation',
  z.strictObject({
    orderIds: describe(z.array(z.string()), 'The shop\'s ids of the orders involved (may be empty for a ledger-wide breach).'),
    message: describe(z.string(), 'What was breached, in words.'),
  }),
  'One breach of an invariant.',
);

const invariantSchema = define(
  'InvariantResult',
  z.strictObject({
    id: describe(z.enum(INVARIANT_IDS), 'The invariant\'s id.'),
    ok: describe(z.boolean(), 'True when the invariant held (no violations).'),
    description: describe(z.string(), 'What the invariant requires, in words.'),
    violations: describe(z.array(violationSchema), 'Every breach found; empty when `ok`.'),
  }),
  'One invariant checked on the ledgers after the run settled.',
);

const steadyStateSchema = define(
  'SteadyState',
  z.strictObject({
    orders: count('Fault-free orders of normal buyers.'),
    succeeded: count('Those of them that were delivered.'),
    successRate: describe(z.number().min(0).max(1), 'succeeded / orders, 0–1; 1 when there were no such orders.'),
    latency: describe(
      z.strictObject({
        p50: nullableMs('Median time from intended arrival to delivered'),
        p95: nullableMs('95th percentile of time from intended arrival to delivered'),
        p99: nullableMs('99th percentile of time from intended arrival to delivered'),
      }),
      'From intended arrival to delivered (ms), over the delivered orders: no coordinated omission.',
    ),
    thresholds: describe(
      z.strictObject({
        successRate: describe(z.number().min(0).max(1), 'Minimum success rate 0–1 (the scenario\'s `gate.steadyState.successRate`).'),
        p95: ms('Maximum p95 latency (the scenario\'s `gate.steadyState.p95`); absent when not gated').optional(),
      }),
      'The thresholds the steady state was gated against.',
    ),
    ok: describe(z.boolean(), 'True when the success rate and p95 are within the thresholds.'),
    soldOut: count(
      'Fault-free orders the supplier genuinely refused for lack of stock (the shop answered `out_of_stock`, no stock fault involved): a correct answer, left out of `orders`. Absent when none.',
    ).optional(),
    caughtByCrash: count(
      'Orders of normal buyers that were shopping while a `target.crash` had the shop down (arriving to a dead shop, or waiting through its restart): the crash\'s, not the steady state\'s, left out of `orders`. Absent when none.',
    ).optional(),
  }),
  'Fault-free orders of normal buyers: success rate and latency, gated like k6 thresholds.',
);

const loadSchema = define(
  'LoadFigures',
  z.strictObject({
    arrivals: count('Arrivals the open model produced, dropped ones included.'),
    dropped: count('Arrivals dropped at the in-flight cap (`load.maxInFlight`).'),
    ordersCreated: count('Distinct orders the shop created.'),
    httpErrors: count('Order-create requests answered with 5xx, not answered at all, or answered 2xx without a readable order (not JSON, or no order id and status).'),
    rejected: count('Order-create requests answered with 4xx (bad input, key reuse).'),
    unattachedFaults: count('Faults injected on a buyer whose order could not be found (scored as incidents with orderId null).'),
  }),
  'Load figures of the scenario.',
);

const accountingGapSchema = define(
  'AccountingGap',
  z.strictObject({
    check: describe(z.enum(ACCOUNTING_CHECKS), 'The equation that does not add up: `arrivals`, `requests`, `orders`, `money` or `cards`.'),
    difference: count('How far apart its two sides are: arrivals, requests, orders or cards (`money`: orders).'),
    message: describe(z.string(), 'The difference, named. Order ids in it are the shop\'s: escape them where they are shown.'),
    orderIds: describe(z.array(z.string()), `The first orders that show it (at most ${ACCOUNTING_NAMED_ORDERS}), first seen first; empty for counts no order carries.`),
  }),
  'One equation of the accounting line that does not add up.',
);

const accountingSchema = define(
  'Accounting',
  z.strictObject({
    balanced: describe(z.boolean(), 'True when every equation adds up; false fails the gate, with `gaps` naming each difference.'),
    arrivals: describe(
      z.strictObject({
        planned: count('Arrivals the load counted (`load.finished`); a run cut before the load finished: sent + dropped.'),
        sent: count('Buyers sent at the shop (`buyer.arrived`).'),
        dropped: count('Arrivals dropped at the in-flight cap (`buyer.dropped`).'),
      }),
      'planned = sent + dropped.',
    ),
    requests: describe(
      z.strictObject({
        sent: count('Order-create requests: one per buyer and idempotency key (retries of a key are one request).'),
        created: count('Requests whose last answer was a 2xx naming an order.'),
        rejected: count('Requests whose last answer was a 4xx.'),
        failed: count('Requests whose last answer was a 5xx, or a 2xx naming no order.'),
        unanswered: count('Requests with no HTTP answer: a transport error, or an attempt still out when the run ended.'),
        inFlight: count('Of `unanswered`: an attempt still out when the run ended (a cut run; in a completed run, a gap).'),
      }),
      'sent = created + rejected + failed + unanswered, by each request\'s last answer.',
    ),
    orders: describe(
      z.strictObject({
        created: count('Order ids named in create answers, distinct per buyer.'),
        settled: count('Of the orders the fold kept, those whose last status is final (delivered, refunded, failed, expired, cancelled).'),
        unsettled: count('Of the orders the fold kept, those in any other status (or none) at the end.'),
      }),
      'created = settled + unsettled at the end.',
    ),
    money: describe(
      z.strictObject({
        captured: count('Money the payment ledger captured for orders buyers created (minor units).'),
        refunded: count('Money refunded on them (minor units).'),
        ordersHoldingMoney: count('Orders whose captured − refunded is above 0.'),
        ordersShownPaid: count('Orders whose last status is paid, fulfilling, delivered or refund_pending.'),
        inTransit: count('Orders holding money the shop does not show paid yet: unsettled ones, and in a run that did not complete, ones that ended failed, expired or cancelled (a late payment not yet refunded). Not a gap.'),
        elsewhere: count('Money captured for ids no create answer named (minor units; reported, not balanced).'),
      }),
      'The payment ledger against the shop\'s answers: every order holding money is shown paid (one that settled otherwise is a gap, unless a run that did not complete left it failed, expired or cancelled), every order shown paid, fulfilling or delivered holds money, none shown refunded does.',
    ),
    cards: describe(
      z.strictObject({
        issued: count('Distinct card codes the supplier issued to orders buyers created.'),
        shown: count('Distinct card codes the shop showed buyers on those orders.'),
        inTransit: count('Cards issued to unsettled orders not shown yet (not a gap).'),
        elsewhere: count('Cards issued to ids no create answer named (reported, not balanced).'),
        observable: describe(z.literal(false), 'Present when the shop holds its own stock (what it shows is what it issued): n/a.').optional(),
      }),
      'The supplier\'s card ledger against the codes shown: every card issued to a settled order was shown on it, every code shown was issued to it.',
    ),
    gaps: describe(z.array(accountingGapSchema), 'Each equation that does not add up; empty when balanced.'),
  }),
  'The accounting line, from the journal alone: every arrival, order request, order, payment and card accounted for. What a cut run leaves open is counted as in flight, never as a gap.',
);

const recoveryRuleSchema = define(
  'RecoveryRule',
  z.strictObject({
    after: describe(z.number().int().nonnegative(), 'Index of the fault in the scenario\'s `faults` whose window end starts the clock.'),
    fault: describe(z.enum(FAULT_IDS as [FaultId, ...FaultId[]]), 'That fault\'s id.'),
    within: ms('Longest acceptable time from the fault\'s window end to recovery'),
    p95: ms('The window\'s p95 completion time must be at most this; absent when not checked').optional(),
    successRate: describe(z.number().min(0).max(1), 'The window\'s share of orders delivered must be at least this, 0–1; absent when not checked.').optional(),
    window: ms('Length of the sliding window of completions'),
  }),
  'A recovery rule (`gate.recovery[i]`) with its fault resolved and defaults filled in.',
);

const recoveryWindowSchema = define(
  'RecoveryWindow',
  z.strictObject({
    from: ms('Start of the window (exclusive), load time: since load start'),
    to: ms('End of the window (inclusive), load time'),
    completions: count('Orders completed in the window: normal buyers\' orders, genuine stock-outs left out.'),
    delivered: count('Of those, delivered.'),
    successRate: describe(z.number().min(0).max(1), 'delivered / completions, 0–1.'),
    p95: ms('95th percentile of completion time (intended arrival to the outcome the buyer saw) in the window'),
  }),
  'The order completions in one sliding window (from, to], in load time.',
);

const recoveryResultSchema = define(
  'RecoveryResult',
  z.strictObject({
    rule: recoveryRuleSchema,
    windowEnd: ms('When the fault\'s window ended, load time (since load start, the clock fault windows use)'),
    completions: count('Completions after the window end that the rule looked at.'),
    recoveredAt: ms(
      'Load time from which every window met the rule until the run\'s last completion (the start of the first window after the last failing one); absent when never recovered',
    ).optional(),
    timeToRecoverMs: ms('recoveredAt − windowEnd; absent when never recovered').optional(),
    met: describe(z.boolean(), 'True when the shop recovered within `rule.within`; false fails the gate.'),
    figures: describe(
      recoveryWindowSchema,
      'The window at `recoveredAt`; when never recovered, the last window that failed; absent when nothing completed after the window end.',
    ).optional(),
  }),
  'How one recovery rule went: the measured time to recover after the fault\'s window ended.',
);

const reasonsSchema = describe(z.array(z.string()), 'Why the gate failed, one reason a person can act on per entry; empty when it passed.');

const scenarioGateSchema = define(
  'ScenarioGate',
  z.strictObject({
    passed: describe(z.boolean(), 'True when the scenario passed its gate.'),
    reasons: reasonsSchema,
    minScore: describe(
      z.number().min(0).max(100),
      'The minimum overall score 0–100 the scenario was gated at (`gate.minScore`, or `--min-score`). Absent in reports written before it was recorded.',
    ).optional(),
  }),
  'The scenario\'s verdict: it fails on a score below the minimum, a broken invariant the scenario selects, a steady state outside its thresholds, or a recovery rule not met.',
);

const encodedHistogramSchema = define(
  'EncodedHistogram',
  z.strictObject({
    encoded: describe(
      z.string(),
      'The histogram itself: HdrHistogram\'s compressed encoding, base64 (values in microseconds, 1 µs to 1 h, 3 significant digits). Decode it with any HdrHistogram library; two of them add up exactly (`mergeEncoded`).',
    ),
    count: count('Samples recorded.'),
    min: nullableMs('Smallest sample'),
    max: nullableMs('Largest sample, at the histogram\'s precision'),
    mean: nullableMs('Mean of the samples'),
    p50: nullableMs('Median'),
    p90: nullableMs('90th percentile'),
    p95: nullableMs('95th percentile'),
    p99: nullableMs('99th percentile'),
    p999: nullableMs('99.9th percentile'),
  }),
  'A mergeable HDR histogram of durations with the figures read from it (ms).',
);

const endpointMetricsSchema = define(
  'EndpointMetrics',
  z.strictObject({
    count: count('Requests answered or failed in transport.'),
    errors: count('Requests answered 5xx or not answered at all.'),
    responseTime: describe(
      encodedHistogramSchema,
      'From when the buyer meant to send the request to its answer: includes any wait before it could be sent (no coordinated omission).',
    ),
    serviceTime: describe(encodedHistogramSchema, 'From when the request was actually sent to its answer.'),
  }),
  'Every request to one endpoint: response time from intended start, and service time.',
);

const secondMetricsSchema = define(
  'SecondMetrics',
  z.strictObject({
    second: describe(z.number().int().nonnegative(), 'Seconds since load start (the first intended arrival): the entry covers [second, second + 1).'),
    arrivals: count('Arrivals the load model intended in this second, dropped ones included.'),
    dropped: count('Of those, dropped at the in-flight cap.'),
    requests: count('Order-create requests the buyers meant to send in this second.'),
    errors: count('Of those, answered 5xx or not answered at all.'),
    completed: count('Buyers who got their cards, counted in the second they saw them.'),
    failed: count('Buyers who finished without goods (failed, timed out, rejected, error; not those who abandoned), counted in the second they gave up.'),
    p50: nullableMs('Median response time of this second\'s order-create requests, from intended start'),
    p95: nullableMs('95th percentile of that response time'),
    p99: nullableMs('99th percentile of that response time'),
    encoded: describe(z.string(), 'Those response times as an HDR histogram (compressed base64, µs), to merge the same second of two runs.'),
  }),
  'One second of the run: throughput, errors and order-create latency.',
);

const scenarioMetricsSchema = define(
  'ScenarioMetrics',
  z.strictObject({
    endpoints: describe(
      z.strictObject({
        create: describe(endpointMetricsSchema, '`POST /orders` at the shop.'),
        pay: describe(endpointMetricsSchema, 'The buyer paying at the provider\'s cashier (`POST /v1/trades/{tradeNo}/pay`).'),
        cancel: describe(endpointMetricsSchema, '`POST /orders/:id/cancel` at the shop.'),
        verify: describe(endpointMetricsSchema, 'The buyer completing an extra verification at the cashier.'),
      }),
      'Per endpoint the buyers call (status polls are not measured).',
    ),
    stages: describe(
      z.strictObject({
        created: describe(encodedHistogramSchema, 'Intended arrival → the shop\'s first 201 for the order.'),
        paid: describe(encodedHistogramSchema, 'Intended arrival → the provider captured the payment.'),
        delivered: describe(encodedHistogramSchema, 'Intended arrival → the buyer first saw the order delivered.'),
        completed: describe(encodedHistogramSchema, 'Intended arrival → the buyer was done with its cards (delivered outcomes only).'),
      }),
      'Per order stage, from the buyer\'s intended arrival.',
    ),
    perSecond: describe(z.array(secondMetricsSchema), 'One entry per second from load start to the last measured event, empty seconds included.'),
  }),
  'Latency (mergeable HDR histograms, measured from intended start) and throughput of a scenario.',
);

const providerSchema = define(
  'ProviderFigures',
  z.strictObject({
    protocol: describe(z.enum(PAYMENT_PROTOCOLS), 'The wire protocol Ordeal\'s payment provider spoke (`provider.protocol`, or `--protocol`).'),
    channels: describe(z.array(z.enum(PAYMENT_PROTOCOLS)), 'The channels the shop offered beside the primary protocol (`provider.channels`), each served on its own port.').optional(),
    notInjected: describe(
      z.array(
        z.strictObject({
          faultIndex: describe(z.number().int().nonnegative(), 'Its index in the scenario\'s `faults`.'),
          fault: describe(z.enum(FAULT_IDS as [FaultId, ...FaultId[]]), 'The fault id.'),
          reason: describe(z.string(), 'Why the protocol cannot express it, and what the shop meets instead.'),
          cause: describe(z.literal('attached'), 'Present when the target, not the protocol, is why: `attached` — Ordeal does not run the shop, so it cannot crash it.').optional(),
        }),
      ),
      'Scenario faults this protocol cannot express: never injected in the run, so they have no class.',
    ),
  }),
  'The payment provider the scenario ran against.',
);

const outsideRequestsSchema = define(
  'OutsideRequests',
  z.strictObject({
    count: describe(z.number().int().positive(), 'How many requests the mocks refused for lacking the run\'s credentials.'),
    byMock: describe(z.record(z.string(), z.number().int().positive()), 'How many each mock refused, by its name (`payment`, `stock`, `notify`, `risk`, `payment (<protocol>)`).'),
    examples: describe(
      z.array(
        z.strictObject({
          t: describe(z.number(), 'Run clock, ms.'),
          mock: describe(z.string(), 'Which mock: `payment`, `stock`, `notify`, `risk`, `payment (<protocol>)` for a channel beside the primary.'),
          method: describe(z.string(), 'The HTTP method.'),
          path: describe(z.string(), 'The path, without its query string.'),
          remoteAddress: describe(z.string(), 'The client\'s address.').optional(),
          reason: describe(z.string(), 'Why it was refused (no credentials, a wrong key, a signature that does not verify); never the credentials given.'),
        }),
      ),
      'The first few (at most 5).',
    ),
  }),
  'Requests to the mocks without the run\'s credentials (another local process, or a shop that signs wrongly): refused before any ledger, never counted as orders, never blamed on the shop.',
);

const scenarioReportSchema = define(
  'ScenarioReport',
  z.strictObject({
    name: describe(z.string(), 'The scenario\'s name.'),
    description: describe(z.string(), 'The scenario\'s description, when it has one.').optional(),
    seed: describe(z.number().int().nonnegative(), 'The seed the scenario ran with (`--seed`, else the scenario\'s).'),
    score: describe(
      z.number().min(0).max(100).nullable(),
      'Overall score 0–100: Σ(weight × class score) / Σ weight over the classes the target can show; with no incidents, the steady-state success rate × 100; null when every class of the scenario is one the target cannot show.',
    ),
    observable: describe(z.literal(false), 'Present when nothing the scenario injects is observable on the target (its score is null).').optional(),
    classes: describe(
      z.partialRecord(incidentClassSchema, classScoreSchema),
      'Scores by incident class (fault id or `buyer.<behaviour>`): the classes that had incidents, and those the target cannot show (`observable: false`).',
    ),
    invariants: describe(z.array(invariantSchema), 'Every invariant checked, held or broken.'),
    steadyState: steadyStateSchema,
    load: loadSchema,
    incidents: describe(z.array(incidentSchema), 'Every incident scored: one fault (or buyer mistake) hitting one order.'),
    gate: scenarioGateSchema,
    recovery: describe(
      z.array(recoveryResultSchema),
      'One result per recovery rule (`gate.recovery`), in the scenario\'s order; absent when the scenario has none.',
    ).optional(),
    metrics: describe(
      scenarioMetricsSchema,
      'Latency per endpoint and per order stage (HDR histograms, measured from intended start, mergeable across runs) and a per-second series. Absent in reports written before it was recorded.',
    ).optional(),
    provider: describe(providerSchema, 'The payment protocol and the faults it could not express. Absent in reports of runs made before the protocol could be chosen (native).').optional(),
    accounting: describe(accountingSchema, 'The accounting line: arrivals, order requests, orders, money and cards accounted for. Absent in reports written before it was recorded.').optional(),
    outsideRequests: describe(outsideRequestsSchema, 'Requests the mocks refused for lacking the run\'s credentials, apart from the scenario\'s orders. Absent when there were none.').optional(),
  }),
  'One scenario of the run: its scores, invariants, steady state, load, incidents and verdict.',
);

const REPORT_DESCRIPTION = [
  'report.json, written by an Ordeal run (and by `ordeal report RUN_DIR`): per scenario, the score of each incident class',
  '(detect, notify, recover), the invariants checked on the ledgers with the orders that broke them, the steady state, the',
  'load and every incident, latency histograms and a per-second series, with each scenario\'s gate and the run\'s. Units: times and durations in milliseconds; money in',
  'integer minor units; class and overall scores 0–100; incident scores, stage credits and success rates 0–1.',
  `Versioned: this schema describes schemaVersion ${REPORT_SCHEMA_VERSION} and changes only with a schemaVersion bump.`,
].join(' ');

/** How a run was interrupted (`report.interrupted`, and run.json's `interrupted`). */
export const runInterruptionSchema = z.strictObject({
  signal: describe(z.enum(INTERRUPT_SIGNALS).nullable(), 'The signal that stopped the run (Ctrl-C is SIGINT); null when a library caller aborted it for another reason.'),
  scenariosCut: describe(z.array(z.string()), 'Scenarios running when the run stopped: cut short, scored from what their journals recorded (their gates fail).'),
  scenariosNotRun: describe(z.array(z.string()), 'Scenarios that had not started: not run, absent from `scenarios`.'),
});

/** `report.json`: validates a report, and is the source of `docs/report.schema.json`. */
export const reportSchema = z
  .strictObject({
    schemaVersion: describe(
      z.literal(REPORT_SCHEMA_VERSION),
      `Version of this schema (${REPORT_SCHEMA_VERSION}). The report's shape changes only with a bump of this number.`,
    ),
    tool: describe(
      z.strictObject({
        name: describe(z.literal('ordeal'), 'Always "ordeal".'),
        version: describe(z.string(), 'Ordeal\'s version that wrote the report.'),
      }),
      'The tool that wrote the report.',
    ),
    createdAt: describe(z.iso.datetime({ offset: true }), 'When the run started, ISO 8601 (UTC).'),
    seed: describe(z.number().int().nonnegative(), 'The run\'s seed (`--seed`, else the first scenario\'s).'),
    replay: describe(z.string(), 'The command that replays the run: same seed, same scenarios, same shop → same buyers and fault decisions.'),
    scenarios: describe(z.array(scenarioReportSchema), 'The scenarios of the run, in the order they were given.'),
    gate: describe(
      z.strictObject({
        passed: describe(z.boolean(), 'True when every scenario passed its gate: the run exits 0.'),
        reasons: describe(z.array(z.string()), 'Every scenario\'s reasons, each prefixed by "<scenario>: "; empty when the run passed.'),
      }),
      'The run\'s verdict, combining the scenarios\' gates.',
    ),
    interrupted: describe(
      runInterruptionSchema,
      'Present when the run was stopped before its end (Ctrl-C, SIGTERM): what it cut and did not run. An interrupted run\'s gate never passes.',
    ).optional(),
  })
  .meta({ title: 'Ordeal report', description: REPORT_DESCRIPTION });

/** A parsed `report.json`: the same type as `Report`. */
export type ReportOutput = z.output<typeof reportSchema>;

/** JSON Schema (draft 2020-12) of `report.json`, committed as `docs/report.schema.json`. */
export function reportJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(reportSchema, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>;
  const { $schema, title, description, ...rest } = generated;
  return { $schema, $id: REPORT_SCHEMA_ID, title, description, ...rest };
}

// ── compile-time check: the schema and the Report type describe the same shape ──

/** True only when A and B are the same type (not merely mutually assignable). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile unless its argument is `true`. */
function assertType<T extends true>(): T | undefined {
  return undefined;
}
assertType<Equals<ReportOutput, Report>>();
