/**
 * Where the scorer's fold keeps its per-order and per-buyer facts, so that its memory does not grow
 * with the length of a run: tables whose settled, idle records move to an on-disk archive (a
 * `GenerationalLedger`, as in the mocks, over the fold's `SegmentArchive`: a temporary file, Bloom
 * filters of archived keys, a record brought back to the heap by any lookup during the fold).
 *
 * Without an archive a table is a plain in-memory map. With one, `sweep()` (the fold calls it every
 * so often on the journal's clock) moves the records marked settled and untouched since the last
 * sweep to disk. After the fold, reads (`get`, `values`) do not bring records back: they decode
 * copies, and the end-of-run checks walk the archive a segment at a time.
 */
import { GenerationalLedger, type RecordArchive } from '../mocks/ledger-archive.js';
import {
  NO_CODES,
  NO_ENTRIES,
  newBuyerFacts,
  newOrderFacts,
  resolveFromBuyer,
  withCode,
  type BuyerFacts,
  type CardCodes,
  type FoldedRun,
  type OrderFacts,
} from './stages.js';

/** A record with its first-seen rank and whether it may leave the heap. */
interface Ranked<T> {
  rank: number;
  facts: T;
  settled: boolean;
}

/** How a table's facts are written to and read from the archive. */
interface FactsCodec<T> {
  create(id: string): T;
  /** Plain JSON-able fields of the facts (what differs from a new record). */
  encode(facts: T): Record<string, unknown>;
  decode(id: string, fields: Record<string, unknown>): T;
}

/** Facts keyed by id (orders, buyers), ranked in first-seen order; see the module comment. */
export class FactsTable<T> {
  private readonly ledger: GenerationalLedger<string, Ranked<T>>;
  private created = 0;

  /**
   * @param onRead applied to what `get` and `values` return (an order takes contact, quantity and
   *   SKU from its buyer once the fold is done).
   */
  constructor(
    kind: string,
    private readonly codec: FactsCodec<T>,
    private readonly onRead: (facts: T) => void = () => {},
  ) {
    this.ledger = new GenerationalLedger<string, Ranked<T>>(kind, {
      // `rank,settled,{fields}`: the fields' JSON after two numbers.
      encode: (ranked) => `${ranked.rank},${ranked.settled ? 1 : 0},${JSON.stringify(codec.encode(ranked.facts))}`,
      decode: (text, id) => {
        const first = text.indexOf(',');
        const second = text.indexOf(',', first + 1);
        const fields = JSON.parse(text.slice(second + 1)) as Record<string, unknown>;
        return { rank: Number(text.slice(0, first)), settled: text.slice(first + 1, second) === '1', facts: codec.decode(id, fields) };
      },
      key: (text) => text,
      settled: (ranked) => ranked.settled,
    });
  }

  /** Starts archiving settled records into `archive` (at the next sweep). */
  attach(archive: RecordArchive): void {
    this.ledger.attach(archive);
  }

  /** The facts, brought back to the heap when archived (the fold's lookup). */
  find(id: string): T | undefined {
    return this.ledger.get(id)?.facts;
  }

  /** The facts, created (next in rank) when new. */
  obtain(id: string): T {
    const known = this.ledger.get(id);
    if (known) return known.facts;
    const facts = this.codec.create(id);
    this.ledger.set(id, { rank: this.created++, facts, settled: false });
    return facts;
  }

  /** Lets the record leave the heap once idle (nothing left to happen to it but late stragglers). */
  settle(id: string): void {
    const known = this.ledger.get(id);
    if (known) known.settled = true;
  }

  /** Forgets the record (the fold checked it and needs it no more). */
  drop(id: string): void {
    this.ledger.delete(id);
  }

  /** The facts, without bringing an archived record back (a decoded copy). */
  get(id: string): T | undefined {
    const facts = this.ledger.peek(id)?.facts;
    if (facts !== undefined) this.onRead(facts);
    return facts;
  }

  /** The facts as stored (`onRead` not applied) with their first-seen rank (0 for the first record). */
  ranked(id: string): { rank: number; facts: T } | undefined {
    return this.ledger.peek(id);
  }

  /** Every record (heap first, then the archive a part at a time), in no promised order. */
  *values(): Generator<T> {
    for (const ranked of this.ledger.values()) {
      this.onRead(ranked.facts);
      yield ranked.facts;
    }
  }

  /** The records in the heap (not in the archive). */
  heapValues(): T[] {
    return this.ledger.heapValues().map((ranked) => ranked.facts);
  }

  get size(): number {
    return this.created;
  }

  /** Records in the heap. */
  get heapSize(): number {
    return this.ledger.hotSize;
  }

  sweep(): number {
    return this.ledger.sweep();
  }
}

// ---------------------------------------------------------------------------------------------
// Codecs: only what differs from a new record is written.

function encodeFields(facts: object): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const record = facts as Record<string, unknown>;
  for (const name in record) {
    const value = record[name];
    if (value === undefined || value === NO_ENTRIES || value === NO_CODES || value === false) continue;
    fields[name] = isCardCodes(value) ? [...value] : value;
  }
  return fields;
}

function isCardCodes(value: unknown): value is CardCodes {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Symbol.iterator in value && 'has' in value;
}

function codesOf(list: unknown): CardCodes {
  let codes = NO_CODES;
  for (const code of list as string[]) codes = withCode(codes, code);
  return codes;
}

export const ORDER_CODEC: FactsCodec<OrderFacts> = {
  create: newOrderFacts,
  encode: (order) => {
    const fields = encodeFields(order);
    delete fields.orderId;
    return fields;
  },
  decode: (id, fields) => {
    const order = newOrderFacts(id);
    const { cards, shownCards, ...rest } = fields;
    Object.assign(order, rest);
    if (cards !== undefined) order.cards = codesOf(cards);
    if (shownCards !== undefined) order.shownCards = codesOf(shownCards);
    return order;
  },
};

export const BUYER_CODEC: FactsCodec<BuyerFacts> = {
  create: newBuyerFacts,
  encode: (buyer) => {
    const fields = encodeFields(buyer);
    delete fields.buyerId;
    return fields;
  },
  decode: (id, fields) => Object.assign(newBuyerFacts(id), fields),
};

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
  private readonly ledger: GenerationalLedger<string, CardRecord>;
  private readonly sharedCodes = new Map<string, CardRecord>();
  private readonly issuedPerSku = new Map<string, number>();
  private codes = 0;

  constructor(kind: string) {
    this.ledger = new GenerationalLedger<string, CardRecord>(kind, {
      encode: (record) => JSON.stringify(record),
      decode: (text) => JSON.parse(text) as CardRecord,
      key: (text) => text,
      settled: () => true,
    });
  }

  attach(archive: RecordArchive): void {
    this.ledger.attach(archive);
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

  sweep(): number {
    return this.ledger.sweep();
  }
}

/** An empty fold: in-memory tables until `attachArchive` gives them an archive. */
export function newFoldedRun(): FoldedRun {
  const buyers = new FactsTable('buyers', BUYER_CODEC);
  const orders = new FactsTable('orders', ORDER_CODEC, (order) => {
    const buyer = order.buyerId === undefined ? undefined : buyers.get(order.buyerId);
    if (buyer) resolveFromBuyer(order, buyer);
  });
  return {
    orders,
    buyers,
    cardOwners: new CardOwners('card_owners'),
    shownCardOwners: new CardOwners('shown_card_owners'),
    faultHits: new Map(),
    target: { kills: [], restarts: [] },
    endedAt: 0,
    counters: { arrived: 0, dropped: 0, httpErrors: 0, rejected: 0 },
    close: () => {},
  };
}
