/**
 * The scorer's segment archive (`memory/segment-archive.ts`): records appended a sweep at a time,
 * found again by key (newest live copy), taken back, re-archived, walked once, deleted on close.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { GenerationalLedger } from '../memory/generational-ledger.js';
import { SegmentArchive } from '../memory/segment-archive.js';

const archives: SegmentArchive[] = [];
function archive(): SegmentArchive {
  const made = new SegmentArchive();
  archives.push(made);
  return made;
}

afterEach(() => {
  for (const made of archives.splice(0)) made.close();
});

const walked = (store: SegmentArchive, kind: string): Record<string, string> => Object.fromEntries(store.walk(kind));

describe('SegmentArchive', () => {
  it('finds every record of every segment by key, keys and values of any text', () => {
    const store = archive();
    const odd = ['a:b', '12:34', 'line\nbreak', 'é卡🎴', ''];
    store.putMany('orders', odd.map((key, index) => [key, `value ${index} :: ${key}`]));
    store.putMany('orders', [['o1', '{"t":1}']]);
    store.putMany('buyers', [['o1', 'a buyer, not an order']]);
    odd.forEach((key, index) => expect(store.get('orders', key)).toBe(`value ${index} :: ${key}`));
    expect(store.get('orders', 'o1')).toBe('{"t":1}');
    expect(store.get('buyers', 'o1')).toBe('a buyer, not an order');
    expect(store.has('orders', 'never')).toBe(false);
    expect(store.get('other', 'o1')).toBeUndefined();
    expect(store.count('orders')).toBe(6);
  });

  it('takes a record back (gone until archived again; the newest copy wins), and walks live copies once', () => {
    const store = archive();
    store.putMany('orders', [['o1', 'first'], ['o2', 'two']]);
    store.putMany('orders', [['o3', 'three']]);
    expect(store.take('orders', 'o1')).toBe('first');
    expect(store.get('orders', 'o1')).toBeUndefined();
    expect(store.take('orders', 'o1')).toBeUndefined();
    expect(store.count('orders')).toBe(2);
    expect(walked(store, 'orders')).toEqual({ o2: 'two', o3: 'three' });

    store.putMany('orders', [['o1', 'second']]);
    expect(store.get('orders', 'o1')).toBe('second');
    // Archived again without being taken: the older copy goes stale.
    store.putMany('orders', [['o2', 'two again']]);
    expect(store.get('orders', 'o2')).toBe('two again');
    expect(store.count('orders')).toBe(3);
    expect([...store.walk('orders')]).toEqual([
      ['o3', 'three'],
      ['o1', 'second'],
      ['o2', 'two again'],
    ]);
  });

  it('finds keys in old segments after many newer ones were read', () => {
    const store = archive();
    for (let segment = 0; segment < 40; segment++) {
      store.putMany('orders', Array.from({ length: 50 }, (_, index) => [`o${segment}-${index}`, `v${segment}-${index}`] as const));
    }
    for (let segment = 39; segment >= 0; segment -= 3) expect(store.get('orders', `o${segment}-7`)).toBe(`v${segment}-7`);
    expect(store.get('orders', 'o0-49')).toBe('v0-49');
    expect(store.get('orders', 'o40-0')).toBeUndefined();
    expect(store.count('orders')).toBe(2000);
    expect(Object.keys(walked(store, 'orders'))).toHaveLength(2000);
  });

  it('deletes its file on close, and finds nothing after', () => {
    const store = archive();
    store.putMany('orders', [['o1', 'one']]);
    expect(existsSync(store.directory)).toBe(true);
    store.close();
    expect(existsSync(store.directory)).toBe(false);
    expect(store.get('orders', 'o1')).toBeUndefined();
    expect(store.count('orders')).toBe(0);
    expect([...store.walk('orders')]).toEqual([]);
    store.putMany('orders', [['o2', 'two']]);
    expect(store.isClosed).toBe(true);
  });

  it('backs a GenerationalLedger: idle records leave the heap, a lookup brings one back, a peek does not', () => {
    const ledger = new GenerationalLedger<string, { n: number }>('marks', {
      encode: (mark) => String(mark.n),
      decode: (text) => ({ n: Number(text) }),
      key: (text) => text,
      settled: (mark) => mark.n >= 0,
    });
    ledger.attach(archive());
    for (let index = 0; index < 100; index++) ledger.set(`k${index}`, { n: index });
    ledger.set('open', { n: -1 });
    ledger.sweep();
    ledger.sweep();
    expect(ledger.hotSize).toBe(1);
    expect(ledger.archivedSize()).toBe(100);
    expect(ledger.peek('k5')).toEqual({ n: 5 });
    expect(ledger.hotSize).toBe(1);
    const revived = ledger.get('k7')!;
    revived.n = 700;
    expect(ledger.hotSize).toBe(2);
    expect(ledger.archivedSize()).toBe(99);
    ledger.sweep();
    ledger.sweep();
    expect(ledger.peek('k7')).toEqual({ n: 700 });
    expect([...ledger.values()].map((mark) => mark.n).sort((a, b) => a - b).slice(-2)).toEqual([99, 700]);
    expect([...ledger.values()]).toHaveLength(101);
  });
});
