/**
 * The declarative adapter: a JSON or form-encoded REST shop described in YAML instead of code —
 * request templates per step (catalogue, a buyer's setup such as signing up, the steps that create
 * an order, reading and cancelling one), where the order's fields are in the answers, and a map
 * from the shop's own status words to the canonical statuses.
 *
 * Templates: `{{name}}` takes a value — the order request (`order.sku`, `order.quantity`,
 * `order.coupon`, `order.contact`, `order.recipient`, `order.paymentMethod`), the buyer (`buyer.id`,
 * `buyer.ip`, …), `idempotencyKey`, `orderId`, and whatever earlier steps saved. A JSON value that
 * is exactly one `{{name}}` keeps its type (a quantity stays a number). Field paths are dotted:
 * `order.payment.url`, `items.0.sku`.
 */
import { z } from 'zod';
import { OrdealError } from '../../core/errors.js';
import type { HttpAnswer, HttpMethod, ShopOrderView } from '../../core/http-client.js';
import { describeProblems, fieldNamesOf, readYamlFile } from '../scenario/loader.js';
import type { BuyerIdentity, CanonicalStatus, OrderRequest, ShopCatalog, ShopSession, TargetAdapter, TargetContext, TargetObservability } from './adapter.js';

const CANONICAL_STATUSES = [
  'pending_payment',
  'awaiting_verification',
  'under_review',
  'paid',
  'fulfilling',
  'delivered',
  'cancelled',
  'expired',
  'failed',
  'refund_pending',
  'refunded',
] as const satisfies readonly CanonicalStatus[];

const requestSchema = z
  .strictObject({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
    /** Path on the shop, e.g. `/api/orders/{{orderId}}`. */
    path: z.string().startsWith('/', { error: 'expected a path starting with "/"' }),
    headers: z.record(z.string(), z.string()).default({}),
    /** A JSON body (templated). */
    json: z.unknown().optional(),
    /** A form-encoded body (templated). */
    form: z.record(z.string(), z.string()).optional(),
  })
  .refine((request) => request.json === undefined || request.form === undefined, { error: 'expected `json` or `form`, not both' });

const stepSchema = z.strictObject({
  request: requestSchema,
  /** Values to keep for later steps: `{ token: "data.token" }` saves the answer's `data.token` as `{{token}}`. */
  save: z.record(z.string().regex(/^[A-Za-z_][\w]*$/), z.string()).default({}),
  /** Run the step only when this value is not empty, e.g. `order.coupon`. @default always */
  when: z.string().optional(),
  /**
   * Run the step once per buying intent (one idempotency key): a retry or a double click reuses
   * what it saved — the cart a browser page already holds. @default false
   */
  perIntent: z.boolean().default(false),
});

/** Where an order's fields are in an answer. */
const orderFieldsSchema = z.strictObject({
  id: z.string().default('orderId'),
  status: z.string().default('status'),
  amount: z.string().optional(),
  /** The link the buyer pays at (a cashier page). */
  payUrl: z.string().optional(),
  /** The provider's trade number. */
  tradeNo: z.string().optional(),
  /** A reason the shop gives for a failed or held order. */
  reason: z.string().optional(),
  /** The delivered cards: the list, and the field of each card's code (empty: the items are the codes). */
  cards: z.strictObject({ list: z.string(), code: z.string().default('') }).optional(),
});

export const declarativeAdapterSchema = z.strictObject({
  name: z.string().min(1),
  /** Headers on every request (templated), e.g. `authorization: Bearer {{token}}`. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Send the buyer's own address as X-Forwarded-For and X-Real-IP (shops behind a proxy that throttle per IP). @default false */
  forwardedFor: z.boolean().default(false),
  catalog: z
    .strictObject({
      request: requestSchema,
      /** The list of products in the answer, and each product's fields. */
      skus: z.strictObject({ list: z.string(), sku: z.string().default('sku'), price: z.string().default('price') }),
      coupons: z
        .strictObject({
          /** Where the coupons are listed, when not in the products' answer. */
          request: requestSchema.optional(),
          list: z.string(),
          code: z.string().default('code'),
          /** An amount off in minor units (coupons without one, such as a percentage, are left out). */
          discount: z.string().default('discount'),
          minAmount: z.string().default('minAmount'),
        })
        .optional(),
    })
    .optional(),
  /** Steps run once per buyer before its first order (sign up, log in); what they save lasts for the buyer. @default [] */
  setup: z.array(stepSchema).default([]),
  /** Steps that place an order; the last step's answer holds the order. */
  createOrder: z.array(stepSchema).min(1),
  readOrder: stepSchema,
  cancelOrder: stepSchema.optional(),
  order: orderFieldsSchema.default({ id: 'orderId', status: 'status' }),
  /**
   * The shop's status words → canonical statuses; `word/reason` (with `order.reason`) is looked up
   * first, e.g. `canceled/payment_window_expired: expired`. A word not listed is shown as it is.
   */
  statuses: z.record(z.string(), z.enum(CANONICAL_STATUSES)).default({}),
  /**
   * The shop's error codes → contract v1's, e.g. `coupon_minimum_not_met: coupon_below_threshold`,
   * so a refusal is recognised for what it is. A code not listed is kept as the shop sent it.
   */
  errors: z.record(z.string(), z.string()).default({}),
  /**
   * The shop's reasons (`order.reason`) → contract v1's, e.g. `insufficient_funds: payment_declined`.
   * Looked up after `statuses`, whose `word/reason` keys use the shop's own reason.
   */
  reasons: z.record(z.string(), z.string()).default({}),
});
export type DeclarativeAdapterSpec = z.output<typeof declarativeAdapterSchema>;
type Step = z.output<typeof stepSchema>;
/** A `perIntent` step's outcome, shared by the calls of one intent. */
interface IntentStep {
  answer: HttpAnswer<unknown>;
  saved: ReadonlyMap<string, unknown>;
}
type RequestSpec = z.output<typeof requestSchema>;

/** Loads and validates a declarative adapter file. */
export async function loadDeclarativeAdapter(file: string): Promise<DeclarativeAdapterSpec> {
  const { input, lineOf } = await readYamlFile(file, { notFound: 'ORDEAL_ERR_TARGET_ADAPTER', parse: 'ORDEAL_ERR_TARGET_ADAPTER' });
  const result = declarativeAdapterSchema.safeParse(input);
  if (result.success) return result.data;
  const names = fieldNamesOf(z.toJSONSchema(declarativeAdapterSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>);
  throw new OrdealError('ORDEAL_ERR_TARGET_ADAPTER', describeProblems(file, result.error.issues, lineOf, () => names), { cause: result.error });
}

/** The value at a dotted path (`a.b.0.c`), or undefined. */
export function valueAt(data: unknown, path: string): unknown {
  if (path === '') return data;
  let node: unknown = data;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

const WHOLE = /^\{\{\s*([\w.]+)\s*\}\}$/;
const ANY = /\{\{\s*([\w.]+)\s*\}\}/g;

/** A template with its values filled in; a JSON value that is one whole `{{name}}` keeps the value's type. */
export function fill(template: unknown, values: ReadonlyMap<string, unknown>): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) return values.get(whole[1]!) ?? '';
    return template.replace(ANY, (_, name: string) => text(values.get(name)));
  }
  if (Array.isArray(template)) return template.map((item) => fill(item, values));
  if (template !== null && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, fill(value, values)]));
  }
  return template;
}

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function requestValues(request: OrderRequest): Array<[string, unknown]> {
  return [
    ['order.sku', request.sku],
    ['order.quantity', request.quantity],
    ['order.coupon', request.coupon ?? ''],
    ['order.contact', request.contact],
    ['order.recipient', request.recipient.account],
    ['order.recipientKind', request.recipient.kind],
    ['order.paymentMethod', request.paymentMethod],
  ];
}

function buyerValues(buyer: BuyerIdentity): Array<[string, unknown]> {
  return Object.entries(buyer).map(([key, value]) => [`buyer.${key}`, value]);
}

/** The canonical order view of an answer, by the spec's field paths and status map; undefined when it names no order. */
export function orderViewOf(spec: DeclarativeAdapterSpec, body: unknown, knownId?: string): ShopOrderView | undefined {
  const fields = spec.order;
  const id = valueAt(body, fields.id) ?? knownId;
  const word = valueAt(body, fields.status);
  if ((typeof id !== 'string' && typeof id !== 'number') || typeof word !== 'string') return undefined;
  const amount = fields.amount ? valueAt(body, fields.amount) : undefined;
  const payUrl = fields.payUrl ? valueAt(body, fields.payUrl) : undefined;
  const tradeNo = fields.tradeNo ? valueAt(body, fields.tradeNo) : undefined;
  const reason = fields.reason ? valueAt(body, fields.reason) : undefined;
  const list = fields.cards ? valueAt(body, fields.cards.list) : undefined;
  const cards = Array.isArray(list) ? list.map((item) => valueAt(item, fields.cards!.code)).filter((code): code is string | number => typeof code === 'string' || typeof code === 'number') : [];
  const byReason = typeof reason === 'string' && reason !== '' ? spec.statuses[`${word}/${reason}`] : undefined;
  return {
    orderId: String(id),
    status: byReason ?? spec.statuses[word] ?? word,
    ...(typeof amount === 'number' ? { amount } : {}),
    ...(typeof reason === 'string' && reason !== '' ? { reason: Object.hasOwn(spec.reasons, reason) ? (spec.reasons[reason] as string) : reason } : {}),
    ...(typeof payUrl === 'string' || typeof tradeNo === 'string'
      ? { payment: { ...(typeof payUrl === 'string' ? { payUrl } : {}), ...(typeof tradeNo === 'string' ? { tradeNo } : {}) } }
      : {}),
    ...(cards.length > 0 ? { delivery: { cards: cards.map((code) => ({ code: String(code) })) } } : {}),
  };
}

const OK = (status: number | undefined): boolean => status !== undefined && status >= 200 && status < 300;

/** A declarative adapter bound to one run. */
export function declarativeTarget(spec: DeclarativeAdapterSpec, context: TargetContext, observes: TargetObservability): TargetAdapter {
  const send = (request: RequestSpec, values: ReadonlyMap<string, unknown>, buyer?: BuyerIdentity): Promise<HttpAnswer<unknown>> => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries({ ...spec.headers, ...request.headers })) {
      const filled = text(fill(value, values)).trim();
      // A header whose value is still empty (say, no token yet) is not sent.
      if (filled !== '' && !/^Bearer$/i.test(filled)) headers[name.toLowerCase()] = filled;
    }
    if (spec.forwardedFor && buyer) {
      headers['x-forwarded-for'] = buyer.ip;
      headers['x-real-ip'] = buyer.ip;
    }
    const url = `${context.shopUrl}${text(fill(request.path, values))}`;
    if (request.form) {
      const form = new URLSearchParams(Object.entries(fill(request.form, values) as Record<string, unknown>).map(([key, value]): [string, string] => [key, text(value)]));
      return context.client.send(request.method as HttpMethod, url, form.toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers });
    }
    return context.client.send(request.method as HttpMethod, url, request.json === undefined ? undefined : fill(request.json, values), headers);
  };

  /** Runs one step, saving what it says; the answer as it came. */
  const runStep = async (step: Step, values: Map<string, unknown>, buyer: BuyerIdentity): Promise<HttpAnswer<unknown>> => {
    const answer = await send(step.request, values, buyer);
    if (OK(answer.status)) for (const [name, path] of Object.entries(step.save)) values.set(name, valueAt(answer.body, path));
    return answer;
  };

  /**
   * Runs steps in order; stops at the first answer that is not 2xx. Latency is the sum. A
   * `perIntent` step runs once per idempotency key (`intents`): later calls reuse what it saved.
   */
  const runSteps = async (steps: readonly Step[], values: Map<string, unknown>, buyer: BuyerIdentity, intents?: Map<string, Promise<IntentStep>>): Promise<HttpAnswer<unknown>> => {
    let latencyMs = 0;
    let answer: HttpAnswer<unknown> = { status: 200, latencyMs: 0 };
    for (const [index, step] of steps.entries()) {
      if (step.when !== undefined && text(values.get(step.when)) === '') continue;
      const key = step.perIntent && intents ? `${text(values.get('idempotencyKey'))}\u0000${index}` : undefined;
      if (key !== undefined) {
        let once = intents!.get(key);
        if (!once) {
          const saved = new Map<string, unknown>(values);
          once = runStep(step, saved, buyer).then((stepAnswer) => ({ answer: stepAnswer, saved }));
          intents!.set(key, once);
        }
        const { answer: stepAnswer, saved } = await once;
        answer = stepAnswer;
        if (!OK(answer.status)) intents!.delete(key);
        else for (const name of Object.keys(step.save)) values.set(name, saved.get(name));
      } else {
        answer = await runStep(step, values, buyer);
      }
      latencyMs += answer.latencyMs;
      if (!OK(answer.status)) break;
    }
    return { ...answer, latencyMs };
  };

  const asOrder = (answer: HttpAnswer<unknown>, knownId?: string): HttpAnswer<ShopOrderView> => {
    const view = OK(answer.status) ? orderViewOf(spec, answer.body, knownId) : undefined;
    const { body: _shown, ...rest } = answer;
    // A 2xx whose body names no order is no order: a usable view or nothing.
    return view ? { ...rest, body: view } : { ...rest, ...(OK(answer.status) ? {} : errorBody(answer.body, spec.errors)) };
  };

  return {
    name: `declarative:${spec.name}`,
    observes,
    async catalog(): Promise<ShopCatalog | undefined> {
      if (!spec.catalog) return undefined;
      const answer = await send(spec.catalog.request, new Map());
      const list = OK(answer.status) ? valueAt(answer.body, spec.catalog.skus.list) : undefined;
      if (!Array.isArray(list)) return undefined;
      const { sku: skuPath, price: pricePath } = spec.catalog.skus;
      const skus = list.flatMap((item) => {
        const sku = valueAt(item, skuPath);
        const price = valueAt(item, pricePath);
        return (typeof sku === 'string' || typeof sku === 'number') && Number.isSafeInteger(price) && (price as number) > 0 ? [{ sku: String(sku), price: price as number }] : [];
      });
      const couponSpec = spec.catalog.coupons;
      const couponAnswer = couponSpec?.request ? await send(couponSpec.request, new Map()) : answer;
      const couponList = couponSpec && OK(couponAnswer.status) ? valueAt(couponAnswer.body, couponSpec.list) : undefined;
      const coupons = Array.isArray(couponList)
        ? couponList.flatMap((item) => {
            const code = valueAt(item, couponSpec!.code);
            const discount = valueAt(item, couponSpec!.discount);
            const minAmount = valueAt(item, couponSpec!.minAmount);
            return typeof code === 'string' && Number.isSafeInteger(discount) && Number.isSafeInteger(minAmount) ? [{ code, discount: discount as number, minAmount: minAmount as number }] : [];
          })
        : [];
      return skus.length > 0 ? { skus, coupons } : undefined;
    },
    session(buyer): ShopSession {
      const values = new Map<string, unknown>(buyerValues(buyer));
      const intents = new Map<string, Promise<IntentStep>>();
      let setUp: Promise<HttpAnswer<unknown>> | undefined;
      const ready = (): Promise<HttpAnswer<unknown>> => (setUp ??= spec.setup.length === 0 ? Promise.resolve({ status: 200, latencyMs: 0 }) : runSteps(spec.setup, values, buyer));
      return {
        async createOrder(request, idempotencyKey) {
          const setup = await ready();
          if (!OK(setup.status)) {
            // A failed sign-up is tried again by the buyer's next attempt.
            setUp = undefined;
            return asOrder(setup);
          }
          const stepValues = new Map([...values, ...requestValues(request), ['idempotencyKey', idempotencyKey]]);
          const answer = await runSteps(spec.createOrder, stepValues, buyer, intents);
          return asOrder({ ...answer, latencyMs: answer.latencyMs + setup.latencyMs });
        },
        async readOrder(orderId) {
          const answer = await runSteps([spec.readOrder], new Map([...values, ['orderId', orderId]]), buyer);
          return asOrder(answer, orderId);
        },
        async cancelOrder(orderId) {
          if (!spec.cancelOrder) return { status: 405, latencyMs: 0 };
          const answer = await runSteps([spec.cancelOrder], new Map([...values, ['orderId', orderId]]), buyer);
          return asOrder(answer, orderId);
        },
      };
    },
  };
}

/** A refusal's error code, when the shop's answer has one where contract v1 puts it or at the top. */
function errorBody(body: unknown, codes: Readonly<Record<string, string>>): { body?: ShopOrderView } {
  const code = valueAt(body, 'error.code') ?? valueAt(body, 'code') ?? valueAt(body, 'error');
  if (typeof code !== 'string') return {};
  return { body: { orderId: '', status: '', error: { code: Object.hasOwn(codes, code) ? (codes[code] as string) : code } } };
}
