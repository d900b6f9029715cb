/**
 * `LedgerArchive`: where a `RecordSpace` opened with `spill: 'lookups'` (the mocks') puts settled,
 * idle records — for records looked up again at random while the load runs. A SQLite file in a
 * fresh temporary directory (better-sqlite3, one table per kind of record, key → compact text
 * value). Rows are appended in archive order (rowid) and found through an index on a 53-bit hash
 * of the key: an insert touches the table's last page and a small integer index, not a B-tree of
 * random text keys, which costs several times more per insert. A Bloom filter of the keys ever
 * archived per kind answers most lookups of keys never archived without a query.

 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GrowingKeyFilter, hashesOf } from './key-filter.js';
import { archiveClosed, archiveDirectory, type RecordArchive } from './record-archive.js';

export type { RecordArchive } from './record-archive.js';

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

