/**
 * Durations and rates as written in scenarios ("500ms", "1.5s", "2m", "20/s", "600/m"), and
 * figures as the reports and messages write them.
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const RATE = /^(\d+(?:\.\d+)?)\/(s|m)$/;

const MS_PER_UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export const DURATION_PATTERN = DURATION.source;
export const RATE_PATTERN = RATE.source;

/** Milliseconds from a number (already ms) or a duration string; undefined when malformed. */
export function parseDuration(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * MS_PER_UNIT[match[2]!]!;
}

/** Arrivals per second from a number (already per second) or a rate string. */
export function parseRate(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = RATE.exec(value.trim());
  if (!match) return undefined;
  return match[2] === 's' ? Number(match[1]) : Number(match[1]) / 60;
}

/** A window "5s..10s" (or "5s.." for open-ended) as [fromMs, toMs]. */
export function parseWindow(value: string): [number, number] | undefined {
  const parts = value.split('..');
  if (parts.length !== 2) return undefined;
  const [start, end] = parts.map((part) => part.trim()) as [string, string];
  const from = parseDuration(start);
  const to = end === '' ? Number.POSITIVE_INFINITY : parseDuration(end);
  if (from === undefined || to === undefined || to < from) return undefined;
  return [from, to];
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '∞';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  return `${(ms / 60_000).toFixed(1)}m`;
}

/** A time in ms, or "–" when there is none. */
export function formatMsOrDash(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '–' : formatMs(ms);
}

/** A count and its noun: "1 order", "3 orders" (`plural` for irregular nouns: "2 incident classes"). */
export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralWord}`;
}

/** A rate (0–1) as a percentage with one decimal: 0.953 → "95.3%". */
export function formatPercent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}
