/**
 * target.crash: its stage rules, counted from the restart, and the steady state leaving out what
 * it caught — buyers arriving to a dead shop or waiting through its restart are the crash's, not
 * fault-free, so a slow restart on a busy machine cannot fail the steady-state gate of a shop that
 * recovers correctly (issue 14, item 11).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalEvent } from '../core/journal.js';
import { scoreJournalFile } from '../harness/score/score.js';
import { steadyLeftOut } from '../core/report-reading.js';
import { JournalBuilder, contactOf, expectFullCredit, incident, makeScenario, score } from './score-journal.js';

const C1 = contactOf('b1');
/** Buyer b1 arrived and o1's stock is reserved. */
const arrived = (): JournalBuilder => new JournalBuilder().buyer(0, 'b1').reserved(5, 'o1');

const scenario = makeScenario({
  faults: [{ id: 'target.crash', at: 1000, pause: 1000 }],
  gate: { minScore: 0, steadyState: { successRate: 0.95 } },
});

/**
 * Ten happy buyers before the kill at 1000; the shop back (health answered) at 4600 — a slow
 * restart. Three buyers arrive while it is down and fail at once; one was waiting for its order
 * across the kill and is delivered after the restart; ten more are happy after it.
 */
function crashedRun(): JournalBuilder {
  const journal = new JournalBuilder();
  for (let index = 0; index < 10; index++) journal.happy(index * 50, `early${index}`, `oe${index}`);
  journal.buyer(900, 'waiting').created(910, 'waiting', 'ow');
  journal.killed(1000);
  for (let index = 0; index < 3; index++) {
    const t = 1500 + index * 500;
    journal.buyer(t, `down${index}`).createFailed(t + 5, `down${index}`, { httpStatus: 0, error: 'ECONNREFUSED' }).finished(t + 5, `down${index}`, undefined, 'failed', 5);
  }
  journal.restarted(4600, 3600);
  journal.paid(4700, 'ow').fulfilled(4710, 'ow').observed(4720, 'ow', 'waiting', 'delivered', { cards: 1 }).finished(4720, 'waiting', 'ow', 'delivered', 3820);
  for (let index = 0; index < 10; index++) journal.happy(5000 + index * 50, `late${index}`, `ol${index}`);
  return journal;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ordeal-steady-crash-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the steady state around a target.crash', () => {
  it('leaves out the buyers who met the dead shop, and counts them apart', async () => {
    const result = await score(crashedRun(), scenario);
    expect(result.steadyState).toMatchObject({ orders: 20, succeeded: 20, successRate: 1, ok: true, caughtByCrash: 4 });
  });

  it('the archiving fold of the journal file agrees (buyers settled as they go are checked against the windows seen so far)', async () => {
    const path = join(dir, 'journal.ndjson');
    const events: readonly JournalEvent[] = crashedRun().events;
    await writeFile(path, events.map((event) => `${JSON.stringify(event)}\n`).join(''));
    const { score: fromFile } = await scoreJournalFile(path, scenario);
    expect(fromFile.steadyState).toMatchObject({ orders: 20, succeeded: 20, caughtByCrash: 4 });
  });

  it('a kill never followed by a restart catches every buyer from the kill on', async () => {
    const journal = new JournalBuilder().happy(0, 'b1', 'o1').killed(500);
    journal.buyer(600, 'b2').createFailed(605, 'b2', { httpStatus: 0, error: 'ECONNREFUSED' }).finished(605, 'b2', undefined, 'failed', 5);
    const result = await score(journal, scenario);
    expect(result.steadyState).toMatchObject({ orders: 1, succeeded: 1, caughtByCrash: 1 });
  });

  it('without a crash nothing is left out, and a failed fault-free order still counts against the shop', async () => {
    const journal = new JournalBuilder().happy(0, 'b1', 'o1');
    journal.buyer(600, 'b2').createFailed(605, 'b2', { httpStatus: 500 }).finished(605, 'b2', undefined, 'failed', 5);
    const result = await score(journal, makeScenario());
    expect(result.steadyState.orders).toBe(2);
    expect(result.steadyState.succeeded).toBe(1);
    expect(result.steadyState.caughtByCrash).toBeUndefined();
  });
});

describe('steadyLeftOut', () => {
  it('names what the steady state left out, or nothing', () => {
    expect(steadyLeftOut({ caughtByCrash: 4, soldOut: 2 })).toBe('4 caught by the crash, 2 genuinely sold out');
    expect(steadyLeftOut({})).toBeUndefined();
  });
});

describe('target.crash', () => {
  const crashed = (): JournalBuilder =>
    arrived()
      .created(10, 'b1', 'o1')
      .paid(1500, 'o1')
      .killed(2000)
      .fault(2000, 'target.crash', { orderId: 'o1', buyerId: 'b1' })
      .restarted(3000);

  it('detects the order’s first shop call after the restart; recovers by delivery', async () => {
    const result = await incident(
      crashed().queried(3300, 'o1').fulfilled(3400, 'o1').message(3500, 'o1', C1, 'delivered'),
      'target.crash',
    );
    // Stage times count from the restart (3000), when the shop could act again.
    expectFullCredit(result, { detect: [3300, 300], notify: [3500, 500], recover: [3400, 400] });
  });

  it('does not detect without a restart, and recovers by a refund', async () => {
    const noRestart = arrived().created(10, 'b1', 'o1').paid(1500, 'o1').killed(2000).fault(2000, 'target.crash', { orderId: 'o1' }).queried(2500, 'o1');
    expect((await incident(noRestart, 'target.crash')).stages.detect.at).toBeUndefined();
    const refunded = await incident(crashed().refund(4000, 'o1').message(4100, 'o1', C1, 'refunded'), 'target.crash');
    expect(refunded.stages.detect.at).toBe(4000);
    expect(refunded.stages.recover.at).toBe(4000);
  });

  it('counts its deadlines from the restart: a machine slow to restart the shop does not eat them', async () => {
    // D = 3 s from the restart at 3000: a query at 7500 is 1.5·D → 0.5.
    expect((await incident(crashed().queried(7500, 'o1'), 'target.crash')).stages.detect.credit).toBe(0.5);
    // The same query after a restart that took until 5600 (a busy machine): 1.9 s → full credit.
    const slowRestart = arrived().created(10, 'b1', 'o1').paid(1500, 'o1').killed(2000).fault(2000, 'target.crash', { orderId: 'o1', buyerId: 'b1' }).restarted(5600, 3600);
    expect((await incident(slowRestart.queried(7500, 'o1'), 'target.crash')).stages.detect).toMatchObject({ ms: 1900, credit: 1 });
    // Never restarted: the clock starts when the pause ended (2000 + 1000).
    const noRestart = arrived().created(10, 'b1', 'o1').paid(1500, 'o1').killed(2000).fault(2000, 'target.crash', { orderId: 'o1' }).refund(6000, 'o1');
    expect((await incident(noRestart, 'target.crash')).stages.recover).toMatchObject({ at: 6000, ms: 3000, credit: 1 });
  });
});
