/**
 * The `RecordStore` every `RecordSpace` hands out: records live in two in-memory generations; a
 * sweep moves the settled records of the older generation to the space's archive (in one batch)
 * and starts a new generation, so a record leaves the heap after one to two sweep periods without
 * being touched. Any lookup that misses the heap falls back to the archive and brings the record
 * back. Without an archive it is a plain map: nothing is ever swept.
 */
import type { RecordArchive } from './record-archive.js';
import type { RecordCodec, RecordStore } from './record-store.js';

/** A `RecordCodec` whose `settled` is spelt out (the form `GenerationalLedger`'s first users wrote). */
export type LedgerCodec<K extends string | number, V> = Required<RecordCodec<K, V>>;

export class GenerationalLedger<K extends string | number, V> implements RecordStore<K, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();
  private archive: RecordArchive | undefined;

  constructor(
    private readonly kind: string,
    private readonly codec: RecordCodec<K, V>,
  ) {}

  /** Starts archiving into `archive` (at the next sweep). */
  attach(archive: RecordArchive | undefined): void {
    this.archive = archive;
  }

  get(key: K): V | undefined {
    const hot = this.current.get(key);
    if (hot !== undefined) return hot;
    const warm = this.previous.get(key);
    if (warm !== undefined) {
      this.previous.delete(key);
      this.current.set(key, warm);
      return warm;
    }
    if (!this.archive) return undefined;
    const text = this.archive.take(this.kind, String(key));
    if (text === undefined) return undefined;
    const value = this.codec.decode(text, key);
    this.current.set(key, value);
    return value;
  }

  peek(key: K): V | undefined {
    const hot = this.current.get(key) ?? this.previous.get(key);
    if (hot !== undefined || !this.archive) return hot;
    const text = this.archive.get(this.kind, String(key));
    return text === undefined ? undefined : this.codec.decode(text, key);
  }

  has(key: K): boolean {
    return this.current.has(key) || this.previous.has(key) || (this.archive?.has(this.kind, String(key)) ?? false);
  }

  set(key: K, value: V): void {
    this.previous.delete(key);
    this.current.set(key, value);
  }

  delete(key: K): void {
    this.current.delete(key);
    this.previous.delete(key);
    this.archive?.take(this.kind, String(key));
  }

  get size(): number {
    return this.hotSize + this.archivedSize();
  }

  /** Records in the heap. */
  get hotSize(): number {
    return this.current.size + this.previous.size;
  }

  /** Records in the archive. */
  archivedSize(): number {
    return this.archive?.count(this.kind) ?? 0;
  }

  /** Every record: the heap's, then the archive's (decoded copies, not brought back). */
  all(): Array<[K, V]> {
    return [...this.entries()];
  }

  /** The records in the heap (a snapshot: the heap may change while it is walked). */
  heapValues(): V[] {
    return [...this.previous.values(), ...this.current.values()];
  }

  /** Every record without bringing any back: the heap's (a snapshot), then the archive's a page at a time (decoded copies). */
  *values(): Generator<V> {
    yield* this.heapValues();
    if (!this.archive) return;
    for (const [key, text] of this.archive.walk(this.kind)) yield this.codec.decode(text, this.codec.key(key));
  }

  *entries(): Generator<[K, V]> {
    yield* [...this.previous, ...this.current];
    if (!this.archive) return;
    for (const [key, text] of this.archive.walk(this.kind)) {
      const typed = this.codec.key(key);
      yield [typed, this.codec.decode(text, typed)];
    }
  }

  /**
   * Archives the settled records not touched since the last sweep (in one batch) and starts a new
   * generation. Returns how many were archived.
   */
  sweep(): number {
    const archive = this.archive;
    if (!archive || archive.isClosed) return 0;
    const batch: Array<[string, string]> = [];
    for (const [key, value] of this.previous) {
      if (this.codec.settled === undefined || this.codec.settled(value)) batch.push([String(key), this.codec.encode(value)]);
      else this.current.set(key, value);
    }
    archive.putMany(this.kind, batch);
    this.previous = this.current;
    this.current = new Map();
    return batch.length;
  }
}
