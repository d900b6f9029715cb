/**
 * junit.xml: the report as JUnit XML for CI test views (GitHub, GitLab, Jenkins, Azure). Pure:
 * report → string.
 *
 * One `<testsuite>` per scenario, with one test case per check:
 * - `<scenario>.classes` / `<class id>`: fails when the class scored below the scenario's minimum
 *   score (`gate.minScore`); the body names the incidents short of full credit, worst first.
 * - `<scenario>.invariants` / `<invariant id>`: fails when the invariant was broken; the message is
 *   its description and the violation count, the body every violation with its order ids.
 * - `<scenario>.steady-state` / `success rate`, and `p95 latency` when the scenario gates it.
 * - `<scenario>` / `gate`: the scenario's verdict, failing with the gate's reasons.
 *
 * Case names are stable from run to run, so CI can track each check's history. Texts from the shop
 * under test (order ids, messages) are escaped, and characters XML 1.0 forbids are written as
 * `\uXXXX`.
 */
import type { ClassScore, IncidentReport, InvariantResult, Report, ScenarioReport, StageName } from '../core/report-types.js';
import { STAGE_NAMES } from '../core/report-types.js';
import { formatMs, formatPercent, plural } from '../core/units.js';
import { interruptionDetails, interruptionReason, interruptionTitle } from '../core/interruption.js';

export interface JunitOptions {
  /** Lines in a failure body before "… N more". @default 200 */
  maxLines?: number;
}

/** One `<testcase>`; `failure` absent when it passed. */
interface TestCase {
  classname: string;
  name: string;
  failure?: { type: string; message: string; body: string };
  /** Not run: the target cannot show the class (JUnit's `<skipped>`). */
  skipped?: string;
}

/**
 * Anything XML 1.0 does not allow (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF), and
 * what a CI page would act on rather than show: C1 controls, bidirectional marks and overrides.
 */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\u007E\u00A0-\u200D\u2010-\u2029\u202F-\u2065\u206A-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text XML 1.0 can carry and a CI page shows as it is: the rest becomes a visible `\uXXXX`. */
function xmlSafe(text: string): string {
  return text.replace(NOT_XML_CHAR, (char) => `\\u${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`);
}

/** Escapes element content; a carriage return is kept as `&#13;` (parsers turn a raw one into a line feed). */
export function escapeXmlText(text: string): string {
  return xmlSafe(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** Escapes an attribute value (quoted with "), keeping line breaks and tabs through attribute normalisation. */
export function escapeXmlAttribute(text: string): string {
  return escapeXmlText(text).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

function attributes(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([key, value]) => ` ${key}="${escapeXmlAttribute(String(value))}"`)
    .join('');
}

const idList = (ids: readonly string[]): string => (ids.length === 0 ? 'no order' : ids.join(', '));

/** The first `max` lines, then one line saying how many were left out. */
function capLines(lines: string[], max: number, where = 'report.json'): string[] {
  if (lines.length <= max) return lines;
  return [...lines.slice(0, max), `… ${lines.length - max} more in ${where}`];
}

/** JUnit's timestamp: ISO 8601 without a zone (UTC), as the Ant schema has it; the text as given when it is no date. */
function junitTimestamp(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 19);
}

function stageText(incident: IncidentReport, name: StageName): string {
  const stage = incident.stages[name];
  if (stage.ms === undefined) return `${name} never`;
  const note = stage.note === undefined ? '' : `, ${stage.note}`;
  return `${name} ${formatMs(stage.ms)} (credit ${stage.credit.toFixed(2)}${note})`;
}

function classCase(scenario: ScenarioReport, id: string, entry: ClassScore, maxLines: number): TestCase {
  const test: TestCase = { classname: `${scenario.name}.classes`, name: id };
  if (entry.score === null) return { ...test, skipped: `not observable on this target: ${entry.reason ?? 'the shop cannot show it'}` };
  const minScore = scenario.gate.minScore;
  if (minScore === undefined || entry.score >= minScore) return test;
  const stages = STAGE_NAMES.map((name) => `${name} ${entry.stages[name].met}/${entry.incidents}`).join(', ');
  const deadlines = STAGE_NAMES.map((name) => formatMs(entry.deadlines[name])).join(' / ');
  const short = scenario.incidents
    .filter((incident) => incident.class === id && incident.score < 1)
    .sort((a, b) => a.score - b.score);
  const lines = short.map(
    (incident) =>
      `order ${incident.orderId ?? '(none)'}${incident.buyerId === null ? '' : ` (buyer ${incident.buyerId})`}: score ${incident.score.toFixed(2)} — ${STAGE_NAMES.map((name) => stageText(incident, name)).join(', ')}`,
  );
  test.failure = {
    type: 'class-score',
    message: `class score ${entry.score.toFixed(1)} < min ${minScore} (${plural(entry.incidents, 'incident')}; met within deadline: ${stages})`,
    body: [
      `deadlines detect / notify / recover: ${deadlines}`,
      `incidents short of full credit, worst first (order ids):`,
      ...capLines(lines, maxLines),
    ].join('\n'),
  };
  return test;
}

function invariantCase(scenario: ScenarioReport, invariant: InvariantResult, maxLines: number): TestCase {
  const test: TestCase = { classname: `${scenario.name}.invariants`, name: invariant.id };
  if (invariant.ok) return test;
  const lines = invariant.violations.map((violation) => `[${idList(violation.orderIds)}] ${violation.message}`);
  test.failure = {
    type: 'invariant',
    message: `${invariant.description}: ${plural(invariant.violations.length, 'violation')}`,
    body: capLines(lines, maxLines).join('\n'),
  };
  return test;
}

function steadyStateCases(scenario: ScenarioReport): TestCase[] {
  const classname = `${scenario.name}.steady-state`;
  const steady = scenario.steadyState;
  const { thresholds } = steady;
  const rate: TestCase = { classname, name: 'success rate' };
  if (steady.successRate < thresholds.successRate) {
    rate.failure = {
      type: 'steady-state',
      message: `success rate ${formatPercent(steady.successRate)} < ${formatPercent(thresholds.successRate)}`,
      body: `${steady.succeeded}/${steady.orders} fault-free orders of normal buyers delivered`,
    };
  }
  if (thresholds.p95 === undefined) return [rate];
  const p95: TestCase = { classname, name: 'p95 latency' };
  if (steady.latency.p95 !== null && steady.latency.p95 > thresholds.p95) {
    p95.failure = {
      type: 'steady-state',
      message: `p95 ${formatMs(steady.latency.p95)} > ${formatMs(thresholds.p95)}`,
      body: `arrival to delivered over ${plural(steady.succeeded, 'delivered order')}: p50 ${formatMs(steady.latency.p50 ?? 0)}, p95 ${formatMs(steady.latency.p95)}, p99 ${formatMs(steady.latency.p99 ?? 0)}`,
    };
  }
  return [rate, p95];
}

function gateCase(scenario: ScenarioReport, replay: string): TestCase {
  const test: TestCase = { classname: scenario.name, name: 'gate' };
  if (scenario.gate.passed) return test;
  const reasons = scenario.gate.reasons;
  const first = reasons[0] ?? 'the gate failed';
  test.failure = {
    type: 'gate',
    message: reasons.length > 1 ? `${first} (+${reasons.length - 1} more)` : first,
    body: [...reasons.map((reason) => `- ${reason}`), ...(replay ? [`replay: ${replay}`] : [])].join('\n'),
  };
  return test;
}

function scenarioCases(scenario: ScenarioReport, replay: string, maxLines: number): TestCase[] {
  const classes = Object.entries(scenario.classes)
    .filter((entry): entry is [string, ClassScore] => entry[1] !== undefined)
    .map(([id, entry]) => classCase(scenario, id, entry, maxLines));
  return [
    ...classes,
    ...scenario.invariants.map((invariant) => invariantCase(scenario, invariant, maxLines)),
    ...steadyStateCases(scenario),
    gateCase(scenario, replay),
  ];
}

/**
 * The interrupted run's banner as a suite of its own: a failing case saying what was cut, and a
 * skipped case per scenario not run (a CI test view lists them as skipped, not as missing).
 */
function interruptionCases(report: Report): TestCase[] {
  if (!report.interrupted) return [];
  const interruption = report.interrupted;
  const notRun = `not run: ${interruptionReason(interruption)}`;
  return [
    { classname: 'ordeal', name: 'interrupted', failure: { type: 'interrupted', message: interruptionReason(interruption), body: [interruptionTitle(interruption), ...interruptionDetails(interruption)].join('\n') } },
    ...interruption.scenariosNotRun.map((name): TestCase => ({ classname: name, name: 'gate', skipped: notRun })),
  ];
}

function caseXml(test: TestCase): string[] {
  const open = `    <testcase${attributes({ name: test.name, classname: test.classname, time: 0 })}`;
  if (test.skipped !== undefined) return [`${open}>`, `      <skipped${attributes({ message: test.skipped })}/>`, '    </testcase>'];
  if (!test.failure) return [`${open}/>`];
  const { type, message, body } = test.failure;
  return [
    `${open}>`,
    `      <failure${attributes({ message, type })}>${escapeXmlText(body)}</failure>`,
    '    </testcase>',
  ];
}

/** Renders the report as JUnit XML. */
export function renderJunit(report: Report, options: JunitOptions = {}): string {
  const maxLines = options.maxLines ?? 200;
  const timestamp = junitTimestamp(report.createdAt);
  const suites = report.scenarios.map((scenario) => ({ scenario, cases: scenarioCases(scenario, report.replay, maxLines) }));
  const failuresOf = (cases: TestCase[]): number => cases.filter((test) => test.failure !== undefined).length;
  const skippedOf = (cases: TestCase[]): number => cases.filter((test) => test.skipped !== undefined).length;
  const interrupted = interruptionCases(report);
  const total = suites.reduce((sum, suite) => sum + suite.cases.length, interrupted.length);
  const failures = suites.reduce((sum, suite) => sum + failuresOf(suite.cases), failuresOf(interrupted));

  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes({ name: 'ordeal', tests: total, failures, errors: 0, skipped: suites.reduce((sum, suite) => sum + skippedOf(suite.cases), skippedOf(interrupted)), time: 0, timestamp })}>`,
  ];
  suites.forEach(({ scenario, cases }, index) => {
    lines.push(
      `  <testsuite${attributes({ name: scenario.name, id: index, tests: cases.length, failures: failuresOf(cases), errors: 0, skipped: skippedOf(cases), time: 0, timestamp })}>`,
      '    <properties>',
    );
    const properties: Array<[string, string]> = [
      ['seed', String(scenario.seed)],
      ['score', scenario.score === null ? 'n/a' : scenario.score.toFixed(1)],
      ...(scenario.gate.minScore === undefined ? [] : [['minScore', String(scenario.gate.minScore)] as [string, string]]),
      ['replay', report.replay],
      ['ordeal.version', report.tool.version],
      ...(scenario.description === undefined ? [] : [['description', scenario.description] as [string, string]]),
    ];
    for (const [name, value] of properties) lines.push(`      <property${attributes({ name, value })}/>`);
    lines.push('    </properties>');
    for (const test of cases) lines.push(...caseXml(test));
    lines.push('  </testsuite>');
  });
  if (interrupted.length > 0) {
    lines.push(`  <testsuite${attributes({ name: 'interrupted', id: suites.length, tests: interrupted.length, failures: failuresOf(interrupted), errors: 0, skipped: skippedOf(interrupted), time: 0, timestamp })}>`);
    for (const test of interrupted) lines.push(...caseXml(test));
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
