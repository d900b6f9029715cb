/** collectGarbage (harness/heap.ts): a full collection on demand, in a process started without --expose-gc. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../harness/heap.js';

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
