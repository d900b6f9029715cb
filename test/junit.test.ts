/**
 * junit.xml, read back the way CI reads it: with junit2json (a JUnit-to-JSON reader over xml2js)
 * for the test counts, messages and bodies, and with saxes (a conformant, strict XML 1.0 parser)
 * for well-formedness.
 */
import { parse, type TestCase, type TestSuite, type TestSuites } from 'junit2json';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import type { Report } from '../core/report-types.js';
import { escapeXmlAttribute, escapeXmlText, renderJunit } from '../reports/junit.js';
import { sampleReport as sharedSampleReport } from './score-journal.js';

const META = { seed: 7, replay: 'ordeal run scenarios/ --seed 7', version: '0.1.0', createdAt: '2024-05-01T10:20:30.456Z' };

async function sampleReport(): Promise<Report> {
  return sharedSampleReport(META);
}

async function readJunit(xml: string): Promise<TestSuites> {
  const parsed = await parse(xml);
  expect(parsed).toBeTruthy();
  expect(parsed).toHaveProperty('testsuite');
  return parsed as TestSuites;
}

/** Parses with a strict XML 1.0 parser; throws on the first well-formedness error. */
function parseStrictly(xml: string): { texts: string[]; attributes: string[] } {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const texts: string[] = [];
  const attributes: string[] = [];
  parser.on('error', (error) => {
    throw error;
  });
  parser.on('text', (text) => texts.push(text));
  parser.on('opentag', (tag) => {
    for (const value of Object.values(tag.attributes)) attributes.push(String(value));
  });
  parser.write(xml).close();
  return { texts, attributes };
}

const suiteNamed = (suites: TestSuites, name: string): TestSuite => {
  const suite = suites.testsuite?.find((entry) => entry.name === name);
  if (!suite) throw new Error(`no testsuite ${name}`);
  return suite;
};
const caseNamed = (suite: TestSuite, classname: string, name: string): TestCase => {
  const test = suite.testcase?.find((entry) => entry.classname === classname && String(entry.name) === name);
  if (!test) throw new Error(`no testcase ${classname} / ${name}`);
  return test;
};

describe('renderJunit', () => {
  it('has one suite per scenario with seed, score and replay, and the counts CI shows', async () => {
    const suites = await readJunit(renderJunit(await sampleReport()));
    expect(suites).toMatchObject({ name: 'ordeal', tests: 32, failures: 4, errors: 0 });
    expect(suites.testsuite?.map((suite) => [suite.name, suite.tests, suite.failures])).toEqual([
      ['callback-drop', 17, 4],
      ['smoke', 15, 0],
    ]);
    const drop = suiteNamed(suites, 'callback-drop');
    expect(drop.timestamp).toBe('2024-05-01T10:20:30');
    expect(drop.properties).toEqual(
      expect.arrayContaining([
        { name: 'seed', value: 1 },
        { name: 'score', value: 65 },
        { name: 'minScore', value: 80 },
        { name: 'replay', value: 'ordeal run scenarios/ --seed 7' },
        { name: 'description', value: 'charged, callback lost' },
      ]),
    );
  });

  it('has a case per incident class, failing below the scenario\'s minimum with the order ids', async () => {
    const drop = suiteNamed(await readJunit(renderJunit(await sampleReport())), 'callback-drop');
    const classes = drop.testcase?.filter((test) => test.classname === 'callback-drop.classes').map((test) => test.name);
    expect(classes).toEqual(['payment.callback.drop', 'stock.stale']);
    const dropped = caseNamed(drop, 'callback-drop.classes', 'payment.callback.drop');
    expect(dropped.failure).toHaveLength(1);
    expect(dropped.failure?.[0]?.message).toBe('class score 30.0 < min 80 (1 incident; met within deadline: detect 1/1, notify 0/1, recover 0/1)');
    expect(dropped.failure?.[0]?.type).toBe('class-score');
    expect(dropped.failure?.[0]?.inner).toContain('order ord_stuck (buyer b1): score 0.30 — detect 500ms (credit 1.00), notify never, recover never');
    expect(dropped.failure?.[0]?.inner).toContain('deadlines detect / notify / recover: 3.00s / 5.00s / 6.00s');
    expect(caseNamed(drop, 'callback-drop.classes', 'stock.stale').failure).toBeUndefined();
  });

  it('has a case per invariant: description and violation count as the message, each violation with its order ids as the body', async () => {
    const report = await sampleReport();
    const drop = suiteNamed(await readJunit(renderJunit(report)), 'callback-drop');
    const invariants = drop.testcase?.filter((test) => test.classname === 'callback-drop.invariants') ?? [];
    expect(invariants.map((test) => test.name)).toEqual(report.scenarios[0]?.invariants.map((invariant) => invariant.id));
    expect(invariants.filter((test) => test.failure).map((test) => test.name)).toEqual(['paid-orders-settled', 'conservation']);
    const settled = caseNamed(drop, 'callback-drop.invariants', 'paid-orders-settled');
    const description = report.scenarios[0]?.invariants.find((invariant) => invariant.id === 'paid-orders-settled')?.description;
    expect(settled.failure?.[0]?.message).toBe(`${description}: 1 violation`);
    expect(settled.failure?.[0]?.type).toBe('invariant');
    expect(settled.failure?.[0]?.inner).toMatch(/^\[ord_stuck\] order ord_stuck paid, neither delivered nor refunded/);
  });

  it('has steady-state cases (p95 only when gated) and a gate case carrying the reasons', async () => {
    const report = await sampleReport();
    const smoke = report.scenarios[1]!;
    smoke.steadyState.thresholds.p95 = 100;
    smoke.steadyState.latency.p95 = 250;
    smoke.steadyState.successRate = 0.5;
    smoke.steadyState.succeeded = 1;
    smoke.steadyState.orders = 2;
    const suites = await readJunit(renderJunit(report));
    const drop = suiteNamed(suites, 'callback-drop');
    expect(drop.testcase?.filter((test) => test.classname === 'callback-drop.steady-state').map((test) => test.name)).toEqual(['success rate']);
    const gate = caseNamed(drop, 'callback-drop', 'gate');
    expect(gate.failure?.[0]?.message).toBe('score 65.0 < min 80 (+2 more)');
    expect(gate.failure?.[0]?.inner).toBe(
      [
        '- score 65.0 < min 80',
        '- invariant paid-orders-settled broken by 1 order: ord_stuck',
        '- invariant conservation broken by 1 order: ord_stuck',
        'replay: ordeal run scenarios/ --seed 7',
      ].join('\n'),
    );
    const smokeSuite = suiteNamed(suites, 'smoke');
    expect(caseNamed(smokeSuite, 'smoke.steady-state', 'success rate').failure?.[0]).toMatchObject({
      message: 'success rate 50.0% < 99.0%',
      inner: '1/2 fault-free orders of normal buyers delivered',
    });
    expect(caseNamed(smokeSuite, 'smoke.steady-state', 'p95 latency').failure?.[0]?.message).toBe('p95 250ms > 100ms');
    expect(caseNamed(smokeSuite, 'smoke', 'gate').failure).toBeUndefined();
  });

  it('never fails a class case when the report does not carry the minimum', async () => {
    const report = await sampleReport();
    delete report.scenarios[0]!.gate.minScore;
    const drop = suiteNamed(await readJunit(renderJunit(report)), 'callback-drop');
    expect(caseNamed(drop, 'callback-drop.classes', 'payment.callback.drop').failure).toBeUndefined();
    expect(drop.failures).toBe(3);
    expect(drop.properties?.some((property) => property.name === 'minScore')).toBe(false);
  });

  it('stays well-formed XML 1.0 whatever the shop puts in order ids and messages', async () => {
    const report = await sampleReport();
    const hostile = 'ord<1>&"x"\'y\']]>\u0000\u0007\u001b[31m\u000b\ud800\ufffe🃏\r\n\tend';
    const settled = report.scenarios[0]!.invariants.find((invariant) => invariant.id === 'paid-orders-settled')!;
    settled.violations.push({ orderIds: [hostile, 'ord_2'], message: `order ${hostile} lost` });
    report.scenarios[0]!.gate.reasons.push(`invariant broken by ${hostile}`);
    report.scenarios[0]!.name = 'callback-drop<&>';
    report.replay = `ordeal run "a b" --seed 7 \u0001`;
    const xml = renderJunit(report);

    expect(() => parseStrictly(xml)).not.toThrow();
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/);

    const visible = 'ord<1>&"x"\'y\']]>\\u0000\\u0007\\u001B[31m\\u000B\\uD800\\uFFFE🃏\r\n\tend';
    const suites = await readJunit(xml);
    const drop = suiteNamed(suites, 'callback-drop<&>');
    const body = caseNamed(drop, 'callback-drop<&>.invariants', 'paid-orders-settled').failure?.[0]?.inner ?? '';
    expect(body).toContain(`\n[${visible}, ord_2] order ${visible} lost`);
    expect(caseNamed(drop, 'callback-drop<&>', 'gate').failure?.[0]?.message).toBe('score 65.0 < min 80 (+3 more)');
    expect(drop.properties).toContainEqual({ name: 'replay', value: 'ordeal run "a b" --seed 7 \\u0001' });
    // Attribute values keep their line breaks and tabs (a strict parser normalises raw ones to spaces).
    const { attributes } = parseStrictly(renderJunit({ ...report, replay: 'a\nb\tc' }));
    expect(attributes).toContain('a\nb\tc');
  });

  it('caps a long failure body', async () => {
    const report = await sampleReport();
    const settled = report.scenarios[0]!.invariants.find((invariant) => invariant.id === 'paid-orders-settled')!;
    for (let i = 0; i < 30; i++) settled.violations.push({ orderIds: [`ord_${i}`], message: `order ord_${i} paid` });
    const drop = suiteNamed(await readJunit(renderJunit(report, { maxLines: 10 })), 'callback-drop');
    const failure = caseNamed(drop, 'callback-drop.invariants', 'paid-orders-settled').failure?.[0];
    expect(failure?.message).toMatch(/: 31 violations$/);
    expect(failure?.inner?.split('\n')).toHaveLength(11);
    expect(failure?.inner).toMatch(/\n… 21 more in report\.json$/);
  });

  it('renders an empty run as an empty, valid document', async () => {
    const report = await sampleReport();
    const xml = renderJunit({ ...report, scenarios: [] });
    expect(() => parseStrictly(xml)).not.toThrow();
    expect(await parse(xml)).toMatchObject({ name: 'ordeal', tests: 0, failures: 0 });
  });
});

describe('XML escaping', () => {
  it('escapes markup and writes forbidden characters visibly', () => {
    expect(escapeXmlText('a<b>&c\u0000')).toBe('a&lt;b&gt;&amp;c\\u0000');
    expect(escapeXmlAttribute('"q"\n\t\r')).toBe('&quot;q&quot;&#10;&#9;&#13;');
    expect(escapeXmlText('\ud83c\udccf \ud800x \udfffy')).toBe('\ud83c\udccf \\uD800x \\uDFFFy');
  });
});
