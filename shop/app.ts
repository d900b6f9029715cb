/**
 * The reference card shop: contract v1 over HTTP (fastify), its pipeline (`pipeline.ts`, the
 * stages under `stages/`), and its SQLite state.
 * `startShop` runs it in-process (tests); `main.ts` runs it as the process Ordeal manages.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallbackReceiver } from './callbacks.js';
import { resolveTimers, type ShopConfig, type ShopPaymentConfig } from './config.js';
import { ShopDb } from './db.js';
import { decisionsFor, FlawSet } from './flaws.js';
import { OutgoingHttp } from './http-client.js';
import { Pipeline, ShuttingDown } from './pipeline.js';
import { channelsOf, PaymentChannels } from './payment/channels.js';
import type { NotifyRequest } from './payment/gateway.js';
import { NotifyClient, RiskClient, StockClient } from './services.js';
import { validateOrderRequest } from './validation.js';

export type { ShopConfig, ShopCatalog, ShopCoupon, ShopSku, ShopTimers } from './config.js';
export type { OrderView } from './pipeline.js';

export interface RunningShop {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  port: number;
  /** Folder holding `shop.db`. */
  dataDir: string;
  /** Stops the loops, closes the server and the database. Safe to call twice. */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_SCAN_MS = 200;
const MAX_IDEMPOTENCY_KEY = 255;
const PRIMARY_NOTIFY_PATH = '/payment/notify';

/**
 * Where a protocol's provider sends its notifies: a single channel keeps `/payment/notify` (the
 * shop's one route, as before channels); among several, each its own `/payment/notify/<protocol>`.
 */
function notifyPath(payments: PaymentChannels, protocol: string): string {
  return payments.channels.length === 1 ? PRIMARY_NOTIFY_PATH : `${PRIMARY_NOTIFY_PATH}/${protocol}`;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

function parseJson(body: unknown): { ok: true; value: unknown } | { ok: false } {
  if (typeof body !== 'string' || body.trim() === '') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    return { ok: false };
  }
}

function notifyRequest(method: string, query: unknown, headers: Record<string, string | string[] | undefined>, body: unknown): NotifyRequest {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value[0] : value;
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string') params[name] = value;
    else if (Array.isArray(value) && typeof value[0] === 'string') params[name] = value[0];
  }
  return { method: method === 'GET' ? 'GET' : 'POST', query: params, headers: flat, rawBody: typeof body === 'string' ? body : '' };
}

export async function startShop(config: ShopConfig): Promise<RunningShop> {
  const decisions = decisionsFor(new FlawSet(config.flaws ?? []));
  const timers = resolveTimers(config.timers);
  const ownDataDir = config.dataDir === undefined;
  const dataDir = config.dataDir ?? mkdtempSync(join(tmpdir(), 'ordeal-shop-'));
  mkdirSync(dataDir, { recursive: true });
  const log = config.log ?? (() => undefined);
  const db = new ShopDb(dataDir);
  const abort = new AbortController();
  // One keep-alive pool per dependency origin; closed (in-flight calls aborted) when the shop closes.
  const outgoing = new OutgoingHttp();
  const serviceOptions = { timeoutMs: config.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS, http: outgoing };
  /** A service's calls carry its API key, when the shop was given one. */
  const keyed = (key: string | undefined): typeof serviceOptions & { authorization?: string } => (key === undefined ? serviceOptions : { ...serviceOptions, authorization: `Bearer ${key}` });
  const base = (url: string): string => url.replace(/\/+$/, '');
  let shopUrl = '';
  const { channels: [primary, ...others], methods } = channelsOf(config.payment);
  const atBase = <C extends ShopPaymentConfig>(channel: C): C => ({ ...channel, url: base(channel.url) });
  let payments: PaymentChannels;
  try {
    payments = await PaymentChannels.load({ channels: [atBase(primary), ...others.map(atBase)], methods }, serviceOptions);
  } catch (error) {
    await outgoing.close();
    db.close();
    if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const pipeline = new Pipeline({
    db,
    decisions,
    timers,
    catalog: config.catalog,
    payments,
    stock: new StockClient(base(config.stockUrl), keyed(config.serviceKeys?.stock)),
    notify: new NotifyClient(base(config.notifyUrl), keyed(config.serviceKeys?.notify)),
    ...(config.riskUrl ? { risk: new RiskClient(base(config.riskUrl), keyed(config.serviceKeys?.risk)) } : {}),
    callbackUrl: (protocol) => `${shopUrl}${notifyPath(payments, protocol)}`,
    signal: abort.signal,
    log,
    scanEvery: config.scanEvery ?? DEFAULT_SCAN_MS,
  });
  // Each channel's notifies are read and answered its own protocol's way.
  const receivers = payments.channels.map(({ protocol, gateway }) => ({
    protocol,
    methods: gateway.notify.methods,
    callbacks: new CallbackReceiver({ pipeline, endpoint: gateway.notify, decisions, log }),
  }));

  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: 'idle' });
  // Bodies arrive as raw text: the callback's signature is over the exact bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof ShuttingDown) return sendError(reply, 503, 'shutting_down', 'the shop is shutting down; retry shortly');
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return sendError(reply, status, 'invalid_request', error instanceof Error ? error.message : String(error));
    log(`request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return sendError(reply, 500, 'internal_error', 'the shop failed to handle the request');
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'not_found', `no route ${request.method} ${request.url}`));

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/catalog', async () => ({
    skus: config.catalog.skus.map((sku) => ({ sku: sku.sku, name: sku.name, price: sku.price, currency: sku.currency })),
    coupons: config.catalog.coupons.map((coupon) => ({ code: coupon.code, discount: coupon.discount, minAmount: coupon.minAmount })),
  }));

  app.post('/orders', async (request, reply) => {
    const parsed = parseJson(request.body);
    if (!parsed.ok) return sendError(reply, 400, 'invalid_request', 'expected a JSON body');
    const validation = validateOrderRequest(parsed.value, config.catalog);
    if (!validation.ok) return sendError(reply, 400, validation.code, validation.message);
    const header = request.headers['idempotency-key'];
    const key = (Array.isArray(header) ? header[0] : header)?.trim();
    if (key !== undefined && key.length > MAX_IDEMPOTENCY_KEY) {
      return sendError(reply, 400, 'invalid_request', `Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY} characters`);
    }
    const outcome = await pipeline.createOrder(validation.order, key ? { key, body: parsed.value } : undefined);
    if (outcome.kind === 'key_reused') {
      return sendError(reply, 409, 'idempotency_key_reused', `Idempotency-Key "${key}" was already used with another request body (order ${outcome.orderId})`);
    }
    return reply.code(201).send(outcome.view);
  });

  app.get<{ Params: { id: string } }>('/orders/:id', async (request, reply) => {
    const view = pipeline.view(request.params.id);
    if (!view) return sendError(reply, 404, 'order_not_found', `no order ${request.params.id}`);
    return view;
  });

  app.post<{ Params: { id: string } }>('/orders/:id/cancel', async (request, reply) => {
    const outcome = await pipeline.cancel(request.params.id);
    switch (outcome.kind) {
      case 'not_found':
        return sendError(reply, 404, 'order_not_found', `no order ${request.params.id}`);
      case 'not_cancellable':
        return sendError(reply, 409, 'not_cancellable', `order ${request.params.id} is ${outcome.view.status} and can no longer be cancelled`);
      case 'unavailable':
        return sendError(reply, 503, 'service_unavailable', outcome.message);
      case 'cancelled':
        return { orderId: outcome.view.orderId, status: outcome.view.status };
    }
  });

  // Each provider's notifies, in its protocol's method and encoding (epay notifies by GET):
  // `/payment/notify/<protocol>` per channel, and `/payment/notify` for the primary.
  for (const [index, { protocol, methods: notifyMethods, callbacks }] of receivers.entries()) {
    const urls = index === 0 ? [PRIMARY_NOTIFY_PATH, `${PRIMARY_NOTIFY_PATH}/${protocol}`] : [`${PRIMARY_NOTIFY_PATH}/${protocol}`];
    for (const url of urls) {
      app.route({
        method: [...notifyMethods],
        url,
        handler: async (request, reply) => {
          const answer = await callbacks.receive(notifyRequest(request.method, request.query, request.headers, request.body));
          return reply.code(answer.status).type(answer.contentType).send(answer.body);
        },
      });
    }
  }

  try {
    await app.listen({ host: config.host ?? '127.0.0.1', port: config.port ?? 0 });
  } catch (error) {
    await outgoing.close();
    db.close();
    if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (config.port ?? 0);
  const host = config.host && config.host !== '0.0.0.0' ? config.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  shopUrl = url;
  pipeline.start();

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    dataDir,
    close(): Promise<void> {
      closing ??= (async () => {
        await Promise.all(receivers.map(({ callbacks }) => callbacks.drain()));
        const stopped = pipeline.stop();
        abort.abort();
        // Gateways have no close hook: those that pool connections tie them to `outgoing` (every channel's).
        const outgoingClosed = outgoing.close();
        await app.close();
        await stopped;
        await outgoingClosed;
        db.close();
        if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
