/**
 * The notify gateway: accepts the shop's messages to buyers (SMS, e-mail, in-app inbox), drops a
 * retried duplicate by `messageKey`, and keeps an in-memory inbox of the latest messages.
 *
 * What it keeps for the whole run is what de-duplication needs: each `messageKey` with its
 * message's number. The messages themselves — text included — are in the journal
 * (`notify.message`); the inbox holds only the last `inboxLimit` of them, so a long run does not
 * keep every message's text.
 *
 * `notify.error`: while the fault's window is on, messages about a hit buyer's orders (decided per
 * buyer, else per order) are refused with the fault's `status` and `{ code: "SYSTEM_ERROR" }` —
 * the SMS gateway is down; a good shop retries or uses another channel.
 *
 * The other ways messages arrive — the SMS gateway (`./sms-gateway.ts`) and the SMTP capture server
 * (`./email/`) — record what they accept through `record()`, and the SMS gateway asks `refusal()`
 * for `notify.error`'s decision, so every channel journals the same events.
 */
import { openRecordSpace, type RecordSpace, type RecordStore } from '../memory/index.js';
import { contactKey, errorReply, optionalString, seqId, type MockContext, type MockReply, type MockRequest, type MockRoute } from './mock-types.js';

export const NOTIFY_CHANNELS = ['sms', 'email', 'inbox'] as const;
export type NotifyChannel = (typeof NOTIFY_CHANNELS)[number];

/** A message as the gateway's inbox holds it. */
export interface InboxMessage {
  messageId: string;
  to: string;
  orderId: string;
  channel: NotifyChannel;
  kind: string;
  reason?: string;
  text: string;
  messageKey?: string;
  receivedAt: string;
}

export interface NotifyGatewayOptions extends MockContext {
  /** Wall clock, ms since the epoch. @default Date.now */
  clock?: () => number;
  /**
   * Messages the inbox keeps (the newest; older ones are only in the journal). At least 1.
   * @default 1000
   */
  inboxLimit?: number;
  /** Where the message keys are kept (idle ones may leave the heap). @default all in the heap */
  records?: RecordSpace;
}

/** Messages the inbox keeps unless told otherwise. */
export const DEFAULT_INBOX_LIMIT = 1000;

export interface InboxFilter {
  orderId?: string;
  to?: string;
}

export class NotifyGateway {
  private readonly context: MockContext;
  private readonly clock: () => number;
  private readonly inboxLimit: number;
  /** The latest messages accepted: a ring of at most `inboxLimit`, the oldest at `oldest`. */
  private readonly latest: InboxMessage[] = [];
  private oldest = 0;
  /** messageKey → the number of the message first accepted under it (its id is `seqId('M', n)`), for the whole run. */
  private readonly byKey: RecordStore<string, number>;
  /** Orders a `notify.error` refusal was already recorded for as `fault.injected` (once per fault and order). */
  private readonly refusedOrders = new Set<string>();
  private messageSeq = 0;

  constructor(options: NotifyGatewayOptions) {
    this.context = { journal: options.journal, plan: options.plan, correlation: options.correlation };
    this.clock = options.clock ?? Date.now;
    this.inboxLimit = Math.max(1, Math.floor(options.inboxLimit ?? DEFAULT_INBOX_LIMIT));
    this.byKey = (options.records ?? openRecordSpace()).store<string, number>('message_key', { encode: String, decode: Number, key: String });
  }

  /**
   * The latest messages accepted (duplicates dropped; at most `inboxLimit`), oldest first,
   * optionally filtered.
   */
  inbox(filter: InboxFilter = {}): InboxMessage[] {
    const ordered = this.oldest === 0 ? this.latest : [...this.latest.slice(this.oldest), ...this.latest.slice(0, this.oldest)];
    return ordered
      .filter((message) => (filter.orderId === undefined || message.orderId === filter.orderId) && (filter.to === undefined || message.to === filter.to))
      .map((message) => ({ ...message }));
  }

  /** Messages accepted in this run (duplicates dropped), including those no longer in the inbox. */
  accepted(): number {
    return this.messageSeq;
  }

  /** Message keys remembered for de-duplication (for memory checks). */
  keys(): number {
    return this.byKey.size;
  }

  routes(): MockRoute[] {
    return [
      { method: 'POST', path: '/v1/messages', name: 'send', handle: (request) => this.send(request) },
      { method: 'GET', path: '/v1/messages', name: 'inbox', handle: (request) => this.list(request) },
    ];
  }

  send(request: MockRequest): MockReply {
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return errorReply(400, 'INVALID_REQUEST', 'expected a JSON object body');
    const { to, orderId, channel, kind, reason, text, messageKey } = body as Record<string, unknown>;
    if (typeof to !== 'string' || to === '') return errorReply(400, 'INVALID_REQUEST', 'to: expected a non-empty string');
    if (typeof orderId !== 'string' || orderId === '') return errorReply(400, 'INVALID_REQUEST', 'orderId: expected a non-empty string');
    if (typeof channel !== 'string' || !(NOTIFY_CHANNELS as readonly string[]).includes(channel)) {
      return errorReply(400, 'INVALID_REQUEST', `channel: expected one of ${NOTIFY_CHANNELS.join(', ')}`);
    }
    if (typeof kind !== 'string' || kind === '') return errorReply(400, 'INVALID_REQUEST', 'kind: expected a non-empty string');
    if (typeof text !== 'string') return errorReply(400, 'INVALID_REQUEST', 'text: expected a string');
    if (!optionalString(reason) || !optionalString(messageKey)) {
      return errorReply(400, 'INVALID_REQUEST', 'reason, messageKey: expected strings when given');
    }

    const refused = this.refusal({ orderId, to, kind, channel });
    if (refused !== undefined) return errorReply(refused, 'SYSTEM_ERROR', 'the message gateway is unavailable; retry later or use another channel');

    const { messageId } = this.record({
      to,
      orderId,
      channel: channel as NotifyChannel,
      kind,
      text,
      ...(reason === undefined ? {} : { reason }),
      ...(messageKey === undefined ? {} : { messageKey }),
    });
    return { status: 202, body: { messageId } };
  }

  /**
   * `notify.error`'s decision on a message about `orderId` (about no known order: decided on the
   * recipient's buyer, else on the recipient): the HTTP status to refuse it with, or undefined when
   * the gateway is up for it. A refusal is journaled: `fault.injected` once per fault and order (or
   * subject), `notify.refused` every time when the order is known.
   */
  refusal(message: { orderId?: string; buyerId?: string; to: string; kind?: string; channel: string }): number | undefined {
    const plan = this.context.plan;
    if (!plan.has('notify.error')) return undefined;
    const { orderId, to, kind, channel } = message;
    const correlation = this.context.correlation;
    const subject = orderId === undefined ? (message.buyerId ?? contactKey(to)) : correlation.subject(orderId);
    const down = plan.first('notify.error', subject);
    if (!down) return undefined;
    const status = down.spec.status;
    const once = `${down.index}\u0000${orderId ?? subject}`;
    if (!this.refusedOrders.has(once)) {
      this.refusedOrders.add(once);
      const buyerId = orderId === undefined ? message.buyerId : correlation.buyerOf(orderId);
      this.context.journal.append('fault.injected', {
        fault: down.spec.id,
        faultIndex: down.index,
        ...(orderId === undefined ? {} : { orderId }),
        ...(buyerId === undefined ? {} : { buyerId }),
        detail: { status, channel, ...(kind === undefined ? {} : { kind }) },
      });
    }
    if (orderId !== undefined) {
      this.context.journal.append('notify.refused', { orderId, to, ...(kind === undefined ? {} : { kind }), httpStatus: status, channel });
    }
    return status;
  }

  /**
   * Accepts a message about an order, whatever channel brought it: journals `notify.message`
   * (marked duplicate when its `messageKey` was seen before) and keeps it in the inbox.
   */
  record(message: Omit<InboxMessage, 'messageId' | 'receivedAt'>): { messageId: string; duplicate: boolean } {
    const fields = {
      to: message.to,
      orderId: message.orderId,
      channel: message.channel,
      kind: message.kind,
      ...(message.reason === undefined ? {} : { reason: message.reason }),
      text: message.text,
      ...(message.messageKey === undefined ? {} : { messageKey: message.messageKey }),
    };
    const original = message.messageKey === undefined ? undefined : this.byKey.get(message.messageKey);
    if (original !== undefined) {
      const messageId = seqId('M', original);
      this.context.journal.append('notify.message', { messageId, ...fields, duplicate: true });
      return { messageId, duplicate: true };
    }
    this.messageSeq += 1;
    const kept: InboxMessage = { messageId: seqId('M', this.messageSeq), ...fields, receivedAt: new Date(this.clock()).toISOString() };
    this.keep(kept);
    if (message.messageKey !== undefined) this.byKey.set(message.messageKey, this.messageSeq);
    this.context.journal.append('notify.message', { messageId: kept.messageId, ...fields, duplicate: false });
    return { messageId: kept.messageId, duplicate: false };
  }

  list(request: MockRequest): MockReply {
    const filter: InboxFilter = {};
    if (request.query.orderId) filter.orderId = request.query.orderId;
    if (request.query.to) filter.to = request.query.to;
    return { status: 200, body: this.inbox(filter) };
  }

  /** Adds a message to the inbox, dropping the oldest beyond `inboxLimit`. */
  private keep(message: InboxMessage): void {
    if (this.latest.length < this.inboxLimit) {
      this.latest.push(message);
      return;
    }
    this.latest[this.oldest] = message;
    this.oldest = (this.oldest + 1) % this.inboxLimit;
  }
}
