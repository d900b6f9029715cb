/**
 * The fault registry: every fault and buyer mistake Ordeal knows, each declared once in its
 * family's module. Everything else is derived from here — the scenario schema's `faults` entries,
 * the incident classes the scorer knows and their evidence rules, the texts the reports show, and
 * the README's fault catalogue (checked by test/fault-registry.test.ts).
 */
import { z } from 'zod';
import type { BuyerClassDefinition, FaultDefinition, FaultStages, IncidentDefinition } from './define.js';
import { BUYER_CLASSES } from './buyers.js';
import { CALLBACKS_FAULTS } from './callbacks.js';
import { NOTIFY_FAULTS } from './notify.js';
import { PAYMENT_CHANNEL_FAULTS } from './payment-channel.js';
import { PAYMENT_POLICY_FAULTS } from './payment-policy.js';
import { RECONCILIATION_FAULTS } from './reconciliation.js';
import { RISK_FAULTS } from './risk.js';
import { STOCK_FAULTS } from './stock.js';
import { TARGET_FAULTS } from './target.js';
import { TRANSPORT_FAULTS } from './transport.js';

/** Every fault, in catalogue order (the README's and the JSON Schema's). */
export const FAULTS = [
  ...PAYMENT_CHANNEL_FAULTS,
  ...PAYMENT_POLICY_FAULTS,
  ...CALLBACKS_FAULTS,
  ...RECONCILIATION_FAULTS,
  ...STOCK_FAULTS,
  ...RISK_FAULTS,
  ...NOTIFY_FAULTS,
  ...TRANSPORT_FAULTS,
  ...TARGET_FAULTS,
] as const;

type Schemas<Definitions extends readonly FaultDefinition[]> = { -readonly [K in keyof Definitions]: Definitions[K]['schema'] };

/** One entry of `scenario.faults`: the fault's id, its targeting and its own parameters. */
export const faultSchema = z.discriminatedUnion('id', FAULTS.map((fault) => fault.schema) as unknown as Schemas<typeof FAULTS>, {
  error: 'expected a fault with an `id` from the fault catalogue (see the README)',
});
export type FaultSpec = z.output<typeof faultSchema>;
export type FaultId = FaultSpec['id'];
export const FAULT_IDS: FaultId[] = FAULTS.map((fault) => fault.id);

/** What buyers do: `normal` orders, pays and waits for the cards; every other behaviour is a mistake scored as `buyer.<behaviour>`. */
export const BUYER_BEHAVIOURS = ['normal', ...BUYER_CLASSES.map((entry) => entry.behaviour)] as const;
export type BuyerMistake = (typeof BUYER_CLASSES)[number]['behaviour'];
export type BuyerBehaviour = 'normal' | BuyerMistake;
export type BuyerIncidentClass = `buyer.${BuyerMistake}`;
export const BUYER_INCIDENT_CLASSES = BUYER_CLASSES.map((entry) => `buyer.${entry.behaviour}` as BuyerIncidentClass);

/** What an incident is scored under: a fault id, or `buyer.<behaviour>` for a buyer's own mistake. */
export type IncidentClass = FaultId | BuyerIncidentClass;
export const INCIDENT_CLASSES: IncidentClass[] = [...FAULT_IDS, ...BUYER_INCIDENT_CLASSES];

/** Any fault's definition (its spec type is its own). */
export type AnyFaultDefinition = (typeof FAULTS)[number];

const FAULT_BY_ID = new Map<string, AnyFaultDefinition>(FAULTS.map((fault) => [fault.id, fault]));
// `IncidentDefinition<never>` holds every definition whatever its spec type; callers narrow by id.
const INCIDENT_BY_CLASS = new Map<string, IncidentDefinition<never>>([
  ...FAULT_BY_ID,
  ...BUYER_CLASSES.map((entry): [string, IncidentDefinition<never>] => [`buyer.${entry.behaviour}`, entry]),
]);

/** Whether a name (from a report, say) is an incident class Ordeal knows. */
export function isIncidentClass(name: string): name is IncidentClass {
  return INCIDENT_BY_CLASS.has(name);
}

/** Whether an incident class is a fault (not a buyer's own mistake). */
export function isFaultId(name: string): name is FaultId {
  return FAULT_BY_ID.has(name);
}

/** The definition of a fault id. */
export function faultDefinition(id: FaultId): AnyFaultDefinition {
  return FAULT_BY_ID.get(id) as AnyFaultDefinition;
}

/** The definition of an incident class: its injection site, recovery kind, texts and evidence rules. */
export function incidentDefinition(incidentClass: IncidentClass): IncidentDefinition<never> {
  return INCIDENT_BY_CLASS.get(incidentClass) as IncidentDefinition<never>;
}

/**
 * The evidence rules of an incident class. The scorer passes the spec of the fault that made the
 * incident, which has the class's id, so the rules see their own parameters.
 */
export function stagesOf(incidentClass: IncidentClass): FaultStages<FaultSpec> {
  return incidentDefinition(incidentClass).stages as FaultStages<FaultSpec>;
}

export { BUYER_CLASSES, type BuyerClassDefinition, type FaultDefinition, type IncidentDefinition };
