/**
 * The reference shop against the real mocks, over real sockets: a rig that starts both, and the
 * shop client calls, bounded polls and journal reads the shop tests share. The shop keeps its
 * state to itself, so waits on it poll (every 25 ms, with a deadline), never sleep a fixed time.
 */
import { expect } from 'vitest';
import type { MemoryJournal } from '../../core/journal.js';
import type { Scenario } from '../../core/scenario-schema.js';
import type { MockSet, MockUrls } from '../../mocks/index.js';
import { signBody } from '../../mocks/signature.js';
import { startShop, type RunningShop, type ShopConfig } from '../../shop/app.js';
import type { ShopFlaw } from '../../shop/flaws.js';
import type { Defer } from './cleanups.js';
import { request, type Answer } from './http.js';
import { mockScenario, startMockWorld } from './mocks.js';

export const PRICE = 3000;
/** Short timers, so expiry and reconciliation happen within a test. */
export const SHOP_TIMERS = { orderTtl: 1500, reconcileAfter: 300, reconcileEvery: 200 };

export interface ShopRig {
  mocks: MockSet;
  journal: MemoryJournal;
  scenario: Scenario;
  shop: RunningShop;
  config: ShopConfig;
  /** When the rig started (fault windows are relative to it). */
  startedAt: number;
  /** How long waitForStatus and waitForMessage wait by default, ms. */
  waitMs: number;
}

export interface ShopRigOptions {
  /** The scenario's name and seed. */
  name: string;
  seed: number;
  /** The payment callback secret the mocks sign with and the shop checks. */
  secret: string;
  faults?: unknown[];
  flaws?: ShopFlaw[];
  /** MONTH_CARD's stock. @default 20 */
  stock?: number;
  coupons?: unknown[];
  timers?: Partial<typeof SHOP_TIMERS>;
  /** Give the shop ORDEAL_RISK_URL. @default false */
  risk?: boolean;
  requestTimeoutMs?: number;
  dataDir?: string;
  /** The mocks' callback retry schedule, ms. @default the mocks' own */
  callbackRetryDelays?: number[];
  /** The URLs the shop is given for the mocks (a proxy in front of one, say). @default the mocks' own */
  shopUrls?: (mocks: MockSet) => Promise<MockUrls>;
  /** @default 10 000 */
  waitMs?: number;
}

/** Starts the mocks, then the shop on them; `defer` stops the shop first, then the mocks. */
export async function startShopRig(defer: Defer, options: ShopRigOptions): Promise<ShopRig> {
  const scenario = mockScenario({
    name: options.name,
    seed: options.seed,
    skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: PRICE, stock: options.stock ?? 20, restockIn: '1h' }],
    ...(options.coupons === undefined ? {} : { coupons: options.coupons }),
    faults: options.faults ?? [],
  });
  const startedAt = Date.now();
  const { mocks, journal } = await startMockWorld(defer, scenario, {
    secret: options.secret,
    loadTime: () => Date.now() - startedAt,
    ...(options.callbackRetryDelays === undefined ? {} : { callbackRetryDelays: options.callbackRetryDelays }),
  });
  const urls = options.shopUrls ? await options.shopUrls(mocks) : mocks.urls;
  const config: ShopConfig = {
    payment: { protocol: 'native', url: urls.payment, secret: options.secret },
    stockUrl: urls.stock,
    notifyUrl: urls.notify,
    serviceKeys: { ...mocks.serviceKeys },
    catalog: {
      skus: scenario.catalog.skus.map((sku) => ({ sku: sku.sku, name: sku.name, price: sku.price, currency: sku.currency, stock: sku.stock })),
      coupons: scenario.catalog.coupons,
    },
    timers: { ...SHOP_TIMERS, ...options.timers },
    flaws: options.flaws ?? [],
    scanEvery: 50,
  };
  if (options.risk) config.riskUrl = urls.risk;
  if (options.dataDir) config.dataDir = options.dataDir;
  if (options.requestTimeoutMs) config.requestTimeoutMs = options.requestTimeoutMs;
  const shop = await startShop(config);
  // Deferred last, so it runs first: the shop stops before the mocks it calls.
  defer(() => shop.close());
  return { mocks, journal, scenario, shop, config, startedAt, waitMs: options.waitMs ?? 10_000 };
}

/** An order request from a buyer showing no risk signal; `overrides` and `buyer` replace fields. */
export function orderBody(buyerId: string, overrides: Record<string, unknown> = {}, buyer: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sku: 'MONTH_CARD',
    quantity: 1,
    recipient: { kind: 'game_id', account: '1234567890' },
    buyer: { id: buyerId, contact: '13800138000', ip: '127.0.0.1', region: 'CN', accountAgeDays: 400, deviceId: `dev-${buyerId}`, ...buyer },
    paymentMethod: 'alipay',
    ...overrides,
  };
}

/** An order as the shop shows it (contract v1). */
export interface OrderAnswer {
  orderId: string;
  status: string;
  reason?: string;
  amount: number;
  payment?: { tradeNo: string; payUrl: string };
  delivery?: { cards: Array<{ code: string; pin: string }>; deliveredAt: string };
}

/** Places an order (expects 201). */
export async function placeOrder(rig: ShopRig, buyerId: string, overrides: Record<string, unknown> = {}, buyer: Record<string, unknown> = {}): Promise<OrderAnswer> {
  const answer = await request('POST', `${rig.shop.url}/orders`, orderBody(buyerId, overrides, buyer));
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body as unknown as OrderAnswer;
}

export async function getOrder(rig: ShopRig, orderId: string): Promise<OrderAnswer> {
  const answer = await request('GET', `${rig.shop.url}/orders/${orderId}`);
  expect(answer.status).toBe(200);
  return answer.body as unknown as OrderAnswer;
}

/** The buyer at the cashier. */
export function pay(rig: ShopRig, tradeNo: string, buyerId: string): Promise<Answer> {
  return request('POST', `${rig.mocks.urls.payment}/v1/trades/${tradeNo}/pay`, { payerId: buyerId, method: 'alipay' });
}

/** A payment callback to the shop, signed (by the rig's secret unless told otherwise). */
export function signedCallback(rig: ShopRig, payload: Record<string, unknown>, secret = rig.mocks.secret): Promise<Answer> {
  const raw = JSON.stringify(payload);
  return request('POST', `${rig.shop.url}/payment/notify`, raw, { 'ordeal-signature': signBody(secret, raw) });
}

/** Polls until `probe` returns a value (not undefined), at most `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Polls the shop until the order has `status`; the error names the last status seen. */
export async function waitForStatus(rig: ShopRig, orderId: string, status: string, timeoutMs = rig.waitMs): Promise<OrderAnswer> {
  let seen = '';
  try {
    return await waitFor(
      `order ${orderId} to be ${status}`,
      async () => {
        const order = await getOrder(rig, orderId);
        seen = `${order.status}${order.reason ? `/${order.reason}` : ''}`;
        return order.status === status ? order : undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last status ${seen}`);
  }
}

/** A message the notify mock accepted. */
export interface Message {
  kind: string;
  reason?: string;
  text: string;
  to: string;
}

export function inbox(rig: ShopRig, orderId: string, kind?: string): Message[] {
  return rig.mocks.notify.inbox({ orderId }).filter((message) => kind === undefined || message.kind === kind);
}

export function waitForMessage(rig: ShopRig, orderId: string, kind: string, timeoutMs = rig.waitMs): Promise<Message> {
  return waitFor(`a ${kind} message for ${orderId}`, () => inbox(rig, orderId, kind)[0], timeoutMs);
}
