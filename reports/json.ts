/**
 * report.json: the report with a stable key order (the same report always renders to the same
 * bytes, however its objects were built), 2-space indent, trailing newline.
 */
import type { Report } from '../core/report-types.js';

/** Known keys in the order they are written; unknown keys follow, alphabetically. */
const KEY_ORDER = [
  'schemaVersion',
  'tool',
  'id',
  'name',
  'version',
  'ok',
  'balanced',
  'description',
  'createdAt',
  'seed',
  'replay',
  // incidents
  'class',
  'orderId',
  'buyerId',
  'startedAt',
  'amount',
  // scores
  'score',
  'weight',
  'incidents',
  'deadlines',
  'stages',
  'detect',
  'notify',
  'recover',
  'at',
  'ms',
  'credit',
  'note',
  'met',
  'reached',
  // invariants
  'violations',
  'orderIds',
  'message',
  // steady state
  'orders',
  'succeeded',
  'successRate',
  'latency',
  'p50',
  'p95',
  'p99',
  'thresholds',
  // load
  'arrivals',
  'dropped',
  'ordersCreated',
  'httpErrors',
  'rejected',
  'unattachedFaults',
  // containers
  'classes',
  'invariants',
  'steadyState',
  'load',
  '#incident-list',
  'scenarios',
  'gate',
  'passed',
  'reasons',
];
const RANK = new Map(KEY_ORDER.map((key, index) => [key, index]));

/** A list of incidents goes after the summaries; a count of incidents sits with the score. */
function rank(key: string, value: unknown): number {
  const name = key === 'incidents' && Array.isArray(value) ? '#incident-list' : key;
  return RANK.get(name) ?? KEY_ORDER.length;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, entry]) => entry !== undefined);
  entries.sort(([a, av], [b, bv]) => rank(a, av) - rank(b, bv) || (a < b ? -1 : a > b ? 1 : 0));
  const result: Record<string, unknown> = {};
  for (const [key, entry] of entries) result[key] = canonical(entry);
  return result;
}

export function renderJson(report: Report): string {
  return `${JSON.stringify(canonical(report), null, 2)}\n`;
}
