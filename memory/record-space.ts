/**
 * `openRecordSpace()`: where `RecordStore`s come from. A space is one place records may leave the
 * heap to (an archive deleted on close), the stores made in it, and when they are swept.
 */
import { GenerationalLedger } from './generational-ledger.js';
import { LedgerArchive } from './ledger-archive.js';
import type { RecordArchive } from './record-archive.js';
import type { RecordCodec, RecordStore } from './record-store.js';
import { SegmentArchive } from './segment-archive.js';

/** Stores made in one space, swept together. */
export interface RecordSpace {
  /** A new store for records of one kind (a name unique in the space, `[a-z][a-z0-9_]*`). */
  store<K extends string | number, V>(kind: string, codec: RecordCodec<K, V>): RecordStore<K, V>;
  /**
   * Moves, in every store, the settled records not used since the previous sweep out of the heap;
   * how many moved (0 in a space that keeps everything in the heap, or once closed). A space with
   * `sweepEveryMs` also sweeps by itself.
   */
  sweep(): number;
  /** Where a kind's records are now: in the heap, or out of it (for memory checks). */
  sizes(kind: string): { hot: number; archived: number };
  /** Whether records may leave the heap at all. */
  readonly spills: boolean;
  /** Stops sweeping and deletes what left the heap: the stores then hold only what is in the heap. */
  close(): void;
}

export interface RecordSpaceOptions {
  /**
   * Where settled, idle records go. `'none'` keeps every record in the heap. `'lookups'`, for
   * records read again at random while a load runs (the mocks' ledgers): a SQLite file with an
   * index on the key (`LedgerArchive`). `'appends'`, for records mostly written once and walked at
   * the end (the scorer's fold): segments appended to a flat file (`SegmentArchive`).
   * @default 'none'
   */
  spill?: 'none' | 'lookups' | 'appends';
  /**
   * Sweep on a timer (which does not keep the process alive): each store once per this period, one
   * store at a time. Without it, the space's owner calls `sweep()`.
   */
  sweepEveryMs?: number;
}

export function openRecordSpace(options: RecordSpaceOptions = {}): RecordSpace {
  const spill = options.spill ?? 'none';
  const archive = spill === 'lookups' ? new LedgerArchive() : spill === 'appends' ? new SegmentArchive() : undefined;
  return new Space(archive, archive === undefined ? undefined : options.sweepEveryMs);
}

const KIND = /^[a-z][a-z0-9_]*$/;

type AnyStore = GenerationalLedger<string | number, unknown>;

/**
 * A space does not keep its stores alive: a store its owner dropped (the fold's trade numbers and
 * metric marks once the run is folded, while the run is scored) is garbage with the records it
 * had in the heap. Its kind stays taken: the archive may still hold its records until closed.
 */
class Space implements RecordSpace {
  private readonly stores = new Map<string, WeakRef<AnyStore>>();
  /** The store the timer sweeps next (an index into `stores`, in creation order). */
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly archive: RecordArchive | undefined,
    private readonly sweepEveryMs: number | undefined,
  ) {}

  get spills(): boolean {
    return this.archive !== undefined;
  }

  store<K extends string | number, V>(kind: string, codec: RecordCodec<K, V>): RecordStore<K, V> {
    if (!KIND.test(kind)) throw new Error(`record space: bad kind "${kind}"`);
    if (this.stores.has(kind)) throw new Error(`record space: a store of kind "${kind}" already exists`);
    if (this.closed) throw new Error('record space: closed');
    const store = new GenerationalLedger<K, V>(kind, codec);
    store.attach(this.archive);
    this.stores.set(kind, new WeakRef(store as unknown as AnyStore));
    // The tick's length depends on the number of stores.
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule();
    return store;
  }

  sweep(): number {
    let moved = 0;
    for (const store of this.stores.values()) moved += store.deref()?.sweep() ?? 0;
    return moved;
  }

  sizes(kind: string): { hot: number; archived: number } {
    const store = this.stores.get(kind)?.deref();
    return { hot: store?.hotSize ?? 0, archived: store?.archivedSize() ?? (this.stores.has(kind) ? (this.archive?.count(kind) ?? 0) : 0) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.archive?.close();
  }

  /**
   * Sweeps one store per tick, in turn, so that each is swept once per `sweepEveryMs`: a sweep
   * runs synchronously, and several small ones delay the event loop (the mocks' injected
   * latencies, their timers) less than one sweep of everything.
   */
  private schedule(): void {
    if (this.sweepEveryMs === undefined || this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const stores = [...this.stores.values()];
      if (stores.length > 0) {
        this.next %= stores.length;
        stores[this.next++]!.deref()?.sweep();
      }
      this.schedule();
    }, this.sweepEveryMs / Math.max(1, this.stores.size));
    this.timer.unref();
  }
}
