/**
 * What the HTML report draws beyond report.json, folded from each scenario's journal as a stream:
 * per-bucket time series (arrivals, finished orders by outcome, latency percentiles), the windows
 * where faults were active, and the full timeline of every order the report names (incidents and
 * invariant violations), bounded in count.
 *
 * Times: series buckets and fault windows are milliseconds since load start (the origin of the
 * scenario's `window`s); timeline event times `t` are on the journal clock, like the incidents'
 * `startedAt` and stage `at` (subtract `loadStart` to get load time).
 */
import { join } from 'node:path';
import { arrivalSchedule, plannedDuration } from '../../core/arrivals.js';
import { JOURNAL_FILE, readJournal, type JournalEvent } from '../../core/journal.js';
import type { Report, ScenarioReport } from '../../core/report-types.js';
import { readScenarioRecord } from '../score/rescore.js';
import { settleMsOf } from '../score/credit.js';
import type { Scenario } from '../../core/scenario-schema.js';
import { formatMs, plural } from '../../core/units.js';
import {
  BUYER_OUTCOMES,
  incidentKey,
  MAX_TIMELINE_EVENTS,
  MAX_TIMELINES,
  type BuyerOutcome,
  type FaultWindow,
  type HtmlDataOptions,
  type HtmlReportData,
  type HtmlScenarioData,
  type OrderTimeline,
  type TimelineEvent,
  type TimelineLane,
  type TimeSeries,
} from '../../reports/html-model.js';

export type { HtmlReportData, OrderTimeline } from '../../reports/html-model.js';

/** Characters of one timeline text (a shop's message can be long). */
const MAX_TEXT = 400;

/** Reads the run folder's journals and folds what the HTML report needs. */
export async function buildHtmlData(runDir: string, report: Report, options: HtmlDataOptions = {}): Promise<HtmlReportData> {
  const scenarios: HtmlScenarioData[] = [];
  for (const scenario of report.scenarios) scenarios.push(await buildScenarioData(join(runDir, scenario.name), scenario, options));
  return { report, scenarios };
}

/** Buckets of about a second; wider for long runs, so that a chart has at most ~400 of them. */
function bucketWidth(plannedMs: number): number {
  const steps = [1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 300_000, 600_000];
  return steps.find((step) => plannedMs / step <= 400) ?? 3_600_000;
}

/** The orders (or buyers) whose timelines the report shows, in priority order. */
function namedKeys(scenario: ScenarioReport): Array<{ key: string; orderId: string | null; buyerId: string | null }> {
  const seen = new Map<string, { key: string; orderId: string | null; buyerId: string | null }>();
  for (const incident of scenario.incidents) {
    const key = incidentKey(incident.orderId, incident.buyerId);
    if (key === undefined) continue;
    const entry = seen.get(key);
    if (entry) entry.buyerId ??= incident.buyerId;
    else seen.set(key, { key, orderId: incident.orderId, buyerId: incident.buyerId });
  }
  for (const invariant of scenario.invariants) {
    for (const violation of invariant.violations) {
      for (const orderId of violation.orderIds) if (!seen.has(orderId)) seen.set(orderId, { key: orderId, orderId, buyerId: null });
    }
  }
  return [...seen.values()];
}


function emptySeries(bucketMs: number): TimeSeries {
  const finished = Object.fromEntries(BUYER_OUTCOMES.map((outcome) => [outcome, [] as number[]])) as Record<BuyerOutcome, number[]>;
  return { bucketMs, arrivals: [], dropped: [], finished, latency: { p50: [], p95: [], p99: [] } };
}

function bump(values: number[], index: number): void {
  while (values.length <= index) values.push(0);
  values[index] = (values[index] ?? 0) + 1;
}

/** Nearest-rank percentile of a sorted array. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? null;
}

/** Load time of an arrival's schedule slot: the journal keeps the buyer's `seq` and its intended time. */
function scheduledAt(scenario: Scenario | undefined, seq: number): number {
  if (!scenario) return 0;
  for (const arrival of arrivalSchedule(scenario.load.stages)) {
    if (arrival.seq === seq) return arrival.at;
    if (arrival.seq > seq) break;
  }
  return 0;
}

async function buildScenarioData(scenarioDir: string, report: ScenarioReport, options: HtmlDataOptions): Promise<HtmlScenarioData> {
  let scenario: Scenario | undefined;
  const problems: string[] = [];
  try {
    scenario = (await readScenarioRecord(scenarioDir)).scenario;
  } catch (error) {
    problems.push((error as Error).message);
  }
  const bucketMs = bucketWidth(scenario ? plannedDuration(scenario.load.stages) + settleMsOf(scenario) : 60_000);
  const data: HtmlScenarioData = {
    name: report.name,
    loadStart: 0,
    durationMs: 0,
    series: emptySeries(bucketMs),
    faultWindows: [],
    timelines: [],
    timelinesOmitted: 0,
  };

  const maxTimelines = options.maxTimelines ?? MAX_TIMELINES;
  const named = namedKeys(report);
  const kept = named.slice(0, maxTimelines);
  data.timelinesOmitted = named.length - kept.length;

  const journalPath = join(scenarioDir, JOURNAL_FILE);
  try {
    const links = await foldSeries(readJournal(journalPath), scenario, data, kept);
    await foldTimelines(readJournal(journalPath), data, kept, links, options.maxTimelineEvents ?? MAX_TIMELINE_EVENTS);
  } catch (error) {
    problems.push(`journal: ${(error as Error).message}`);
  }
  if (problems.length > 0) data.problem = problems.join('; ');
  return data;
}

interface Links {
  /** Trade number → order id, for the orders of tracked timelines (queries may name the trade only). */
  tradeOrders: Map<string, string>;
  /** Order → the timelines it belongs to: its own, and those of its buyer's tracked orders. */
  orderKeys: Map<string, string[]>;
  /** Buyer → its tracked timelines (events naming the buyer but no order go to each). */
  buyerKeys: Map<string, string[]>;
  /** Timeline key → its buyer, when known. */
  keyBuyers: Map<string, string>;
}

type TrackedKey = { key: string; orderId: string | null; buyerId: string | null };

/** Pass 1: series, fault windows, and the buyers and trades of the tracked orders. */
async function foldSeries(
  events: AsyncIterable<JournalEvent>,
  scenario: Scenario | undefined,
  data: HtmlScenarioData,
  tracked: readonly TrackedKey[],
): Promise<Links> {
  const series = data.series;
  const bucketMs = series.bucketMs;
  const latencies: number[][] = [];
  let loadStart: number | undefined;
  let lastT = 0;
  const injected = new Map<number, { fault: string; first: number; last: number; count: number }>();
  const kills: number[] = [];
  const restarts: number[] = [];
  const crashOrders: number[] = [];

  // Which timelines each buyer and order belong to. A buyer's other orders (a double submit, a
  // corrected typo) join its timelines: they are often why an incident scored what it did.
  const orderKey = new Map<string, string>();
  const buyerKeys = new Map<string, string[]>();
  const keyBuyers = new Map<string, string>();
  const orderBuyer = new Map<string, string>();
  const tradeOrders = new Map<string, string>();
  const linkBuyer = (buyerId: string, key: string): void => {
    const keys = buyerKeys.get(buyerId) ?? [];
    if (!keys.includes(key)) keys.push(key);
    buyerKeys.set(buyerId, keys);
    if (!keyBuyers.has(key)) keyBuyers.set(key, buyerId);
  };
  for (const entry of tracked) {
    if (entry.orderId !== null) orderKey.set(entry.orderId, entry.key);
    if (entry.buyerId !== null) linkBuyer(entry.buyerId, entry.key);
  }

  const bucket = (loadTime: number): number => Math.max(0, Math.floor(loadTime / bucketMs));
  for await (const event of events) {
    if (event.t > lastT) lastT = event.t;
    const orderId = 'orderId' in event ? event.orderId : undefined;
    if (orderId !== undefined) {
      const buyerId = 'buyerId' in event ? event.buyerId : undefined;
      if (buyerId !== undefined) {
        const key = orderKey.get(orderId);
        if (key !== undefined && !keyBuyers.has(key)) linkBuyer(buyerId, key);
        if (buyerKeys.has(buyerId)) orderBuyer.set(orderId, buyerId);
      }
      if ('tradeNo' in event && event.tradeNo !== undefined && (orderKey.has(orderId) || orderBuyer.has(orderId))) tradeOrders.set(event.tradeNo, orderId);
    }
    switch (event.type) {
      case 'buyer.arrived':
      case 'buyer.dropped': {
        // The journal keeps the buyer's arrival number as `seq`: its schedule slot gives load start.
        loadStart ??= event.intendedAt - scheduledAt(scenario, event.seq);
        const index = bucket(event.intendedAt - loadStart);
        bump(series.arrivals, index);
        if (event.type === 'buyer.dropped') bump(series.dropped, index);
        break;
      }
      case 'buyer.finished': {
        const index = bucket(event.t - (loadStart ?? 0));
        bump(series.finished[event.outcome], index);
        while (latencies.length <= index) latencies.push([]);
        latencies[index]?.push(event.latencyMs);
        break;
      }
      case 'fault.injected': {
        if (event.fault.startsWith('buyer.')) break;
        if (event.fault === 'target.crash') {
          crashOrders.push(event.t);
          break;
        }
        const entry = injected.get(event.faultIndex);
        if (entry) {
          entry.last = event.t;
          entry.count++;
        } else injected.set(event.faultIndex, { fault: event.fault, first: event.t, last: event.t, count: 1 });
        break;
      }
      case 'target.killed':
        kills.push(event.t);
        break;
      case 'target.restarted':
        restarts.push(event.t);
        break;
      default:
        break;
    }
  }

  const start = loadStart ?? 0;
  data.loadStart = start;
  data.durationMs = Math.max(0, lastT - start);
  const buckets = Math.max(
    1,
    Math.ceil(data.durationMs / bucketMs),
    series.arrivals.length,
    ...BUYER_OUTCOMES.map((outcome) => series.finished[outcome].length),
  );
  const fill = (values: number[]): void => {
    while (values.length < buckets) values.push(0);
  };
  fill(series.arrivals);
  fill(series.dropped);
  for (const outcome of BUYER_OUTCOMES) fill(series.finished[outcome]);
  for (let index = 0; index < buckets; index++) {
    const sorted = (latencies[index] ?? []).sort((a, b) => a - b);
    series.latency.p50.push(percentile(sorted, 0.5));
    series.latency.p95.push(percentile(sorted, 0.95));
    series.latency.p99.push(percentile(sorted, 0.99));
  }

  // Fault windows: the configured window when the scenario has one, else first→last injection.
  const windows: FaultWindow[] = [];
  const end = data.durationMs;
  for (const [index, entry] of [...injected.entries()].sort((a, b) => a[0] - b[0])) {
    const spec = scenario?.faults[index];
    if (spec && 'window' in spec && spec.window) continue;
    windows.push({ fault: entry.fault, from: entry.first - start, to: Math.max(entry.last - start, entry.first - start), source: 'injected', injections: entry.count });
  }
  scenario?.faults.forEach((spec, index) => {
    if (!('window' in spec) || !spec.window) return;
    const count = injected.get(index)?.count ?? 0;
    windows.push({ fault: spec.id, from: spec.window.from, to: Math.min(spec.window.to, Math.max(end, spec.window.from)), source: 'window', injections: count });
  });
  for (const killedAt of kills) {
    const restartedAt = restarts.find((t) => t >= killedAt) ?? lastT;
    // Ordeal records the orders in flight right after the kill.
    const inFlight = crashOrders.filter((t) => t >= killedAt && t <= restartedAt).length;
    windows.push({ fault: 'target.crash', from: killedAt - start, to: restartedAt - start, source: 'crash', injections: inFlight });
  }
  data.faultWindows = windows.sort((a, b) => a.from - b.from || a.fault.localeCompare(b.fault));

  const orderKeys = new Map<string, string[]>();
  for (const [orderId, key] of orderKey) orderKeys.set(orderId, [key]);
  for (const [orderId, buyerId] of orderBuyer) {
    const keys = orderKeys.get(orderId) ?? [];
    for (const key of buyerKeys.get(buyerId) ?? []) if (!keys.includes(key)) keys.push(key);
    orderKeys.set(orderId, keys);
  }
  return { tradeOrders, orderKeys, buyerKeys, keyBuyers };
}

/** Pass 2: every event about a tracked order (or its buyer), described for a person. */
async function foldTimelines(
  events: AsyncIterable<JournalEvent>,
  data: HtmlScenarioData,
  tracked: readonly TrackedKey[],
  links: Links,
  maxEvents: number,
): Promise<void> {
  const timelines = new Map<string, OrderTimeline>();
  for (const entry of tracked) {
    const buyerId = entry.buyerId ?? links.keyBuyers.get(entry.key) ?? null;
    timelines.set(entry.key, { key: entry.key, orderId: entry.orderId, buyerId, events: [], eventsOmitted: 0 });
  }
  const add = (key: string, event: TimelineEvent): void => {
    const timeline = timelines.get(key);
    if (!timeline) return;
    if (timeline.events.length >= maxEvents) timeline.eventsOmitted++;
    else timeline.events.push(event);
  };

  for await (const event of events) {
    let orderId = 'orderId' in event ? event.orderId : undefined;
    if (orderId === undefined && 'tradeNo' in event && event.tradeNo !== undefined) orderId = links.tradeOrders.get(event.tradeNo);
    const buyerId = 'buyerId' in event ? event.buyerId : undefined;
    const keys = orderId !== undefined ? links.orderKeys.get(orderId) : buyerId !== undefined ? links.buyerKeys.get(buyerId) : undefined;
    if (keys === undefined || keys.length === 0) continue;
    const described = describeEvent(event);
    if (!described) continue;
    for (const key of keys) {
      // Another order of the same buyer: named, so the reader can tell them apart.
      const other = orderId !== undefined && timelines.get(key)?.orderId !== orderId;
      add(key, { t: event.t, lane: described.lane, text: clip(other ? `[${orderId}] ${described.text}` : described.text) });
    }
  }
  for (const timeline of timelines.values()) timeline.events.sort((a, b) => a.t - b.t);
  data.timelines = [...timelines.values()];
}

/** How a notify channel refused a message: its HTTP status, its SMTP reply, or a dropped connection. */
function refusalOf(event: { httpStatus?: number; smtpCode?: number }): string {
  if (event.httpStatus !== undefined) return `HTTP ${event.httpStatus}`;
  return event.smtpCode === undefined ? 'connection dropped' : `SMTP ${event.smtpCode}`;
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

const money = (minor: number): string => (minor / 100).toFixed(2);
const http = (status: number | undefined, error: string | undefined): string =>
  status !== undefined ? `HTTP ${status}` : `no answer${error ? ` (${error})` : ''}`;

/** One journal event as a line of an order's timeline; undefined for events that are not about an order. */
export function describeEvent(event: JournalEvent): { lane: TimelineLane; text: string } | undefined {
  switch (event.type) {
    case 'buyer.arrived':
      return {
        lane: 'buyer',
        text: `buyer ${event.buyerId} arrives (${event.behaviour}): ${event.quantity}× ${event.sku}, region ${event.region}${event.signals.length > 0 ? `, risk signals ${event.signals.join(', ')}` : ''}`,
      };
    case 'buyer.dropped':
      return { lane: 'buyer', text: `arrival dropped at the in-flight cap (${event.inFlight} in flight)` };
    case 'order.create.sent':
      return {
        lane: 'buyer',
        text: `submits the order${event.sku ? ` for ${event.sku}` : ''} (attempt ${event.attempt}${event.intent && event.intent !== 'order' ? `, ${event.intent.replace('_', ' ')}` : ''}, key ${event.idempotencyKey})`,
      };
    case 'order.create.answered': {
      const parts = [`shop answers the order: ${http(event.httpStatus, event.error)}`];
      if (event.orderId) parts.push(`→ ${event.orderId}`);
      if (event.status) parts.push(event.status + (event.reason ? ` (${event.reason})` : ''));
      if (event.errorCode) parts.push(event.errorCode);
      if (event.amount !== undefined) parts.push(`amount ${money(event.amount)}`);
      return { lane: 'buyer', text: `${parts.join(' ')}, in ${formatMs(event.latencyMs)}` };
    }
    case 'order.cancel.answered':
      return {
        lane: 'buyer',
        text: `cancels: ${http(event.httpStatus, event.error)}${event.status ? ` ${event.status}` : ''}${event.errorCode ? ` ${event.errorCode}` : ''}`,
      };
    case 'cashier.paid':
      return { lane: 'buyer', text: `pays at the cashier (trade ${event.tradeNo}): ${event.result}${event.code ? ` ${event.code}` : ''}` };
    case 'cashier.verified':
      return { lane: 'buyer', text: `completes the extra verification: ${event.result}` };
    case 'buyer.finished':
      return {
        lane: 'buyer',
        text: `buyer stops waiting: ${event.outcome}${event.finalStatus ? ` (last status ${event.finalStatus})` : ''}, ${formatMs(event.latencyMs)} after arrival`,
      };
    case 'order.observed':
      return {
        lane: 'status',
        text: `shop reports ${event.status}${event.reason ? ` (${event.reason})` : ''}${event.cards > 0 ? `, ${plural(event.cards, 'card')}` : ''} [${event.source}]`,
      };

    case 'payment.trade.created':
      return { lane: 'shop→payment', text: `create trade ${event.tradeNo} for ${money(event.amount)} (${event.method})${event.repeat ? ': same trade returned' : ''}` };
    case 'payment.trade.refused':
      return { lane: 'shop→payment', text: `create trade refused: HTTP ${event.httpStatus} ${event.code}` };
    case 'payment.trade.queried':
      return { lane: 'shop→payment', text: `query trade${event.tradeNo ? ` ${event.tradeNo}` : ''} → ${event.status}` };
    case 'payment.trade.closed':
      return { lane: 'shop→payment', text: `close trade ${event.tradeNo} → ${event.result === 'closed' ? 'closed' : 'already paid (TRADE_HAS_SUCCESS)'}` };
    case 'payment.refund':
      return {
        lane: 'shop→payment',
        text: `refund ${money(event.amount)} (${event.refundNo}) → ${event.ok ? 'done' : `failed${event.code ? ` ${event.code}` : ''}`}${event.repeat ? ', a repeat: no new money moved' : ''}`,
      };
    // Provider-side ledger entries caused by the buyer at the cashier.
    case 'payment.trade.paid':
      return { lane: 'buyer', text: `provider captures ${money(event.amount)} on trade ${event.tradeNo}` };
    case 'payment.trade.pay_failed':
      return { lane: 'buyer', text: `provider refuses the payment: ${event.code}` };
    case 'payment.verification.started':
      return { lane: 'buyer', text: `provider asks the buyer for extra verification (${event.verificationId})` };
    case 'payment.verification.completed':
      return { lane: 'buyer', text: `extra verification completed: ${event.result}` };
    case 'payment.callback.sent': {
      const kind = event.forgery ? `${event.forgery} ` : '';
      const copy = event.copy > 1 ? ` copy ${event.copy}` : '';
      const answer = event.acked ? `acknowledged (${http(event.httpStatus, event.error)})` : `not acknowledged (${http(event.httpStatus, event.error)})`;
      return { lane: 'callback', text: `${kind}callback ${event.status}, attempt ${event.attempt}${copy} → ${answer}` };
    }

    case 'stock.reserved':
      return { lane: 'shop→stock', text: `reserve ${event.quantity}× ${event.sku} → ${event.reservationId}${event.repeat ? ' (existing reservation)' : ''}` };
    case 'stock.refused':
      return { lane: 'shop→stock', text: `reserve ${event.quantity}× ${event.sku} refused: ${event.code}${event.restockAt ? `, restock at ${event.restockAt}` : ''}` };
    case 'stock.released':
      return { lane: 'shop→stock', text: event.reason === 'released' ? `release reservation ${event.reservationId}` : `reservation ${event.reservationId} expired at the supplier` };
    case 'stock.fulfilled':
      return { lane: 'shop→stock', text: `issue cards → ${plural(event.cards.length, 'card')}${event.repeat ? ' (the same cards again)' : ''}` };
    case 'stock.fulfil_failed':
      return { lane: 'shop→stock', text: `issue cards failed: ${event.code}` };

    case 'risk.assessed':
      return { lane: 'shop→risk', text: `assess → ${event.decision}${event.reasons.length > 0 ? ` (${event.reasons.join(', ')})` : ''}` };
    case 'risk.queried':
      return { lane: 'shop→risk', text: `poll assessment → ${event.status}` };
    case 'risk.resolved':
      return { lane: 'shop→risk', text: `review decided: ${event.status}` };

    case 'notify.message':
      return {
        lane: 'shop→notify',
        text: `message ${event.kind}${event.reason ? `/${event.reason}` : ''} by ${event.channel} to ${event.to}${event.duplicate ? ' (duplicate key: dropped)' : ''}: “${event.text}”`,
      };
    case 'notify.refused':
      return { lane: 'shop→notify', text: `message ${event.kind ?? '(unread)'} to ${event.to} refused: ${refusalOf(event)}` };
    case 'notify.email.received':
      return {
        lane: 'shop→notify',
        text: `e-mail “${event.subject}” to ${event.to.join(', ')} (${event.tls === 'none' ? 'no TLS' : event.tls}${event.user === undefined ? ', no login' : ''}): ${event.outcome}${event.smtpCode === undefined ? '' : ` ${event.smtpCode}`}${event.orderId === undefined ? ', matched to no order' : ''}`,
      };

    case 'fault.injected': {
      const detail = Object.entries(event.detail)
        .map(([name, value]) => `${name}=${String(value)}`)
        .join(', ');
      return { lane: 'fault', text: `fault ${event.fault}${detail ? ` (${detail})` : ''}` };
    }
    default:
      return undefined;
  }
}
