/**
 * Hand-written inline SVG charts for the HTML report: time on x (seconds of load time), stacked
 * bars and lines on y, with the windows where faults were active shaded. Pure: spec → SVG text.
 */
import type { FaultWindow } from './html-model.js';
import { escapeHtml } from './html-text.js';

export interface ChartSeries {
  name: string;
  color: string;
  /** One value per bucket; null leaves a gap in a line. */
  values: ReadonlyArray<number | null>;
  /** Bars stack on each other, lines are drawn over them. */
  kind: 'bar' | 'line';
  dashed?: boolean;
}

export interface ChartSpec {
  /** Accessible name of the chart. */
  title: string;
  yLabel: string;
  bucketMs: number;
  series: readonly ChartSeries[];
  windows: readonly FaultWindow[];
  /** Colour per fault id. */
  faultColors: ReadonlyMap<string, string>;
  /** Tick labels on y. @default integers */
  formatY?: (value: number) => string;
}

const WIDTH = 960;
const HEIGHT = 260;
const LEFT = 56;
const RIGHT = 14;
const BOTTOM = 36;
/** Height of one row of the fault strip above the plot. */
const STRIP_ROW = 7;

/** 1, 2 or 5 × 10^k, at least `rough`. */
export function niceStep(rough: number): number {
  if (!(rough > 0) || !Number.isFinite(rough)) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].find((m) => m * power >= rough) ?? 10;
  return step * power;
}

const round = (value: number): string => String(Math.round(value * 10) / 10);

function seconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s}s` : `${s.toFixed(1)}s`;
}

/** One chart as an `<svg>` element (scales to its container's width). */
export function renderChart(spec: ChartSpec): string {
  const buckets = Math.max(1, ...spec.series.map((series) => series.values.length));
  const spanMs = buckets * spec.bucketMs;
  const faults = [...new Set(spec.windows.map((window) => window.fault))];
  const top = 14 + faults.length * STRIP_ROW;
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - top - BOTTOM;
  const x = (ms: number): number => LEFT + (Math.min(Math.max(ms, 0), spanMs) / spanMs) * plotW;

  const bars = spec.series.filter((series) => series.kind === 'bar');
  const lines = spec.series.filter((series) => series.kind === 'line');
  let max = 0;
  for (let index = 0; index < buckets; index++) {
    const stack = bars.reduce((sum, series) => sum + (series.values[index] ?? 0), 0);
    max = Math.max(max, stack, ...lines.map((series) => series.values[index] ?? 0));
  }
  const yStep = niceStep((max || 1) / 4);
  const yMax = Math.max(yStep, Math.ceil(max / yStep) * yStep);
  const y = (value: number): number => top + plotH - (value / yMax) * plotH;
  const formatY = spec.formatY ?? ((value: number) => String(value));

  const out: string[] = [];
  out.push(
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(spec.title)}" preserveAspectRatio="xMidYMid meet">`,
    `<title>${escapeHtml(spec.title)}</title>`,
  );

  // Fault windows: shading over the plot, and one strip row per fault id above it.
  spec.windows.forEach((window) => {
    const color = spec.faultColors.get(window.fault) ?? '#999';
    const x0 = x(window.from);
    const w = Math.max(2, x(window.to) - x0);
    const row = faults.indexOf(window.fault);
    const label = `${window.fault}: ${seconds(window.from)}–${seconds(window.to)} (${windowSourceText(window)})`;
    out.push(
      `<g class="fault-window" data-fault="${escapeHtml(window.fault)}"><title>${escapeHtml(label)}</title>` +
        `<rect class="fault-shade" x="${round(x0)}" y="${top}" width="${round(w)}" height="${plotH}" fill="${color}" fill-opacity="0.1"/>` +
        `<rect class="fault-strip" x="${round(x0)}" y="${6 + row * STRIP_ROW}" width="${round(w)}" height="${STRIP_ROW - 2}" fill="${color}"/></g>`,
    );
  });

  // Grid and y axis.
  for (let value = 0; value <= yMax + 1e-9; value += yStep) {
    const gy = round(y(value));
    out.push(`<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${gy}" y2="${gy}"/>`);
    out.push(`<text class="tick" x="${LEFT - 6}" y="${gy}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatY(value))}</text>`);
  }
  // x axis: ticks in seconds of load time.
  const xStep = Math.max(spec.bucketMs, niceStep(spanMs / 8));
  for (let ms = 0; ms <= spanMs + 1e-9; ms += xStep) {
    const gx = round(x(ms));
    out.push(`<line class="axis" x1="${gx}" x2="${gx}" y1="${top + plotH}" y2="${top + plotH + 4}"/>`);
    out.push(`<text class="tick" x="${gx}" y="${top + plotH + 15}" text-anchor="middle">${seconds(ms)}</text>`);
  }
  out.push(`<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${top + plotH}" y2="${top + plotH}"/>`);
  out.push(`<line class="axis" x1="${LEFT}" x2="${LEFT}" y1="${top}" y2="${top + plotH}"/>`);
  out.push(`<text class="label" x="${LEFT + plotW / 2}" y="${HEIGHT - 4}" text-anchor="middle">load time (seconds since the first arrival)</text>`);
  out.push(`<text class="label" transform="translate(12 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`);

  // Stacked bars, one rect per non-empty (bucket, series).
  const barW = Math.max(1, (plotW / buckets) * 0.8);
  for (let index = 0; index < buckets; index++) {
    let base = 0;
    for (const series of bars) {
      const value = series.values[index] ?? 0;
      if (value <= 0) continue;
      const bx = x(index * spec.bucketMs) + (plotW / buckets - barW) / 2;
      const y1 = y(base + value);
      out.push(
        `<rect class="bar" data-series="${escapeHtml(series.name)}" x="${round(bx)}" y="${round(y1)}" width="${round(barW)}" height="${round(y(base) - y1)}" fill="${series.color}"><title>${escapeHtml(`${seconds(index * spec.bucketMs)}: ${value} ${series.name}`)}</title></rect>`,
      );
      base += value;
    }
  }
  // Lines through bucket centres; a null value breaks the line.
  for (const series of lines) {
    let d = '';
    let pen = false;
    series.values.forEach((value, index) => {
      if (value === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${round(x((index + 0.5) * spec.bucketMs))} ${round(y(value))}`;
      pen = true;
    });
    if (d === '') continue;
    out.push(
      `<path class="series" data-series="${escapeHtml(series.name)}" d="${d}" fill="none" stroke="${series.color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="5 3"' : ''}><title>${escapeHtml(series.name)}</title></path>`,
    );
    // Lone points (a bucket between gaps) would not show as a line.
    series.values.forEach((value, index) => {
      const before = series.values[index - 1] ?? null;
      const after = series.values[index + 1] ?? null;
      if (value !== null && before === null && after === null) {
        out.push(`<circle class="point" cx="${round(x((index + 0.5) * spec.bucketMs))}" cy="${round(y(value))}" r="2.5" fill="${series.color}"/>`);
      }
    });
  }
  out.push('</svg>');
  return out.join('');
}

/** How a fault window was found, in words. */
export function windowSourceText(window: FaultWindow): string {
  switch (window.source) {
    case 'window':
      return `configured window, ${window.injections} hit${window.injections === 1 ? '' : 's'}`;
    case 'injected':
      return `first to last hit, ${window.injections} hit${window.injections === 1 ? '' : 's'}`;
    case 'crash':
      return `shop down from kill to restart, ${window.injections} order${window.injections === 1 ? '' : 's'} in flight`;
  }
}
