/**
 * What a long run's fold keeps per settled order, compactly: figures in typed-array columns
 * (`NumberColumn`, `CompletionLog`) and the checked ids in a Bloom filter sized to be almost never
 * wrong (`GrowingKeyFilter(48, 20)`, as `JournalFolder` sizes it).
 */
import { describe, expect, it } from 'vitest';
import { NumberColumn } from '../harness/score/fold-store.js';
import { CompletionLog, type Completion } from '../harness/score/recovery.js';
import { GrowingKeyFilter, hashesOf } from '../memory/key-filter.js';

describe('NumberColumn', () => {
  it('keeps every value through its growth, and sorts a copy', () => {
    const column = new NumberColumn();
    const values = Array.from({ length: 5000 }, (_, index) => ((index * 7919) % 5003) + 0.5);
    for (const value of values) column.push(value);
    expect(column.length).toBe(5000);
    expect(column.at(0)).toBe(values[0]);
    expect(column.at(4999)).toBe(values[4999]);
    expect(Array.from(column.sorted())).toEqual([...values].sort((a, b) => a - b));
    // The column itself is unchanged by sorting.
    expect(column.at(1)).toBe(values[1]);
  });
});

describe('CompletionLog', () => {
  it('gives back each completion as pushed, a failed zero-latency one included', () => {
    const log = new CompletionLog();
    const completions: Completion[] = [
      { at: 1000, latencyMs: 250, delivered: true },
      { at: 1001, latencyMs: 0, delivered: false },
      { at: 990.5, latencyMs: 12.25, delivered: true },
      ...Array.from({ length: 3000 }, (_, index) => ({ at: 2000 + index, latencyMs: index % 900, delivered: index % 3 !== 0 })),
    ];
    for (const completion of completions) log.push(completion);
    expect(log.length).toBe(completions.length);
    expect([...log]).toEqual(completions);
  });
});

describe('GrowingKeyFilter sized for the fold’s checked ids', () => {
  it('finds every id added and no other among 200,000', () => {
    const filter = new GrowingKeyFilter(48, 20);
    for (let index = 0; index < 200_000; index++) filter.add(hashesOf(`ord_${index.toString(36)}`));
    let missed = 0;
    let falsePositives = 0;
    for (let index = 0; index < 200_000; index++) {
      if (!filter.mightHave(hashesOf(`ord_${index.toString(36)}`))) missed++;
      if (filter.mightHave(hashesOf(`buy_${index.toString(36)}`))) falsePositives++;
    }
    expect(missed).toBe(0);
    expect(falsePositives).toBe(0);
  });
});
