/**
 * The example shops run unmodified under `ordeal run --target examples/<name>/target.yaml`, as a
 * shop owner would run theirs: one short scenario each that mixes what the shop can show (forged
 * and redelivered payment callbacks, an SMTP outage scored from the e-mails the shop sends, buyers
 * who walk away) with what it cannot (stock-supplier and risk faults, which are `n/a`). The
 * resilient shop passes its gate; the same run with one of its flaws switched on fails it, caught
 * by the invariant that names the flaw.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { JournalEvent } from '../core/journal.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { readReport, readScenarioJournal, runCli, tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();

/** Faults every example meets (its payment protocol carries them), and two it cannot show. */
function scenario(name: string): Record<string, unknown> {
  return {
    name,
    seed: 71,
    // Required by the scenario schema; the buyers take the shop's own products, prices and coupons.
    catalog: { skus: [{ sku: 'UNUSED', name: 'not sold here', price: 1000, stock: 100 }] },
    load: { stages: [{ rate: '12/s', duration: '3s' }], maxInFlight: 100 },
    buyers: { payAfter: '200ms', mix: { normal: 6, abandon_payment: 1 } },
    faults: [
      { id: 'payment.callback.forged', probability: 0.2, after: '200ms' },
      { id: 'payment.callback.duplicate', probability: 0.2, copies: 2 },
      // The shop's mail server refuses everything for a second: its mails must come through later.
      { id: 'notify.email.outage', probability: 1, window: '0.5s..1.5s', mode: 'refuse', code: 421 },
      { id: 'stock.stale', probability: 0.2 },
      { id: 'risk.review', probability: 0.2, resolveAfter: '1s' },
    ],
    gate: { minScore: 80, steadyState: { successRate: 0.95 } },
    settle: '4s',
  };
}

interface Example {
  name: string;
  profile: string;
  /** A flaw of the shop and the invariant that catches it. */
  flaw: { id: string; invariant: string };
}

const EXAMPLES: Example[] = [
  { name: 'form-shop', profile: 'examples/form-shop/target.yaml', flaw: { id: 'skip-sign-check', invariant: 'no-delivery-on-forged-callback' } },
  { name: 'storefront', profile: 'examples/storefront/target.yaml', flaw: { id: 'fulfil-twice', invariant: 'no-double-delivery' } },
];

describe.each(EXAMPLES)('the $name example under `ordeal run --target`', (example) => {
  it('scores what the shop can show, marks the rest n/a, scores notify from its e-mails, and passes its gate', async () => {
    const work = await tempDir(`ordeal-${example.name}-`);
    defer(() => work.remove());
    const file = join(work.path, 'mixed.yaml');
    await writeFile(file, stringify(scenario('mixed')));
    const out = join(work.path, 'out');
    const result = await runCli(['run', file, '--target', example.profile, '--out', out], 120_000);
    expect(result.code, result.stdout + result.stderr).toBe(0);

    const report = await readReport(out);
    const mixed = report.scenarios[0]!;
    // Applicable classes are scored; the stock and risk faults are n/a with their reason, in the weights as 0.
    for (const scored of ['payment.callback.forged', 'payment.callback.duplicate', 'notify.email.outage', 'buyer.abandon_payment'] as const) {
      expect(mixed.classes[scored]?.score, `${scored}\n${result.stdout}`).toBeGreaterThanOrEqual(80);
    }
    for (const hidden of ['stock.stale', 'risk.review'] as const) {
      expect(mixed.classes[hidden]).toMatchObject({ score: null, observable: false, weight: 0 });
      expect(mixed.classes[hidden]!.reason).toMatch(/own stock|does not screen/);
    }
    expect(result.stdout).toMatch(/n\/a stock\.stale: not observable on this target/);
    expect(mixed.gate.passed).toBe(true);

    // The e-mails came over SMTP, were matched to orders, and the notify stage of the outage was met by them.
    const journal = await readScenarioJournal(out, 'mixed');
    const received = journal.filter((event): event is Extract<JournalEvent, { type: 'notify.email.received' }> => event.type === 'notify.email.received');
    expect(received.filter((mail) => mail.orderId !== undefined && mail.outcome === 'accepted').length).toBeGreaterThan(10);
    // Refused during the outage, then retried by the shop until accepted: notify met for every hit order.
    const refused = journal.filter((event) => event.type === 'notify.refused' && event.channel === 'email');
    expect(refused.length).toBeGreaterThan(0);
    const outage = mixed.classes['notify.email.outage']!;
    expect(outage.incidents).toBeGreaterThan(0);
    expect(outage.stages.notify.met).toBe(outage.incidents);
    expect(journal.some((event) => event.type === 'notify.message' && event.channel === 'email')).toBe(true);
    // The SMTP outage is in every report format.
    const markdown = result.stdout;
    expect(markdown).toMatch(/notify\.email\.outage\s+\d/);
  });

  it(`fails its gate with its flaw (${example.flaw.id}) on, caught by ${example.flaw.invariant}`, async () => {
    const work = await tempDir(`ordeal-${example.name}-flawed-`);
    defer(() => work.remove());
    const file = join(work.path, 'mixed.yaml');
    await writeFile(file, stringify(scenario('mixed')));
    const out = join(work.path, 'out');
    const result = await runCli(['run', file, '--target', example.profile, '--flaws', example.flaw.id, '--out', out], 120_000);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    const mixed = (await readReport(out)).scenarios[0]!;
    expect(mixed.gate.passed).toBe(false);
    expect(mixed.invariants.find((invariant) => invariant.id === example.flaw.invariant)?.ok, result.stdout).toBe(false);
  });
});
