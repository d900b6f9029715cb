/**
 * The flaw matrix: each flaw's scenario runs against the resilient reference shop and against the
 * shop with just that flaw. The resilient shop passes every gate; each flaw clearly lowers its
 * targeted class or breaks its targeted invariant, naming the orders.
 */
import { join } from 'node:path';
import PQueue from 'p-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJournal, type JournalEvent } from '../core/journal.js';
import { loadScenarioWithInput } from '../harness/scenario/loader.js';
import { runScenario, type ScenarioOutcome } from '../harness/drive/run.js';
import { SHOP_FLAWS } from '../shop/flaws.js';
import { FLAW_MATRIX } from './fixtures/flaw-matrix.js';
import { tempDir } from './helpers/cli.js';

const outcomes = new Map<string, ScenarioOutcome>();
let work: { path: string; remove(): Promise<void> };

function key(scenario: string, flaw?: string): string {
  return `${scenario}|${flaw ?? 'resilient'}`;
}

async function execute(scenarioFile: string, flaw?: string): Promise<void> {
  const { scenario, input } = await loadScenarioWithInput(join('scenarios', scenarioFile));
  const outDir = join(work.path, flaw ?? 'resilient');
  const outcome = await runScenario({ file: scenarioFile, scenario, input }, { scenarios: [], outDir, flaws: flaw ? [flaw] : [] }, outDir);
  outcomes.set(key(scenarioFile, flaw), outcome);
}

beforeAll(async () => {
  work = await tempDir('ordeal-flaws-');
  const queue = new PQueue({ concurrency: 3 });
  const scenarios = [...new Set(FLAW_MATRIX.map((entry) => entry.scenario))];
  await Promise.all([
    ...scenarios.map((scenario) => queue.add(() => execute(scenario))),
    ...FLAW_MATRIX.map((entry) => queue.add(() => execute(entry.scenario, entry.flaw))),
  ]);
}, 480_000);

afterAll(async () => {
  await work?.remove();
});

describe('flaw matrix', () => {
  it('covers every flaw of the reference shop', () => {
    expect(FLAW_MATRIX.map((entry) => entry.flaw).sort()).toEqual(SHOP_FLAWS.map((flaw) => flaw.name).sort());
  });

  for (const entry of FLAW_MATRIX) {
    it(`${entry.flaw} (${entry.scenario}): the resilient shop passes, the flaw is caught`, () => {
      const resilient = outcomes.get(key(entry.scenario))!;
      const flawed = outcomes.get(key(entry.scenario, entry.flaw))!;
      expect(resilient.gate.reasons, 'resilient shop').toEqual([]);
      expect(resilient.gate.passed).toBe(true);
      expect(flawed.gate.passed, `flawed shop (${entry.flaw}) passed the gate`).toBe(false);

      for (const targetClass of [entry.targetClass ?? []].flat()) {
        const good = resilient.score.classes[targetClass];
        expect(good, `resilient run has ${targetClass} incidents`).toBeDefined();
        const bad = flawed.score.classes[targetClass];
        const badScore = bad?.score ?? 0;
        expect(good!.score! - badScore, `${targetClass}: ${good!.score} → ${badScore}`).toBeGreaterThanOrEqual(entry.minDrop ?? 1);
      }
      if (entry.invariants) {
        const broken = flawed.score.invariants.filter((invariant) => !invariant.ok && entry.invariants!.includes(invariant.id));
        expect(broken.map((invariant) => invariant.id), `one of ${entry.invariants.join(', ')} broken`).not.toEqual([]);
        for (const invariant of broken) {
          expect(invariant.violations.flatMap((violation) => violation.orderIds).length).toBeGreaterThan(0);
        }
        for (const invariant of resilient.score.invariants) expect(invariant.ok, `resilient ${invariant.id}`).toBe(true);
      }
    });
  }
});

describe('attacks and crashes, order by order', () => {
  async function journalOf(scenario: string, flaw?: string): Promise<JournalEvent[]> {
    const outcome = outcomes.get(key(scenario, flaw))!;
    return loadJournal(join(outcome.runDir, 'journal.ndjson'));
  }

  function ordersHitBy(events: JournalEvent[], fault: string): Set<string> {
    return new Set(events.flatMap((event) => (event.type === 'fault.injected' && event.fault === fault && event.orderId ? [event.orderId] : [])));
  }

  function ordersWithCards(events: JournalEvent[]): Set<string> {
    return new Set(events.flatMap((event) => (event.type === 'stock.fulfilled' && !event.repeat ? [event.orderId] : [])));
  }

  it('a forged callback never delivers on the resilient shop and always does without signature checks', async () => {
    const good = await journalOf('callback-attacks.yaml');
    const bad = await journalOf('callback-attacks.yaml', 'no-signature-check');
    const forgedGood = ordersHitBy(good, 'payment.callback.forged');
    const forgedBad = ordersHitBy(bad, 'payment.callback.forged');
    expect(forgedGood.size).toBeGreaterThan(2);
    expect(forgedBad.size).toBeGreaterThan(2);
    const deliveredGood = ordersWithCards(good);
    const deliveredBad = ordersWithCards(bad);
    for (const orderId of forgedGood) expect(deliveredGood.has(orderId), `resilient delivered forged ${orderId}`).toBe(false);
    for (const orderId of forgedBad) expect(deliveredBad.has(orderId), `flawed did not deliver forged ${orderId}`).toBe(true);
  });

  it('target.crash: every order paid before the crash is delivered or refunded after the restart; ack-before-commit loses some, named', async () => {
    const good = await journalOf('crash.yaml');
    const atRisk = ordersHitBy(good, 'target.crash');
    expect(good.some((event) => event.type === 'target.restarted')).toBe(true);
    const settled = new Set(
      good.flatMap((event) =>
        (event.type === 'stock.fulfilled' && !event.repeat) || (event.type === 'payment.refund' && event.ok && !event.repeat) ? [event.orderId] : [],
      ),
    );
    for (const orderId of atRisk) expect(settled.has(orderId), `order ${orderId} paid before the crash`).toBe(true);

    const flawed = outcomes.get(key('crash.yaml', 'ack-before-commit'))!;
    const lost = flawed.score.invariants.find((invariant) => invariant.id === 'paid-orders-settled')!;
    expect(lost.ok).toBe(false);
    expect(lost.violations.flatMap((violation) => violation.orderIds).length).toBeGreaterThan(0);
  });
});
