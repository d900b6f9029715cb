/**
 * Latency and throughput, folded from the journal into HDR histograms (hdr-histogram-js) in one pass,
 * beside the scoring fold: a pure function of the journal, so re-scoring a run folder reproduces them.
 *
 * Every duration is measured from when it was *meant* to start, not from when the harness got round
 * to it (no coordinated omission): an order's stages from its buyer's intended arrival, a request
 * from when the buyer meant to send it (`intendedAt` on the answer event; the arrival itself for a
 * buyer's first submission). A stalled shop therefore shows up in full: buyers who arrived while it
 * hung count the whole wait. Each endpoint also keeps its service time (from the actual send).
 *
 * Histograms record microseconds (1 µs to 1 h, 3 significant digits; larger values are clamped to
 * 1 h) and are reported in milliseconds, each with its compressed base64 encoding, so that two runs'
 * (or two segments') figures add up exactly: `mergeEncoded`, `mergeScenarioMetrics`.
 *
 * Memory is bounded by the shape, not the load: two histograms per endpoint, one per order stage,
 * and one per second of the run — of which only the last `OPEN_SECONDS` are kept as histograms, older
 * ones as their encoding (reopened if a late answer still belongs there); per buyer and per order
 * only the intended arrival and which stages were reached.
 */
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { JournalEvent } from '../../core/journal.js';
import { openRecordSpace, type RecordSpace, type RecordStore } from '../../memory/index.js';
import {
  ENDPOINT_NAMES,
  ORDER_STAGE_NAMES,
  type EncodedHistogram,
  type EndpointMetrics,
  type EndpointName,
  type OrderStageName,
  type ScenarioMetrics,
  type SecondMetrics,
} from '../../core/report-types.js';

export type { EncodedHistogram, EndpointMetrics, EndpointName, OrderStageName, ScenarioMetrics, SecondMetrics } from '../../core/report-types.js';
export type { Histogram } from 'hdr-histogram-js';

/** The histograms' range and precision: values are microseconds. */
export const HISTOGRAM_SETTINGS = {
  /** 1 µs. */
  lowestDiscernibleValue: 1,
  /** 1 hour in µs; larger samples are recorded as 1 h. */
  highestTrackableValue: 3_600_000_000,
  numberOfSignificantValueDigits: 3,
} as const;

/** 32-bit counts: a larger histogram (~95 KB) than packed counts, but far cheaper to encode, decode and read percentiles from. */
const BIT_BUCKET_SIZE = 32;
/** Journal times are rounded to this (1 µs). */
const JOURNAL_RESOLUTION_MS = 0.001;
/** Seconds behind the latest one whose histograms stay open; older seconds are kept encoded. */
const OPEN_SECONDS = 30;

/** A new, empty histogram with Ordeal's settings (values in µs). */
export function createHistogram(): Histogram {
  return hdr.build({ ...HISTOGRAM_SETTINGS, autoResize: false, bitBucketSize: BIT_BUCKET_SIZE, useWebAssembly: false });
}

/** Records a duration given in milliseconds (as µs, clamped to the histogram's range). */
export function recordMs(histogram: Histogram, ms: number): void {
  const us = Number.isFinite(ms) ? Math.round(ms * 1000) : HISTOGRAM_SETTINGS.highestTrackableValue;
  histogram.recordValue(Math.min(HISTOGRAM_SETTINGS.highestTrackableValue, Math.max(HISTOGRAM_SETTINGS.lowestDiscernibleValue, us)));
}

/** A histogram back from its encoding (or an `EncodedHistogram`). */
export function decode(value: string | Pick<EncodedHistogram, 'encoded'>): Histogram {
  const encoded = typeof value === 'string' ? value : value.encoded;
  return hdr.decodeFromCompressedBase64(encoded, BIT_BUCKET_SIZE, false);
}

const usToMs = (us: number): number => us / 1000;

/**
 * The figures of an encoded histogram, read back from the encoding itself: whatever path led to
 * the same counts (one histogram, or merged parts) gives the same figures.
 */
export function summarize(encoded: string): EncodedHistogram {
  const histogram = decode(encoded);
  const count = histogram.totalCount;
  if (count === 0) {
    return { encoded, count: 0, min: null, max: null, mean: null, p50: null, p90: null, p95: null, p99: null, p999: null };
  }
  const at = (percentile: number): number => usToMs(histogram.getValueAtPercentile(percentile));
  return {
    encoded,
    count,
    min: usToMs(histogram.minNonZeroValue),
    max: usToMs(histogram.maxValue),
    mean: Math.round(histogram.mean) / 1000,
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
  };
}

/** Encodes a histogram (compressed base64) with its figures in milliseconds. */
export function encode(histogram: Histogram): EncodedHistogram {
  return summarize(hdr.encodeIntoCompressedBase64(histogram));
}

let emptyEncoding: string | undefined;
/** The encoding of an empty histogram. */
function empty(): string {
  emptyEncoding ??= hdr.encodeIntoCompressedBase64(createHistogram());
  return emptyEncoding;
}

/** Two encoded histograms added: the same figures as one histogram of all their samples. */
export function mergeEncoded(a: string | Pick<EncodedHistogram, 'encoded'>, b: string | Pick<EncodedHistogram, 'encoded'>): EncodedHistogram {
  const sum = createHistogram();
  sum.add(decode(a));
  sum.add(decode(b));
  return encode(sum);
}

function mergeEndpoint(a: EndpointMetrics, b: EndpointMetrics): EndpointMetrics {
  return {
    count: a.count + b.count,
    errors: a.errors + b.errors,
    responseTime: mergeEncoded(a.responseTime, b.responseTime),
    serviceTime: mergeEncoded(a.serviceTime, b.serviceTime),
  };
}

function secondFromEncoded(base: Omit<SecondMetrics, 'p50' | 'p95' | 'p99' | 'encoded'>, encoded: string): SecondMetrics {
  const figures = summarize(encoded);
  return { ...base, p50: figures.p50, p95: figures.p95, p99: figures.p99, encoded };
}

function mergeSecond(a: SecondMetrics, b: SecondMetrics): SecondMetrics {
  return secondFromEncoded(
    {
      second: a.second,
      arrivals: a.arrivals + b.arrivals,
      dropped: a.dropped + b.dropped,
      requests: a.requests + b.requests,
      errors: a.errors + b.errors,
      completed: a.completed + b.completed,
      failed: a.failed + b.failed,
    },
    mergeEncoded(a.encoded, b.encoded).encoded,
  );
}

/**
 * Two runs' (or two segments') metrics added: endpoint and stage histograms merged, per-second
 * entries merged second by second (both counted from their own load start).
 */
export function mergeScenarioMetrics(a: ScenarioMetrics, b: ScenarioMetrics): ScenarioMetrics {
  const endpoints = {} as Record<EndpointName, EndpointMetrics>;
  for (const name of ENDPOINT_NAMES) endpoints[name] = mergeEndpoint(a.endpoints[name], b.endpoints[name]);
  const stages = {} as Record<OrderStageName, EncodedHistogram>;
  for (const name of ORDER_STAGE_NAMES) stages[name] = mergeEncoded(a.stages[name], b.stages[name]);
  const bySecond = new Map<number, SecondMetrics>();
  for (const entry of [...a.perSecond, ...b.perSecond]) {
    const known = bySecond.get(entry.second);
    bySecond.set(entry.second, known ? mergeSecond(known, entry) : entry);
  }
  const perSecond = [...bySecond.values()].sort((x, y) => x.second - y.second);
  return { endpoints, stages, perSecond };
}


// ---------------------------------------------------------------------------------------------

interface EndpointRecorder {
  count: number;
  errors: number;
  response: Histogram;
  service: Histogram;
}

interface SecondRecorder {
  arrivals: number;
  dropped: number;
  requests: number;
  errors: number;
  completed: number;
  failed: number;
  /** The second's create latencies while it is open. */
  latency?: Histogram;
  /** Their encoding once closed. */
  encoded?: string;
}

/** Bits of `OrderMark.reached`. */
const REACHED: Record<Exclude<OrderStageName, 'completed'>, number> = { created: 1, paid: 2, delivered: 4 };

interface OrderMark {
  /** The buyer's intended arrival. */
  from: number;
  /** Stages already recorded (bits of REACHED). */
  reached: number;
}

interface BuyerMark {
  /** Intended arrival. */
  from: number;
  /** Whether a create answer was seen (the first submission is meant at the arrival). */
  submitted: boolean;
}

/** An answer is an error when it is a 5xx or no HTTP answer came at all. */
const failed = (httpStatus: number | undefined, error?: string): boolean => error !== undefined || httpStatus === undefined || httpStatus >= 500;

/**
 * Folds journal events, one at a time, into `ScenarioMetrics`. Fed the same stream as the scoring
 * fold (`JournalFolder` calls it); usable alone.
 */
export class MetricsFolder {
  /** Load start: the first intended arrival (else 0). */
  private origin: number | undefined;
  /** Per buyer and per order marks. */
  private readonly buyers: RecordStore<string, BuyerMark>;
  private readonly orders: RecordStore<string, OrderMark>;
  private readonly endpoints = Object.fromEntries(
    ENDPOINT_NAMES.map((name) => [name, { count: 0, errors: 0, response: createHistogram(), service: createHistogram() }]),
  ) as Record<EndpointName, EndpointRecorder>;
  private readonly stages = Object.fromEntries(ORDER_STAGE_NAMES.map((name) => [name, createHistogram()])) as Record<OrderStageName, Histogram>;
  private readonly seconds: SecondRecorder[] = [];
  /** Indexes of the seconds whose latency histogram is open. */
  private readonly open = new Set<number>();

  /** @param records where the per-buyer and per-order marks are kept. @default all in the heap */
  constructor(records: RecordSpace = openRecordSpace()) {
    this.buyers = records.store<string, BuyerMark>('metric_buyers', {
      encode: (mark) => `${mark.from},${mark.submitted ? 1 : 0}`,
      decode: (text) => {
        const [from, submitted] = text.split(',');
        return { from: Number(from), submitted: submitted === '1' };
      },
      key: (text) => text,
    });
    this.orders = records.store<string, OrderMark>('metric_orders', {
      encode: (mark) => `${mark.from},${mark.reached}`,
      decode: (text) => {
        const [from, reached] = text.split(',');
        return { from: Number(from), reached: Number(reached) };
      },
      key: (text) => text,
    });
  }

  /**
   * The index of the second holding run-clock time `at`, counted from load start. Journal times
   * are rounded to the microsecond, so a time within 1 µs of a second's start belongs to it (a
   * request meant at an arrival lands in the arrival's second).
   */
  private indexOf(at: number): number {
    this.origin ??= 0;
    return Math.max(0, Math.floor((at - this.origin + JOURNAL_RESOLUTION_MS) / 1000));
  }

  /** The per-second bucket holding run-clock time `at`. */
  private second(at: number): SecondRecorder {
    const index = this.indexOf(at);
    for (let next = this.seconds.length; next <= index; next++) {
      this.seconds.push({ arrivals: 0, dropped: 0, requests: 0, errors: 0, completed: 0, failed: 0 });
    }
    return this.seconds[index] as SecondRecorder;
  }

  /** Records a create latency in its second's histogram, reopening it if it was closed; closes seconds left behind. */
  private recordInSecond(at: number, ms: number): void {
    const bucket = this.second(at);
    if (!bucket.latency) {
      bucket.latency = bucket.encoded === undefined ? createHistogram() : decode(bucket.encoded);
      bucket.encoded = undefined;
      this.open.add(this.indexOf(at));
    }
    recordMs(bucket.latency, ms);
    const horizon = this.seconds.length - 1 - OPEN_SECONDS;
    for (const index of this.open) {
      if (index >= horizon) continue;
      const old = this.seconds[index] as SecondRecorder;
      if (old.latency) old.encoded = hdr.encodeIntoCompressedBase64(old.latency);
      old.latency = undefined;
      this.open.delete(index);
    }
  }

  private request(endpoint: EndpointName, intendedAt: number, answeredAt: number, latencyMs: number, error: boolean): number {
    const recorder = this.endpoints[endpoint];
    recorder.count++;
    if (error) recorder.errors++;
    // The answer cannot come sooner than the request took.
    const response = Math.max(answeredAt - intendedAt, latencyMs);
    recordMs(recorder.response, response);
    recordMs(recorder.service, latencyMs);
    return response;
  }

  /** Records an order stage once, from the buyer's intended arrival. */
  private stage(orderId: string, name: Exclude<OrderStageName, 'completed'>, at: number, buyerId?: string): void {
    let order = this.orders.get(orderId);
    if (!order && buyerId !== undefined) {
      const buyer = this.buyers.get(buyerId);
      if (!buyer) return;
      order = { from: buyer.from, reached: 0 };
      this.orders.set(orderId, order);
    }
    if (!order || (order.reached & REACHED[name]) !== 0) return;
    order.reached |= REACHED[name];
    recordMs(this.stages[name], at - order.from);
  }

  add(event: JournalEvent): void {
    switch (event.type) {
      case 'buyer.arrived':
      case 'buyer.dropped': {
        this.origin ??= event.intendedAt;
        const bucket = this.second(event.intendedAt);
        bucket.arrivals++;
        if (event.type === 'buyer.dropped') bucket.dropped++;
        else this.buyers.set(event.buyerId, { from: event.intendedAt, submitted: false });
        break;
      }
      case 'order.create.answered': {
        const buyer = this.buyers.get(event.buyerId);
        // Journals written before `intendedAt` was recorded: a buyer's first submission was meant at
        // its arrival; a later one is taken as sent when meant.
        const intendedAt = event.intendedAt ?? (buyer && !buyer.submitted ? buyer.from : event.t - event.latencyMs);
        if (buyer) buyer.submitted = true;
        const error = failed(event.httpStatus, event.error);
        const response = this.request('create', intendedAt, event.t, event.latencyMs, error);
        const bucket = this.second(intendedAt);
        bucket.requests++;
        if (error) bucket.errors++;
        this.recordInSecond(intendedAt, response);
        if (event.orderId !== undefined && buyer && !this.orders.has(event.orderId)) this.orders.set(event.orderId, { from: buyer.from, reached: 0 });
        if (event.orderId !== undefined && event.httpStatus === 201) this.stage(event.orderId, 'created', event.t, event.buyerId);
        break;
      }
      case 'cashier.paid':
        this.request('pay', event.intendedAt ?? event.t - event.latencyMs, event.t, event.latencyMs, failed(event.httpStatus));
        break;
      case 'order.cancel.answered':
        this.request('cancel', event.intendedAt ?? event.t - event.latencyMs, event.t, event.latencyMs, failed(event.httpStatus, event.error));
        break;
      case 'cashier.verified':
        this.request('verify', event.intendedAt ?? event.t - event.latencyMs, event.t, event.latencyMs, failed(event.httpStatus));
        break;
      case 'payment.trade.paid':
        this.stage(event.orderId, 'paid', event.t);
        break;
      case 'order.observed':
        if (event.status === 'delivered') this.stage(event.orderId, 'delivered', event.t, event.buyerId);
        break;
      case 'buyer.finished': {
        const bucket = this.second(event.t);
        if (event.outcome === 'delivered') {
          bucket.completed++;
          recordMs(this.stages.completed, event.latencyMs);
        } else if (event.outcome !== 'abandoned') bucket.failed++;
        break;
      }
      default:
        break;
    }
  }

  /** The metrics so far (the folder can go on being fed). */
  finish(): ScenarioMetrics {
    const endpoints = {} as Record<EndpointName, EndpointMetrics>;
    for (const name of ENDPOINT_NAMES) {
      const recorder = this.endpoints[name];
      endpoints[name] = { count: recorder.count, errors: recorder.errors, responseTime: encode(recorder.response), serviceTime: encode(recorder.service) };
    }
    const stages = {} as Record<OrderStageName, EncodedHistogram>;
    for (const name of ORDER_STAGE_NAMES) stages[name] = encode(this.stages[name]);
    const perSecond = this.seconds.map(({ latency, encoded, ...counts }, second) =>
      secondFromEncoded({ second, ...counts }, latency ? hdr.encodeIntoCompressedBase64(latency) : (encoded ?? empty())),
    );
    return { endpoints, stages, perSecond };
  }
}

/** Folds a whole journal (array or stream) into its metrics. */
export async function foldMetrics(events: Iterable<JournalEvent> | AsyncIterable<JournalEvent>): Promise<ScenarioMetrics> {
  const folder = new MetricsFolder();
  for await (const event of events) folder.add(event);
  return folder.finish();
}
