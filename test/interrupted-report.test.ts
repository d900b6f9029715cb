/**
 * An interrupted run's report: report.json carries the mark (and still validates), its gate never
 * passes, and every renderer shows the banner — console, Markdown (a GitHub warning alert, read
 * back through marked), HTML (read back with cheerio) and JUnit (read back with junit2json).
 */
import * as cheerio from 'cheerio';
import { parse, type TestSuites } from 'junit2json';
import { marked } from 'marked';
import { describe, expect, it } from 'vitest';
import type { RunInterruption } from '../core/interruption.js';
import { reportSchema } from '../core/report-schema.js';
import type { Report } from '../core/report-types.js';
import { evaluateGate } from '../harness/score/gate.js';
import { buildReport } from '../harness/score/report.js';
import { scoreScenario } from '../harness/score/score.js';
import { renderConsole } from '../reports/console.js';
import { renderHtml } from '../reports/html.js';
import { renderJunit } from '../reports/junit.js';
import { renderMarkdown } from '../reports/markdown.js';
import { JournalBuilder, makeScenario } from './score-journal.js';

const META = { seed: 7, replay: 'ordeal run scenarios/ --seed 7', version: '0.1.0', createdAt: '2024-05-01T00:00:00.000Z' };
const INTERRUPTED: RunInterruption = { signal: 'SIGINT', scenariosCut: ['smoke'], scenariosNotRun: ['callback-drop', 'crash'] };

/** One scenario whose own gate passes: only the interruption can fail the run. */
async function passingReport(interrupted?: RunInterruption): Promise<Report> {
  const scenario = makeScenario({ name: 'smoke' });
  const score = await scoreScenario(new JournalBuilder().happy(0, 'b1', 'o1').events, scenario);
  return buildReport([{ scenario, score, gate: evaluateGate(score, scenario, {}) }], { ...META, ...(interrupted ? { interrupted } : {}) });
}

describe('an interrupted run\'s report', () => {
  it('carries the mark in report.json, validates, and fails the gate saying why', async () => {
    const report = await passingReport(INTERRUPTED);
    expect(report.scenarios[0]?.gate.passed).toBe(true);
    expect(report.interrupted).toEqual(INTERRUPTED);
    expect(report.gate).toEqual({ passed: false, reasons: ['the run was interrupted by SIGINT: 1 scenario cut short, 2 not run'] });
    expect(reportSchema.parse(report)).toEqual(report);
    expect(() => reportSchema.parse({ ...report, interrupted: { ...INTERRUPTED, signal: 'SIGKILL' } })).toThrow();

    const whole = await passingReport();
    expect(whole.gate.passed).toBe(true);
    expect('interrupted' in whole).toBe(false);
  });

  it('a library abort without a signal name is marked with signal null', async () => {
    const report = await passingReport({ signal: null, scenariosCut: [], scenariosNotRun: ['crash'] });
    expect(report.gate.reasons[0]).toBe('the run was interrupted: 1 not run');
    expect(renderConsole(report, { color: false })).toContain('⚠ Interrupted\n');
  });

  it('console: a banner above the scenarios, and the reason under the verdict', async () => {
    const text = renderConsole(await passingReport(INTERRUPTED), { color: false });
    const lines = text.split('\n');
    const banner = lines.indexOf('⚠ Interrupted by SIGINT');
    expect(banner).toBeGreaterThan(0);
    expect(banner).toBeLessThan(lines.findIndex((line) => line.startsWith('smoke  score')));
    expect(lines.slice(banner + 1, banner + 4)).toEqual([
      '  Cut short and scored from what was recorded: smoke.',
      '  Not run: 2 scenarios (callback-drop, crash).',
      '  An interrupted run never passes its gate.',
    ]);
    expect(text).toContain('gate ✘ FAILED\n  • the run was interrupted by SIGINT: 1 scenario cut short, 2 not run');
    expect(renderConsole(await passingReport(), { color: false })).not.toContain('Interrupted');
  });

  it('Markdown: a warning alert under the verdict, scenario names escaped', async () => {
    const markdown = renderMarkdown(await passingReport({ ...INTERRUPTED, scenariosCut: ['**bold**'] }));
    const lines = markdown.split('\n');
    expect(lines[0]).toBe('## ❌ Ordeal: gate failed');
    expect(lines[2]).toBe('> [!WARNING]');
    expect(lines[3]).toMatch(/^> \*\*Interrupted by SIGINT\.\*\* Cut short and scored from what was recorded: \\\*\\\*bold\\\*\\\*\. Not run: 2 scenarios \(callback-drop, crash\)\./);
    const html = await marked.parse(markdown, { gfm: true });
    const $ = cheerio.load(html);
    expect($('blockquote').text()).toContain('Interrupted by SIGINT.');
    expect($('blockquote strong').length).toBe(1);
    expect(renderMarkdown(await passingReport())).not.toContain('[!WARNING]');
  });

  it('HTML: an alert section under the verdict, before the explanation', async () => {
    const report = await passingReport({ ...INTERRUPTED, scenariosNotRun: ['<img src=x onerror=alert(1)>'] });
    const $ = cheerio.load(renderHtml({ report, scenarios: [] }));
    const banner = $('section.interrupted[role="alert"]');
    expect(banner.length).toBe(1);
    expect(banner.find('h2').text()).toBe('⚠ Interrupted by SIGINT');
    expect(banner.text()).toContain('Not run: 1 scenario (<img src=x onerror=alert(1)>).');
    expect($('img').length).toBe(0);
    expect(banner.next().hasClass('intro')).toBe(true);
    expect($('header.verdict .reasons li').first().text()).toBe('the run was interrupted by SIGINT: 1 scenario cut short, 1 not run');
    const whole = cheerio.load(renderHtml({ report: await passingReport(), scenarios: [] }));
    expect(whole('section.interrupted').length).toBe(0);
  });

  it('JUnit: a failing "interrupted" case and each scenario not run skipped', async () => {
    const suites = (await parse(renderJunit(await passingReport(INTERRUPTED)))) as TestSuites;
    const interrupted = suites.testsuite?.find((suite) => suite.name === 'interrupted');
    expect(interrupted).toMatchObject({ tests: 3, failures: 1, skipped: 2 });
    const [failing, ...skipped] = interrupted?.testcase ?? [];
    expect(failing?.failure?.[0]).toMatchObject({ type: 'interrupted', message: 'the run was interrupted by SIGINT: 1 scenario cut short, 2 not run' });
    expect(skipped.map((test) => [test.classname, test.skipped?.[0]?.message])).toEqual([
      ['callback-drop', 'not run: the run was interrupted by SIGINT: 1 scenario cut short, 2 not run'],
      ['crash', 'not run: the run was interrupted by SIGINT: 1 scenario cut short, 2 not run'],
    ]);
    const whole = (await parse(renderJunit(await passingReport()))) as TestSuites;
    expect(whole.testsuite?.some((suite) => suite.name === 'interrupted')).toBe(false);
    expect(suites.tests).toBe((whole.tests ?? 0) + 3);
    expect(suites.failures).toBe((whole.failures ?? 0) + 1);
  });
});
