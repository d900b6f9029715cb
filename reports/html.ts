/**
 * report.html: one self-contained page (no network: inline CSS, inline SVG charts, a small inline
 * script, and a CSP that forbids anything else) for someone who never saw Ordeal. The verdict,
 * overall score and gate reasons first; then per scenario: classes, invariants, steady state,
 * charts over time with the fault windows shaded, and every incident in a filterable table whose
 * orders open their full timeline. Pure: data → string. Every string from the run is escaped.
 */
import type { Accounting, ClassScore, IncidentReport, IncidentStage, InvariantResult, Report, ScenarioReport, StageName, StageSummary } from '../core/report-types.js';
import { ACCOUNTING_CHECKS, STAGE_NAMES } from '../core/report-types.js';
import { accountingEquations, accountingGapText } from '../core/accounting-reading.js';
import { steadyLeftOut, violatingOrders } from '../core/report-reading.js';
import { interruptionDetails, interruptionTitle } from '../core/interruption.js';
import { incidentDefinition, isIncidentClass } from '../core/faults/index.js';
import { formatMs, formatMsOrDash, formatPercent, plural } from '../core/units.js';
import { STYLE, SCRIPT } from './html-assets.js';
import { renderChart, windowSourceText } from './html-charts.js';
import { BUYER_OUTCOMES, MAX_TIMELINES, TIMELINE_LANES, incidentKey, type BuyerOutcome, type HtmlReportData, type HtmlScenarioData, type TimelineLane } from './html-model.js';
import { escapeHtml as esc, scriptJson } from './html-text.js';
import { outsideRequestsLine } from './outside-requests.js';

export type { HtmlReportData } from './html-model.js';

/** How an incident ended: every stage in time; some credit; or never made whole (no recover credit). */
export type IncidentOutcome = 'passed' | 'partial' | 'failed';

export function incidentOutcome(incident: IncidentReport): IncidentOutcome {
  if (incident.score >= 0.9995) return 'passed';
  return incident.stages.recover.credit > 0 ? 'partial' : 'failed';
}

/** Incident rows per scenario table; report.json keeps them all. */
export const MAX_INCIDENT_ROWS = 10_000;
/** Violations listed per invariant. */
const MAX_VIOLATIONS = 50;

export const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

const LANE_COLORS: Record<TimelineLane, string> = {
  buyer: '#1565c0',
  'shop→payment': '#2e7d32',
  'shop→stock': '#6d4c41',
  'shop→risk': '#8e24aa',
  'shop→notify': '#00838f',
  callback: '#ef6c00',
  fault: '#c62828',
  status: '#455a64',
};
const OUTCOME_COLORS: Record<BuyerOutcome, string> = {
  delivered: '#43a047',
  failed: '#e53935',
  rejected: '#fb8c00',
  abandoned: '#9e9e9e',
  timeout: '#8e24aa',
  error: '#5d4037',
};
const FAULT_PALETTE = ['#f9a825', '#8e24aa', '#00897b', '#d81b60', '#3949ab', '#6d4c41', '#7cb342', '#00acc1', '#5e35b1', '#f4511e'];

const scoreClass = (score: number | null, min?: number): string =>
  score === null ? 'na' : min !== undefined && score < min ? 'bad' : score >= 90 ? 'ok' : score >= 60 ? 'warn' : 'bad';

/** A score with its meter, or `n/a` for what the target cannot show. */
function scoreCell(score: number | null): string {
  return score === null ? '<span class="na" title="not observable on this target">n/a</span>' : `${score.toFixed(1)}${meter(score)}`;
}

function meter(score: number): string {
  const color = score >= 90 ? '#43a047' : score >= 60 ? '#fb8c00' : '#e53935';
  return `<span class="meter" aria-hidden="true"><i style="width:${Math.max(0, Math.min(100, score)).toFixed(0)}%;background:${color}"></i></span>`;
}

function badge(passed: boolean): string {
  return passed ? '<span class="badge ok">✔ passed</span>' : '<span class="badge bad">✘ failed</span>';
}

/** The run's headline score: the scenario's score, or the mean over several. */
function overallScore(report: Report): number | null {
  const scored = report.scenarios.flatMap((scenario) => (scenario.score === null ? [] : [scenario.score]));
  if (scored.length === 0) return null;
  return scored.reduce((sum, score) => sum + score, 0) / scored.length;
}

function header(report: Report): string {
  const overall = overallScore(report);
  const passed = report.gate.passed;
  const reasons = report.gate.reasons.length > 0 ? `<ul class="reasons">${report.gate.reasons.map((reason) => `<li>${esc(reason)}</li>`).join('')}</ul>` : '';
  const scoreText =
    overall === null
      ? ''
      : `<span class="overall"><b class="${scoreClass(overall)}">${overall.toFixed(1)}</b><small>/ 100 overall score${report.scenarios.length > 1 ? ` (mean of ${report.scenarios.length} scenarios)` : ''}</small></span>`;
  const replay = report.replay ? ` · replay: <code>${esc(report.replay)}</code>` : '';
  return `<header class="verdict ${passed ? 'pass' : 'fail'}"><div>
<h1 class="verdict-row"><span class="verdict-word">${passed ? '✔ Gate passed' : '✘ Gate failed'}</span>${scoreText}</h1>
${passed ? '<p>Every scenario met its minimum score, every invariant held, and fault-free orders succeeded.</p>' : `<p>Why the gate failed:</p>${reasons}`}
<p class="meta">Ordeal ${esc(report.tool.version)} · ${esc(report.createdAt)} · seed ${report.seed}${replay}</p>
</div></header>`;
}

/** The interrupted run's banner, right under the verdict: what was cut and what was not run. */
function interruptionBanner(report: Report): string {
  if (!report.interrupted) return '';
  const details = interruptionDetails(report.interrupted).map((line) => `<p style="margin:4px 0">${esc(line)}</p>`).join('');
  return `<section class="interrupted" role="alert" style="background:#fff4e5;border:1px solid #b26a00;border-radius:6px;padding:10px 14px;margin:18px 0"><h2 style="margin:0 0 4px;padding:0;border:0">⚠ ${esc(interruptionTitle(report.interrupted))}</h2>${details}</section>\n`;
}

function intro(): string {
  return `<section class="intro">
<p><b>How to read this report.</b> Ordeal sent simulated buyers to a card shop while playing the services the shop depends on (payment provider, card supplier, risk screening, SMS/e-mail gateway) and making them fail on purpose.
Each time a failure (a <i>fault</i>, or a buyer's own mistake) hits an order is an <b>incident</b>, scored on three stages: <b>detect</b> (the shop's status or its calls show it noticed), <b>notify</b> (the buyer got a fitting message) and <b>recover</b> (the order ended whole: delivered, or refunded with nothing kept).
A stage earns full credit within its deadline, falling to zero at twice the deadline; an incident scores 0.3·detect + 0.2·notify + 0.5·recover, and a class scores the mean of its incidents (0–100).</p>
<p><b>Invariants</b> are rules about money and goods that must hold for every order whatever the score (never charge twice, never deliver without payment, …); any breach fails the gate and names the orders. The <b>steady state</b> is the orders no failure touched: they must succeed.</p>
</section>`;
}

function summary(report: Report): string {
  if (report.scenarios.length < 2) return '';
  const rows = report.scenarios.map((scenario, index) => {
    const broken = scenario.invariants.filter((invariant) => !invariant.ok);
    return `<tr><td><a href="#scenario-${index}">${esc(scenario.name)}</a></td><td class="num ${scoreClass(scenario.score)}">${scoreCell(scenario.score)}</td><td>${broken.length === 0 ? '<span class="ok">✓ all hold</span>' : `<span class="bad">✗ ${broken.map((invariant) => esc(invariant.id)).join(', ')}</span>`}</td><td>${scenario.steadyState.ok ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>'} ${formatPercent(scenario.steadyState.successRate)}</td><td>${badge(scenario.gate.passed)}</td></tr>`;
  });
  return `<h2>Scenarios</h2><table><tr><th>scenario</th><th class="num">score</th><th>invariants</th><th>steady state</th><th>gate</th></tr>${rows.join('')}</table>`;
}

/** What counts as a stage of a class (from the scoring table). */
function stageMeaning(incidentClass: string, stage: StageName): string | undefined {
  return isIncidentClass(incidentClass) ? incidentDefinition(incidentClass).stages.describe[stage] : undefined;
}

function stageSummaryCell(incidentClass: string, name: StageName, stage: StageSummary, incidents: number): string {
  if (stage.observable === false) return '<td class="num na" title="not observable on this target">n/a</td>';
  const cls = stage.met === incidents ? 'ok' : stage.met === 0 ? 'bad' : 'warn';
  const meaning = stageMeaning(incidentClass, name);
  return `<td class="num" title="${esc(`${meaning ? `${name}: ${meaning}. ` : ''}Met within the deadline / incidents; ${stage.reached} reached at all (late included)`)}"><b class="${cls}">${stage.met}/${incidents}</b><br><small>p50 ${formatMsOrDash(stage.p50)} · p95 ${formatMsOrDash(stage.p95)}</small></td>`;
}

function classTable(scenario: ScenarioReport): string {
  const entries = Object.entries(scenario.classes).filter((entry): entry is [string, ClassScore] => entry[1] !== undefined);
  if (entries.length === 0) return '<p class="small">No incidents: no fault or buyer mistake hit an order, so the score is the steady-state success rate.</p>';
  const rows = entries.map(([name, entry]) => {
    const what = isIncidentClass(name) ? incidentDefinition(name).text.summary : undefined;
    if (entry.observable === false) {
      return `<tr data-class="${esc(name)}" class="na"><td><code>${esc(name)}</code>${what ? `<span class="what">${esc(what)}</span>` : ''}</td><td class="num na">n/a</td><td class="num">${entry.incidents}</td><td class="num">0</td><td colspan="4" class="small">not observable on this target: ${esc(entry.reason ?? 'the shop cannot show it')}</td></tr>`;
    }
    return `<tr data-class="${esc(name)}"><td><code>${esc(name)}</code>${what ? `<span class="what">${esc(what)}</span>` : ''}</td><td class="num ${scoreClass(entry.score)}">${scoreCell(entry.score)}</td><td class="num">${entry.incidents}</td><td class="num">${entry.weight}</td>${STAGE_NAMES.map((stage) => stageSummaryCell(name, stage, entry.stages[stage], entry.incidents)).join('')}<td class="num small">${formatMs(entry.deadlines.detect)} / ${formatMs(entry.deadlines.notify)} / ${formatMs(entry.deadlines.recover)}</td></tr>`;
  });
  return `<table class="classes"><tr><th>failure class</th><th class="num">score</th><th class="num">incidents</th><th class="num" title="share of the overall score: money at risk, unless the scenario sets weights">weight</th><th class="num">detect</th><th class="num">notify</th><th class="num">recover</th><th class="num">deadlines d / n / r</th></tr>${rows.join('')}</table>
<p class="small">Stages: incidents that met the stage within its deadline / all incidents, and the p50 / p95 time from the incident's start to the stage.</p>`;
}

function orderLink(scenarioIndex: number, key: string, label: string, kept: ReadonlySet<string>): string {
  if (!kept.has(key)) return `<code title="timeline not kept">${esc(label)}</code>`;
  return `<a class="order-link mono" href="#timeline-${scenarioIndex}" data-scenario="${scenarioIndex}" data-key="${esc(key)}">${esc(label)}</a>`;
}

function invariantList(scenario: ScenarioReport, index: number, kept: ReadonlySet<string>): string {
  const items = scenario.invariants.map((invariant: InvariantResult) => {
    if (invariant.ok) return `<li class="inv-ok" data-invariant="${esc(invariant.id)}"><span class="ok">✓</span> <code>${esc(invariant.id)}</code> <span class="small">${esc(invariant.description)}</span></li>`;
    const orders = violatingOrders(invariant);
    const shown = invariant.violations.slice(0, MAX_VIOLATIONS).map((violation) => {
      const links = violation.orderIds.map((id) => orderLink(index, id, id, kept)).join(', ');
      return `<li>${links ? `${links}: ` : ''}${esc(violation.message)}</li>`;
    });
    const more = invariant.violations.length > MAX_VIOLATIONS ? `<li class="small">… ${invariant.violations.length - MAX_VIOLATIONS} more in report.json</li>` : '';
    return `<li class="inv-bad" data-invariant="${esc(invariant.id)}"><span class="bad">✗</span> <code>${esc(invariant.id)}</code> <span class="small">${esc(invariant.description)}</span> — <b class="bad">broken by ${plural(orders.length, 'order')}</b><ul class="viol">${shown.join('')}${more}</ul></li>`;
  });
  return `<ul class="inv">${items.join('')}</ul>`;
}

function steadyState(scenario: ScenarioReport): string {
  const steady = scenario.steadyState;
  const limit = steady.thresholds.p95 === undefined ? '' : ` (max p95 ${formatMs(steady.thresholds.p95)})`;
  const load = scenario.load;
  const leftOut = steadyLeftOut(steady);
  return `<p>${steady.ok ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>'} <b>${steady.succeeded} of ${steady.orders}</b> fault-free orders delivered (${formatPercent(steady.successRate)}, minimum ${formatPercent(steady.thresholds.successRate)}); time from arrival to delivered p50 ${formatMsOrDash(steady.latency.p50)}, p95 ${formatMsOrDash(steady.latency.p95)}, p99 ${formatMsOrDash(steady.latency.p99)}${limit}${leftOut ? `; left out: ${leftOut}` : ''}.</p>
<p class="small">Load: ${plural(load.arrivals, 'arrival')} (${load.dropped} dropped at the in-flight cap), ${plural(load.ordersCreated, 'order')} created, ${plural(load.httpErrors, 'HTTP error')}, ${load.rejected} rejected as bad input${load.unattachedFaults > 0 ? `, ${load.unattachedFaults} faults hit buyers whose order could not be found` : ''} · seed ${scenario.seed}</p>`;
}

/** The accounting line: one row per equation, then each gap with the orders that show it (escaped). */
function accountingTable(accounting: Accounting): string {
  const rows = accountingEquations(accounting).map((equation, index) => {
    const check = ACCOUNTING_CHECKS[index];
    const bad = accounting.gaps.some((gap) => gap.check === check);
    return `<tr><td>${bad ? '<span class="bad">✗</span>' : '<span class="ok">✓</span>'}</td><td>${esc(equation)}</td></tr>`;
  });
  const gaps = accounting.gaps.map((gap) => `<li class="bad">${esc(accountingGapText(gap))}</li>`).join('');
  const verdict = accounting.balanced ? '<span class="ok">balances</span>' : '<b class="bad">does not balance</b>';
  return `<h3>Accounting</h3><p class="small">Every arrival, order request, order, payment and card, counted apart and checked against each other: ${verdict}.</p>
<table class="accounting">${rows.join('')}</table>${gaps ? `<ul class="reasons">${gaps}</ul>` : ''}`;
}

function faultColors(data: HtmlScenarioData): Map<string, string> {
  const colors = new Map<string, string>();
  for (const window of data.faultWindows) {
    if (!colors.has(window.fault)) colors.set(window.fault, FAULT_PALETTE[colors.size % FAULT_PALETTE.length] ?? '#999');
  }
  return colors;
}

function legend(items: ReadonlyArray<{ name: string; color: string; line?: boolean }>): string {
  return `<div class="legend">${items.map((item) => `<span class="${item.line ? 'line' : ''}" style="--c:${item.color}">${esc(item.name)}</span>`).join('')}</div>`;
}

/** "second", or the bucket width when runs are long enough to need wider buckets. */
const bucketText = (ms: number): string => (ms === 1000 ? 'second' : formatMs(ms));

function charts(data: HtmlScenarioData): string {
  const series = data.series;
  const colors = faultColors(data);
  const present = BUYER_OUTCOMES.filter((outcome) => series.finished[outcome].some((value) => value > 0));
  const throughput = renderChart({
    title: `Arrivals and finished orders per ${bucketText(series.bucketMs)}`,
    yLabel: `buyers per ${bucketText(series.bucketMs)}`,
    bucketMs: series.bucketMs,
    windows: data.faultWindows,
    faultColors: colors,
    series: [
      ...present.map((outcome) => ({ name: `finished: ${outcome}`, color: OUTCOME_COLORS[outcome], values: series.finished[outcome], kind: 'bar' as const })),
      { name: 'arrivals', color: '#1565c0', values: series.arrivals, kind: 'line' },
    ],
  });
  const latency = renderChart({
    title: 'Latency percentiles of finished buyers',
    yLabel: 'arrival → last status',
    bucketMs: series.bucketMs,
    windows: data.faultWindows,
    faultColors: colors,
    formatY: (value) => formatMs(value),
    series: [
      { name: 'p50', color: '#1565c0', values: series.latency.p50, kind: 'line' },
      { name: 'p95', color: '#ef6c00', values: series.latency.p95, kind: 'line' },
      { name: 'p99', color: '#c62828', values: series.latency.p99, kind: 'line', dashed: true },
    ],
  });
  const windows =
    data.faultWindows.length === 0
      ? '<p class="small">No fault window: no fault was injected into a time span of this run.</p>'
      : `<p class="small">Shaded: where faults were active (the strip above each plot has one row per fault).</p><ul class="small fault-legend">${data.faultWindows
          .map(
            (window) =>
              `<li><span class="chip" style="--c:${colors.get(window.fault) ?? '#999'}">${esc(window.fault)}</span> ${(window.from / 1000).toFixed(2)}s – ${(window.to / 1000).toFixed(2)}s, ${esc(windowSourceText(window))}</li>`,
          )
          .join('')}</ul>`;
  return `${windows}<div class="charts">
<figure class="chart-throughput"><figcaption>Arrivals and finished orders</figcaption>${throughput}${legend([
    { name: 'arrivals (intended)', color: '#1565c0', line: true },
    ...present.map((outcome) => ({ name: `finished: ${outcome}`, color: OUTCOME_COLORS[outcome] })),
  ])}</figure>
<figure class="chart-latency"><figcaption>Latency over time (buyers finishing in each ${bucketText(series.bucketMs)})</figcaption>${latency}${legend([
    { name: 'p50', color: '#1565c0', line: true },
    { name: 'p95', color: '#ef6c00', line: true },
    { name: 'p99', color: '#c62828', line: true },
  ])}</figure>
</div>`;
}

function stageCell(stage: IncidentStage, deadline: number | undefined): string {
  const title = `deadline ${formatMsOrDash(deadline)}; credit ${stage.credit.toFixed(2)}${stage.note ? `; ${stage.note}` : ''}`;
  if (stage.ms === undefined) return `<td class="bad" title="${esc(title)}">✗ never</td>`;
  if (stage.credit >= 0.9995) return `<td class="ok" title="${esc(title)}">✓ ${formatMs(stage.ms)}</td>`;
  const cls = stage.credit > 0 ? 'warn' : 'bad';
  return `<td class="${cls}" title="${esc(title)}">${stage.credit > 0 ? 'late' : '✗'} ${formatMs(stage.ms)}${stage.note ? ' *' : ''}</td>`;
}

const OUTCOME_ORDER: Record<IncidentOutcome, number> = { failed: 0, partial: 1, passed: 2 };

function incidentTable(scenario: ScenarioReport, data: HtmlScenarioData, index: number, kept: ReadonlySet<string>): string {
  const incidents = scenario.incidents;
  if (incidents.length === 0) return '<p class="small">No incidents.</p>';
  const sorted = [...incidents].sort(
    (a, b) => OUTCOME_ORDER[incidentOutcome(a)] - OUTCOME_ORDER[incidentOutcome(b)] || a.startedAt - b.startedAt,
  );
  const shown = sorted.slice(0, MAX_INCIDENT_ROWS);
  const classes = [...new Set(incidents.map((incident) => incident.class))].sort();
  const counts = { passed: 0, partial: 0, failed: 0 };
  for (const incident of incidents) counts[incidentOutcome(incident)]++;
  const rows = shown.map((incident) => {
    const outcome = incidentOutcome(incident);
    const key = incidentKey(incident.orderId, incident.buyerId);
    const label = incident.orderId ?? `buyer ${incident.buyerId ?? '?'} (no order)`;
    const order = key === undefined ? esc(label) : orderLink(index, key, label, kept);
    const deadlines = scenario.classes[incident.class]?.deadlines;
    const search = `${incident.orderId ?? ''} ${incident.buyerId ?? ''}`.toLowerCase();
    return `<tr data-class="${esc(incident.class)}" data-outcome="${outcome}" data-order="${esc(search)}"><td>${order}</td><td><code>${esc(incident.class)}</code></td><td class="num mono">${((incident.startedAt - data.loadStart) / 1000).toFixed(2)}s</td><td class="num">${(incident.amount / 100).toFixed(2)}</td>${STAGE_NAMES.map((stage) => stageCell(incident.stages[stage], deadlines?.[stage])).join('')}<td class="num">${(incident.score * 100).toFixed(0)}</td><td><span class="badge ${outcome}">${outcome}</span></td></tr>`;
  });
  const more = incidents.length > shown.length ? `<p class="small">${incidents.length - shown.length} more incidents are in report.json.</p>` : '';
  const omitted = data.timelinesOmitted > 0 ? ` ${data.timelinesOmitted} orders' timelines were left out (at most ${MAX_TIMELINES} are kept).` : '';
  return `<div class="incidents" data-scenario="${index}">
<p class="small">Outcome: <span class="badge passed">passed</span> every stage in time · <span class="badge partial">partial</span> some stage late or missed, but the order was made whole · <span class="badge failed">failed</span> never made whole in time (no recover credit). Click an order for its timeline.${omitted}</p>
<div class="filters"><label>class <select class="filter-class"><option value="">all classes</option>${classes.map((name) => `<option value="${esc(name)}">${esc(name)}</option>`).join('')}</select></label>
<label>outcome <select class="filter-outcome"><option value="">all outcomes</option><option value="passed">passed (${counts.passed})</option><option value="partial">partial (${counts.partial})</option><option value="failed">failed (${counts.failed})</option></select></label>
<label>order <input class="filter-order" type="search" placeholder="order or buyer id"></label>
<span class="small"><span class="shown">${shown.length}</span> of ${shown.length} shown</span></div>
<div class="table-wrap"><table class="incident-table"><thead><tr><th>order</th><th>class</th><th class="num">started</th><th class="num">amount</th><th>detect</th><th>notify</th><th>recover</th><th class="num">score</th><th>outcome</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>${more}
</div>`;
}

/** The payment protocol when it is not the native one, and each fault it could not express. */
function providerNote(scenario: ScenarioReport): string {
  const provider = scenario.provider;
  const channels = provider?.channels ?? [];
  if (!provider || (provider.protocol === 'native' && channels.length === 0 && provider.notInjected.length === 0)) return '';
  const skipped = provider.notInjected.map((entry) => `<li><code>${esc(entry.fault)}</code> — ${esc(entry.reason)}</li>`).join('');
  const why = provider.notInjected.every((entry) => entry.cause === undefined) ? 'it cannot express them' : 'by the protocol or the attached shop';
  return `<p class="provider">Payment protocol ${[provider.protocol, ...channels].map((protocol) => `<code>${esc(protocol)}</code>`).join(' + ')}${skipped ? `; not injected (${why}):</p><ul class="not-injected">${skipped}</ul>` : '</p>'}`;
}

function scenarioSection(scenario: ScenarioReport, data: HtmlScenarioData, index: number, single: boolean): string {
  const kept = new Set(data.timelines.map((timeline) => timeline.key));
  return `<section class="scenario" id="scenario-${index}" data-scenario="${esc(scenario.name)}">
<h2>${esc(scenario.name)} — score <span class="${scoreClass(scenario.score)}">${scenario.score === null ? 'n/a' : scenario.score.toFixed(1)}</span> ${badge(scenario.gate.passed)}</h2>
${scenario.observable === false ? '<p class="problem">Nothing this scenario injects is observable on this target: no score; the gate rests on the invariants and the steady state.</p>' : ''}
${scenario.description ? `<p>${esc(scenario.description)}</p>` : ''}${providerNote(scenario)}${scenario.outsideRequests ? `<p class="provider">${esc(outsideRequestsLine(scenario.outsideRequests))}</p>` : ''}
${!single && scenario.gate.reasons.length > 0 ? `<ul class="reasons">${scenario.gate.reasons.map((reason) => `<li class="bad">${esc(reason)}</li>`).join('')}</ul>` : ''}
${data.problem ? `<p class="problem">Part of this section could not be drawn: ${esc(data.problem)}</p>` : ''}
<h3>Failure classes</h3>${classTable(scenario)}
<h3>Invariants</h3>${invariantList(scenario, index, kept)}
<h3>Steady state</h3>${steadyState(scenario)}
${scenario.accounting ? accountingTable(scenario.accounting) : ''}
<h3>Over time</h3>${charts(data)}
<h3>Incidents (${scenario.incidents.length})</h3>${incidentTable(scenario, data, index, kept)}
<div class="timeline" id="timeline-${index}" hidden></div>
</section>`;
}

/** What the page's script needs: each kept timeline, with its incidents and their deadlines. */
function pageData(data: HtmlReportData): unknown {
  const laneIndex = new Map<TimelineLane, number>(TIMELINE_LANES.map((lane, index) => [lane, index]));
  return {
    maxTimelines: MAX_TIMELINES,
    lanes: TIMELINE_LANES.map((lane) => ({ name: lane, color: LANE_COLORS[lane] })),
    scenarios: data.scenarios.map((scenarioData, index) => {
      const scenario = data.report.scenarios[index];
      const incidentsByKey = new Map<string, IncidentReport[]>();
      for (const incident of scenario?.incidents ?? []) {
        const key = incidentKey(incident.orderId, incident.buyerId);
        if (key === undefined) continue;
        const list = incidentsByKey.get(key) ?? [];
        list.push(incident);
        incidentsByKey.set(key, list);
      }
      return {
        name: scenarioData.name,
        loadStart: scenarioData.loadStart,
        timelines: scenarioData.timelines.map((timeline) => ({
          key: timeline.key,
          orderId: timeline.orderId,
          buyerId: timeline.buyerId,
          omitted: timeline.eventsOmitted,
          events: timeline.events.map((event) => [event.t, laneIndex.get(event.lane) ?? 0, event.text]),
          incidents: (incidentsByKey.get(timeline.key) ?? []).map((incident) => ({
            class: incident.class,
            startedAt: incident.startedAt,
            score: incident.score,
            outcome: incidentOutcome(incident),
            stages: incident.stages,
            deadlines: scenario?.classes[incident.class]?.deadlines ?? null,
            meaning: Object.fromEntries(STAGE_NAMES.map((stage) => [stage, stageMeaning(incident.class, stage) ?? ''])),
          })),
        })),
      };
    }),
  };
}

/** Renders the whole page. */
export function renderHtml(data: HtmlReportData): string {
  const report = data.report;
  const sections = report.scenarios.map((scenario, index) => {
    const scenarioData = data.scenarios[index] ?? emptyScenarioData(scenario.name);
    // With one scenario, its gate reasons are the run's, already listed at the top.
    return scenarioSection(scenario, scenarioData, index, report.scenarios.length === 1);
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ordeal report — ${report.gate.passed ? 'gate passed' : 'gate failed'}</title>
<style>${STYLE}</style>
</head>
<body>
${header(report)}
<main>
${interruptionBanner(report)}${intro()}
${summary(report)}
${sections.join('\n')}
<footer>Generated by Ordeal ${esc(report.tool.version)} from the run folder's journals; report.json holds every figure.</footer>
</main>
<script type="application/json" id="ordeal-data">${scriptJson(pageData(data))}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function emptyScenarioData(name: string): HtmlScenarioData {
  const finished = Object.fromEntries(BUYER_OUTCOMES.map((outcome) => [outcome, []])) as unknown as Record<BuyerOutcome, number[]>;
  return {
    name,
    problem: 'no journal data',
    loadStart: 0,
    durationMs: 0,
    series: { bucketMs: 1000, arrivals: [], dropped: [], finished, latency: { p50: [], p95: [], p99: [] } },
    faultWindows: [],
    timelines: [],
    timelinesOmitted: 0,
  };
}
