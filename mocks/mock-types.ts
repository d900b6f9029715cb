/**
 * Mock behaviour is written once, as plain typed functions over the mock's state: request data in,
 * a reply out. Transports (native fastify routes, msw handlers) only translate.
 */
import type { JournalSink } from '../core/journal.js';
import type { FaultPlan } from './fault-plan.js';
import { openRecordSpace, type RecordSpace, type RecordStore } from '../memory/index.js';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface MockRequest {
  method: HttpMethod;
  /** The matched path with its parameters filled in. */
  path: string;
  params: Readonly<Record<string, string>>;
  query: Readonly<Record<string, string | undefined>>;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body parsed (`parseRequestBody`): a JSON value, a form's fields, other text, or undefined when empty. */
  body: unknown;
  /** The body exactly as received: signatures are over these bytes. */
  rawBody: string;
  /** The request target as sent: path and query string (WeChat Pay signs it). */
  target: string;
  /** The client's address (`127.0.0.1`), when the transport has one: journaled with an outside request. */
  remoteAddress?: string;
}

const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * A request body as the mocks read it: empty → undefined; a form (`application/x-www-form-urlencoded`,
 * as epay, Alipay and Stripe send) → its fields, the first of a repeated name; JSON → the value;
 * other text → the text. A body declared JSON that does not parse is `invalid`.
 */
export function parseRequestBody(text: string, contentType: string | undefined): { body: unknown } | { invalid: string } {
  if (text.trim() === '') return { body: undefined };
  const type = (contentType ?? '').toLowerCase();
  if (type.includes(FORM_TYPE)) {
    const fields: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(text)) if (!(name in fields)) fields[name] = value;
    return { body: fields };
  }
  try {
    return { body: JSON.parse(text) as unknown };
  } catch {
    return type.includes('json') ? { invalid: 'the body is not valid JSON' } : { body: text };
  }
}

/** Ways a connection breaks instead of carrying an answer. */
export type SocketFault = 'reset' | 'hang' | 'empty' | 'malformed' | 'dribble';

export interface MockReply {
  status: number;
  body?: unknown;
  headers?: Readonly<Record<string, string>>;
  /** Wait this long before answering (injected latency). */
  delayMs?: number;
  /** Break the connection instead of answering. */
  socketFault?: SocketFault;
  /**
   * The request was refused for lacking the run's credentials (why, with no secret in it): the
   * route guard journals it as `mock.outside_request` and takes the mark off (mocks/run-credentials.ts).
   */
  outside?: string;
}

export interface MockRoute {
  method: HttpMethod;
  /** Router path with `:param` segments, e.g. `/v1/trades/:tradeNo`. */
  path: string;
  /** Stable name for fault targeting and metrics, e.g. `create`. */
  name: string;
  handle(request: MockRequest): MockReply | Promise<MockReply>;
}

/**
 * Shares one copy of each recently seen id. An order's id and its buyer's id arrive, freshly
 * parsed, in every request about the order, and several ledgers keep them for the whole run;
 * passing them through here makes those records hold one string instead of one per request. It
 * remembers the last `capacity` to `2 × capacity` distinct ids (the calls about one order come
 * close together), so it stays small however long the run.
 */
export class RecentIds {
  private current = new Map<string, string>();
  private previous = new Map<string, string>();

  /** @param capacity ids per generation (two generations are kept). @default 4096 */
  constructor(private readonly capacity = 4096) {}

  /** The copy of `id` seen recently, else `id` itself (remembered from now on). */
  share(id: string): string {
    const known = this.current.get(id);
    if (known !== undefined) return known;
    const older = this.previous.get(id) ?? id;
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(older, older);
    return older;
  }
}

/**
 * Links the shop's order ids to the harness's buyers, so faults can be decided per buyer.
 *
 * The link is kept for the whole run: a late callback, a reconciliation query or a refund may
 * come about any order at any time, and its fault decisions must still be made on the buyer (and
 * journaled with the buyer's id). So nothing calls `forget()`; instead each link holds the ids'
 * shared copies (`share`), which the mocks' ledgers hold too, and idle links may leave the heap
 * (`records`).
 */
export class Correlation {
  private readonly buyerByOrder: RecordStore<string, string>;
  /** contactKey(contact) → the buyer and the contact as the buyer gave it. */
  private readonly buyerByContact: RecordStore<string, ContactLink>;
  /** buyer → the order linked to it last; kept only once some contact is known (messages need it). */
  private readonly latestOrder: RecordStore<string, string>;
  private contactsKnown = false;
  private readonly recent = new RecentIds();
  /** Orders some fault was decided on before their buyer was known (only shops that do not pass the buyer: few). */
  private readonly decidedOnOrder = new Set<string>();

  /** @param records where the links are kept. @default all in the heap */
  constructor(records: RecordSpace = openRecordSpace()) {
    const text = { encode: (value: string) => value, decode: (value: string) => value, key: String };
    this.buyerByOrder = records.store<string, string>('correlation', text);
    this.buyerByContact = records.store<string, ContactLink>('contact_buyer', {
      encode: (link) => JSON.stringify(link),
      decode: (json) => JSON.parse(json) as ContactLink,
      key: String,
    });
    this.latestOrder = records.store<string, string>('buyer_latest_order', text);
  }

  link(orderId: string, buyerId: string): void {
    if (this.buyerByOrder.get(orderId) !== undefined) return;
    const order = this.recent.share(orderId);
    const buyer = this.recent.share(buyerId);
    this.buyerByOrder.set(order, buyer);
    if (this.contactsKnown) this.latestOrder.set(buyer, order);
  }

  buyerOf(orderId: string): string | undefined {
    return this.buyerByOrder.get(orderId);
  }

  /** Whether `id` is an order id the run knows (linked to a buyer). Does not count as a use of the link. */
  knows(id: string): boolean {
    return this.buyerByOrder.has(id);
  }

  /**
   * Links a buyer's contact (e-mail address or mobile number) to the buyer, so that a message to
   * the contact can be matched to the buyer's orders. The first buyer to give a contact keeps it.
   * When `orderId` is given, it becomes the buyer's latest order if the buyer has none yet.
   */
  linkContact(contact: string, buyerId: string, orderId?: string): void {
    const key = contactKey(contact);
    if (key === '') return;
    this.contactsKnown = true;
    if (this.buyerByContact.get(key) === undefined) this.buyerByContact.set(key, { buyerId: this.recent.share(buyerId), contact });
    if (orderId !== undefined && !this.latestOrder.has(buyerId)) this.latestOrder.set(this.recent.share(buyerId), this.recent.share(orderId));
  }

  /** The buyer a contact belongs to, and the contact as the buyer gave it (for the journal), when known. */
  buyerOfContact(contact: string): ContactLink | undefined {
    const key = contactKey(contact);
    return key === '' ? undefined : this.buyerByContact.get(key);
  }

  /** The order linked to the buyer last, once contacts are known (see `linkContact`). */
  latestOrderOf(buyerId: string): string | undefined {
    return this.latestOrder.get(buyerId);
  }

  /** The key fault decisions are made on: the buyer when known, else the order. */
  subject(orderId: string, buyerId?: string): string {
    if (buyerId) {
      this.link(orderId, buyerId);
      return buyerId;
    }
    const linked = this.buyerByOrder.get(orderId);
    if (linked !== undefined) return linked;
    // A shop that creates the trade before Ordeal knows whose order it is (a checkout that pays
    // in the same request): the decision is the order's, and the buyer's flow must ask the same.
    this.decidedOnOrder.add(orderId);
    return orderId;
  }

  /**
   * The subject fault decisions about the order were made on: the order itself when a mock
   * decided before the order was linked to its buyer, else the buyer.
   */
  decisionSubject(orderId: string, buyerId: string): string {
    return this.decidedOnOrder.has(orderId) ? orderId : buyerId;
  }

  /**
   * One copy of an order's or a buyer's id for the ledgers to keep. For a buyer id, pass the
   * order it is about: the buyer id linked to that order is the copy when equal. Else a copy seen
   * recently, else `id` (remembered for a while).
   */
  share(id: string, orderId?: string): string {
    if (orderId !== undefined) {
      const linked = this.buyerByOrder.get(orderId);
      if (linked === id) return linked;
    }
    return this.recent.share(id);
  }

  /** Number of orders linked (for memory checks). */
  get size(): number {
    return this.buyerByOrder.size;
  }

  /** Drops an order's link (nothing in the harness does: see above). */
  forget(orderId: string): void {
    this.buyerByOrder.delete(orderId);
  }
}

/** A contact's buyer, and the contact as the buyer gave it. */
export interface ContactLink {
  buyerId: string;
  contact: string;
}

/**
 * The form contacts are compared in: an e-mail address lower-cased; a phone number as its digits,
 * without a leading China country code (+86 / 0086) on an 11-digit mobile; '' for nothing.
 */
export function contactKey(contact: string): string {
  const trimmed = contact.trim().toLowerCase();
  if (trimmed.includes('@')) return trimmed;
  if (!/^[+\d\s().-]+$/.test(trimmed)) return trimmed;
  const digits = trimmed.replace(/\D/g, '');
  if (digits.length === 13 && digits.startsWith('861')) return digits.slice(2);
  if (digits.length === 15 && digits.startsWith('00861')) return digits.slice(4);
  return digits;
}

/** What every mock is built with. */
export interface MockContext {
  journal: JournalSink;
  plan: FaultPlan;
  correlation: Correlation;
}

/** `${prefix}${n}` with n padded to 10 digits: the mocks' ids (trade T…, reservation R…, …). */
export function seqId(prefix: string, n: number): string {
  return `${prefix}${String(n).padStart(10, '0')}`;
}

/** The sequence number of an id made by `seqId(prefix, n)`, or 0 when `id` is not one. */
export function seqOf(prefix: string, id: string | undefined): number {
  if (id === undefined || id.length < prefix.length + 10 || !id.startsWith(prefix)) return 0;
  const n = Number(id.slice(prefix.length));
  return Number.isSafeInteger(n) && n > 0 && seqId(prefix, n) === id ? n : 0;
}

/**
 * The same number, as a small integer (a Smi) when it is one. Arithmetic on boxed numbers (such
 * as epoch milliseconds) gives a boxed number even when the result is small, and a record field
 * that once holds a boxed number boxes every value stored in it, in every record of that shape.
 */
export function inline(value: number): number {
  return (value | 0) === value ? value | 0 : value;
}

/**
 * Times in a ledger: milliseconds since the mock was built. These are small integers, which V8
 * keeps inline in a record, where an epoch-ms value (~1.7e12) would take a boxed number per field.
 * Answers and snapshots format them (`iso`).
 */
export class LedgerClock {
  private readonly origin: number;

  /** @param clock wall clock, ms since the epoch */
  constructor(private readonly clock: () => number) {
    this.origin = clock();
  }

  /** Now, as a ledger time. */
  now(): number {
    return inline(this.clock() - this.origin);
  }

  /** A ledger time as an ISO 8601 timestamp. */
  iso(time: number): string {
    return new Date(this.origin + time).toISOString();
  }
}

/**
 * One copy of each distinct value of a field that repeats across records (notify URLs,
 * currencies, payment methods, regions, SKUs), up to `limit` distinct values; values beyond that
 * are kept as they come.
 */
export class StringPool {
  private readonly pool = new Map<string, string>();

  /** @param limit distinct values pooled. @default 1024 */
  constructor(private readonly limit = 1024) {}

  intern(value: string): string {
    const known = this.pool.get(value);
    if (known !== undefined) return known;
    if (this.pool.size < this.limit) this.pool.set(value, value);
    return value;
  }
}

/** A JSON error reply in the native protocol's shape. */
export function errorReply(status: number, code: string, message: string, extra?: Record<string, unknown>): MockReply {
  return { status, body: { code, message, ...extra } };
}

/** A JSON request body as a plain object. */
export type JsonObject = Record<string, unknown>;

/** The body as a plain object, or undefined when it is not one. */
export function asObject(body: unknown): JsonObject | undefined {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as JsonObject) : undefined;
}

export function nonEmptyString(value: unknown, max = 256): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

export function optionalString(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

export function positiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
