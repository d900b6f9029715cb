/**
 * The stock supplier: stock per SKU from the scenario's catalogue, reservations with a TTL,
 * release, and fulfilment that issues card codes. Its ledger — stock levels, reservations and the
 * cards issued to each order — is the ground truth for goods.
 *
 * Faults (decided per buyer — the reservation's `buyerId` — else per order):
 * - `stock.stale`: a reservation is refused at once with 409 SOLD_OUT while GET still shows stock;
 * - `stock.lag`: the same, but the answer comes only after the fault's `delay` (the supplier's
 *   view lagged);
 * - `stock.sold_out_after_payment`: the reservation succeeds, the first fulfil answers 409
 *   SOLD_OUT and releases it; later fulfils of it answer RESERVATION_EXPIRED and new reservations
 *   for the order SOLD_OUT (the card pool for it ran dry);
 * - `stock.fulfil.error`: the first `times` card-issue attempts fail with `status` SYSTEM_ERROR.
 *
 * A card's code and PIN are a pure function of the seed, the SKU and the card's issue number, so a
 * fulfilled reservation keeps only its cards' issue numbers and recomputes the cards when asked
 * again; the set of issued codes (which keeps every code unique) is the one place codes are kept.
 */
import type { CatalogSku, Scenario } from '../core/scenario-schema.js';
import { hash53 } from '../core/random.js';
import { ExpiryQueue } from './expiry-queue.js';
import { openRecordSpace, type RecordSpace, type RecordStore } from '../memory/index.js';
import {
  asObject,
  errorReply,
  inline,
  LedgerClock,
  nonEmptyString,
  positiveInt,
  seqId,
  seqOf,
  type MockContext,
  type MockReply,
  type MockRequest,
} from './mock-types.js';
import type { FaultSubject, SubjectAwareRoute } from './transport-faults.js';

/** How often expired reservations are swept back into stock. */
export const RESERVATION_SWEEP_MS = 100;

export interface Card {
  code: string;
  pin: string;
}

export type ReservationState = 'active' | 'released' | 'expired' | 'fulfilled';

/** A reservation as the supplier's ledger holds it (read-only snapshot). */
export interface ReservationRecord {
  reservationId: string;
  orderId: string;
  sku: string;
  quantity: number;
  buyerId?: string;
  ttlMs: number;
  createdAt: string;
  expiresAt: string;
  state: ReservationState;
  /** Cards issued on fulfilment. */
  cards?: Card[];
  endedAt?: string;
}

/**
 * A reservation as the ledger keeps it for the whole run: numbers and shared strings, every field
 * always present (one compact shape). `snapshot()` turns it into a ReservationRecord.
 */
interface Reservation {
  /** The reservation id is `seqId('R', seq)`. */
  readonly seq: number;
  /** Shared with the correlation and the other ledgers. */
  readonly orderId: string;
  /** The catalogue's copy. */
  readonly sku: string;
  readonly quantity: number;
  readonly buyerId: string | undefined;
  readonly ttlMs: number;
  /** Ledger times. */
  readonly createdAt: number;
  readonly expiresAt: number;
  state: ReservationState;
  endedAt: number | undefined;
  /**
   * The cards issued on fulfilment, by issue number: the first of `quantity` consecutive numbers
   * (the usual case), or all of them. Their codes are recomputed (`cardOf`), not kept.
   */
  cards: number | number[] | undefined;
}

interface SkuState {
  sku: string;
  name: string;
  price: number;
  currency: string;
  initial: number;
  available: number;
  /** Ledger time. */
  restockAt?: number;
}

export interface StockSupplierOptions extends MockContext {
  scenario: Scenario;
  /** Wall clock, ms since the epoch. @default Date.now */
  clock?: () => number;
  /** Sweep period for expired reservations, ms. @default 100 */
  sweepMs?: number;
  /** Where the reservations and issued codes are kept (ended, idle ones may leave the heap). @default all in the heap */
  records?: RecordSpace;
}

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const DASH = '-'.charCodeAt(0);

export class StockSupplier {
  private readonly context: MockContext;
  private readonly time: LedgerClock;
  private readonly seed: number;
  private readonly skus = new Map<string, SkuState>();
  /** Reservations by sequence number (`seqId('R', n)` is n). */
  private readonly reservations: RecordStore<number, Reservation>;
  /** Reservations made so far (the last sequence number). */
  private reservationCount = 0;
  /** Active reservations by expiry time (entries no longer active are skipped). */
  private readonly expiries = new ExpiryQueue<Reservation>();
  private readonly activeByOrder = new Map<string, Reservation>();
  /** Every code issued in this run (a code is never issued twice). */
  private readonly issuedCodes: RecordStore<string, true>;
  /** Orders whose card pool ran dry (`stock.sold_out_after_payment`), with the announced restock time (ledger time). */
  private readonly driedUp = new Map<string, { restockAt: number; sku: string }>();
  /** Failing attempts so far per (fault index, subject), for faults limited by `times`. */
  private readonly faultCounters = new Map<string, number>();
  /** Draws so far per (fault index, subject), so successive delays differ but stay seeded. */
  private readonly drawCounters = new Map<string, number>();
  private cardSeq = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(options: StockSupplierOptions) {
    this.context = { journal: options.journal, plan: options.plan, correlation: options.correlation };
    this.time = new LedgerClock(options.clock ?? Date.now);
    this.seed = options.plan.seed;
    const records = options.records ?? openRecordSpace();
    this.reservations = records.store<number, Reservation>('reservation', {
      encode: (r) =>
        JSON.stringify([r.seq, r.orderId, r.sku, r.quantity, r.buyerId ?? null, r.ttlMs, r.createdAt, r.expiresAt, r.state, r.endedAt ?? null, r.cards ?? null]),
      decode: (text) => {
        const f = JSON.parse(text) as unknown[];
        const sku = f[2] as string;
        return {
          seq: f[0] as number,
          orderId: f[1] as string,
          sku: this.skus.get(sku)?.sku ?? sku,
          quantity: f[3] as number,
          buyerId: f[4] === null ? undefined : (f[4] as string),
          ttlMs: f[5] as number,
          createdAt: f[6] as number,
          expiresAt: f[7] as number,
          state: f[8] as ReservationState,
          endedAt: f[9] === null ? undefined : (f[9] as number),
          cards: f[10] === null ? undefined : (f[10] as number | number[]),
        };
      },
      key: Number,
      settled: (reservation) => reservation.state !== 'active',
    });
    this.issuedCodes = records.store<string, true>('card_code', { encode: () => '', decode: () => true, key: String });
    const start = this.time.now();
    for (const sku of options.scenario.catalog.skus as CatalogSku[]) {
      this.skus.set(sku.sku, {
        sku: sku.sku,
        name: sku.name,
        price: sku.price,
        currency: sku.currency,
        initial: sku.stock,
        available: sku.stock,
        ...(sku.restockIn === undefined ? {} : { restockAt: start + sku.restockIn }),
      });
    }
    this.sweeper = setInterval(() => this.sweep(), options.sweepMs ?? RESERVATION_SWEEP_MS);
    this.sweeper.unref();
  }

  /** Stops the expiry sweep. */
  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  // ---- ledger snapshots ------------------------------------------------------------------

  /** Cards available to reserve now, or undefined for an unknown SKU. */
  available(sku: string): number | undefined {
    this.sweep();
    return this.skus.get(sku)?.available;
  }

  /** Cards the SKU started with. */
  initialStock(sku: string): number | undefined {
    return this.skus.get(sku)?.initial;
  }

  reservation(reservationId: string): ReservationRecord | undefined {
    this.sweep();
    const reservation = this.reservationOf(reservationId);
    return reservation && this.snapshot(reservation);
  }

  /** Every reservation made for an order, oldest first. */
  reservationsFor(orderId: string): ReservationRecord[] {
    this.sweep();
    return this.everyReservation()
      .filter((r) => r.orderId === orderId)
      .map((r) => this.snapshot(r));
  }

  allReservations(): ReservationRecord[] {
    this.sweep();
    return this.everyReservation().map((r) => this.snapshot(r));
  }

  /** Every card issued, with the order it went to, in issue order. */
  issuedCards(): Array<Card & { orderId: string; reservationId: string; sku: string }> {
    const cards: Array<Card & { orderId: string; reservationId: string; sku: string }> = [];
    for (const reservation of this.everyReservation()) {
      const reservationId = seqId('R', reservation.seq);
      for (const card of this.cardsOf(reservation)) {
        cards.push({ ...card, orderId: reservation.orderId, reservationId, sku: reservation.sku });
      }
    }
    return cards;
  }

  /** How many codes the supplier has issued (each kept once, to keep them unique). */
  issuedCodeCount(): number {
    return this.issuedCodes.size;
  }

  // ---- routes ----------------------------------------------------------------------------

  /** Route names (for transport faults): skus, stock, reserve, release, fulfil. */
  routes(): SubjectAwareRoute[] {
    const byReservation = (request: MockRequest): FaultSubject => {
      const reservation = this.reservationOf(request.params.id);
      if (!reservation) return {};
      return { orderId: reservation.orderId, ...(reservation.buyerId === undefined ? {} : { buyerId: reservation.buyerId }) };
    };
    return [
      { method: 'GET', path: '/v1/skus', name: 'skus', handle: () => this.listSkus() },
      { method: 'GET', path: '/v1/stock/:sku', name: 'stock', handle: (request) => this.stockOf(request) },
      { method: 'POST', path: '/v1/reservations', name: 'reserve', handle: (request) => this.reserve(request) },
      { method: 'DELETE', path: '/v1/reservations/:id', name: 'release', handle: (request) => this.release(request), subjectOf: byReservation },
      { method: 'POST', path: '/v1/reservations/:id/fulfil', name: 'fulfil', handle: (request) => this.fulfil(request), subjectOf: byReservation },
    ];
  }

  // ---- handlers --------------------------------------------------------------------------

  listSkus(): MockReply {
    this.sweep();
    return {
      status: 200,
      body: [...this.skus.values()].map((sku) => ({
        sku: sku.sku,
        name: sku.name,
        price: sku.price,
        currency: sku.currency,
        available: sku.available,
        ...this.restockField(sku.restockAt),
      })),
    };
  }

  stockOf(request: MockRequest): MockReply {
    this.sweep();
    const sku = this.skus.get(request.params.sku ?? '');
    if (!sku) return errorReply(404, 'UNKNOWN_SKU', `no SKU ${request.params.sku ?? ''}`);
    return { status: 200, body: { sku: sku.sku, available: sku.available, ...this.restockField(sku.restockAt) } };
  }

  reserve(request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body) return errorReply(400, 'INVALID_REQUEST', 'expected a JSON object body');
    const { sku, quantity, orderId, ttlMs, buyerId } = body;
    if (!nonEmptyString(sku)) return errorReply(400, 'INVALID_REQUEST', 'sku: expected a non-empty string');
    if (!positiveInt(quantity)) return errorReply(400, 'INVALID_REQUEST', 'quantity: expected a positive integer');
    if (!nonEmptyString(orderId, 128)) return errorReply(400, 'INVALID_REQUEST', 'orderId: expected a non-empty string');
    if (!positiveInt(ttlMs)) return errorReply(400, 'INVALID_REQUEST', 'ttlMs: expected a positive integer (milliseconds)');
    if (buyerId !== undefined && buyerId !== null && !nonEmptyString(buyerId)) {
      return errorReply(400, 'INVALID_REQUEST', 'buyerId: expected a non-empty string when given');
    }
    const buyer = typeof buyerId === 'string' ? buyerId : undefined;
    const journal = this.context.journal;
    this.sweep();

    const state = this.skus.get(sku);
    if (!state) {
      journal.append('stock.refused', { orderId, sku, quantity, code: 'UNKNOWN_SKU' });
      return errorReply(404, 'UNKNOWN_SKU', `no SKU ${sku}`);
    }

    const current = this.activeByOrder.get(orderId);
    if (current) {
      const reservationId = seqId('R', current.seq);
      journal.append('stock.reserved', {
        orderId,
        reservationId,
        sku: current.sku,
        quantity: current.quantity,
        repeat: true,
      });
      return { status: 200, body: { reservationId, expiresAt: this.time.iso(current.expiresAt) } };
    }

    const subject = this.context.correlation.subject(orderId, buyer);
    const knownBuyer = buyer ?? this.context.correlation.buyerOf(orderId);
    const buyerField = knownBuyer === undefined ? {} : { buyerId: knownBuyer };
    const plan = this.context.plan;

    // The card pool for this order ran dry after payment: no new reservation either.
    const dry = this.driedUp.get(orderId);
    if (dry) {
      const restockAt = this.time.iso(dry.restockAt);
      journal.append('stock.refused', { orderId, sku, quantity, code: 'SOLD_OUT', restockAt });
      return errorReply(409, 'SOLD_OUT', `${sku} ran out for order ${orderId}`, { restockAt });
    }

    const stale = plan.has('stock.stale') ? plan.hits('stock.stale', subject).find((hit) => !hit.spec.skus || hit.spec.skus.includes(sku)) : undefined;
    if (stale) {
      const restockAt = this.time.iso(this.time.now() + stale.spec.restockIn);
      journal.append('fault.injected', {
        fault: stale.spec.id,
        faultIndex: stale.index,
        orderId,
        ...buyerField,
        detail: { sku, restockAt, available: state.available },
      });
      journal.append('stock.refused', { orderId, sku, quantity, code: 'SOLD_OUT', restockAt });
      return errorReply(409, 'SOLD_OUT', `${sku} is sold out`, { restockAt });
    }

    const lag = plan.has('stock.lag') ? plan.hits('stock.lag', subject).find((hit) => !hit.spec.skus || hit.spec.skus.includes(sku)) : undefined;
    if (lag) {
      const draw = this.count(this.drawCounters, lag.index, subject);
      const delayMs = Math.max(0, Math.round(plan.delayFor(lag.index, lag.spec.delay, subject, `lag#${draw}`)));
      // The answer leaves after the delay; the restock time is counted from then.
      const restockAt = this.time.iso(this.time.now() + delayMs + lag.spec.restockIn);
      journal.append('fault.injected', {
        fault: lag.spec.id,
        faultIndex: lag.index,
        orderId,
        ...buyerField,
        detail: { sku, delayMs, restockAt, available: state.available },
      });
      journal.append('stock.refused', { orderId, sku, quantity, code: 'SOLD_OUT', restockAt });
      return { ...errorReply(409, 'SOLD_OUT', `${sku} is sold out`, { restockAt }), ...(delayMs > 0 ? { delayMs } : {}) };
    }

    if (state.available < quantity) {
      const restock = this.restockField(state.restockAt);
      journal.append('stock.refused', { orderId, sku, quantity, code: 'SOLD_OUT', ...restock });
      return errorReply(409, 'SOLD_OUT', `${sku} has ${state.available} left, ${quantity} asked`, restock);
    }

    const now = this.time.now();
    const correlation = this.context.correlation;
    const reservation: Reservation = {
      seq: this.reservationCount + 1,
      orderId: correlation.share(orderId),
      sku: state.sku,
      quantity,
      buyerId: buyer === undefined ? undefined : correlation.share(buyer, orderId),
      ttlMs,
      createdAt: now,
      expiresAt: inline(now + ttlMs),
      state: 'active',
      endedAt: undefined,
      cards: undefined,
    };
    const reservationId = seqId('R', reservation.seq);
    state.available -= quantity;
    this.reservationCount = reservation.seq;
    this.reservations.set(reservation.seq, reservation);
    this.expiries.push(reservation);
    this.activeByOrder.set(reservation.orderId, reservation);
    journal.append('stock.reserved', { orderId, reservationId, sku, quantity, repeat: false });
    return { status: 201, body: { reservationId, expiresAt: this.time.iso(reservation.expiresAt) } };
  }

  release(request: MockRequest): MockReply {
    this.sweep();
    const reservation = this.reservationOf(request.params.id);
    if (!reservation) return errorReply(404, 'RESERVATION_NOT_FOUND', `no reservation ${request.params.id ?? ''}`);
    if (reservation.state === 'active') this.end(reservation, 'released');
    return { status: 204 };
  }

  fulfil(request: MockRequest): MockReply {
    this.sweep();
    const reservation = this.reservationOf(request.params.id);
    if (!reservation) return errorReply(404, 'RESERVATION_NOT_FOUND', `no reservation ${request.params.id ?? ''}`);
    const { orderId, sku } = reservation;
    const reservationId = seqId('R', reservation.seq);
    const journal = this.context.journal;
    if (reservation.state === 'fulfilled') {
      const cards = this.cardsOf(reservation);
      journal.append('stock.fulfilled', { orderId, reservationId, sku, cards: cards.map((card) => card.code), repeat: true });
      return { status: 200, body: { cards } };
    }
    if (reservation.state !== 'active') {
      journal.append('stock.fulfil_failed', { orderId, reservationId, code: 'RESERVATION_EXPIRED' });
      return errorReply(409, 'RESERVATION_EXPIRED', `reservation ${reservationId} was ${reservation.state}`);
    }

    const plan = this.context.plan;
    const subject = reservation.buyerId ?? this.context.correlation.subject(orderId);
    const knownBuyer = reservation.buyerId ?? this.context.correlation.buyerOf(orderId);
    const buyerField = knownBuyer === undefined ? {} : { buyerId: knownBuyer };

    const failing = plan.has('stock.fulfil.error')
      ? plan.hits('stock.fulfil.error', subject).find((hit) => (this.faultCounters.get(this.counterKey(hit.index, subject)) ?? 0) < hit.spec.times)
      : undefined;
    if (failing) {
      const attempt = this.count(this.faultCounters, failing.index, subject);
      journal.append('fault.injected', {
        fault: failing.spec.id,
        faultIndex: failing.index,
        orderId,
        ...buyerField,
        detail: { status: failing.spec.status, attempt, times: failing.spec.times },
      });
      journal.append('stock.fulfil_failed', { orderId, reservationId, code: 'SYSTEM_ERROR' });
      return errorReply(failing.spec.status, 'SYSTEM_ERROR', 'the supplier could not issue cards; retry later');
    }

    const soldOut = plan.has('stock.sold_out_after_payment')
      ? plan.hits('stock.sold_out_after_payment', subject).find((hit) => !hit.spec.skus || hit.spec.skus.includes(sku))
      : undefined;
    if (soldOut) {
      const restockAtTime = this.time.now() + soldOut.spec.restockIn;
      const restockAt = this.time.iso(restockAtTime);
      this.driedUp.set(orderId, { restockAt: restockAtTime, sku });
      journal.append('fault.injected', {
        fault: soldOut.spec.id,
        faultIndex: soldOut.index,
        orderId,
        ...buyerField,
        detail: { sku, reservationId, restockAt },
      });
      journal.append('stock.fulfil_failed', { orderId, reservationId, code: 'SOLD_OUT' });
      // The reserved cards go back: another order may take them, this one may not.
      this.end(reservation, 'released');
      return errorReply(409, 'SOLD_OUT', `${sku} ran out before the cards for ${orderId} could be issued`, { restockAt });
    }

    const cards: Card[] = [];
    const numbers: number[] = [];
    for (let i = 0; i < reservation.quantity; i++) {
      const issued = this.issueCard(sku);
      numbers.push(issued.n);
      cards.push(issued.card);
    }
    const first = numbers[0] as number;
    reservation.cards = numbers.every((n, i) => n === first + i) ? first : numbers;
    reservation.state = 'fulfilled';
    reservation.endedAt = this.time.now();
    if (this.activeByOrder.get(orderId) === reservation) this.activeByOrder.delete(orderId);
    journal.append('stock.fulfilled', { orderId, reservationId, sku, cards: cards.map((card) => card.code), repeat: false });
    return { status: 200, body: { cards } };
  }

  // ---- internals -------------------------------------------------------------------------

  /** The reservation with this id. */
  private reservationOf(reservationId: string | undefined): Reservation | undefined {
    const seq = seqOf('R', reservationId);
    return seq === 0 || seq > this.reservationCount ? undefined : this.reservations.get(seq);
  }

  /** Every reservation (as copies, some of them), oldest first. */
  private everyReservation(): Reservation[] {
    return [...this.reservations.values()].sort((a, b) => a.seq - b.seq);
  }

  /** A fulfilled reservation's cards, recomputed from their issue numbers (fresh objects). */
  private cardsOf(reservation: Reservation): Card[] {
    const { cards, sku } = reservation;
    if (cards === undefined) return [];
    if (typeof cards !== 'number') return cards.map((n) => this.cardOf(sku, n));
    const result: Card[] = [];
    for (let i = 0; i < reservation.quantity; i++) result.push(this.cardOf(sku, cards + i));
    return result;
  }

  private counterKey(index: number, subject: string): string {
    return `${index}\u0000${subject}`;
  }

  /** Increments the (fault index, subject) counter and returns the new count (1 on the first call). */
  private count(counters: Map<string, number>, index: number, subject: string): number {
    const key = this.counterKey(index, subject);
    const n = (counters.get(key) ?? 0) + 1;
    counters.set(key, n);
    return n;
  }

  /** Returns expired reservations to stock (also run lazily before every read). */
  private sweep(): void {
    const expiries = this.expiries;
    if (expiries.size === 0) return;
    const now = this.time.now();
    while (expiries.size > 0 && (expiries.peek() as Reservation).expiresAt <= now) {
      const reservation = expiries.pop() as Reservation;
      if (reservation.state === 'active') this.end(reservation, 'expired');
    }
  }

  private end(reservation: Reservation, reason: 'released' | 'expired'): void {
    reservation.state = reason;
    reservation.endedAt = this.time.now();
    if (this.activeByOrder.get(reservation.orderId) === reservation) this.activeByOrder.delete(reservation.orderId);
    const sku = this.skus.get(reservation.sku);
    if (sku) sku.available += reservation.quantity;
    this.context.journal.append('stock.released', { orderId: reservation.orderId, reservationId: seqId('R', reservation.seq), reason });
  }

  /** The next card whose code was never issued in this run, and its issue number. */
  private issueCard(sku: string): { n: number; card: Card } {
    for (;;) {
      this.cardSeq += 1;
      const n = this.cardSeq;
      const card = this.cardOf(sku, n);
      if (this.issuedCodes.has(card.code)) continue;
      this.issuedCodes.set(card.code, true);
      return { n, card };
    }
  }

  /** The card with issue number `n` of a SKU: determined by the seed, the SKU and `n`. */
  private cardOf(sku: string, n: number): Card {
    let high = hash53(`card:${n}:a`, this.seed);
    let low = hash53(`card:${n}:b`, this.seed);
    // `<sku>-` and 12 characters, built as character codes: one flat string (concatenation would
    // keep a chain of pieces per code, and the issued codes are kept for the whole run).
    const chars: number[] = [];
    for (let i = 0; i < sku.length; i++) chars.push(sku.charCodeAt(i));
    chars.push(DASH);
    for (let i = 0; i < 12; i++) {
      const source = i < 6 ? high : low;
      chars.push(CODE_ALPHABET.charCodeAt(source % 32));
      if (i < 6) high = Math.floor(high / 32);
      else low = Math.floor(low / 32);
    }
    const pin = String(hash53(`pin:${n}`, this.seed) % 1_000_000).padStart(6, '0');
    return { code: String.fromCharCode(...chars), pin };
  }

  private restockField(restockAt: number | undefined): { restockAt?: string } {
    return restockAt === undefined ? {} : { restockAt: this.time.iso(restockAt) };
  }

  private snapshot(reservation: Reservation): ReservationRecord {
    return {
      reservationId: seqId('R', reservation.seq),
      orderId: reservation.orderId,
      sku: reservation.sku,
      quantity: reservation.quantity,
      ...(reservation.buyerId === undefined ? {} : { buyerId: reservation.buyerId }),
      ttlMs: reservation.ttlMs,
      createdAt: this.time.iso(reservation.createdAt),
      expiresAt: this.time.iso(reservation.expiresAt),
      state: reservation.state,
      ...(reservation.cards === undefined ? {} : { cards: this.cardsOf(reservation) }),
      ...(reservation.endedAt === undefined ? {} : { endedAt: this.time.iso(reservation.endedAt) }),
    };
  }
}
