/**
 * The accounting line at scale: a generated run (./journal-gen.ts) and the same run with gaps made
 * on purpose — every 1000th buyer's create answer lost, every 1000th other one's delivered order
 * shown expired instead (its card unseen) — each scored from its file by the bounded fold. Shared
 * by test/accounting-scale.test.ts (20k orders, in `npm test`) and ./accounting.ts (100k).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { JournalEventOf } from '../core/journal.js';
import type { Accounting, GateResult } from '../core/report-types.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { evaluateGate } from '../harness/score/gate.js';
import { scoreJournalFile } from '../harness/score/score.js';
import { SCORING_SCENARIO, writeSyntheticJournal } from './journal-gen.js';

/** About 14 events per buyer (13 delivered without a fault, 8 more abandoned, 1 more reconciled). */
const EVENTS_PER_BUYER = 14.1;

export interface ScoredJournal {
  accounting: Accounting;
  gate: GateResult;
  /** Time to fold and score the file (ms). */
  scoreMs: number;
}

export interface AccountingAtScale {
  buyers: number;
  /** Buyers whose create answer the gap journal lost. */
  lost: number;
  /** Delivered orders the gap journal shows expired instead, their cards unseen. */
  expired: number;
  balanced: ScoredJournal;
  gaps: ScoredJournal;
  paths: { balanced: string; gaps: string };
}

/** Writes both journals of about `orders` buyers under `dir` and scores each. */
export async function accountingAtScale(dir: string, orders: number): Promise<AccountingAtScale> {
  const paths = { balanced: join(dir, 'balanced.ndjson'), gaps: join(dir, 'gaps.ndjson') };
  await writeSyntheticJournal(paths.balanced, Math.ceil(orders * EVENTS_PER_BUYER));
  let buyers = 0;
  let lost = 0;
  let expired = 0;
  // Only the lines changed are parsed.
  const out = createWriteStream(paths.gaps);
  const indexOf = (line: string): number => Number(/"buyerId":"buyer-(\d+)"/.exec(line)?.[1] ?? 0) - 1;
  for await (const line of createInterface({ input: createReadStream(paths.balanced) })) {
    let written = line;
    if (line.includes('"type":"buyer.arrived"')) buyers++;
    else if (line.includes('"type":"order.create.answered"') && indexOf(line) % 1000 === 0) {
      lost++;
      continue;
    } else if (line.includes('"type":"order.observed"') && line.includes('"status":"delivered"') && indexOf(line) % 1000 === 500) {
      const event = JSON.parse(line) as JournalEventOf<'order.observed'>;
      written = JSON.stringify({ seq: event.seq, t: event.t, type: event.type, orderId: event.orderId, buyerId: event.buyerId, status: 'expired', cards: 0, source: 'poll' });
      expired++;
    }
    if (!out.write(`${written}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  const scenario = scenarioSchema.parse(SCORING_SCENARIO);
  const score = async (path: string): Promise<ScoredJournal> => {
    const started = performance.now();
    const { score: scored } = await scoreJournalFile(path, scenario);
    return { accounting: scored.accounting, gate: evaluateGate(scored, scenario), scoreMs: performance.now() - started };
  };
  return { buyers, lost, expired, balanced: await score(paths.balanced), gaps: await score(paths.gaps), paths };
}

/** Buyers of the generated run who abandon payment (every 20th, index % 20 === 7): no money, no card. */
export function abandonedOf(buyers: number): number {
  return buyers < 8 ? 0 : Math.floor((buyers - 8) / 20) + 1;
}
