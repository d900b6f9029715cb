/**
 * Where settled, idle ledger records go, so the JS heap holds only the open and recent ones however
 * long the run. It is a cache of the run, not durable data: no journal, no syncing; deleted on
 * close and at process exit.
 *
 * `LedgerArchive` (the mocks'): a SQLite file in a fresh temporary directory (better-sqlite3, one
 * table per kind of record, key → compact text value), for records looked up again at random while
 * the load runs. Rows are appended in archive order (rowid) and found through an index on a 53-bit
 * hash of the key: an insert touches the table's last page and a small integer index, not a
 * B-tree of random text keys (three times cheaper measured here). The scorer's fold, which writes
 * far more than it reads back, uses `SegmentArchive` (`mocks/segment-archive.ts`).
 *
 * `GenerationalLedger` is the hot side, over either: records live in two in-memory generations; a
 * sweep moves the settled records of the older generation to the archive (in one batch) and starts
 * a new generation, so a record is archived after one to two sweep periods without being touched.
 * Any lookup that misses the hot maps falls back to the archive and brings the record back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** How often the mocks assembled by `createMocks()` sweep settled records to their archive, ms. */
export const ARCHIVE_SWEEP_MS = 1000;

/** A Bloom filter of `bits` bits (a power of two) over keys hashed by `hashesOf`. */
export class KeyFilter {
  private readonly words: Uint32Array;
  private readonly mask: number;

  constructor(bits: number, private readonly probes: number) {
    this.words = new Uint32Array(Math.max(1, bits >>> 5));
    this.mask = bits - 1;
  }

  add([h1, h2]: readonly [number, number]): void {
    for (let i = 0; i < this.probes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      this.words[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  mightHave([h1, h2]: readonly [number, number]): boolean {
    for (let i = 0; i < this.probes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** Bits per key a filter is sized for; with 6 probes, ≈ 0.05 % false positives at that load. */
const FILTER_BITS_PER_KEY = 16;

/** The smallest power-of-two filter size giving `keys` keys `bitsPerKey` bits each. */
export function filterBits(keys: number, bitsPerKey = FILTER_BITS_PER_KEY): number {
  let bits = 64;
  while (bits < keys * bitsPerKey) bits *= 2;
  return bits;
}

/**
 * Keys ever archived in a kind, approximately, so that looking up a key that was never archived —
 * every new order's first lookup in every ledger — costs a few hashes instead of a query (those
 * were ~12 % of the harness's CPU at 1,500 orders/s). A scalable Bloom filter: a new part, twice
 * the size of the last, whenever the last is full (16k keys in 32 KiB first), so a short run
 * touches little memory and a long one stays selective. False positives only cost the query.
 */
export class GrowingKeyFilter {
  private readonly parts: Array<{ filter: KeyFilter; capacity: number; count: number }> = [];

  /**
   * @param bitsPerKey and `probes`: each part's sizing; the default (16, 6) gives ≈ 0.05 % false
   *   positives per part, (48, 20) ≈ 10⁻⁹ for a filter that must almost never be wrong.
   */
  constructor(
    private readonly bitsPerKey = FILTER_BITS_PER_KEY,
    private readonly probes = 6,
  ) {}

  add(hashed: readonly [number, number]): void {
    let last = this.parts[this.parts.length - 1];
    if (!last || last.count >= last.capacity) {
      const capacity = last ? last.capacity * 2 : 16_384;
      last = { filter: new KeyFilter(filterBits(capacity, this.bitsPerKey), this.probes), capacity, count: 0 };
      this.parts.push(last);
    }
    last.filter.add(hashed);
    last.count++;
  }

  mightHave(hashed: readonly [number, number]): boolean {
    for (const part of this.parts) if (part.filter.mightHave(hashed)) return true;
    return false;
  }

  /** Nothing added yet (a caller can skip hashing a key). */
  get isEmpty(): boolean {
    return this.parts.length === 0;
  }
}

/** Two 32-bit FNV-1a hashes of a string with different offsets (the second forced odd). */
export function hashesOf(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x01000193);
  }
  b ^= b >>> 15;
  return [a >>> 0, (b | 1) >>> 0];
}

/** The index hash of a key: 53 bits from its two filter hashes (a safe integer; collisions are told apart by the key). */
function indexHash([h1, h2]: [number, number]): number {
  return h1 * 2 ** 21 + (h2 & 0x1fffff);
}

interface KindStatements {
  /** Keys ever put into this kind's table (approximate). */
  filter: GrowingKeyFilter;
  put: Database.Statement<[number, string, string]>;
  get: Database.Statement<[number, string]>;
  remove: Database.Statement<[number, string]>;
  page: Database.Statement<[number, number]>;
  count: Database.Statement<[]>;
}

/** What a `GenerationalLedger` needs of the archive its idle records go to. */
export interface RecordArchive {
  readonly isClosed: boolean;
  /** Stores many records (replacing earlier values of their keys). */
  putMany(kind: string, entries: ReadonlyArray<readonly [string, string]>): void;
  get(kind: string, key: string): string | undefined;
  has(kind: string, key: string): boolean;
  /** Removes the record and returns its value. */
  take(kind: string, key: string): string | undefined;
  count(kind: string): number;
  /** Every record of a kind, read a part at a time (the archive may be used between parts). */
  walk(kind: string): Iterable<readonly [string, string]>;
  close(): void;
}

/** Archives not yet closed: their directories are deleted if the process exits first. */
const openArchives = new Set<RecordArchive>();
let exitHookInstalled = false;

function deleteOpenArchives(): void {
  for (const archive of openArchives) archive.close();
}

/** A fresh temporary directory for an archive, deleted (with `archive.close()`) if the process exits first. */
export function archiveDirectory(archive: RecordArchive, prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  openArchives.add(archive);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', deleteOpenArchives);
  }
  return directory;
}

/** Forgets a closed archive (see `archiveDirectory`). */
export function archiveClosed(archive: RecordArchive): void {
  openArchives.delete(archive);
}

/** A string-keyed store of compact records, one table per kind. Synchronous. */
export class LedgerArchive implements RecordArchive {
  private readonly directory: string;
  private readonly db: Database.Database;
  private readonly kinds = new Map<string, KindStatements>();
  private closed = false;

  constructor() {
    this.directory = archiveDirectory(this, 'ordeal-ledger-');
    this.db = new Database(join(this.directory, 'ledger.sqlite'));
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.pragma('temp_store = MEMORY');
  }

  /** True once closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Stores `value` under `key` (replacing any earlier value). */
  put(kind: string, key: string, value: string): void {
    this.store(this.statements(kind), key, value);
  }

  /** Stores many records in one transaction. */
  putMany(kind: string, entries: ReadonlyArray<readonly [string, string]>): void {
    if (entries.length === 0) return;
    const statements = this.statements(kind);
    this.db.transaction(() => {
      for (const [key, value] of entries) this.store(statements, key, value);
    })();
  }

  private store(statements: KindStatements, key: string, value: string): void {
    const hashed = hashesOf(key);
    const hash = indexHash(hashed);
    // A key never archived (the filter is sure) has no row to replace.
    if (statements.filter.mightHave(hashed)) statements.remove.run(hash, key);
    else statements.filter.add(hashed);
    statements.put.run(hash, key, value);
  }

  get(kind: string, key: string): string | undefined {
    if (this.closed) return undefined;
    const statements = this.statements(kind);
    const hashed = hashesOf(key);
    if (!statements.filter.mightHave(hashed)) return undefined;
    const row = statements.get.get(indexHash(hashed), key) as { v: string } | undefined;
    return row?.v;
  }

  has(kind: string, key: string): boolean {
    return this.get(kind, key) !== undefined;
  }

  /** Removes the record and returns its value. */
  take(kind: string, key: string): string | undefined {
    const value = this.get(kind, key);
    if (value !== undefined) this.statements(kind).remove.run(indexHash(hashesOf(key)), key);
    return value;
  }

  /** Every record of a kind in archive order, read a page at a time (the connection is free between pages). */
  *walk(kind: string, pageSize = 512): Generator<readonly [string, string]> {
    let after = 0;
    for (;;) {
      if (this.closed) return;
      const page = this.statements(kind).page.all(after, pageSize) as Array<{ r: number; k: string; v: string }>;
      for (const row of page) yield [row.k, row.v];
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.r;
    }
  }

  count(kind: string): number {
    if (this.closed) return 0;
    return (this.statements(kind).count.get() as { n: number }).n;
  }

  /** Closes the database and deletes its directory; later reads find nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    archiveClosed(this);
    this.kinds.clear();
    this.db.close();
    rmSync(this.directory, { recursive: true, force: true });
  }

  private statements(kind: string): KindStatements {
    const known = this.kinds.get(kind);
    if (known) return known;
    if (!/^[a-z][a-z0-9_]*$/.test(kind)) throw new Error(`ledger archive: bad kind "${kind}"`);
    if (this.closed) throw new Error('ledger archive: closed');
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${kind} (h INTEGER NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL)`);
    this.db.exec(`CREATE INDEX IF NOT EXISTS ${kind}_h ON ${kind} (h)`);
    const statements: KindStatements = {
      filter: new GrowingKeyFilter(),
      put: this.db.prepare(`INSERT INTO ${kind} (h, k, v) VALUES (?, ?, ?)`),
      get: this.db.prepare(`SELECT v FROM ${kind} WHERE h = ? AND k = ?`),
      remove: this.db.prepare(`DELETE FROM ${kind} WHERE h = ? AND k = ?`),
      page: this.db.prepare(`SELECT rowid AS r, k, v FROM ${kind} WHERE rowid > ? ORDER BY rowid LIMIT ?`),
      count: this.db.prepare(`SELECT count(*) AS n FROM ${kind}`),
    };
    this.kinds.set(kind, statements);
    return statements;
  }
}

/** How a ledger's records are written to and read from the archive. */
export interface LedgerCodec<K, V> {
  encode(value: V): string;
  decode(text: string, key: K): V;
  /** The key back from its archived text form. */
  key(text: string): K;
  /** True when the record may leave the heap (no timers, nothing left to happen on its own). */
  settled(value: V): boolean;
}

/**
 * A ledger map whose settled, idle records move to an archive (see the module comment). Without
 * an archive it is a plain map: nothing is ever swept.
 */
export class GenerationalLedger<K extends string | number, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();
  private archive: RecordArchive | undefined;

  constructor(
    private readonly kind: string,
    private readonly codec: LedgerCodec<K, V>,
  ) {}

  /** Starts archiving into `archive` (at the next sweep). */
  attach(archive: RecordArchive | undefined): void {
    this.archive = archive;
  }

  /** The record, brought back from the archive when it was there. */
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

  /** The record wherever it is, without bringing it back (an archived one is a decoded copy). */
  peek(key: K): V | undefined {
    const hot = this.current.get(key) ?? this.previous.get(key);
    if (hot !== undefined || !this.archive) return hot;
    const text = this.archive.get(this.kind, String(key));
    return text === undefined ? undefined : this.codec.decode(text, key);
  }

  /** True when the record is anywhere (without bringing it back). */
  has(key: K): boolean {
    return this.current.has(key) || this.previous.has(key) || (this.archive?.has(this.kind, String(key)) ?? false);
  }

  set(key: K, value: V): void {
    this.previous.delete(key);
    this.current.set(key, value);
  }

  /** Removes the record wherever it is. */
  delete(key: K): void {
    this.current.delete(key);
    this.previous.delete(key);
    this.archive?.take(this.kind, String(key));
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
    const result: Array<[K, V]> = [...this.previous, ...this.current];
    if (this.archive) {
      for (const [key, text] of this.archive.walk(this.kind)) {
        const typed = this.codec.key(key);
        result.push([typed, this.codec.decode(text, typed)]);
      }
    }
    return result;
  }

  /** The records in the heap (a snapshot: the heap may change while it is walked). */
  heapValues(): V[] {
    return [...this.previous.values(), ...this.current.values()];
  }

  /**
   * Every record, without bringing any back: the heap's, then the archive's read a page at a time
   * (decoded copies), so a walk over a long run's records never holds them all.
   */
  *values(): Generator<V> {
    yield* this.heapValues();
    if (!this.archive) return;
    for (const [key, text] of this.archive.walk(this.kind)) yield this.codec.decode(text, this.codec.key(key));
  }

  /**
   * Archives the settled records not touched since the last sweep (in one transaction) and
   * starts a new generation. Returns how many were archived.
   */
  sweep(): number {
    const archive = this.archive;
    if (!archive || archive.isClosed) return 0;
    const batch: Array<[string, string]> = [];
    for (const [key, value] of this.previous) {
      if (this.codec.settled(value)) batch.push([String(key), this.codec.encode(value)]);
      else this.current.set(key, value);
    }
    archive.putMany(this.kind, batch);
    this.previous = this.current;
    this.current = new Map();
    return batch.length;
  }
}
