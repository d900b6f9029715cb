/** Mocks under test: scenarios, a started mock set, the shop's callback receiver, trade requests. */
import Fastify, { type FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { MemoryJournal } from '../../core/journal.js';
import { scenarioSchema, type Scenario } from '../../core/scenario-schema.js';
import { FaultPlan } from '../../mocks/fault-plan.js';
import { startMocks, type MockSet, type MockSetOptions } from '../../mocks/index.js';
import type { MockRequest, MockRoute } from '../../mocks/mock-types.js';
import { verifySignature, type SignatureCheck } from '../../mocks/signature.js';
import type { Defer } from './cleanups.js';
import { BUYER_TOKEN_HEADER } from '../../mocks/run-credentials.js';
import { call, registerCredentials } from './http.js';

/** One SKU, MONTH at 3000 with 10 in stock. */
export const MONTH_SKU = { sku: 'MONTH', name: 'Monthly card', price: 3000, stock: 10 };

/** MONTH (5 in stock, restocks in a minute) and YEAR (2 in stock, never restocks). */
export const MONTH_AND_YEAR_SKUS = [
  { sku: 'MONTH', name: 'Monthly card', price: 3000, stock: 5, restockIn: '1m' },
  { sku: 'YEAR', name: 'Yearly card', price: 30000, stock: 2 },
];

/** A scenario for the mocks: one second of load at rate 1 over `skus` (and `coupons`), with `faults`. */
export function mockScenario(options: { name: string; seed?: number; skus?: unknown[]; coupons?: unknown[]; faults?: unknown[] }): Scenario {
  return scenarioSchema.parse({
    name: options.name,
    seed: options.seed ?? 7,
    catalog: { skus: options.skus ?? [MONTH_SKU], ...(options.coupons === undefined ? {} : { coupons: options.coupons }) },
    load: { stages: [{ rate: 1, duration: 1000 }] },
    faults: options.faults ?? [],
  });
}

export interface MockWorld {
  mocks: MockSet;
  journal: MemoryJournal;
  plan: FaultPlan;
}

export interface MockWorldOptions extends Pick<MockSetOptions, 'callbackRetryDelays' | 'callbackTimeoutMs'> {
  /** Callback signing secret. @default "s" */
  secret?: string;
  /** Load time the fault plan sees (windows are relative to it). @default always 0 */
  loadTime?: () => number;
}

/** Starts the mocks over real sockets on a fresh memory journal; closed by `defer`. */
export async function startMockWorld(defer: Defer, scenario: Scenario, options: MockWorldOptions = {}): Promise<MockWorld> {
  const journal = new MemoryJournal();
  const plan = new FaultPlan(scenario.faults, scenario.seed, options.loadTime);
  const mocks = await startMocks({
    scenario,
    journal,
    plan,
    secret: options.secret ?? 's',
    ...(options.callbackRetryDelays === undefined ? {} : { callbackRetryDelays: options.callbackRetryDelays }),
    ...(options.callbackTimeoutMs === undefined ? {} : { callbackTimeoutMs: options.callbackTimeoutMs }),
  });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  return { mocks, journal, plan };
}

/**
 * The tests' requests to `mocks` carry the run's credentials until the test ends: the service keys,
 * the native merchant's bearer secret and the buyers' token (test/helpers/http.ts).
 */
export function trustMocks(defer: Defer, mocks: MockSet): void {
  const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
  const payment = { ...(mocks.secret === '' ? {} : bearer(mocks.secret)), [BUYER_TOKEN_HEADER]: mocks.buyerToken };
  const undo = [
    registerCredentials(mocks.urls.stock, bearer(mocks.serviceKeys.stock)),
    registerCredentials(mocks.urls.notify, bearer(mocks.serviceKeys.notify)),
    registerCredentials(mocks.urls.risk, bearer(mocks.serviceKeys.risk)),
    ...mocks.paymentChannels.map((channel) => registerCredentials(channel.url, channel.protocol === 'native' ? payment : { [BUYER_TOKEN_HEADER]: mocks.buyerToken })),
  ];
  defer(() => {
    for (const each of undo) each();
  });
}

/** Serves `app` on a free loopback port until the test ends; resolves with its base URL. */
export async function listenOnLoopback(app: FastifyInstance, defer: Defer): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  defer(() => app.close());
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

/** A callback as the shop's notifyUrl received it. */
export interface Received {
  body: Record<string, unknown>;
  raw: string;
  /** The Ordeal-Signature header ('' when missing). */
  header: string;
  check: SignatureCheck;
  at: number;
}

/**
 * A stand-in for the shop's notifyUrl (`<url>/callback`): verifies each callback's signature and
 * answers 401 when it fails, else the next status of `script`, then 200.
 */
export async function startCallbackReceiver(defer: Defer, secret: string, script: number[] = []): Promise<{ url: string; received: Received[] }> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const received: Received[] = [];
  const statuses = [...script];
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post('/callback', (request, reply) => {
    const raw = String(request.body);
    const header = String(request.headers['ordeal-signature'] ?? '');
    const check = verifySignature(secret, header, raw);
    received.push({ body: JSON.parse(raw) as Record<string, unknown>, raw, header, check, at: performance.now() });
    if (!check.ok) return reply.code(401).send({ error: check.reason });
    return reply.code(statuses.shift() ?? 200).send({ ok: true });
  });
  return { url: `${await listenOnLoopback(app, defer)}/callback`, received };
}

export type TradeBody = Record<string, unknown> & { outTradeNo: string; payer: { id: string; region: string } };

let orderSeq = 0;

/** The number of the order the last `tradeBody` made (O-n, buyer-n). */
export function lastTradeSeq(): number {
  return orderSeq;
}

/** A create-trade request for a fresh order (O-1, O-2, …) and payer; `overrides` replace fields. */
export function tradeBody(notifyUrl: string, overrides: Record<string, unknown> = {}, region = 'CN'): TradeBody {
  orderSeq += 1;
  return {
    outTradeNo: `O-${orderSeq}`,
    amount: 3000,
    currency: 'CNY',
    subject: 'Monthly card',
    notifyUrl,
    method: 'alipay',
    payer: { id: `buyer-${orderSeq}`, region },
    ...overrides,
  } as TradeBody;
}

/** Creates the trade at the payment provider (expects 201). */
export async function postTrade(paymentUrl: string, body: TradeBody): Promise<{ tradeNo: string; outTradeNo: string; payerId: string }> {
  const answer = await call('POST', `${paymentUrl}/v1/trades`, body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return { tradeNo: answer.body.tradeNo as string, outTradeNo: body.outTradeNo, payerId: body.payer.id };
}

/**
 * POST /echo/:id for transport tests: answers 200 with what the route saw (id, the first q, the
 * x-test header, the body and the path, plus `more` of the request) and an x-mock header.
 */
export function echoRoute(more: (request: MockRequest) => Record<string, unknown> = () => ({})): MockRoute {
  return {
    method: 'POST',
    path: '/echo/:id',
    name: 'echo',
    handle: (request) => ({
      status: 200,
      body: { id: request.params.id, q: request.query.q ?? null, header: request.headers['x-test'] ?? null, body: request.body ?? null, path: request.path, ...more(request) },
      headers: { 'x-mock': 'yes' },
    }),
  };
}

/** GET /throws for transport tests: the handler throws. */
export const THROWING_ROUTE: MockRoute = {
  method: 'GET',
  path: '/throws',
  name: 'throws',
  handle: () => {
    throw new Error('boom');
  },
};
