/**
 * A comparison of two runs, for the console and for Markdown: per scenario and class the base and
 * new scores and the signed delta, invariants newly broken or fixed, steady-state and gate changes,
 * then the regressions by name. Pure: (comparison, options) → string.
 */
import type { Comparison, ScenarioComparison, ScoreDelta } from '../core/comparison-types.js';
import { formatMsOrDash, formatPercent, plural } from '../core/units.js';
import { code, inline } from './markdown.js';
import { palette, printable, table, type Palette } from './terminal.js';

export interface ComparisonRenderOptions {
  /** Use ANSI colours (a TTY that wants them). */
  color: boolean;
  /** How to name the two sides (e.g. the paths given). */
  labels?: { base: string; current: string };
}

const scoreOrDash = (score: number | null): string => (score === null ? '–' : score.toFixed(1));

/** "+3.2", "-45.0", "±0.0", or "new" / "gone" for a one-sided score. */
export function formatDelta(entry: ScoreDelta): string {
  if (entry.delta === null) return entry.base === null ? 'new' : 'gone';
  const rounded = Number(entry.delta.toFixed(1));
  if (rounded === 0) return '±0.0';
  return `${rounded > 0 ? '+' : '-'}${Math.abs(rounded).toFixed(1)}`;
}

function deltaCell(entry: ScoreDelta, p: Palette): string {
  const text = formatDelta(entry);
  if (entry.regression) return p.red(`${text} ✘`);
  if (entry.delta !== null && entry.delta > 0.05) return p.green(text);
  return entry.delta === null ? p.dim(text) : text;
}

function steadyStateLine(scenario: ScenarioComparison): string {
  const { base, current } = scenario.steadyState;
  const ok = (value: boolean): string => (value ? 'ok' : 'failing');
  const state = base.ok === current.ok ? ok(current.ok) : `${ok(base.ok)} → ${ok(current.ok)}`;
  return `steady state ${state}: success ${formatPercent(base.successRate)} → ${formatPercent(current.successRate)}, p95 ${formatMsOrDash(base.p95)} → ${formatMsOrDash(current.p95)}`;
}

function gateText(passed: boolean): string {
  return passed ? 'passed' : 'failed';
}

function gateLine(gate: { base: boolean; current: boolean }): string {
  return gate.base === gate.current ? `gate ${gateText(gate.current)} on both sides` : `gate ${gateText(gate.base)} → ${gateText(gate.current)}`;
}

/** The console rendering of a comparison. */
export function renderComparison(comparison: Comparison, options: ComparisonRenderOptions): string {
  const p = palette(options.color);
  const lines: string[] = [];
  if (options.labels) lines.push(`${p.dim('base')} ${printable(options.labels.base)}`, `${p.dim('new ')} ${printable(options.labels.current)}`, '');

  const rows: string[][] = [['scenario / class', 'base', 'new', 'delta'].map((cell) => p.dim(cell))];
  const notes = new Map<number, string[]>();
  for (const scenario of comparison.scenarios) {
    rows.push([p.bold(printable(scenario.name)), scoreOrDash(scenario.score.base), scoreOrDash(scenario.score.current), deltaCell(scenario.score, p)]);
    for (const entry of scenario.classes) {
      rows.push([`  ${printable(entry.class)}`, scoreOrDash(entry.base), scoreOrDash(entry.current), deltaCell(entry, p)]);
    }
    const extra: string[] = [];
    if (scenario.newlyBroken.length > 0) extra.push(p.red(`invariants newly broken: ${scenario.newlyBroken.join(', ')}`));
    if (scenario.fixed.length > 0) extra.push(p.green(`invariants fixed: ${scenario.fixed.join(', ')}`));
    extra.push(steadyStateLine(scenario));
    const gate = gateLine(scenario.gate);
    extra.push(scenario.gate.base && !scenario.gate.current ? p.red(gate) : gate);
    notes.set(rows.length - 1, extra);
  }
  if (comparison.scenarios.length > 1) {
    rows.push([
      p.bold(`overall (mean of ${comparison.scenarios.length})`),
      scoreOrDash(comparison.overall.base),
      scoreOrDash(comparison.overall.current),
      deltaCell(comparison.overall, p),
    ]);
  }
  if (comparison.scenarios.length === 0) {
    lines.push(p.dim('no scenario appears in both reports'));
  } else {
    const laidOut = table(rows, ['left', 'right', 'right', 'right'], '');
    laidOut.forEach((line, index) => {
      lines.push(line);
      for (const note of notes.get(index) ?? []) lines.push(`    ${note}`);
    });
  }
  if (comparison.onlyInBase.length > 0) lines.push(`${p.dim('only in base:')} ${printable(comparison.onlyInBase.join(', '))}`);
  if (comparison.onlyInCurrent.length > 0) lines.push(`${p.dim('only in new:')} ${printable(comparison.onlyInCurrent.join(', '))}`);
  lines.push('');
  if (comparison.regressed) {
    lines.push(p.red(p.bold(`✘ ${plural(comparison.regressions.length, 'regression')} (max drop ${comparison.threshold} points)`)));
    for (const regression of comparison.regressions) lines.push(`  • ${printable(regression.scenario)}: ${printable(regression.message)}`);
  } else {
    lines.push(p.green(p.bold(`✔ no regression (max drop ${comparison.threshold} points)`)));
  }
  return lines.join('\n');
}

/** A code span in a table cell: the pipe escaped, as GFM reads it before the span. */
const codeCell = (text: string): string => code(text).replace(/\|/g, '\\|');

/** The Markdown rendering of a comparison (a pull-request comment). */
export function renderComparisonMarkdown(comparison: Comparison, options: { labels?: { base: string; current: string } } = {}): string {
  const lines: string[] = ['# Ordeal comparison', ''];
  lines.push(
    comparison.regressed
      ? `❌ **${plural(comparison.regressions.length, 'regression')}** (max drop ${comparison.threshold} points)`
      : `✅ **no regression** (max drop ${comparison.threshold} points)`,
    '',
  );
  if (options.labels) lines.push(`Base: ${code(options.labels.base)} · new: ${code(options.labels.current)}`, '');
  if (comparison.regressed) {
    for (const regression of comparison.regressions) lines.push(`- **${inline(regression.scenario)}**: ${inline(regression.message)}`);
    lines.push('');
  }
  if (comparison.scenarios.length > 0) {
    lines.push('| scenario / class | base | new | delta |', '| --- | ---: | ---: | ---: |');
    const deltaText = (entry: ScoreDelta): string => `${formatDelta(entry)}${entry.regression ? ' ❌' : ''}`;
    for (const scenario of comparison.scenarios) {
      lines.push(`| **${inline(scenario.name)}** | ${scoreOrDash(scenario.score.base)} | ${scoreOrDash(scenario.score.current)} | ${deltaText(scenario.score)} |`);
      for (const entry of scenario.classes) {
        lines.push(`| &nbsp;&nbsp;${codeCell(entry.class)} | ${scoreOrDash(entry.base)} | ${scoreOrDash(entry.current)} | ${deltaText(entry)} |`);
      }
    }
    if (comparison.scenarios.length > 1) {
      lines.push(
        `| **overall** (mean of ${comparison.scenarios.length}) | ${scoreOrDash(comparison.overall.base)} | ${scoreOrDash(comparison.overall.current)} | ${formatDelta(comparison.overall)} |`,
      );
    }
    lines.push('');
    for (const scenario of comparison.scenarios) {
      const facts = [gateLine(scenario.gate), steadyStateLine(scenario)];
      if (scenario.newlyBroken.length > 0) facts.push(`invariants newly broken: ${scenario.newlyBroken.map(code).join(', ')}`);
      if (scenario.fixed.length > 0) facts.push(`invariants fixed: ${scenario.fixed.map(code).join(', ')}`);
      lines.push(`- **${inline(scenario.name)}**: ${facts.join('; ')}`);
    }
    lines.push('');
  } else {
    lines.push('_No scenario appears in both reports._', '');
  }
  if (comparison.onlyInBase.length > 0) lines.push(`Only in base: ${comparison.onlyInBase.map(code).join(', ')}`, '');
  if (comparison.onlyInCurrent.length > 0) lines.push(`Only in new: ${comparison.onlyInCurrent.map(code).join(', ')}`, '');
  return `${lines.join('\n').trimEnd()}\n`;
}
