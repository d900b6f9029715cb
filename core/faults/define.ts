/**
 * What a fault (or a buyer's mistake) is, declared once: its scenario parameters, where it is
 * injected, what a good recovery looks like, the detect / notify / recover evidence rules with
 * their default deadlines, and the words the reports and the README use. The scenario schema,
 * the scorer, the reports and the README's catalogue are all derived from these definitions
 * (core/faults/index.ts); a definition missing any part does not compile.
 *
 * How to add a fault: docs/ARCHITECTURE.md, "Adding a fault".
 */
import { z } from 'zod';
import type { StageDeadlines, StageName } from '../stages.js';
import { windowSchema } from '../schema-parts.js';
import type { BuyerFacts, OrderFacts, RunFacts, ShopTimers } from './facts.js';

/** The family a fault belongs to: the README groups by it, and stock faults mark the buyers they touch. */
export type FaultFamily = 'payment' | 'callback' | 'stock' | 'risk' | 'notify' | 'transport' | 'target';

/** Who makes the fault happen. */
export const INJECTION_SITES = {
  'payment provider': "the payment mock's answer to the shop (create, query, close, refund)",
  cashier: 'the payment mock, when the buyer pays at the cashier',
  'callback dispatcher': 'the payment notice the mock sends the shop',
  'stock supplier': "the stock mock's answer to the shop",
  'risk screen': "the risk mock's decision",
  'notify gateway': "the notify mock's answer to the shop",
  'mail server': "the SMTP capture server's replies to the shop's mailer",
  'any mock route': 'the connection of any mock route (a transport fault)',
  'target supervisor': 'Ordeal killing and restarting the managed shop',
  buyer: 'the buyer, driven by the harness',
} as const;
export type InjectionSite = keyof typeof INJECTION_SITES;

/** What a good recovery from the incident looks like. */
export const RECOVERY_KINDS = {
  'complete-or-fail-cleanly': 'the order completes, or fails with nothing charged and stock released; never stuck, never a false success',
  'release-unpaid': 'the order ends with a named reason, nothing charged and stock released',
  'deliver-or-refund': 'money taken is turned into the cards or returned in full',
  'exactly-once': 'one charge and one delivery, however often the notice or the request arrives',
  'retry-until-done': 'the failing call is retried until it goes through',
  'refuse-the-notice': 'the payment notice is not genuine money for the order: nothing delivered, anything received refunded',
  'correct-and-continue': 'the mistake is refused or undone up front and the corrected order goes through',
} as const;
export type RecoveryKind = keyof typeof RECOVERY_KINDS;

/** When a stage was met; `voided` forces its credit to 0 although it was reached. */
export interface StageOutcome {
  at?: number;
  voided?: string;
}

/** Everything a stage rule may look at besides the order. */
export interface StageContext<Spec = unknown> {
  run: RunFacts;
  /** The fault's entry in `scenario.faults` (by the hit's index, else the first with the id); none for buyer classes. */
  spec?: Spec;
  /** The buyer the incident concerns, when known. */
  buyer?: BuyerFacts;
  /** Every `fault.injected` time of the incident, ascending (the first is the start). */
  hits: number[];
}

/** Computes a stage's outcome from the order's folded facts and the incident's start (run clock, ms). */
export type StageRule<Spec = unknown> = (order: OrderFacts, start: number, context: StageContext<Spec>) => StageOutcome;

/** The evidence rules of one incident class. */
export interface FaultStages<Spec = unknown> {
  /** Default deadlines (ms from the stage clock's start, see `clockFrom`); `scenario.expect[class]` overrides them. */
  defaults: (timers: ShopTimers, spec: Spec | undefined) => StageDeadlines;
  /**
   * When the stage clocks start (run clock, ms), for a fault during which the shop cannot act at all
   * (it is down): stage times and deadlines count from when it could act again, so a machine slow to
   * restart it does not eat the shop's deadlines. @default the incident's start
   */
  clockFrom?: (start: number, context: StageContext<Spec>) => number;
  /** What each stage means, for the reports. */
  describe: Record<StageName, string>;
  /** The order a hit naming only the buyer belongs to. @default the buyer's first order */
  attach?: (buyer: BuyerFacts) => string | undefined;
  detect: StageRule<Spec>;
  notify: StageRule<Spec>;
  recover: StageRule<Spec>;
}

/** The words the reports and the README use. */
export interface IncidentText {
  /** What the incident models, for a reader who never saw Ordeal (reports). */
  summary: string;
  /** README: what a good shop does (detect / notify / recover). */
  expectation: string;
}

/** A fault's words in the README's fault catalogue, besides its summary and expectation. */
export interface FaultText extends IncidentText {
  /** Its parameters, as a reader types them ("—" for none). */
  parameters: string;
  /** The production failure it models, in a few words. */
  models: string;
}

/**
 * What a target must have for an incident class to be observed at all: an external stock supplier,
 * risk screening shown to buyers, buyer cancellation, or one of the given ways of telling buyers.
 * On a target without it the class is `n/a` (see `./observability.ts`).
 */
export type ObservedThrough = 'stock-supplier' | 'risk-screening' | 'buyer-cancel' | 'recipient' | { notify: ReadonlyArray<'api' | 'email' | 'sms'> };

/** What every incident class declares, fault or buyer mistake. */
export interface IncidentDefinition<Spec = unknown, Text extends IncidentText = IncidentText> {
  injectedBy: InjectionSite;
  recovery: RecoveryKind;
  text: Text;
  stages: FaultStages<Spec>;
  /** What the target must have for the class to be observed. @default stock faults: the stock supplier; risk faults: risk screening; others: nothing */
  observedThrough?: ObservedThrough;
}

/** Fields every targeted fault accepts: which orders it hits and when. */
export const targeting = {
  /** Share of buyers the fault hits, decided per buyer from the seed. @default 1 */
  probability: z.number().min(0).max(1).default(1),
  /** Only while load time is inside this window. @default always */
  window: windowSchema.optional(),
};
type Targeting = typeof targeting;

/** A fault's scenario entry: `{ id, probability, window, ...params }` (no targeting for untargeted faults). */
export type FaultSchema<Id extends string, Shape extends z.ZodRawShape> = z.ZodObject<{ id: z.ZodLiteral<Id> } & Shape, z.core.$strict>;

export interface FaultDefinition<Id extends string = string, Schema extends z.ZodObject = z.ZodObject> extends IncidentDefinition<z.output<Schema>, FaultText> {
  id: Id;
  family: FaultFamily;
  /** Validates the fault's entry in `scenario.faults` and gives its type. */
  schema: Schema;
  /**
   * Load time (ms) at which the fault's effect ends, for recovery rules (`gate.recovery[].after`).
   * @default the end of its `window`
   */
  windowEnd?: (spec: z.output<Schema>) => number | undefined;
}

interface FaultDeclaration<Id extends string, Shape extends z.ZodRawShape, Spec> extends IncidentDefinition<Spec, FaultText> {
  id: Id;
  family: FaultFamily;
  /** The fault's own parameters, beyond `probability` and `window`. */
  params: Shape;
  windowEnd?: (spec: Spec) => number | undefined;
}

type TargetedSpec<Id extends string, Shape extends z.ZodRawShape> = z.output<FaultSchema<Id, Targeting & Shape>>;

/** Declares a fault that hits a share of buyers (`probability`) inside a `window`. */
export function defineFault<const Id extends string, Shape extends z.ZodRawShape>(
  declaration: FaultDeclaration<Id, Shape, TargetedSpec<Id, Shape>>,
): FaultDefinition<Id, FaultSchema<Id, Targeting & Shape>> {
  const { params, ...rest } = declaration;
  const schema = z.strictObject({ id: z.literal(declaration.id), ...targeting, ...params }) as unknown as FaultSchema<Id, Targeting & Shape>;
  return { ...rest, schema } as FaultDefinition<Id, FaultSchema<Id, Targeting & Shape>>;
}

/** Declares a fault that is not decided per buyer (e.g. `target.crash`, which happens once at a set time). */
export function defineUntargetedFault<const Id extends string, Shape extends z.ZodRawShape>(
  declaration: FaultDeclaration<Id, Shape, z.output<FaultSchema<Id, Shape>>>,
): FaultDefinition<Id, FaultSchema<Id, Shape>> {
  const { params, ...rest } = declaration;
  const schema = z.strictObject({ id: z.literal(declaration.id), ...params }) as unknown as FaultSchema<Id, Shape>;
  return { ...rest, schema } as FaultDefinition<Id, FaultSchema<Id, Shape>>;
}

/** A buyer's own mistake, scored as the incident class `buyer.<behaviour>`. */
export interface BuyerClassDefinition<Behaviour extends string = string> extends IncidentDefinition<never, IncidentText & { does: string }> {
  /** The behaviour's name in `buyers.mix`; its incident class is `buyer.<behaviour>`. */
  behaviour: Behaviour;
}

export function defineBuyerClass<const Behaviour extends string>(definition: BuyerClassDefinition<Behaviour>): BuyerClassDefinition<Behaviour> {
  return definition;
}

/** Deadlines that do not depend on the scenario. */
export const fixedDeadlines =
  (detect: number, notify: number, recover: number) =>
  (): StageDeadlines => ({ detect, notify, recover });

/** Deadlines that wait for the order's expiry: `orderTtl` + the given margins for notify and recover. */
export const deadlinesAfterTtl =
  (detect: number, notify: number, recover: number) =>
  (timers: ShopTimers): StageDeadlines => ({ detect, notify: timers.orderTtl + notify, recover: timers.orderTtl + recover });
