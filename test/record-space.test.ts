/**
 * memory/'s `RecordStore` (from `openRecordSpace`): whatever the store moves out of the heap and
 * back, it answers as a `Map` would — checked against a `Map` through interleaved writes, reads,
 * deletes and sweeps — and `values()` / `entries()` see every record, in the heap or not, once.
 *
 * Deterministic: sweeps are called directly, or driven by fake timers.
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { openRecordSpace, type RecordCodec, type RecordSpace, type RecordStore } from '../memory/index.js';
import { collectGarbage } from '../memory/heap.js';
import { cleanupAfterEach } from './helpers/cleanups.js';

const defer = cleanupAfterEach();

interface Mark {
  n: number;
  tags: string[];
  open?: boolean;
}

const MARKS: RecordCodec<string, Mark> = {
  encode: (mark) => JSON.stringify(mark),
  decode: (text) => JSON.parse(text) as Mark,
  key: String,
  settled: (mark) => mark.open !== true,
};

function space(spill: 'none' | 'lookups' | 'appends'): RecordSpace {
  const opened = openRecordSpace({ spill });
  defer(() => opened.close());
  return opened;
}

/** A deterministic stream of numbers in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const sorted = <T>(entries: Array<[string, T]>): Array<[string, T]> => entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Directories of a spill kind's archives in the temporary directory. */
const archiveDirs = (prefix: string): number => readdirSync(tmpdir()).filter((name) => name.startsWith(prefix)).length;

describe.each([
  { spill: 'lookups' as const, prefix: 'ordeal-ledger-' },
  { spill: 'appends' as const, prefix: 'ordeal-fold-' },
])('a store spilling to $spill', ({ spill, prefix }) => {
  it('answers as a Map through writes, reads, changes, deletes and sweeps in any order', () => {
    const records = space(spill);
    const store = records.store('marks', MARKS);
    const model = new Map<string, Mark>();
    const next = random(7);
    let left = 0;
    for (let step = 0; step < 6000; step++) {
      const key = `k${Math.floor(next() * 400)}`;
      const roll = next();
      if (roll < 0.35) {
        const mark = { n: step, tags: [`t${step % 5}`] };
        store.set(key, mark);
        model.set(key, structuredClone(mark));
      } else if (roll < 0.55) {
        // A change made through `get` persists, even when the record had left the heap.
        const mark = store.get(key);
        expect(mark).toEqual(model.get(key));
        if (mark) {
          mark.n += 1000;
          mark.tags.push('changed');
          model.set(key, structuredClone(mark));
        }
      } else if (roll < 0.65) {
        store.delete(key);
        model.delete(key);
      } else if (roll < 0.8) {
        expect(store.peek(key)).toEqual(model.get(key));
        expect(store.has(key)).toBe(model.has(key));
      } else if (roll < 0.85) {
        left += records.sweep();
      }
    }
    // Records did leave the heap, and came back on use.
    expect(left).toBeGreaterThan(500);
    records.sweep();
    records.sweep();
    expect(records.sizes('marks')).toEqual({ hot: 0, archived: model.size });
    expect(store.size).toBe(model.size);
    for (const [key, mark] of model) expect(store.get(key)).toEqual(mark);
    expect(records.sizes('marks')).toEqual({ hot: model.size, archived: 0 });
    expect(archiveDirs(prefix)).toBeGreaterThan(0);
  });

  it('values() and entries() see every record once, in the heap and out of it', () => {
    const records = space(spill);
    const store = records.store('marks', MARKS);
    for (let index = 0; index < 300; index++) store.set(`k${index}`, { n: index, tags: [] });
    records.sweep();
    records.sweep();
    // Some back in the heap (one changed), some new, one deleted, the rest still out.
    store.get('k5')!.n = 5000;
    store.get('k6');
    store.set('new', { n: -1, tags: ['new'] });
    store.delete('k7');
    records.sweep();
    expect(records.sizes('marks').archived).toBe(297);
    const expected = new Map<string, Mark>();
    for (let index = 0; index < 300; index++) if (index !== 7) expected.set(`k${index}`, { n: index === 5 ? 5000 : index, tags: [] });
    expected.set('new', { n: -1, tags: ['new'] });
    expect(sorted([...store.entries()])).toEqual(sorted([...expected]));
    expect([...store.values()].map((mark) => mark.n).sort((a, b) => a - b)).toEqual([...expected.values()].map((mark) => mark.n).sort((a, b) => a - b));
  });

  it('keeps an unsettled record in the heap however many sweeps pass, and lets it go once settled', () => {
    const records = space(spill);
    const store = records.store('marks', MARKS);
    store.set('open', { n: 1, tags: [], open: true });
    store.set('done', { n: 2, tags: [] });
    for (let sweep = 0; sweep < 5; sweep++) records.sweep();
    expect(records.sizes('marks')).toEqual({ hot: 1, archived: 1 });
    delete store.get('open')!.open;
    records.sweep();
    records.sweep();
    expect(records.sizes('marks')).toEqual({ hot: 0, archived: 2 });
    expect(store.peek('open')).toEqual({ n: 1, tags: [] });
  });

  it('deletes its file on close; the stores then hold only what was in the heap', () => {
    const before = archiveDirs(prefix);
    const records = openRecordSpace({ spill });
    expect(archiveDirs(prefix)).toBe(before + 1);
    const store = records.store('marks', MARKS);
    store.set('out', { n: 1, tags: [] });
    records.sweep();
    records.sweep();
    store.set('in', { n: 2, tags: [] });
    records.close();
    expect(archiveDirs(prefix)).toBe(before);
    expect(store.get('out')).toBeUndefined();
    expect(store.get('in')).toEqual({ n: 2, tags: [] });
    expect(records.sweep()).toBe(0);
  });
});

describe('a space that keeps everything in the heap', () => {
  it('never moves a record, and keeps them after close', () => {
    const records = space('none');
    const store = records.store<number, Mark>('marks', { encode: MARKS.encode, decode: (text) => JSON.parse(text) as Mark, key: Number });
    for (let index = 0; index < 100; index++) store.set(index, { n: index, tags: [] });
    expect(records.sweep()).toBe(0);
    expect(records.sweep()).toBe(0);
    expect(records.spills).toBe(false);
    expect(records.sizes('marks')).toEqual({ hot: 100, archived: 0 });
    records.close();
    expect(store.get(42)).toEqual({ n: 42, tags: [] });
    expect([...store.values()]).toHaveLength(100);
  });
});

describe('stores of a space', () => {
  it('are named once each, with plain names', () => {
    const records = space('lookups');
    records.store('marks', MARKS);
    expect(() => records.store('marks', MARKS)).toThrow(/already exists/);
    expect(() => records.store('Marks; DROP', MARKS)).toThrow(/bad kind/);
  });

  it('with sweepEveryMs, are swept by a timer, each once per period, one at a time', () => {
    vi.useFakeTimers();
    defer(() => {
      vi.useRealTimers();
    });
    const records = openRecordSpace({ spill: 'lookups', sweepEveryMs: 1000 });
    defer(() => records.close());
    const first = records.store('first', MARKS);
    const second = records.store('second', MARKS);
    first.set('a', { n: 1, tags: [] });
    second.set('b', { n: 2, tags: [] });
    // Two stores: a tick every 500 ms, `first` swept at 500, 1500…, `second` at 1000, 2000…;
    // a record leaves at its store's second sweep.
    vi.advanceTimersByTime(1499);
    expect([records.sizes('first'), records.sizes('second')]).toEqual([
      { hot: 1, archived: 0 },
      { hot: 1, archived: 0 },
    ]);
    vi.advanceTimersByTime(1);
    expect(records.sizes('first')).toEqual({ hot: 0, archived: 1 });
    expect(records.sizes('second')).toEqual({ hot: 1, archived: 0 });
    vi.advanceTimersByTime(500);
    expect(records.sizes('second')).toEqual({ hot: 0, archived: 1 });
    // Once closed, nothing is swept and no timer is left.
    records.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('are not kept alive by their space: one its owner dropped is garbage, with its records', async () => {
    const records = space('none');
    let store: RecordStore<string, Mark> | undefined = records.store('marks', MARKS);
    for (let index = 0; index < 1000; index++) store.set(`k${index}`, { n: index, tags: [] });
    const ref = new WeakRef(store);
    expect(records.sizes('marks')).toEqual({ hot: 1000, archived: 0 });
    store = undefined;
    // A WeakRef's target lives to the end of the job that last read it.
    await nextTurn();
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
    expect(records.sizes('marks')).toEqual({ hot: 0, archived: 0 });
    // Its kind stays taken.
    expect(() => records.store('marks', MARKS)).toThrow(/already exists/);
  });
});
