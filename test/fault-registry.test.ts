/**
 * The fault registry is the one place a fault is declared: every part present and consistent, the
 * README generated from it, and a declaration missing a part rejected by the compiler.
 */
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { INJECTION_SITES, RECOVERY_KINDS } from '../core/faults/define.js';
import { BUYER_CLASSES, FAULTS, FAULT_IDS, INCIDENT_CLASSES, incidentDefinition, stagesOf } from '../core/faults/index.js';
import { STAGE_NAMES } from '../core/stages.js';
import { withCatalogue } from '../reports/fault-catalogue.js';
import { FAULT_FORMS } from '../mocks/payment/personalities/index.js';
import { withProtocolFaultTable } from '../mocks/payment/personalities/fault-table.js';

const ROOT = resolve(import.meta.dirname, '..');

describe('the fault registry', () => {
  it('declares every fault id once, and every buyer mistake once', () => {
    expect(new Set(FAULT_IDS).size).toBe(FAULTS.length);
    expect(new Set(BUYER_CLASSES.map((entry) => entry.behaviour)).size).toBe(BUYER_CLASSES.length);
    expect(INCIDENT_CLASSES).toHaveLength(FAULTS.length + BUYER_CLASSES.length);
  });

  it.each(INCIDENT_CLASSES)('%s has every part: texts, injection site, recovery kind, stage meanings', (incidentClass) => {
    const definition = incidentDefinition(incidentClass);
    expect(Object.keys(INJECTION_SITES)).toContain(definition.injectedBy);
    expect(Object.keys(RECOVERY_KINDS)).toContain(definition.recovery);
    expect(definition.text.summary.length).toBeGreaterThan(10);
    expect(definition.text.expectation.length).toBeGreaterThan(5);
    for (const stage of STAGE_NAMES) expect(stagesOf(incidentClass).describe[stage].length).toBeGreaterThan(10);
  });

  it.each(FAULTS.map((fault) => [fault.id, fault] as const))('%s: the README names exactly its own parameters', (_id, fault) => {
    const own = Object.keys(fault.schema.shape).filter((key) => !['id', 'probability', 'window'].includes(key));
    const named = [...fault.text.parameters.matchAll(/`([A-Za-z]+)`/g)].map((match) => match[1]).filter((name) => name !== undefined && own.includes(name));
    expect(new Set(named)).toEqual(new Set(own));
    if (own.length === 0) expect(fault.text.parameters).toBe('—');
  });

  it('only payment-notice faults that bring no genuine full payment are refused as notices', () => {
    const refused = FAULTS.filter((fault) => fault.recovery === 'refuse-the-notice').map((fault) => fault.id);
    expect(refused.every((id) => id.startsWith('payment.callback.'))).toBe(true);
    expect(refused).toEqual(expect.arrayContaining(['payment.callback.forged', 'payment.callback.replayed', 'payment.callback.tampered']));
  });

  it("the README's fault catalogue and buyer table are what the registry says (regenerate with `npm run docs`)", async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    expect(withCatalogue(readme)).toBe(readme);
  });

  it("every protocol gives every payment fault a form, and the README's fault × protocol table is theirs (regenerate with `npm run docs`)", async () => {
    const paymentFaults = FAULTS.map((fault) => fault.id).filter((id) => id.startsWith('payment.')).sort();
    for (const [protocol, forms] of Object.entries(FAULT_FORMS)) {
      expect(Object.keys(forms).sort(), protocol).toEqual(paymentFaults);
      for (const form of Object.values(forms)) expect(Object.values(form)[0], protocol).toMatch(/\S{3}/);
    }
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    expect(withProtocolFaultTable(readme, FAULT_FORMS)).toBe(readme);
    expect(readme).toContain('| `payment.callback.forged` |');
  });
});

describe('a fault declared without one of its parts', () => {
  const file = join(ROOT, 'test', 'fixtures', `.incomplete-fault-${process.pid}.ts`);
  afterAll(() => rm(file, { force: true }));

  it('does not compile, and the error names the missing part', async () => {
    await writeFile(
      file,
      [
        "import { defineFault, fixedDeadlines } from '../../core/faults/define.js';",
        'export const halfDeclared = defineFault({',
        "  id: 'payment.half_declared',",
        "  family: 'payment',",
        '  params: {},',
        "  injectedBy: 'payment provider',",
        "  recovery: 'retry-until-done',",
        "  text: { summary: 'a fault with no notify rule', parameters: '—', models: 'nothing', expectation: 'nothing' },",
        '  stages: {',
        '    defaults: fixedDeadlines(1, 1, 1),',
        "    describe: { detect: 'd', notify: 'n', recover: 'r' },",
        '    detect: () => ({}),',
        '    recover: () => ({}),',
        '  },',
        '});',
        '',
      ].join('\n'),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', file];
    const result = await promisify(execFile)(process.execPath, args, { cwd: ROOT }).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout).toMatch(/Property 'notify' is missing/);
  }, 60_000);
});
