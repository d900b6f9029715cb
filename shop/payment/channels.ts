/**
 * The shop's payment channels: one gateway per configured protocol (Alipay, WeChat Pay and a card
 * processor side by side, say), and which of them serves the method a buyer chose.
 *
 * An order's gateway is looked up again from its `payment_method` at every call (create, query,
 * close, refund, the pay link): the method → protocol routing is a pure function of the
 * configuration, so no column records it. (A shop restarted with other channels would route its
 * open orders by the new ones, as it would any other configuration change.)
 */
import {
  BUYER_PAYMENT_METHODS,
  isBuyerMethod,
  ShopConfigError,
  type BuyerPaymentMethod,
  type PaymentMethodMap,
  type ShopPaymentChannelsConfig,
  type ShopPaymentConfig,
  type ShopPaymentProtocol,
} from '../config.js';
import type { ServiceOptions } from '../services.js';
import type { PaymentGateway, PaymentRouter } from './gateway.js';
import { createGateway } from './index.js';

/**
 * The methods each protocol serves by nature: an aggregator (epay) takes Alipay and WeChat, the
 * native protocol takes anything.
 */
const NATURAL_METHODS: Readonly<Record<ShopPaymentProtocol, readonly BuyerPaymentMethod[] | 'any'>> = {
  native: 'any',
  epay: ['alipay', 'wechat'],
  alipay: ['alipay'],
  wechatpay: ['wechat'],
  stripe: ['card'],
};

function servesByNature(protocol: ShopPaymentProtocol, method: string): boolean {
  const natural = NATURAL_METHODS[protocol];
  return natural === 'any' || (natural as readonly string[]).includes(method);
}

/** Where each buyer method goes: the known methods, and `otherwise` for any other name. */
export interface MethodRoutes {
  byMethod: Readonly<Record<BuyerPaymentMethod, ShopPaymentProtocol>>;
  otherwise: ShopPaymentProtocol;
}

/**
 * The routing: an explicit choice wins; else the first listed protocol that serves the method by
 * nature; else the primary (the first listed).
 */
export function routeMethods(protocols: readonly [ShopPaymentProtocol, ...ShopPaymentProtocol[]], explicit: PaymentMethodMap = {}): MethodRoutes {
  const primary = protocols[0];
  const route = (method: string): ShopPaymentProtocol => protocols.find((protocol) => servesByNature(protocol, method)) ?? primary;
  const byMethod = {} as Record<BuyerPaymentMethod, ShopPaymentProtocol>;
  for (const method of BUYER_PAYMENT_METHODS) byMethod[method] = explicit[method] ?? route(method);
  // A method the shop does not know by name (validation takes any): only the native protocol serves any.
  return { byMethod, otherwise: protocols.find((protocol) => NATURAL_METHODS[protocol] === 'any') ?? primary };
}

/** The channel configuration of `payment`, a single channel read as a set of one. */
export function channelsOf(payment: ShopPaymentConfig | ShopPaymentChannelsConfig): ShopPaymentChannelsConfig {
  return 'channels' in payment ? payment : { channels: [payment], methods: {} };
}

export interface PaymentChannel {
  protocol: ShopPaymentProtocol;
  gateway: PaymentGateway;
}

export class PaymentChannels implements PaymentRouter {
  private readonly byProtocol: ReadonlyMap<ShopPaymentProtocol, PaymentGateway>;
  private readonly routes: MethodRoutes;

  /** `channels`: one per protocol, the primary first. */
  constructor(
    readonly channels: readonly [PaymentChannel, ...PaymentChannel[]],
    methods: PaymentMethodMap = {},
  ) {
    this.byProtocol = new Map(channels.map((channel): [ShopPaymentProtocol, PaymentGateway] => [channel.protocol, channel.gateway]));
    const listed = channels.map((channel) => channel.protocol);
    if (this.byProtocol.size !== channels.length) throw new ShopConfigError(`one payment channel per protocol, got ${listed.join(', ')}`);
    for (const [method, protocol] of Object.entries(methods)) {
      if (protocol !== undefined && !this.byProtocol.has(protocol)) throw new ShopConfigError(`payment method ${method} is to go to ${protocol}, which is not one of the channels (${listed.join(', ')})`);
    }
    const [primary, ...others] = channels;
    this.routes = routeMethods([primary.protocol, ...others.map((channel) => channel.protocol)], methods);
  }

  /**
   * Loads the gateway of every configured channel, one after the other (each protocol's module is
   * imported only when listed: `createGateway`).
   * @throws ShopConfigError when a channel's key files are missing
   */
  static async load(config: ShopPaymentChannelsConfig, options: ServiceOptions): Promise<PaymentChannels> {
    const [first, ...rest] = config.channels;
    const primary: PaymentChannel = { protocol: first.protocol, gateway: await createGateway(first, options) };
    const others: PaymentChannel[] = [];
    for (const channel of rest) others.push({ protocol: channel.protocol, gateway: await createGateway(channel, options) });
    return new PaymentChannels([primary, ...others], config.methods);
  }

  get primary(): PaymentChannel {
    return this.channels[0];
  }

  /** The protocol serving a buyer's method. */
  protocolFor(method: string): ShopPaymentProtocol {
    return isBuyerMethod(method) ? this.routes.byMethod[method] : this.routes.otherwise;
  }

  /** The gateway an order whose buyer chose `method` is paid through. */
  forMethod(method: string): PaymentGateway {
    return this.byProtocol.get(this.protocolFor(method)) ?? this.primary.gateway;
  }

  /** The gateway of a configured protocol (undefined when the shop does not run it). */
  forProtocol(protocol: ShopPaymentProtocol): PaymentGateway | undefined {
    return this.byProtocol.get(protocol);
  }
}
