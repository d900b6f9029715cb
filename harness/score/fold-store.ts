/**
 * Where the scorer's fold keeps its per-order and per-buyer facts and its card ledgers, so that its
 * memory does not grow with the length of a run.
 *
 * - `FactsTable`: orders and buyers by id, with their first-seen rank. An archiving fold checks a
 *   settled buyer no fault touched, with its orders, as it settles and drops them
 *   (`JournalFolder`); the table keeps counting them.
 * - `NumberColumn`: per-order figures a run keeps to the end (completion times and latencies), 8
 *   bytes each in a typed array rather than an object per order.
 * - `CardOwners`: card code → the ids it went to, in a `RecordStore` (idle records may leave the
 *   heap in a bounded fold).
 */
import type { RecordSpace, RecordStore } from '../../memory/index.js';

/** Facts keyed by id (orders, buyers), ranked in first-seen order. */
export class FactsTable<T> {
  private readonly records = new Map<string, { rank: number; facts: T }>();
  private created = 0;

  /**
   * @param create a new record's facts
   * @param onRead applied to what `get` and `values` return (an order takes contact, quantity and
   *   SKU from its buyer once the fold is done).
   */
  constructor(
    private readonly create: (id: string) => T,
    private readonly onRead: (facts: T) => void = () => {},
  ) {}

  /** The facts as the fold holds them (`onRead` not applied). */
  find(id: string): T | undefined {
    return this.records.get(id)?.facts;
  }

  /** The facts, created (next in rank, after `onNew`) when new. */
  obtain(id: string, onNew?: (id: string) => void): T {
    const known = this.records.get(id);
    if (known) return known.facts;
    onNew?.(id);
    const facts = this.create(id);
    this.records.set(id, { rank: this.created++, facts });
    return facts;
  }

  /** Forgets the record (the fold checked it and needs it no more); it still counts in `size`. */
  drop(id: string): void {
    this.records.delete(id);
  }

  get(id: string): T | undefined {
    const facts = this.records.get(id)?.facts;
    if (facts !== undefined) this.onRead(facts);
    return facts;
  }

  /** The facts as stored (`onRead` not applied) with their first-seen rank (0 for the first record). */
  ranked(id: string): { rank: number; facts: T } | undefined {
    return this.records.get(id);
  }

  /** The records held, first seen first. */
  *values(): Generator<T> {
    for (const { facts } of this.records.values()) {
      this.onRead(facts);
      yield facts;
    }
  }

  /** Records ever created, dropped ones included. */
  get size(): number {
    return this.created;
  }

  /** Records held. */
  get heapSize(): number {
    return this.records.size;
  }
}

/** Numbers appended one at a time into a typed array that doubles when full. */
export class NumberColumn {
  private values = new Float64Array(1024);
  private count = 0;

  push(value: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = value;
  }

  get length(): number {
    return this.count;
  }

  /** The value at `index` (0 ≤ index < length). */
  at(index: number): number {
    return this.values[index] as number;
  }

  /** A sorted copy, ascending. */
  sorted(): Float64Array {
    return this.values.slice(0, this.count).sort();
  }
}

// ---------------------------------------------------------------------------------------------

/** A card code's ids (first seen first), its first-seen rank, and the SKUs it was issued under. */
interface CardRecord {
  rank: number;
  ids: string[];
  skus?: string[];
}

/**
 * Card code → the ids it went to (orders, or a shop's stockpile), in the order they were first
 * seen; with SKUs given (`add(code, id, sku)`), the distinct codes issued per SKU as well. Codes
 * that went to more than one id (what the invariants report) are also kept in the heap.
 */
export class CardOwners {
  private readonly ledger: RecordStore<string, CardRecord>;
  private readonly sharedCodes = new Map<string, CardRecord>();
  private readonly issuedPerSku = new Map<string, number>();
  private codes = 0;

  constructor(records: RecordSpace, kind: string) {
    this.ledger = records.store<string, CardRecord>(kind, {
      encode: (record) => JSON.stringify(record),
      decode: (text) => JSON.parse(text) as CardRecord,
      key: (text) => text,
    });
  }

  add(code: string, id: string, sku?: string): void {
    let record = this.ledger.get(code);
    if (record === undefined) {
      record = { rank: this.codes++, ids: [id] };
      this.ledger.set(code, record);
    } else if (!record.ids.includes(id)) {
      record.ids.push(id);
      this.sharedCodes.set(code, record);
    }
    if (sku !== undefined && !(record.skus ?? []).includes(sku)) {
      record.skus = [...(record.skus ?? []), sku];
      this.issuedPerSku.set(sku, (this.issuedPerSku.get(sku) ?? 0) + 1);
    }
  }

  /** Notes an issue of cards under `sku` (a SKU's place in `issuedCounts` is its first issue, cards or not). */
  issuing(sku: string): void {
    if (!this.issuedPerSku.has(sku)) this.issuedPerSku.set(sku, 0);
  }

  has(code: string): boolean {
    return this.ledger.has(code);
  }

  /** How many ids the code went to (0 when none). */
  count(code: string): number {
    return this.ledger.peek(code)?.ids.length ?? 0;
  }

  /** The ids the code went to, first seen first. */
  get(code: string): string[] {
    return [...(this.ledger.peek(code)?.ids ?? [])];
  }

  /** Codes that went to more than one id, with those ids, in the order the codes were first seen. */
  *shared(): Generator<[code: string, ids: string[]]> {
    const codes = [...this.sharedCodes].sort((a, b) => a[1].rank - b[1].rank);
    for (const [code, record] of codes) yield [code, [...record.ids]];
  }

  /** SKU → distinct codes issued under it, SKUs in first-issue order. */
  issuedCounts(): ReadonlyMap<string, number> {
    return this.issuedPerSku;
  }

  /** The ids that got codes issued under `sku`, codes in first-seen order (a walk over every code). */
  holdersOf(sku: string): string[] {
    const codes: CardRecord[] = [];
    for (const record of this.ledger.values()) if (record.skus?.includes(sku)) codes.push(record);
    const ids = new Set<string>();
    for (const record of codes.sort((a, b) => a.rank - b.rank)) for (const id of record.ids) ids.add(id);
    return [...ids];
  }

  get size(): number {
    return this.codes;
  }
}
