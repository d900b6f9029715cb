/**
 * The one interface the mocks and the scorer keep records through, when there may be too many of
 * them to keep in the heap for a whole run: a keyed store that reads as a `Map`. See
 * memory/README.md for what it guarantees and how it is used.
 */

/** How a store's records are written out when they leave the heap, and read back. */
export interface RecordCodec<K extends string | number, V> {
  encode(value: V): string;
  decode(text: string, key: K): V;
  /** The key back from its text form (`String(key)`): `String` or `Number`. */
  key(text: string): K;
  /**
   * Whether the record may leave the heap now: nothing left to happen to it on its own (no timer
   * holds it, no deadline will change it unasked). Unsettled records stay in the heap however long
   * they are idle. Default: every record is settled.
   */
  settled?(value: V): boolean;
}

/**
 * Records by key, for the whole run. What `set` stored, `get` gives back — wherever the record is
 * meanwhile — until `delete`. Settled records nobody touched for a while may leave the heap;
 * `get`, `has`, `peek` and `values` find them all the same.
 *
 * One rule comes with it: the object `get` returns is the stored record (change it in place, as
 * with a `Map`), but an object from `peek`, `values` or `entries` may be a copy, so change records
 * only through `get` (or `set` them again).
 */
export interface RecordStore<K extends string | number, V> {
  /** The record, which stays in the heap for a while now that it was used. */
  get(key: K): V | undefined;
  /** The record without counting as a use (possibly a copy: see above). */
  peek(key: K): V | undefined;
  has(key: K): boolean;
  set(key: K, value: V): void;
  delete(key: K): void;
  /** Every record, in no promised order (possibly copies). Reads records out of the heap a page at a time, so a walk never holds them all. */
  values(): IterableIterator<V>;
  /** Every key and record, as `values`. */
  entries(): IterableIterator<[K, V]>;
  /** Records stored, in the heap or not (may take a query: for checks and reports, not hot paths). */
  readonly size: number;
}
