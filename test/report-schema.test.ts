/**
 * The report schema: the committed JSON Schema is the generated one, the zod schema and the
 * `Report` type are one shape, and real reports — from the scorer and from a CLI run — validate
 * with zod and with a standard JSON Schema validator (ajv, draft 2020-12).
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse as parseJunit, type TestSuites } from 'junit2json';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { evaluateGate } from '../harness/score/gate.js';
import { REPORT_SCHEMA_ID, reportJsonSchema, reportSchema } from '../core/report-schema.js';
import { REPORT_SCHEMA_VERSION, type Report } from '../core/report-types.js';
import { buildReport } from '../harness/score/report.js';
import { scoreScenario } from '../harness/score/score.js';
import { renderJson } from '../reports/json.js';
import { runCli, tempDir } from './helpers/cli.js';
import { JournalBuilder, contactOf, makeScenario } from './score-journal.js';

const META = { seed: 7, replay: 'ordeal run scenarios/ --seed 7', version: '0.1.0', createdAt: '2024-05-01T00:00:00.000Z' };

/** Every part of the report filled: classes (a fault, a buyer mistake), broken invariants, p95 gated, an unattached fault. */
async function richReport(): Promise<Report> {
  const failing = makeScenario({
    name: 'callback-drop',
    description: 'charged, callback lost',
    gate: { minScore: 80, steadyState: { successRate: 0.99, p95: '1s' } },
  });
  const journal = new JournalBuilder()
    .happy(0, 'b10', 'o10')
    .buyer(0, 'b1')
    .created(10, 'b1', 'ord_stuck')
    .paid(1000, 'ord_stuck')
    .fault(1000, 'payment.callback.drop', { orderId: 'ord_stuck' })
    .queried(1500, 'ord_stuck')
    .buyer(0, 'b3')
    .fault(100, 'stock.stale', { orderId: 'o3' })
    .created(150, 'b3', 'o3', { status: 'failed', reason: 'out_of_stock' })
    .message(400, 'o3', contactOf('b3'), 'out_of_stock')
    .buyer(0, 'b4', { behaviour: 'typo_recipient' })
    .fault(10, 'buyer.typo_recipient', { buyerId: 'b4' })
    .createFailed(20, 'b4', { httpStatus: 400, errorCode: 'invalid_recipient', intent: 'mistake' })
    .buyer(0, 'b5')
    .fault(5, 'payment.decline', { buyerId: 'b5' });
  const failingScore = await scoreScenario(journal.events, failing);
  const passing = makeScenario({ name: 'smoke' });
  const passingScore = await scoreScenario(new JournalBuilder().happy(0, 'b1', 'o1').events, passing);
  return buildReport(
    [
      { scenario: failing, score: failingScore, gate: evaluateGate(failingScore, failing, {}) },
      { scenario: passing, score: passingScore, gate: evaluateGate(passingScore, passing, {}) },
    ],
    META,
  );
}

function jsonValidator(): (data: unknown) => { valid: boolean; errors: string[] } {
  const committed = JSON.parse(readFileSync('docs/report.schema.json', 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats.default(ajv); // CommonJS: under NodeNext the default import is the module, its `default` the plugin
  const validate = ajv.compile(committed);
  return (data) => {
    const valid = validate(data);
    return { valid, errors: (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ''}`) };
  };
}

describe('report schema', () => {
  it('matches the committed JSON Schema in docs/ (regenerate with `ordeal schema report > docs/report.schema.json`)', () => {
    const committed = JSON.parse(readFileSync('docs/report.schema.json', 'utf8')) as unknown;
    expect(committed).toEqual(reportJsonSchema());
  });

  it('is a documented, versioned draft 2020-12 schema', () => {
    const schema = reportJsonSchema();
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: REPORT_SCHEMA_ID,
      title: 'Ordeal report',
    });
    expect(REPORT_SCHEMA_ID).toMatch(new RegExp(`:${REPORT_SCHEMA_VERSION}$`));
    expect(schema.description).toMatch(/changes only with a schemaVersion bump/);
    expect((schema.properties as Record<string, unknown>).schemaVersion).toMatchObject({ const: 1 });
    // Every property, at every depth, says what it is.
    const undocumented: string[] = [];
    const visit = (node: unknown, path: string): void => {
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (record.properties && typeof record.properties === 'object') {
        for (const [key, property] of Object.entries(record.properties as Record<string, Record<string, unknown>>)) {
          if (typeof property.description !== 'string' && typeof property.$ref !== 'string') undocumented.push(`${path}.${key}`);
          visit(property, `${path}.${key}`);
        }
      }
      for (const [key, value] of Object.entries(record)) if (key !== 'properties') visit(value, `${path}/${key}`);
    };
    visit(schema, '#');
    expect(undocumented).toEqual([]);
    const defs = schema.$defs as Record<string, { description?: string }>;
    for (const [name, def] of Object.entries(defs)) expect(def.description, name).toBeTruthy();
  });

  it('has the type of Report', () => {
    expectTypeOf<z.output<typeof reportSchema>>().toEqualTypeOf<Report>();
  });

  it('accepts a report built by the scorer, with zod and with ajv', async () => {
    const report = await richReport();
    const classes = Object.keys(report.scenarios[0]!.classes);
    expect(classes).toEqual(expect.arrayContaining(['payment.callback.drop', 'stock.stale', 'buyer.typo_recipient']));
    expect(report.scenarios[0]!.steadyState.thresholds.p95).toBe(1000);
    expect(report.scenarios[0]!.gate.minScore).toBe(80);
    expect(report.scenarios[0]!.invariants.some((invariant) => !invariant.ok)).toBe(true);
    const onDisk = JSON.parse(renderJson(report)) as unknown;
    expect(reportSchema.parse(onDisk)).toEqual(onDisk);
    expect(jsonValidator()(onDisk)).toEqual({ valid: true, errors: [] });
  });

  it('carries each scenario\'s latency metrics, and still accepts a report written before they were recorded', async () => {
    const report = JSON.parse(renderJson(await richReport())) as Report;
    const metrics = report.scenarios[0]!.metrics;
    expect(metrics?.endpoints.create.count).toBeGreaterThan(0);
    expect(metrics?.endpoints.create.responseTime.encoded).toMatch(/^HISTF/);
    expect(metrics?.stages.completed.count).toBe(1);
    expect(Object.keys(metrics?.endpoints ?? {}).sort()).toEqual(['cancel', 'create', 'pay', 'verify']);
    const validate = jsonValidator();
    const older = { ...report, scenarios: report.scenarios.map(({ metrics: _metrics, ...rest }) => rest) };
    expect(reportSchema.safeParse(older).success).toBe(true);
    expect(validate(older)).toEqual({ valid: true, errors: [] });
    const broken = { ...report, scenarios: [{ ...report.scenarios[0], metrics: { ...metrics, perSecond: [{ second: -1 }] } }] };
    expect(reportSchema.safeParse(broken).success).toBe(false);
    expect(validate(broken).valid).toBe(false);
  });

  it('records --min-score as the scenarios\' minimum', async () => {
    const scenario = makeScenario({ gate: { minScore: 80 } });
    const score = await scoreScenario(new JournalBuilder().happy(0, 'b1', 'o1').events, scenario);
    const gate = evaluateGate(score, scenario, { minScore: 50 });
    expect(buildReport([{ scenario, score, gate }], { ...META, minScore: 50 }).scenarios[0]?.gate.minScore).toBe(50);
    expect(buildReport([{ scenario, score, gate }], META).scenarios[0]?.gate.minScore).toBe(80);
  });

  it('refuses what is not a report, naming where', async () => {
    const validate = jsonValidator();
    const report = JSON.parse(renderJson(await richReport())) as Record<string, unknown> & { scenarios: Array<Record<string, unknown>> };
    const broken: Array<[string, unknown, string]> = [
      ['another version', { ...report, schemaVersion: 2 }, '/schemaVersion'],
      ['an unknown field', { ...report, extra: true }, ''],
      ['a score above 100', { ...report, scenarios: [{ ...report.scenarios[0], score: 101 }] }, '/scenarios/0/score'],
      ['an unknown class', { ...report, scenarios: [{ ...report.scenarios[0], classes: { 'payment.nope': {} } }] }, '/scenarios/0/classes'],
      ['a missing gate', { ...report, gate: undefined }, ''],
      ['a date that is no date', { ...report, createdAt: 'yesterday' }, '/createdAt'],
    ];
    for (const [what, data, where] of broken) {
      const json = JSON.parse(JSON.stringify(data)) as unknown;
      expect(reportSchema.safeParse(json).success, what).toBe(false);
      const result = validate(json);
      expect(result.valid, what).toBe(false);
      expect(result.errors.some((error) => error.startsWith(`${where} `)), `${what}: ${result.errors.join('; ')}`).toBe(true);
    }
  });
});

describe('a real run', () => {
  let work: { path: string; remove(): Promise<void> };
  let outDir: string;
  let code: number | null;
  beforeAll(async () => {
    work = await tempDir('ordeal-report-schema-');
    outDir = join(work.path, 'run');
    const result = await runCli(['run', 'scenarios/smoke.yaml', '--out', outDir, '--quiet']);
    code = result.code;
    if (code !== 0 && code !== 1) throw new Error(`ordeal run exited ${code}\n${result.stderr}`);
  }, 120_000);
  afterAll(async () => {
    await work.remove();
  });

  it('writes a report.json that validates with zod and with ajv against docs/report.schema.json', async () => {
    const report = JSON.parse(await readFile(join(outDir, 'report.json'), 'utf8')) as unknown;
    expect(reportSchema.parse(report).scenarios.map((scenario) => scenario.name)).toEqual(['smoke']);
    expect(jsonValidator()(report)).toEqual({ valid: true, errors: [] });
    expect(reportSchema.parse(report).scenarios[0]?.gate.minScore).toBe(95);
  });

  it('writes a junit.xml that agrees with report.json', async () => {
    const report = reportSchema.parse(JSON.parse(await readFile(join(outDir, 'report.json'), 'utf8')));
    const junit = (await parseJunit(await readFile(join(outDir, 'junit.xml'), 'utf8'))) as TestSuites;
    const smoke = report.scenarios[0]!;
    const classes = Object.keys(smoke.classes).length;
    // classes + invariants + success rate + p95 (smoke gates it) + gate
    expect(junit.testsuite?.[0]).toMatchObject({ name: 'smoke', tests: classes + smoke.invariants.length + 3 });
    const gate = junit.testsuite?.[0]?.testcase?.find((test) => test.name === 'gate');
    expect(gate?.failure === undefined).toBe(smoke.gate.passed);
    expect(code).toBe(report.gate.passed ? 0 : 1);
  });
});
