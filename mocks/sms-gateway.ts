/**
 * An HTTP SMS gateway of the shape Chinese SMS providers offer card shops (a form POST signed with
 * an MD5 of the fields and a shared key), served beside the native notify API on its port.
 *
 * Request: `POST /sms/send`, `application/x-www-form-urlencoded`, UTF-8:
 *   account    the shop's account (`SmsCredentials.account`)
 *   mobile     the recipient's number; several separated by commas (at most 100)
 *   content    the text (at most 500 characters), e.g. "【Shop】您的订单 O-12 已发货，卡密：…"
 *   timestamp  Unix time in seconds (milliseconds accepted), within 300 s of the gateway's clock
 *   sign       lower-case hex MD5 of the UTF-8 bytes of account + key + mobile + content + timestamp,
 *              each exactly as sent (no separators; `key` is `SmsCredentials.key`, never sent)
 *   format     optional: `json` (default) or `text`
 *
 * Answer (HTTP 200 unless the gateway is down): JSON `{ "code": 0, "msg": "ok", "msgid": "S…",
 * "count": 1 }`, or as text `0,S…` on success and the bare code otherwise. Codes:
 *   0 accepted · 101 unknown account · 102 bad signature · 103 timestamp out of range ·
 *   104 bad request (a field missing or malformed) · 105 rate limited (too many messages to one
 *   number within `rateLimit.windowMs`) · 500 gateway down (`notify.error`: HTTP status of the fault)
 *
 * Each recipient's message is matched to an order like e-mail (order number in the text, then the
 * number as a buyer's contact, then another id in the text), its kind read from its words, and
 * journaled as `notify.message` (channel `sms`) when matched; every recipient as
 * `notify.sms.received`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { MessageClassifier } from './message-kinds.js';
import { UNCLASSIFIED_KIND } from './message-kinds.js';
import type { MessageMatcher } from './message-match.js';
import { contactKey, seqId, type MockContext, type MockReply, type MockRequest, type MockRoute } from './mock-types.js';
import type { NotifyGateway } from './notify.js';
import { outside } from './run-credentials.js';
import type { KeyFile } from './payment/credentials.js';

/** The shop's SMS account: what its gateway settings take. */
export interface SmsCredentials {
  account: string;
  /** The shared signing key (never sent over the wire). */
  key: string;
}

/** Where the SMS gateway listens and the account the shop signs with. */
export interface SmsEndpoint {
  /** The send URL: `<ORDEAL_NOTIFY_URL>/sms/send`. */
  url: string;
  credentials: SmsCredentials;
}

export const SMS_SEND_PATH = '/sms/send';
/** How far a request's timestamp may be from the gateway's clock, seconds. */
export const SMS_TIMESTAMP_TOLERANCE_S = 300;
const MAX_RECIPIENTS = 100;
const MAX_CONTENT_CHARS = 500;

export const SMS_CODES = { ok: 0, unknownAccount: 101, badSignature: 102, staleTimestamp: 103, badRequest: 104, rateLimited: 105, down: 500 } as const;

/** A fresh account and key for a run. */
export function newSmsCredentials(): SmsCredentials {
  return { account: `ordeal${randomBytes(3).toString('hex')}`, key: randomBytes(16).toString('hex') };
}

/** The files a shop's SMS settings need (written to the run's keys folder). */
export function smsKeyFiles(credentials: SmsCredentials): KeyFile[] {
  return [
    { name: 'sms-account.txt', content: credentials.account, purpose: 'SMS gateway account (form field `account`)' },
    { name: 'sms-key.txt', content: credentials.key, purpose: 'SMS gateway signing key: sign = md5(account + key + mobile + content + timestamp)' },
  ];
}

/** The signature of a send request, as the gateway checks it. */
export function smsSignature(key: string, fields: { account: string; mobile: string; content: string; timestamp: string }): string {
  return createHash('md5').update(`${fields.account}${key}${fields.mobile}${fields.content}${fields.timestamp}`, 'utf8').digest('hex');
}

export interface SmsRateLimit {
  /** Messages one number may receive per window. @default 20 */
  perMobile: number;
  /** @default 60000 */
  windowMs: number;
}

export interface SmsGatewayOptions extends MockContext {
  credentials: SmsCredentials;
  notify: NotifyGateway;
  matcher: MessageMatcher;
  classifier: MessageClassifier;
  /** @default 20 messages per number per minute */
  rateLimit?: Partial<SmsRateLimit>;
  /** Wall clock, ms since the epoch. @default Date.now */
  clock?: () => number;
}

/** Numbers whose send times are remembered for the rate limit, at most. */
const MAX_TRACKED_NUMBERS = 10_000;

export class SmsGateway {
  private readonly rateLimit: SmsRateLimit;
  private readonly clock: () => number;
  /** contactKey(number) → recent send times (ms), oldest first; insertion order is age. */
  private readonly recentSends = new Map<string, number[]>();
  private sent = 0;

  constructor(private readonly options: SmsGatewayOptions) {
    this.rateLimit = { perMobile: 20, windowMs: 60_000, ...options.rateLimit };
    this.clock = options.clock ?? Date.now;
  }

  routes(): MockRoute[] {
    return [{ method: 'POST', path: SMS_SEND_PATH, name: 'sms-send', handle: (request) => this.send(request) }];
  }

  send(request: MockRequest): MockReply {
    const fields = formFields(request.body);
    const format = fields.format === 'text' ? 'text' : 'json';
    const answer = (code: number, msg: string, extra: { msgid?: string; count?: number; status?: number } = {}): MockReply => {
      const status = extra.status ?? 200;
      if (format === 'text') {
        return { status, body: code === 0 ? `0,${extra.msgid ?? ''}` : String(code), headers: { 'content-type': 'text/plain; charset=utf-8' } };
      }
      return { status, body: { code, msg, ...(extra.msgid === undefined ? {} : { msgid: extra.msgid }), ...(extra.count === undefined ? {} : { count: extra.count }) } };
    };

    const { account, mobile, content, timestamp, sign } = fields;
    if (account === undefined || mobile === undefined || content === undefined || timestamp === undefined || sign === undefined) {
      return answer(SMS_CODES.badRequest, 'account, mobile, content, timestamp and sign are required');
    }
    if (account !== this.options.credentials.account) return outside(answer(SMS_CODES.unknownAccount, 'unknown account'), 'unknown SMS account');
    if (sign.toLowerCase() !== smsSignature(this.options.credentials.key, { account, mobile, content, timestamp })) {
      return outside(answer(SMS_CODES.badSignature, 'signature mismatch'), 'SMS sign does not verify');
    }
    const sentAt = timestampMs(timestamp);
    if (sentAt === undefined) return answer(SMS_CODES.badRequest, 'timestamp: expected Unix time in seconds');
    if (Math.abs(this.clock() - sentAt) > SMS_TIMESTAMP_TOLERANCE_S * 1000) return answer(SMS_CODES.staleTimestamp, 'timestamp out of range');
    const numbers = mobile.split(',').map((number) => number.trim()).filter((number) => number !== '');
    if (numbers.length === 0 || numbers.length > MAX_RECIPIENTS || numbers.some((number) => !/^\+?\d{5,20}$/.test(number))) {
      return answer(SMS_CODES.badRequest, `mobile: expected 1 to ${MAX_RECIPIENTS} numbers, comma-separated`);
    }
    if (content.trim() === '' || content.length > MAX_CONTENT_CHARS) return answer(SMS_CODES.badRequest, `content: expected 1 to ${MAX_CONTENT_CHARS} characters`);

    const now = this.clock();
    const { journal } = this.options;
    const kind = this.options.classifier.classify('', content);
    const reason = this.options.classifier.reasonOf(kind, '', content);
    const recipients = numbers.map((number) => {
      const match = this.options.matcher.match({ recipients: [number], texts: [content] });
      const recipient = this.options.matcher.recipientOf([number]);
      return { number, match, to: match?.contact ?? recipient?.to ?? number, buyerId: match?.buyerId ?? recipient?.buyerId };
    });
    const received = (number: string, code: number, match: (typeof recipients)[number]['match']): void => {
      journal.append('notify.sms.received', {
        mobile: number,
        chars: content.length,
        ...(match === undefined ? {} : { orderId: match.orderId, matchedBy: match.by }),
        ...(kind === undefined ? {} : { kind }),
        code,
      });
    };

    if (recipients.some((recipient) => this.limited(contactKey(recipient.number), now))) {
      for (const recipient of recipients) received(recipient.number, SMS_CODES.rateLimited, recipient.match);
      return answer(SMS_CODES.rateLimited, 'too many messages to this number; try later');
    }

    let downStatus: number | undefined;
    for (const recipient of recipients) {
      const status = this.options.notify.refusal({
        ...(recipient.match === undefined ? {} : { orderId: recipient.match.orderId }),
        ...(recipient.buyerId === undefined ? {} : { buyerId: recipient.buyerId }),
        to: recipient.to,
        ...(kind === undefined ? {} : { kind }),
        channel: 'sms',
      });
      downStatus ??= status;
    }
    if (downStatus !== undefined) {
      for (const recipient of recipients) received(recipient.number, SMS_CODES.down, recipient.match);
      return answer(SMS_CODES.down, 'gateway busy; retry later', { status: downStatus });
    }

    this.sent += 1;
    const msgid = seqId('S', this.sent);
    for (const recipient of recipients) {
      this.remember(contactKey(recipient.number), now);
      received(recipient.number, SMS_CODES.ok, recipient.match);
      if (recipient.match === undefined) continue;
      if (recipient.match.buyerId !== undefined) this.options.correlation.linkContact(recipient.number, recipient.match.buyerId, recipient.match.orderId);
      this.options.notify.record({ to: recipient.to, orderId: recipient.match.orderId, channel: 'sms', kind: kind ?? UNCLASSIFIED_KIND, ...(reason === undefined ? {} : { reason }), text: content });
    }
    return answer(SMS_CODES.ok, 'ok', { msgid, count: recipients.length });
  }

  /** Requests accepted in this run. */
  accepted(): number {
    return this.sent;
  }

  private limited(number: string, now: number): boolean {
    const times = this.recentSends.get(number);
    if (times === undefined) return false;
    while (times.length > 0 && times[0]! <= now - this.rateLimit.windowMs) times.shift();
    return times.length >= this.rateLimit.perMobile;
  }

  private remember(number: string, now: number): void {
    const times = this.recentSends.get(number) ?? [];
    times.push(now);
    if (times.length > this.rateLimit.perMobile) times.shift();
    // Re-inserted, the number becomes the newest: the oldest is the first to go.
    this.recentSends.delete(number);
    this.recentSends.set(number, times);
    if (this.recentSends.size > MAX_TRACKED_NUMBERS) {
      const oldest = this.recentSends.keys().next().value;
      if (oldest !== undefined) this.recentSends.delete(oldest);
    }
  }
}

/** A form's fields as strings (the first of a repeated name); empty for another body. */
function formFields(body: unknown): Partial<Record<string, string>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  const fields: Partial<Record<string, string>> = {};
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) if (typeof value === 'string') fields[name] = value;
  return fields;
}

/** Unix seconds (10 digits) or milliseconds (13 digits) as ms; undefined when neither. */
function timestampMs(text: string): number | undefined {
  if (!/^\d{9,13}$/.test(text)) return undefined;
  const value = Number(text);
  return text.length >= 12 ? value : value * 1000;
}
