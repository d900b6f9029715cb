/**
 * What a shop answers, read the way a careful client reads a stranger's API: an order view is only
 * what has the right shape — string ids and statuses of sane length, finite amounts, cards that
 * are objects with a string code. Anything else is dropped here, at the adapter boundary, so no
 * later part of the run (the fold, the renderers) meets a `null` card or an object where an id
 * belongs; and a 2xx create answer without a readable order is an error the report counts.
 */
import type { HttpAnswer, ShopOrderView } from '../../core/http-client.js';
import type { ShopSession } from './adapter.js';

/** Longest id, status, reason, code or link kept from a shop; longer ones are not a usable value. */
export const MAX_FIELD_CHARS = 2048;
/** Most cards kept from one order view. */
export const MAX_CARDS = 10_000;

type Card = NonNullable<ShopOrderView['delivery']>['cards'][number];

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string => typeof value === 'string' && value !== '' && value.length <= MAX_FIELD_CHARS;
/** A card is an object with a code (a string, or a number some shops send); its other fields are the shop's. */
const isCard = (card: unknown): card is Card => isRecord(card) && (isText(card.code) || (typeof card.code === 'number' && Number.isFinite(card.code)));

/** A view whose every field has its type: returned as it is (no copy on the hot path). */
function wellFormed(view: Record<string, unknown>): boolean {
  if (!isText(view.orderId) || !isText(view.status)) return false;
  if (view.reason !== undefined && !isText(view.reason)) return false;
  if (view.amount !== undefined && !(typeof view.amount === 'number' && Number.isFinite(view.amount))) return false;
  if (view.payment !== undefined && !(isRecord(view.payment) && (view.payment.tradeNo === undefined || isText(view.payment.tradeNo)) && (view.payment.payUrl === undefined || isText(view.payment.payUrl)))) return false;
  if (view.delivery !== undefined) {
    const cards = isRecord(view.delivery) ? view.delivery.cards : undefined;
    if (!Array.isArray(cards) || cards.length > MAX_CARDS || !cards.every(isCard)) return false;
  }
  return view.error === undefined || (isRecord(view.error) && isText(view.error.code));
}

/** The order view in `body`, with fields of the wrong type left out; undefined without an id and a status. */
export function readableOrderView(body: unknown): ShopOrderView | undefined {
  if (!isRecord(body)) return undefined;
  if (wellFormed(body)) return body as unknown as ShopOrderView;
  if (!isText(body.orderId) || !isText(body.status)) return undefined;
  const payment = isRecord(body.payment) ? body.payment : undefined;
  const cards = isRecord(body.delivery) && Array.isArray(body.delivery.cards) ? body.delivery.cards.slice(0, MAX_CARDS).filter(isCard) : undefined;
  return {
    orderId: body.orderId,
    status: body.status,
    ...(isText(body.reason) ? { reason: body.reason } : {}),
    ...(typeof body.amount === 'number' && Number.isFinite(body.amount) ? { amount: body.amount } : {}),
    ...(payment && (isText(payment.tradeNo) || isText(payment.payUrl))
      ? { payment: { ...(isText(payment.tradeNo) ? { tradeNo: payment.tradeNo } : {}), ...(isText(payment.payUrl) ? { payUrl: payment.payUrl } : {}) } }
      : {}),
    ...(cards ? { delivery: { cards } } : {}),
    ...(isRecord(body.error) && isText(body.error.code) ? { error: { code: body.error.code } } : {}),
  };
}

/** A refusal's error code, kept when it is a string: `{ error: { code } }` and nothing else. */
function refusalView(body: unknown): ShopOrderView | undefined {
  const code = isRecord(body) && isRecord(body.error) ? body.error.code : undefined;
  return isText(code) ? { orderId: '', status: '', error: { code } } : undefined;
}

const ok = (status: number | undefined): boolean => status !== undefined && status >= 200 && status < 300;

/** An answer with its body read as an order view (or a refusal's code); a 2xx create without one is an error. */
export function guardedAnswer(answer: HttpAnswer<ShopOrderView>, what: 'create' | 'read' | 'cancel'): HttpAnswer<ShopOrderView> {
  if (answer.status === undefined) return answer;
  const view = ok(answer.status) ? readableOrderView(answer.body) : refusalView(answer.body);
  if (view !== undefined && view === answer.body) return answer;
  const { body: _unreadable, ...rest } = answer;
  if (view !== undefined) return { ...rest, body: view };
  if (what === 'create' && ok(answer.status)) return { ...rest, error: `the shop answered HTTP ${answer.status} without a readable order (expected an order id and a status)` };
  return rest;
}

const guarded = new WeakMap<ShopSession, ShopSession>();

/** `session` with every answer guarded; one guard per session, so a shared session stays shared. */
export function guardSession(session: ShopSession): ShopSession {
  let guard = guarded.get(session);
  if (!guard) {
    guard = {
      createOrder: async (request, key) => guardedAnswer(await session.createOrder(request, key), 'create'),
      readOrder: async (orderId) => guardedAnswer(await session.readOrder(orderId), 'read'),
      cancelOrder: async (orderId) => guardedAnswer(await session.cancelOrder(orderId), 'cancel'),
    };
    guarded.set(session, guard);
  }
  return guard;
}
