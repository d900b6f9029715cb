/**
 * report.md: fit for a pull-request comment. The verdict and its reasons first, then a summary
 * table, then per scenario: classes, invariants, steady state and load. Pure: report → string.
 */
import type { ClassScore, InvariantResult, Report, ScenarioReport, StageSummary } from '../harness/report-types.js';
import { violatingOrders } from '../harness/invariants.js';
import { formatMs } from '../harness/units.js';

/** Violating order ids named per invariant before "…". */
const MAX_IDS = 10;

/** Escapes text for a table cell. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function tableLines(header: string[], align: Array<'l' | 'r' | 'c'>, rows: string[][]): string[] {
  const rule = align.map((a) => (a === 'r' ? '---:' : a === 'c' ? ':---:' : '---'));
  return [row(header), row(rule), ...rows.map(row)];
}

const msOrDash = (ms: number | null): string => (ms === null ? '–' : formatMs(ms));
const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const passMark = (passed: boolean): string => (passed ? '✅ passed' : '❌ failed');

function stageCell(stage: StageSummary, incidents: number): string {
  return `${stage.met}/${incidents} · ${msOrDash(stage.p50)} / ${msOrDash(stage.p95)}`;
}

function classSection(classes: Partial<Record<string, ClassScore>>): string[] {
  const entries = Object.entries(classes).filter((entry): entry is [string, ClassScore] => entry[1] !== undefined);
  if (entries.length === 0) return ['_No incidents: no fault or buyer mistake hit an order; the score is the steady-state success rate._'];
  return [
    ...tableLines(
      ['class', 'score', 'weight', 'incidents', 'detect', 'notify', 'recover', 'deadlines'],
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      entries.map(([fault, entry]) => [
        code(fault),
        entry.score.toFixed(1),
        String(entry.weight),
        String(entry.incidents),
        stageCell(entry.stages.detect, entry.incidents),
        stageCell(entry.stages.notify, entry.incidents),
        stageCell(entry.stages.recover, entry.incidents),
        `${formatMs(entry.deadlines.detect)} / ${formatMs(entry.deadlines.notify)} / ${formatMs(entry.deadlines.recover)}`,
      ]),
    ),
    '',
    '_Stages: met within deadline / incidents · p50 / p95 time to the stage. Deadlines (defaults from the scenario\'s timers and the fault\'s parameters, or `expect`): detect / notify / recover._',
  ];
}

function invariantSection(invariants: InvariantResult[]): string[] {
  return tableLines(
    ['invariant', '', 'violations'],
    ['l', 'c', 'l'],
    invariants.map((invariant) => {
      if (invariant.ok) return [code(invariant.id), '✓', ''];
      const ids = violatingOrders(invariant);
      const named = ids.slice(0, MAX_IDS).map(code).join(', ') + (ids.length > MAX_IDS ? ', …' : '');
      const first = invariant.violations[0]?.message ?? '';
      const more = invariant.violations.length > 1 ? ` (+${invariant.violations.length - 1} more)` : '';
      return [code(invariant.id), '✗', cell(`${count(ids.length, 'order')}: ${named}${named ? ' — ' : ''}${first}${more}`)];
    }),
  );
}

function scenarioSection(scenario: ScenarioReport): string[] {
  const lines = [`### ${scenario.gate.passed ? '✅' : '❌'} ${scenario.name} — score ${scenario.score.toFixed(1)}`, ''];
  if (scenario.description) lines.push(`> ${scenario.description.replace(/\r?\n/g, ' ')}`, '');
  lines.push('**Incident classes** (faults and buyer behaviours)', '', ...classSection(scenario.classes), '');
  lines.push('**Invariants**', '', ...invariantSection(scenario.invariants), '');
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
          `${(steady.successRate * 100).toFixed(1)}%`,
          `${(steady.thresholds.successRate * 100).toFixed(1)}%`,
          msOrDash(steady.latency.p50),
          msOrDash(steady.latency.p95),
          msOrDash(steady.latency.p99),
          steady.thresholds.p95 === undefined ? '–' : formatMs(steady.thresholds.p95),
          steady.ok ? '✓' : '✗',
        ],
      ],
    ),
    '',
  );
  const load = scenario.load;
  lines.push(
    `**Load**: ${count(load.arrivals, 'arrival')}, ${load.dropped} dropped, ${count(load.ordersCreated, 'order')}, ${count(load.httpErrors, 'HTTP error')}, ${load.rejected} rejected · seed ${scenario.seed}`,
    '',
  );
  return lines;
}

export function renderMarkdown(report: Report): string {
  const lines = [`## ${report.gate.passed ? '✅ Ordeal: gate passed' : '❌ Ordeal: gate failed'}`, ''];
  if (!report.gate.passed) lines.push(...report.gate.reasons.map((reason) => `- ${reason}`), '');
  if (report.scenarios.length > 0) {
    lines.push(
      ...tableLines(
        ['scenario', 'score', 'invariants', 'steady state', 'gate'],
        ['l', 'r', 'l', 'l', 'l'],
        report.scenarios.map((scenario) => {
          const broken = scenario.invariants.filter((invariant) => !invariant.ok);
          return [
            cell(scenario.name),
            scenario.score.toFixed(1),
            broken.length === 0 ? '✓ all hold' : `✗ ${broken.map((invariant) => invariant.id).join(', ')}`,
            `${scenario.steadyState.ok ? '✓' : '✗'} ${(scenario.steadyState.successRate * 100).toFixed(1)}%`,
            passMark(scenario.gate.passed),
          ];
        }),
      ),
      '',
    );
  }
  for (const scenario of report.scenarios) lines.push(...scenarioSection(scenario));
  lines.push(`<sub>ordeal ${report.tool.version} · seed ${report.seed} · ${report.createdAt}</sub>`, '');
  if (report.replay) lines.push('Replay:', '', '```sh', report.replay, '```', '');
  return lines.join('\n');
}
