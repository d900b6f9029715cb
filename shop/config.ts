/**
 * Configuration of the reference shop: what `startShop` takes, and how the process builds it from
 * its environment (`ORDEAL_*`, `PORT`, `HOST`) and its `--flaws` argument.
 */
import { z } from 'zod';
import { parseFlaws, type ShopFlaw } from './flaws.js';

export interface ShopSku {
  sku: string;
  name: string;
  /** Unit price in minor units. */
  price: number;
  /** ISO 4217 code. @default "CNY" */
  currency: string;
  /** Stock the shop believes the supplier holds (informational; the supplier decides). */
  stock?: number;
}

export interface ShopCoupon {
  code: string;
  /** Discount in minor units. */
  discount: number;
  /** The order's subtotal must be at least this (minor units). */
  minAmount: number;
}

export interface ShopCatalog {
  skus: ShopSku[];
  coupons: ShopCoupon[];
}

export interface ShopTimers {
  /** An unpaid order expires this long after it was created (ms). @default 8000 */
  orderTtl: number;
  /** Query the provider about an unpaid order this long after it was created (ms). @default 1500 */
  reconcileAfter: number;
  /** Then query again this often (ms). @default 1000 */
  reconcileEvery: number;
}

/** The payment protocols the shop has a client for (`./payment/`). */
export const SHOP_PAYMENT_PROTOCOLS = ['native', 'epay', 'alipay', 'wechatpay', 'stripe'] as const;
export type ShopPaymentProtocol = (typeof SHOP_PAYMENT_PROTOCOLS)[number];

/**
 * One payment channel: its protocol, where its provider is, and its keys — the native protocol's
 * secret, or for the others the folder of key files a run writes (`keys/`, named as the README's
 * "Payment protocols" lists them), read as a shop reads its configured key files.
 */
export type ShopPaymentConfig =
  | { protocol: 'native'; url: string; secret: string }
  | { protocol: Exclude<ShopPaymentProtocol, 'native'>; url: string; keysDir: string };

/** The payment methods a buyer names when ordering (`paymentMethod`) that channels are chosen by. */
export const BUYER_PAYMENT_METHODS = ['alipay', 'wechat', 'card'] as const;
export type BuyerPaymentMethod = (typeof BUYER_PAYMENT_METHODS)[number];

/** Which protocol serves which buyer method, as `ORDEAL_PAYMENT_METHODS` says (the rest follow each protocol's own). */
export type PaymentMethodMap = Readonly<Partial<Record<BuyerPaymentMethod, ShopPaymentProtocol>>>;

/**
 * Several payment channels side by side, one per protocol (Alipay, WeChat Pay and a card
 * processor, say): each order is paid through the channel of the method its buyer chose.
 */
export interface ShopPaymentChannelsConfig {
  /** One per protocol; the first is the primary (`/payment/notify`, and the methods no channel serves). */
  channels: readonly [ShopPaymentConfig, ...ShopPaymentConfig[]];
  /** Explicit method → protocol choices; every protocol named is one of `channels`. */
  methods: PaymentMethodMap;
}

export const DEFAULT_TIMERS: Readonly<ShopTimers> = { orderTtl: 8000, reconcileAfter: 1500, reconcileEvery: 1000 };

/** What `startShop` needs. */
export interface ShopConfig {
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Address to listen on. @default "127.0.0.1" */
  host?: string;
  /** How the shop reaches its payment provider: one channel, or several side by side. */
  payment: ShopPaymentConfig | ShopPaymentChannelsConfig;
  /** Base URL of the stock supplier. */
  stockUrl: string;
  /** Base URL of the notify gateway. */
  notifyUrl: string;
  /** Base URL of risk screening; when set, every order is assessed before its trade is created. @default none (no screening) */
  riskUrl?: string;
  /**
   * API keys of the stock supplier, notify gateway and risk screen, sent as `Authorization: Bearer
   * <key>` (ORDEAL_STOCK_KEY, ORDEAL_NOTIFY_KEY, ORDEAL_RISK_KEY): Ordeal's mocks refuse
   * state-changing requests without them. @default none sent
   */
  serviceKeys?: { stock?: string; notify?: string; risk?: string };
  catalog: ShopCatalog;
  /** Timers; missing ones take `DEFAULT_TIMERS`. */
  timers?: Partial<ShopTimers>;
  /** Folder of the SQLite file `shop.db`. @default a fresh temporary folder, removed on close */
  dataDir?: string;
  /** Defects to switch on (`parseFlaws` also takes the profile `naive`: every flaw). @default none */
  flaws?: readonly ShopFlaw[];
  /** Timeout of each outgoing HTTP call (ms). @default 3000 */
  requestTimeoutMs?: number;
  /** Interval of the reconciler / outbox scan (ms). @default 200 */
  scanEvery?: number;
  /** Where diagnostic lines go. @default nowhere */
  log?: (line: string) => void;
}

const skuSchema = z.object({
  sku: z.string().min(1),
  name: z.string().min(1),
  price: z.number().int().nonnegative(),
  currency: z.string().length(3).default('CNY'),
  stock: z.number().int().nonnegative().optional(),
});

const couponSchema = z.object({
  code: z.string().min(1),
  discount: z.number().int().nonnegative(),
  minAmount: z.number().int().nonnegative(),
});

const positiveMs = z.number().positive();

/** Shape of `ORDEAL_SHOP_CONFIG` (unknown keys are ignored). */
export const shopConfigFileSchema = z.object({
  catalog: z.object({
    skus: z.array(skuSchema).min(1),
    coupons: z.array(couponSchema).default([]),
  }),
  timers: z
    .object({
      orderTtl: positiveMs.optional(),
      reconcileAfter: positiveMs.optional(),
      reconcileEvery: positiveMs.optional(),
    })
    .default({}),
});
export type ShopConfigFile = z.output<typeof shopConfigFileSchema>;

/** Thrown when the process environment is incomplete or wrong; the process exits with code 2. */
export class ShopConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShopConfigError';
  }
}

export function resolveTimers(timers: Partial<ShopTimers> | undefined): ShopTimers {
  const result: ShopTimers = { ...DEFAULT_TIMERS };
  if (timers?.orderTtl !== undefined) result.orderTtl = timers.orderTtl;
  if (timers?.reconcileAfter !== undefined) result.reconcileAfter = timers.reconcileAfter;
  if (timers?.reconcileEvery !== undefined) result.reconcileEvery = timers.reconcileEvery;
  return result;
}

/** Parses the JSON text of `ORDEAL_SHOP_CONFIG`. */
export function parseShopConfigFile(text: string): ShopConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ShopConfigError(`ORDEAL_SHOP_CONFIG is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = shopConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') || '(root)' : '(root)';
    throw new ShopConfigError(`ORDEAL_SHOP_CONFIG is invalid at ${where}: ${issue?.message ?? 'unknown error'}`);
  }
  return parsed.data;
}

function flawsFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--flaws') {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new ShopConfigError('--flaws needs a value, e.g. --flaws no-reconcile,no-refund');
      return value;
    }
    if (arg.startsWith('--flaws=')) return arg.slice('--flaws='.length);
    throw new ShopConfigError(`unknown argument "${arg}" (the shop takes only --flaws a,b, or --list-flaws alone)`);
  }
  return undefined;
}

function requireUrl(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ShopConfigError(`missing required environment variable ${name}`);
  try {
    new URL(value);
  } catch {
    throw new ShopConfigError(`${name} is not a URL: "${value}"`);
  }
  return value.replace(/\/+$/, '');
}

/** Each channel's own URL variable: `ORDEAL_PAYMENT_URL_ALIPAY`, … */
function paymentUrlVariable(protocol: ShopPaymentProtocol): string {
  return `ORDEAL_PAYMENT_URL_${protocol.toUpperCase()}`;
}

function isProtocol(name: string): name is ShopPaymentProtocol {
  return (SHOP_PAYMENT_PROTOCOLS as readonly string[]).includes(name);
}

export function isBuyerMethod(name: string): name is BuyerPaymentMethod {
  return (BUYER_PAYMENT_METHODS as readonly string[]).includes(name);
}

/** `ORDEAL_PAYMENT_PROTOCOL`: one protocol, or several comma-separated (the first is the primary). */
function protocolsFromEnv(env: NodeJS.ProcessEnv): [ShopPaymentProtocol, ...ShopPaymentProtocol[]] {
  const text = env.ORDEAL_PAYMENT_PROTOCOL ?? 'native';
  const protocols: ShopPaymentProtocol[] = [];
  for (const item of text.split(',')) {
    const name = item.trim();
    if (!isProtocol(name)) {
      throw new ShopConfigError(`ORDEAL_PAYMENT_PROTOCOL must be one of ${SHOP_PAYMENT_PROTOCOLS.join(', ')} (or several, comma-separated), got "${name}" in "${text}"`);
    }
    if (protocols.includes(name)) throw new ShopConfigError(`ORDEAL_PAYMENT_PROTOCOL lists ${name} twice ("${text}"): the shop runs one channel per protocol`);
    protocols.push(name);
  }
  const [primary, ...others] = protocols;
  if (primary === undefined) throw new ShopConfigError('ORDEAL_PAYMENT_PROTOCOL is empty');
  return [primary, ...others];
}

/** A channel's URL: its own variable; for the primary, `ORDEAL_PAYMENT_URL` when that is missing. */
function channelUrl(env: NodeJS.ProcessEnv, protocol: ShopPaymentProtocol, primary: boolean): string {
  const own = paymentUrlVariable(protocol);
  if (env[own]) return requireUrl(env, own);
  if (!primary) throw new ShopConfigError(`missing required environment variable ${own} (the ${protocol} channel's base URL)`);
  if (!env.ORDEAL_PAYMENT_URL) throw new ShopConfigError(`missing required environment variable ORDEAL_PAYMENT_URL (or ${own})`);
  return requireUrl(env, 'ORDEAL_PAYMENT_URL');
}

function channelFromEnv(env: NodeJS.ProcessEnv, protocol: ShopPaymentProtocol, primary: boolean): ShopPaymentConfig {
  const url = channelUrl(env, protocol, primary);
  if (protocol === 'native') {
    const secret = env.ORDEAL_PAYMENT_SECRET;
    if (!secret) throw new ShopConfigError('missing required environment variable ORDEAL_PAYMENT_SECRET');
    return { protocol, url, secret };
  }
  const keysDir = env.ORDEAL_PAYMENT_KEYS;
  if (!keysDir) throw new ShopConfigError(`missing required environment variable ORDEAL_PAYMENT_KEYS (the folder of ${protocol} key files)`);
  return { protocol, url, keysDir };
}

/**
 * `ORDEAL_PAYMENT_METHODS`, e.g. `alipay=alipay,wechat=wechatpay,card=stripe`: each pair a buyer
 * method and the listed protocol that serves it. Empty or unset: no explicit choice.
 */
export function parsePaymentMethods(text: string | undefined, listed: readonly ShopPaymentProtocol[]): PaymentMethodMap {
  const methods: Partial<Record<BuyerPaymentMethod, ShopPaymentProtocol>> = {};
  if (text === undefined || text.trim() === '') return methods;
  for (const item of text.split(',')) {
    const pair = item.trim().split('=');
    const [method = '', protocol = ''] = pair.map((part) => part.trim());
    if (pair.length !== 2 || method === '' || protocol === '') {
      throw new ShopConfigError(`ORDEAL_PAYMENT_METHODS takes method=protocol pairs, comma-separated (e.g. alipay=alipay,wechat=wechatpay,card=stripe), got "${item.trim()}"`);
    }
    if (!isBuyerMethod(method)) throw new ShopConfigError(`ORDEAL_PAYMENT_METHODS: unknown payment method "${method}" (the methods are ${BUYER_PAYMENT_METHODS.join(', ')})`);
    if (!isProtocol(protocol)) throw new ShopConfigError(`ORDEAL_PAYMENT_METHODS: unknown protocol "${protocol}" for ${method} (the protocols are ${SHOP_PAYMENT_PROTOCOLS.join(', ')})`);
    if (!listed.includes(protocol)) throw new ShopConfigError(`ORDEAL_PAYMENT_METHODS names ${protocol} for ${method}, but ORDEAL_PAYMENT_PROTOCOL lists only ${listed.join(', ')}`);
    if (methods[method] !== undefined) throw new ShopConfigError(`ORDEAL_PAYMENT_METHODS gives ${method} twice`);
    methods[method] = protocol;
  }
  return methods;
}

function paymentFromEnv(env: NodeJS.ProcessEnv): ShopPaymentConfig | ShopPaymentChannelsConfig {
  const protocols = protocolsFromEnv(env);
  const methods = parsePaymentMethods(env.ORDEAL_PAYMENT_METHODS, protocols);
  const [primary, ...others] = protocols;
  const channels: [ShopPaymentConfig, ...ShopPaymentConfig[]] = [channelFromEnv(env, primary, true), ...others.map((protocol) => channelFromEnv(env, protocol, false))];
  // One channel takes every order whatever the map says: the configuration stays today's.
  return channels.length === 1 ? channels[0] : { channels, methods };
}

/**
 * Builds the shop's configuration from the process environment and arguments.
 * `--flaws` wins over `ORDEAL_SHOP_FLAWS`.
 * @throws ShopConfigError naming the missing or bad variable, argument or flaw.
 */
export function configFromEnv(env: NodeJS.ProcessEnv, argv: readonly string[]): ShopConfig {
  const flawText = flawsFromArgv(argv) ?? env.ORDEAL_SHOP_FLAWS;
  let flaws: ShopFlaw[];
  try {
    flaws = parseFlaws(flawText);
  } catch (error) {
    throw new ShopConfigError((error as Error).message);
  }
  const portText = env.PORT ?? '0';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ShopConfigError(`PORT must be a port number (0 picks a free one), got "${portText}"`);
  const payment = paymentFromEnv(env);
  const stockUrl = requireUrl(env, 'ORDEAL_STOCK_URL');
  const notifyUrl = requireUrl(env, 'ORDEAL_NOTIFY_URL');
  const riskUrl = env.ORDEAL_RISK_URL ? requireUrl(env, 'ORDEAL_RISK_URL') : undefined;
  const configText = env.ORDEAL_SHOP_CONFIG;
  if (!configText) throw new ShopConfigError('missing required environment variable ORDEAL_SHOP_CONFIG (JSON with the catalog)');
  const file = parseShopConfigFile(configText);
  const config: ShopConfig = {
    port,
    payment,
    stockUrl,
    notifyUrl,
    catalog: file.catalog,
    timers: file.timers,
    flaws,
  };
  if (riskUrl) config.riskUrl = riskUrl;
  const serviceKeys = {
    ...(env.ORDEAL_STOCK_KEY ? { stock: env.ORDEAL_STOCK_KEY } : {}),
    ...(env.ORDEAL_NOTIFY_KEY ? { notify: env.ORDEAL_NOTIFY_KEY } : {}),
    ...(env.ORDEAL_RISK_KEY ? { risk: env.ORDEAL_RISK_KEY } : {}),
  };
  if (Object.keys(serviceKeys).length > 0) config.serviceKeys = serviceKeys;
  if (env.ORDEAL_DATA_DIR) config.dataDir = env.ORDEAL_DATA_DIR;
  // A container listens on every interface (HOST=0.0.0.0); on a machine the default stays loopback.
  if (env.HOST) config.host = env.HOST;
  return config;
}
