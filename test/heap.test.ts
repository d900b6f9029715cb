/**
 * memory/heap.ts: a full collection on demand, in a process started without --expose-gc; V8's
 * heap growth bounded while a load runs.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { collectGarbage, HeapBound } from '../memory/heap.js';

const run = promisify(execFile);

/** Peak heap used (MiB) of the churn fixture's two rounds, in a fresh process (the built module). */
async function churnPeaks(mode: 'bound' | 'free'): Promise<{ first: number; second: number }> {
  const { stdout } = await run(process.execPath, [join('test', 'fixtures', 'heap-churn.mjs'), join(process.cwd(), 'dist', 'memory', 'heap.js'), mode], {
    // The child needs ~4 s of CPU; on a machine shared with other work it may wait far longer for it.
    timeout: 120_000,
  });
  return JSON.parse(stdout) as { first: number; second: number };
}

describe('collectGarbage', () => {
  it('frees what became unreachable, and exposes no global gc', async () => {
    let garbage: Array<{ id: number; text: string }> | undefined = Array.from({ length: 300_000 }, (_, id) => ({ id, text: `record ${id}` }));
    const ref = new WeakRef(garbage);
    expect(garbage).toHaveLength(300_000);
    garbage = undefined;
    // A WeakRef's target lives to the end of the job that last read it.
    await nextTurn();
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    // Again: the collector is made once.
    expect(() => collectGarbage()).not.toThrow();
  });
});

describe('boundHeapGrowth', () => {
  it('keeps the heap near the live set while held, and gives V8 its default back when released', async () => {
    // About 25 MiB live at any time; by default V8 lets garbage that died old grow to ~200 MiB.
    const [bound, free] = await Promise.all([churnPeaks('bound'), churnPeaks('free')]);
    expect(bound.first).toBeLessThan(free.first * 0.75);
    expect(bound.second).toBeGreaterThan(bound.first * 1.3);
  }, 150_000);
});

describe('HeapBound', () => {
  it('collects when the old generation has grown past its headroom, not for garbage that dies young', () => {
    const bound = new HeapBound(16 * 2 ** 20);
    bound.check(); // from here on, growth counts from what the last collection left
    let sum = 0;
    for (let round = 0; round < 800; round++) {
      // Records that die young, a few thousand at a time (in arrays under V8's large-object size,
      // which would be allocated old): scavenges take them.
      const young = Array.from({ length: 5_000 }, (_, id) => ({ id, text: `young ${id}` }));
      sum += young.length;
      expect(bound.check()).toBe(false);
    }
    expect(sum).toBe(4_000_000);
    // Records that live long enough to be promoted: the old generation grows by ~40 MiB.
    const kept = Array.from({ length: 400_000 }, (_, id) => ({ id, text: `kept ${id}` }));
    collectGarbage();
    expect(bound.check()).toBe(true);
    expect(bound.check()).toBe(false);
    expect(kept).toHaveLength(400_000);
  });
});
