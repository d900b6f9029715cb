/**
 * tinybench micro-benchmarks of the hot functions: the fault decision, callback signing and
 * verification, journal append (file and memory), the scorer's fold per event, and generating a
 * seeded buyer.
 *
 *   npm run bench:micro [-- --time 1000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { FileJournal, MemoryJournal, type JournalEvent } from '../core/journal.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { BuyerFactory } from '../harness/drive/buyers.js';
import { JournalFolder } from '../harness/score/score.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { signBody, verifySignature } from '../mocks/signature.js';
import { SCORING_SCENARIO, writeSyntheticJournal } from './journal-gen.js';
import { readJournal } from '../core/journal.js';
import { log, numberArg, parseArgs, round, runMain, table, writeResult } from './lib.js';

async function main(): Promise<void> {
  const args = parseArgs();
  const time = numberArg(args, 'time', 1000);
  const dir = mkdtempSync(join(tmpdir(), 'ordeal-micro-'));
  try {
    const scenario = scenarioSchema.parse({
      ...SCORING_SCENARIO,
      faults: [
        { id: 'payment.callback.drop', probability: 0.3 },
        { id: 'payment.latency', probability: 0.5, window: '5s..10s', delay: { lognormal: { median: '80ms', sigma: 0.5 } } },
        { id: 'stock.stale', probability: 0.1 },
      ],
    });
    const plan = new FaultPlan(scenario.faults, 7, () => 6000);
    const latency = scenario.faults[1]!;
    const delay = latency.id === 'payment.latency' ? latency.delay : { fixed: 10 };
    const buyers = Array.from({ length: 1024 }, (_, index) => `buyer-${String(index).padStart(6, '0')}`);
    let cursor = 0;
    const nextBuyer = (): string => buyers[cursor++ & 1023]!;

    const secret = 'a3f1c0d2e4b5a6978877665544332211aabbccddeeff0011';
    const body = JSON.stringify({ notifyId: 'N0000000001', tradeNo: 'T0000000001', outTradeNo: 'ord_0000abcd', status: 'TRADE_SUCCESS', amount: 3000, paidAt: '2026-01-01T00:00:00.000Z' });
    const header = signBody(secret, body);

    const fileJournal = new FileJournal(join(dir, 'journal.ndjson'));
    const memoryJournal = new MemoryJournal();
    const payload = { orderId: 'ord_0000abcd', tradeNo: 'T0000000001', notifyId: 'N0000000001', status: 'TRADE_SUCCESS' as const, attempt: 1, copy: 1, acked: true, latencyMs: 1.234, httpStatus: 200 };

    // Events for the fold: a slice of the synthetic journal, in memory.
    const journalPath = join(dir, 'fold.ndjson');
    await writeSyntheticJournal(journalPath, 200_000);
    const events: JournalEvent[] = [];
    for await (const event of readJournal(journalPath)) events.push(event);
    let folder = new JournalFolder();
    let eventIndex = 0;
    let lineIndex = 0;
    const lines = events.slice(0, 4096).map((event) => JSON.stringify(event));

    // A buyer per arrival number, as a run makes them (faker re-seeded for each).
    const buyerFactory = new BuyerFactory(scenario, 7, { skus: scenario.catalog.skus.map(({ sku, price }) => ({ sku, price })) });
    let buyerSeq = 0;

    const bench = new Bench({ time, warmup: true });
    bench
      .add('fault decision: plan.first(payment.callback.drop, buyer)', () => {
        plan.first('payment.callback.drop', nextBuyer());
      })
      .add('fault decision: plan.hits(payment.latency) in window + delayFor', () => {
        const buyer = nextBuyer();
        const hit = plan.first('payment.latency', buyer);
        if (hit) plan.delayFor(hit.index, delay, buyer, 'create#1');
      })
      .add('signing: signBody (HMAC-SHA256 of a callback)', () => {
        signBody(secret, body, 1_767_225_600);
      })
      .add('signing: verifySignature', () => {
        verifySignature(secret, header, body, Number(header.slice(2, header.indexOf(','))));
      })
      .add('journal append: FileJournal (stringify + stream write)', () => {
        fileJournal.append('payment.callback.sent', payload);
      })
      .add('journal append: MemoryJournal', () => {
        memoryJournal.append('payment.callback.sent', payload);
        if (memoryJournal.events.length > 100_000) memoryJournal.events.length = 0;
      })
      .add('scorer: JournalFolder.add per event', () => {
        if (eventIndex >= events.length) {
          folder = new JournalFolder();
          eventIndex = 0;
        }
        folder.add(events[eventIndex++]!);
      })
      .add('scorer: JSON.parse of a journal line', () => {
        JSON.parse(lines[lineIndex++ & 4095]!);
      })
      .add('buyers: BuyerFactory.create (one seeded buyer)', () => {
        buyerFactory.create(buyerSeq++);
      });
    await bench.run();
    await fileJournal.close();

    const rows = bench.tasks.map((task) => {
      const result = task.result;
      if (!result || result.error) throw new Error(`${task.name}: ${result?.error?.message ?? 'no result'}`);
      // ops/s from the mean latency (tinybench's throughput.mean averages per-sample rates, which overstates).
      return { name: task.name, opsPerSecond: 1000 / result.latency.mean, meanUs: result.latency.mean * 1000, p99Us: (result.latency.p99 ?? Number.NaN) * 1000, rme: result.latency.rme, samples: result.latency.samples.length };
    });
    process.stdout.write(
      `\nMicro-benchmarks (tinybench, ${time} ms per task)\n\n${table(
        ['function', 'ops/s', 'mean µs', 'p99 µs', '± %', 'samples'],
        rows.map((row) => [row.name, Math.round(row.opsPerSecond), round(row.meanUs, 3), round(row.p99Us, 3), round(row.rme, 2), row.samples]),
      )}\n`,
    );
    const path = writeResult('micro', { time, rows });
    log(`results: ${path}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
