/**
 * report.md: fit for a pull-request comment. The verdict and its reasons first, then a summary
 * table, then per scenario: classes, broken invariants with the orders that broke them, steady
 * state, load and latency. Failing scenarios are shown open; passing ones fold into `<details>`, and
 * so do long violation lists and the per-second series. Pure: report → string.
 *
 * The text stays within GitHub's comment limit (65 536 characters): when the whole report does not
 * fit, it drops the per-second series, then lists fewer violations, then none, then drops the passing
 * scenarios' details, then every scenario's details, and says so; a last resort cuts whole lines and
 * closes what was left open.
 */
import type { Accounting, ClassScore, EncodedHistogram, InvariantResult, Report, ScenarioMetrics, ScenarioReport, StageSummary } from '../core/report-types.js';
import { ENDPOINT_NAMES } from '../core/report-types.js';
import { recoveryName, steadyLeftOut, throughputOf, violatingOrders } from '../core/report-reading.js';
import { interruptionDetails, interruptionTitle } from '../core/interruption.js';
import { accountingEquations, accountingGapText } from '../core/accounting-reading.js';
import { formatMs, formatMsOrDash, formatPercent, plural } from '../core/units.js';
import { outsideRequestsLine } from './outside-requests.js';

/** GitHub's maximum length of an issue or pull-request comment, in characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

export interface MarkdownOptions {
  /** Maximum length of the text (UTF-16 code units, never fewer than GitHub counts). @default 65 536 (a GitHub comment) */
  maxLength?: number;
}

/** Violating order ids named per invariant in its table row before "…". */
const MAX_IDS = 10;
/** Violations listed per invariant in its `<details>` list, by level of detail. */
const MAX_VIOLATIONS = 50;
const FEW_VIOLATIONS = 10;
/** Gate reasons listed before the rest fold into `<details>`. */
const MAX_REASONS = 20;

/** How much a rendering shows. */
interface Detail {
  /** Violations listed per broken invariant (0: none, the table row only). */
  violations: number;
  /** Whether passing scenarios show their tables (folded) or their heading only. */
  passingTables: boolean;
  /** Whether scenarios get a section at all (else the verdict and summary table only). */
  scenarios: boolean;
  /** Whether each scenario's latency section lists its per-second series (folded). */
  perSecond: boolean;
}

/** From everything down to the verdict and the summary table: the first that fits is used. */
const LEVELS: readonly Detail[] = [
  { violations: MAX_VIOLATIONS, passingTables: true, scenarios: true, perSecond: true },
  { violations: MAX_VIOLATIONS, passingTables: true, scenarios: true, perSecond: false },
  { violations: FEW_VIOLATIONS, passingTables: true, scenarios: true, perSecond: false },
  { violations: 0, passingTables: true, scenarios: true, perSecond: false },
  { violations: 0, passingTables: false, scenarios: true, perSecond: false },
  { violations: 0, passingTables: false, scenarios: false, perSecond: false },
];

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** One line: no control characters, no line breaks. */
function flat(text: string): string {
  return text.replace(/\r?\n|\r|\t/g, ' ').replace(CONTROL, '');
}

/**
 * Text from the shop or the scenario, made inert for one line of Markdown with as few escapes as
 * do it: code, emphasis, strikethrough, table cells and HTML tags are escaped where they could
 * open; an inline link or image is broken at its `](`; the `://`, `www.` and `@` GFM would turn
 * into links are escaped, and so is a leading heading, quote or list marker — an order id such as
 * `![x](http://…)` reads as itself in a pull-request comment, not as a remote image.
 */
export function inline(text: string): string {
  return flat(text)
    .replace(/[\\`*|~]/g, '\\$&')
    .replace(/(?<![A-Za-z0-9_])_+|_+(?![A-Za-z0-9_])/g, (run) => run.replace(/_/g, '\\_'))
    .replace(/\]\(/g, ']\\(')
    .replace(/<(?=[A-Za-z/!?])/g, '&lt;')
    .replace(/:(?=\/\/)/g, '\\:')
    .replace(/\b(www)\./gi, '$1\\.')
    .replace(/@/g, '\\@')
    .replace(/^(\s*\d+)([.)])(?=\s|$)/, '$1\\$2')
    .replace(/^(\s*)(>|[#+-](?=\s|$))/, '$1\\$2');
}

/** Escapes text for a table cell (`inline` already escapes the pipe). */
function cell(text: string): string {
  return inline(text);
}

/** Text inside HTML (a `<summary>`), where Markdown is not read: entities only. */
function html(text: string): string {
  return flat(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function code(text: string): string {
  return `\`${flat(text).replace(/`/g, "'")}\``;
}

/** A code span inside a table cell: only the pipe needs escaping there. */
function codeCell(text: string): string {
  return code(text).replace(/\|/g, '\\|');
}

/** A fenced block that no backtick run inside it can close. */
function fenced(language: string, text: string): string[] {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return [`${fence}${language}`, text, fence];
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function tableLines(header: string[], align: Array<'l' | 'r' | 'c'>, rows: string[][]): string[] {
  const rule = align.map((a) => (a === 'r' ? '---:' : a === 'c' ? ':---:' : '---'));
  return [row(header), row(rule), ...rows.map(row)];
}

/** A collapsible block; a blank line after `<summary>` lets GitHub render the Markdown inside. */
function details(summary: string, body: string[]): string[] {
  const trimmed = [...body];
  while (trimmed.length > 0 && trimmed[trimmed.length - 1] === '') trimmed.pop();
  return [`<details><summary>${html(summary)}</summary>`, '', ...trimmed, '', '</details>', ''];
}

const passMark = (passed: boolean): string => (passed ? '✅ passed' : '❌ failed');

function stageCell(stage: StageSummary, incidents: number): string {
  if (stage.observable === false) return 'n/a';
  return `${stage.met}/${incidents} · ${formatMsOrDash(stage.p50)} / ${formatMsOrDash(stage.p95)}`;
}

function classSection(classes: Partial<Record<string, ClassScore>>): string[] {
  const entries = Object.entries(classes).filter((entry): entry is [string, ClassScore] => entry[1] !== undefined);
  if (entries.length === 0) return ['_No incidents: no fault or buyer mistake hit an order; the score is the steady-state success rate._'];
  return [
    ...tableLines(
      ['class', 'score', 'weight', 'incidents', 'detect', 'notify', 'recover', 'deadlines'],
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      entries.map(([fault, entry]) =>
        entry.observable === false
          ? [code(fault), 'n/a', '0', String(entry.incidents), 'n/a', 'n/a', 'n/a', '-']
          : [
              code(fault),
              entry.score === null ? 'n/a' : entry.score.toFixed(1),
              String(entry.weight),
              String(entry.incidents),
              stageCell(entry.stages.detect, entry.incidents),
              stageCell(entry.stages.notify, entry.incidents),
              stageCell(entry.stages.recover, entry.incidents),
              `${formatMs(entry.deadlines.detect)} / ${formatMs(entry.deadlines.notify)} / ${formatMs(entry.deadlines.recover)}`,
            ],
      ),
    ),
    ...entries.flatMap(([fault, entry]) => (entry.observable === false ? ['', `_n/a ${code(fault)}: not observable on this target — ${inline(entry.reason ?? 'the shop cannot show it')}._`] : [])),
  ];
}

const STAGES_LEGEND =
  '_Incident classes: stages are met within deadline / incidents · p50 / p95 time to the stage; deadlines (defaults from the scenario\'s timers and the fault\'s parameters, or `expect`) are detect / notify / recover._';

function violationList(invariant: InvariantResult, max: number): string[] {
  const items = invariant.violations.slice(0, max).map((violation) => {
    const ids = violation.orderIds.map(code).join(', ');
    return `- ${ids}${ids ? ' — ' : ''}${inline(violation.message)}`;
  });
  const rest = invariant.violations.length - max;
  if (rest > 0) items.push(`- … ${plural(rest, 'more violation')} in report.json`);
  return details(`${invariant.id}: ${plural(invariant.violations.length, 'violation')}`, items);
}

/** Broken invariants in a table (first violation inline), the long lists folded below it, the holding ones in a line. */
function invariantSection(invariants: InvariantResult[], detail: Detail): string[] {
  const broken = invariants.filter((invariant) => !invariant.ok);
  const holding = invariants.filter((invariant) => invariant.ok);
  const lines: string[] = [];
  if (broken.length > 0) {
    lines.push(
      ...tableLines(
        ['invariant', '', 'violations'],
        ['l', 'c', 'l'],
        broken.map((invariant) => {
          const ids = violatingOrders(invariant);
          const named = ids.slice(0, MAX_IDS).map(codeCell).join(', ') + (ids.length > MAX_IDS ? ', …' : '');
          const first = cell(invariant.violations[0]?.message ?? '');
          const more = invariant.violations.length > 1 ? ` (+${invariant.violations.length - 1} more)` : '';
          return [code(invariant.id), '✗', `${plural(ids.length, 'order')}: ${named}${named ? ' — ' : ''}${first}${more}`];
        }),
      ),
      '',
    );
    if (detail.violations > 0) {
      for (const invariant of broken) if (invariant.violations.length > 1) lines.push(...violationList(invariant, detail.violations));
    }
  }
  if (holding.length > 0) {
    const all = broken.length === 0 ? 'all ' : '';
    lines.push(`✓ ${all}${plural(holding.length, 'invariant')} hold: ${holding.map((invariant) => code(invariant.id)).join(', ')}`, '');
  }
  return lines;
}

/** The payment protocol when it is not the native one, and each fault it could not express. */
function providerSection(scenario: ScenarioReport): string[] {
  const provider = scenario.provider;
  const channels = provider?.channels ?? [];
  if (!provider || (provider.protocol === 'native' && channels.length === 0 && provider.notInjected.length === 0)) return [];
  const lines = [`**Payment protocol**: ${[provider.protocol, ...channels].map((protocol) => code(protocol)).join(' + ')}`, ''];
  const byProtocol = provider.notInjected.filter((skipped) => skipped.cause === undefined);
  const byTarget = provider.notInjected.filter((skipped) => skipped.cause !== undefined);
  if (byProtocol.length > 0) {
    lines.push(`Not injected (${inline(provider.protocol)} cannot express them):`, '');
    for (const skipped of byProtocol) lines.push(`- ${code(skipped.fault)} — ${inline(skipped.reason)}`);
    lines.push('');
  }
  if (byTarget.length > 0) {
    lines.push('Not injected (the shop is attached):', '');
    for (const skipped of byTarget) lines.push(`- ${code(skipped.fault)} — ${inline(skipped.reason)}`);
    lines.push('');
  }
  return lines;
}

/** One paragraph: the accounting line's equations, and when it does not balance, each gap with the first orders (escaped). */
function accountingParagraph(accounting: Accounting): string {
  const equations = `**Accounting** ${accounting.balanced ? '✓' : '✗'} ${inline(accountingEquations(accounting).join(' · '))}`;
  if (accounting.balanced) return equations;
  return `${equations} — **does not balance**: ${accounting.gaps.map((gap) => inline(accountingGapText(gap))).join('; ')}`;
}

function scenarioBody(scenario: ScenarioReport, detail: Detail): string[] {
  const lines: string[] = [...providerSection(scenario)];
  if (scenario.outsideRequests) lines.push(`**Outside requests**: ${inline(outsideRequestsLine(scenario.outsideRequests))}`, '');
  lines.push('**Incident classes** (faults and buyer behaviours)', '', ...classSection(scenario.classes), '');
  lines.push('**Invariants**', '', ...invariantSection(scenario.invariants, detail));
  const steady = scenario.steadyState;
  lines.push(
    '**Steady state** (fault-free orders of normal buyers)',
    '',
    ...tableLines(
      ['orders', 'delivered', 'success', 'min', 'p50', 'p95', 'p99', 'max p95', ''],
      ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'c'],
      [
        [
          String(steady.orders),
          String(steady.succeeded),
          formatPercent(steady.successRate),
          formatPercent(steady.thresholds.successRate),
          formatMsOrDash(steady.latency.p50),
          formatMsOrDash(steady.latency.p95),
          formatMsOrDash(steady.latency.p99),
          steady.thresholds.p95 === undefined ? '–' : formatMs(steady.thresholds.p95),
          steady.ok ? '✓' : '✗',
        ],
      ],
    ),
    '',
  );
  const leftOut = steadyLeftOut(steady);
  if (leftOut) lines.push(`Left out of the steady state: ${leftOut}.`, '');
  const load = scenario.load;
  lines.push(
    `**Load**: ${plural(load.arrivals, 'arrival')}, ${load.dropped} dropped, ${plural(load.ordersCreated, 'order')}, ${plural(load.httpErrors, 'HTTP error')}, ${load.rejected} rejected · seed ${scenario.seed}`,
    '',
  );
  if (scenario.accounting) lines.push(accountingParagraph(scenario.accounting), '');
  if (scenario.recovery && scenario.recovery.length > 0) lines.push(...recoverySection(scenario.recovery));
  if (scenario.metrics) lines.push(...latencySection(scenario.metrics, detail));
  return lines;
}

const STAGE_LABELS = { created: 'order created', paid: 'order paid', delivered: 'order delivered', completed: 'buyer done' } as const;

function histogramCells(histogram: EncodedHistogram): string[] {
  return [formatMsOrDash(histogram.p50), formatMsOrDash(histogram.p95), formatMsOrDash(histogram.p99), formatMsOrDash(histogram.max)];
}

/** Order stages and endpoints (p50/p95/p99/max from intended start), throughput, and the per-second series when there is room. */
function latencySection(metrics: ScenarioMetrics, detail: Detail): string[] {
  const rows: string[][] = [];
  for (const [stage, label] of Object.entries(STAGE_LABELS) as Array<[keyof typeof STAGE_LABELS, string]>) {
    const histogram = metrics.stages[stage];
    if (histogram.count > 0) rows.push([label, String(histogram.count), ...histogramCells(histogram), '–']);
  }
  for (const name of ENDPOINT_NAMES) {
    const endpoint = metrics.endpoints[name];
    if (endpoint.count === 0) continue;
    const errors = endpoint.errors > 0 ? ` (${plural(endpoint.errors, 'error')})` : '';
    const service = `${formatMsOrDash(endpoint.serviceTime.p50)} / ${formatMsOrDash(endpoint.serviceTime.p99)}`;
    rows.push([`${code(name)} request`, `${endpoint.count}${errors}`, ...histogramCells(endpoint.responseTime), service]);
  }
  const lines = ['**Latency** (from intended start: each order from its buyer\'s intended arrival, each request from when the buyer meant to send it; HDR histograms in report.json)', ''];
  if (rows.length > 0) {
    lines.push(...tableLines(['', 'count', 'p50', 'p95', 'p99', 'max', 'service p50 / p99'], ['l', 'r', 'r', 'r', 'r', 'r', 'r'], rows), '');
  }
  const { mean, peak } = throughputOf(metrics);
  const create = metrics.endpoints.create;
  const worst = metrics.perSecond.reduce<ScenarioMetrics['perSecond'][number] | undefined>(
    (found, entry) => (entry.p99 !== null && (found === undefined || entry.p99 > (found.p99 ?? 0)) ? entry : found),
    undefined,
  );
  const parts = [`${mean.toFixed(1)} orders delivered/s (peak ${peak}/s)`];
  if (create.count > 0) parts.push(`create errors ${formatPercent(create.errors / create.count)}`);
  if (worst) parts.push(`slowest second ${worst.second}: create p99 ${formatMsOrDash(worst.p99)}`);
  lines.push(`**Throughput**: ${parts.join(' · ')}`, '');
  if (detail.perSecond && metrics.perSecond.length > 0) {
    const perSecond = tableLines(
      ['s', 'arrivals', 'dropped', 'creates', 'errors', 'delivered', 'failed', 'p50', 'p95', 'p99'],
      ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      metrics.perSecond.map((entry) => [
        String(entry.second),
        String(entry.arrivals),
        String(entry.dropped),
        String(entry.requests),
        String(entry.errors),
        String(entry.completed),
        String(entry.failed),
        formatMsOrDash(entry.p50),
        formatMsOrDash(entry.p95),
        formatMsOrDash(entry.p99),
      ]),
    );
    lines.push(...details(`Per second (${plural(metrics.perSecond.length, 'second')}): arrivals, order creates by intended start with their latency, deliveries and failures`, perSecond));
  }
  return lines;
}

/** The recovery rules' table: measured time to recover, and the window that shows it (or the last that failed). */
function recoverySection(results: NonNullable<ScenarioReport['recovery']>): string[] {
  const rows = results.map((result) => {
    const { rule, figures } = result;
    return [
      inline(recoveryName(result)),
      result.timeToRecoverMs === undefined ? 'never' : formatMs(result.timeToRecoverMs),
      formatMs(rule.within),
      figures ? `${formatMs(figures.from)}..${formatMs(figures.to)}` : '–',
      figures ? `${formatMs(figures.p95)}${rule.p95 === undefined ? '' : ` (max ${formatMs(rule.p95)})`}` : '–',
      figures ? `${formatPercent(figures.successRate)}${rule.successRate === undefined ? '' : ` (min ${formatPercent(rule.successRate)})`}` : '–',
      figures ? String(figures.completions) : '0',
      result.met ? '✓' : '✗',
    ];
  });
  return [
    '**Recovery** (time from the end of a fault\'s window until every sliding window of completions meets the rule; the window shown is the first after recovery, or the last that failed)',
    '',
    ...tableLines(['rule', 'recovered in', 'within', 'window', 'p95', 'delivered', 'completions', ''], ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'c'], rows),
    '',
  ];
}

function scenarioSection(scenario: ScenarioReport, detail: Detail): string[] {
  const min = scenario.gate.minScore ? ` (min ${scenario.gate.minScore})` : '';
  const lines = [`### ${scenario.gate.passed ? '✅' : '❌'} ${inline(scenario.name)} — score ${scenario.score === null ? 'n/a' : scenario.score.toFixed(1)}${min}`, ''];
  if (scenario.observable === false) lines.push('_Nothing this scenario injects is observable on this target: no score; the gate rests on the invariants and the steady state._', '');
  if (scenario.description) lines.push(`> ${inline(scenario.description)}`, '');
  if (!scenario.gate.passed) return [...lines, ...scenarioBody(scenario, detail)];
  if (!detail.passingTables) return lines;
  const classes = Object.keys(scenario.classes).length;
  const summary = `${plural(classes, 'incident class', 'incident classes')}, ${plural(scenario.invariants.length, 'invariant')} checked, steady state ${formatPercent(scenario.steadyState.successRate)}`;
  return [...lines, ...details(summary, scenarioBody(scenario, detail))];
}

function summaryTable(report: Report): string[] {
  if (report.scenarios.length === 0) return [];
  return [
    ...tableLines(
      ['scenario', 'score', 'invariants', 'steady state', 'gate'],
      ['l', 'r', 'l', 'l', 'l'],
      report.scenarios.map((scenario) => {
        const broken = scenario.invariants.filter((invariant) => !invariant.ok);
        return [
          cell(scenario.name),
          scenario.score === null ? 'n/a' : scenario.score.toFixed(1),
          broken.length === 0 ? '✓ all hold' : `✗ ${broken.map((invariant) => invariant.id).join(', ')}`,
          `${scenario.steadyState.ok ? '✓' : '✗'} ${formatPercent(scenario.steadyState.successRate)}`,
          passMark(scenario.gate.passed),
        ];
      }),
    ),
    '',
  ];
}

function reasonLines(reasons: readonly string[]): string[] {
  const lines = reasons.slice(0, MAX_REASONS).map((reason) => `- ${inline(reason)}`);
  lines.push('');
  if (reasons.length > MAX_REASONS) {
    const rest = reasons.slice(MAX_REASONS);
    lines.push(...details(`${plural(rest.length, 'more reason')}`, rest.map((reason) => `- ${inline(reason)}`)));
  }
  return lines;
}

const SHORTENED_NOTE = '_Shortened to fit a GitHub comment: the whole report is in the run folder (report.json, report.html)._';

/** The interrupted run's banner: a GitHub warning alert saying what was cut and not run. */
function interruptionBanner(report: Report): string[] {
  if (!report.interrupted) return [];
  return ['> [!WARNING]', `> **${interruptionTitle(report.interrupted)}.** ${interruptionDetails(report.interrupted).map(inline).join(' ')}`, ''];
}

function render(report: Report, detail: Detail, note: string | undefined): string {
  const lines = [`## ${report.gate.passed ? '✅ Ordeal: gate passed' : '❌ Ordeal: gate failed'}`, '', ...interruptionBanner(report)];
  if (!report.gate.passed) lines.push(...reasonLines(report.gate.reasons));
  lines.push(...summaryTable(report));
  if (note) lines.push(note, '');
  if (detail.scenarios) {
    for (const scenario of report.scenarios) lines.push(...scenarioSection(scenario, detail));
    if (report.scenarios.some((scenario) => Object.keys(scenario.classes).length > 0)) lines.push(STAGES_LEGEND, '');
  }
  lines.push(`<sub>ordeal ${inline(report.tool.version)} · seed ${report.seed} · ${inline(report.createdAt)}</sub>`, '');
  if (report.replay) lines.push('Replay:', '', ...fenced('sh', report.replay.replace(/\r?\n|\r/g, ' ').replace(CONTROL, '')), '');
  return lines.join('\n');
}

/**
 * Cuts Markdown to at most `limit` (as `measure` counts it) at a line boundary, closes a code fence
 * or `<details>` left open, and ends with `note`. Returns the text unchanged when it fits.
 */
export function truncateMarkdown(markdown: string, limit: number, note: string, measure: (text: string) => number = (text) => text.length): string {
  if (measure(markdown) <= limit) return markdown;
  const lines = markdown.split('\n');
  const build = (kept: number): string => {
    const head = lines.slice(0, kept);
    let fence = false;
    let open = 0;
    for (const line of head) {
      if (/^\s*(```|~~~)/.test(line)) fence = !fence;
      else if (!fence) open += (line.match(/<details[\s>]/g) ?? []).length - (line.match(/<\/details>/g) ?? []).length;
    }
    const closing = [...(fence ? ['```'] : []), ...Array.from({ length: Math.max(0, open) }, () => '</details>')];
    return [...head, ...closing, '', note, ''].join('\n');
  };
  let low = 0;
  let high = lines.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (measure(build(mid)) <= limit) low = mid;
    else high = mid - 1;
  }
  const result = build(low);
  if (measure(result) <= limit) return result;
  // Not even the note fits: as much of it as does.
  const chars = Array.from(note);
  while (chars.length > 0 && measure(chars.join('')) > limit) chars.pop();
  return chars.join('');
}

export function renderMarkdown(report: Report, options: MarkdownOptions = {}): string {
  const maxLength = options.maxLength ?? GITHUB_COMMENT_LIMIT;
  const [full, ...shorter] = LEVELS as [Detail, ...Detail[]];
  const text = render(report, full, undefined);
  if (text.length <= maxLength) return text;
  for (const detail of shorter) {
    const shortened = render(report, detail, SHORTENED_NOTE);
    if (shortened.length <= maxLength) return shortened;
  }
  return truncateMarkdown(render(report, LEVELS[LEVELS.length - 1] as Detail, undefined), maxLength, SHORTENED_NOTE);
}
