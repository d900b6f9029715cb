/**
 * The shop's payment gateway for its configured protocol: one module per protocol, each the shop's
 * own code (as a real shop has its own, written against its provider's documentation or official
 * client library), none of it shared with Ordeal's mocks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ShopPaymentConfig, ShopPaymentProtocol } from '../config.js';
import { ShopConfigError } from '../config.js';
import type { ServiceOptions } from '../services.js';
import type { PaymentGateway } from './gateway.js';
import { NativeGateway } from './native.js';

export type { PaymentGateway } from './gateway.js';

/** Reads the key files a protocol's gateway is configured with, from the folder `ORDEAL_PAYMENT_KEYS` names. */
export class KeyFolder {
  constructor(readonly dir: string) {}

  /** The file's text, trimmed. @throws ShopConfigError naming the missing file */
  read(name: string): string {
    try {
      return readFileSync(join(this.dir, name), 'utf8').trim();
    } catch (error) {
      throw new ShopConfigError(`cannot read the payment key file ${join(this.dir, name)}: ${(error as Error).message}`);
    }
  }
}

type GatewayFactory = (url: string, keys: KeyFolder, options: ServiceOptions) => PaymentGateway;

/**
 * Each protocol's module is loaded only when the shop speaks it: the official clients bring their
 * own process-wide hooks (alipay-sdk's HTTP client, urllib, subscribes to every undici
 * connection's diagnostics channel and replaces every socket's `destroy`; see
 * `./socket-destroy-guard.ts`).
 */
const GATEWAYS: Record<Exclude<ShopPaymentProtocol, 'native'>, () => Promise<GatewayFactory>> = {
  epay: async () => {
    const { EpayGateway } = await import('./epay.js');
    return (url, keys, options) => new EpayGateway(url, keys.read('epay-pid.txt'), keys.read('epay-key.txt'), options);
  },
  alipay: async () => {
    const { AlipayGateway } = await import('./alipay.js');
    return (url, keys, options) => new AlipayGateway(url, keys, options);
  },
  wechatpay: async () => (await import('./wechatpay.js')).createWechatpayGateway,
  stripe: async () => {
    const { StripeGateway } = await import('./stripe.js');
    return (url, keys, options) => new StripeGateway(url, keys, options);
  },
};

/** The gateway for `config`. @throws ShopConfigError when its key files are missing */
export async function createGateway(config: ShopPaymentConfig, options: ServiceOptions): Promise<PaymentGateway> {
  if (config.protocol === 'native') return new NativeGateway(config.url, config.secret, options);
  const factory = await GATEWAYS[config.protocol]();
  return factory(config.url, new KeyFolder(config.keysDir), options);
}
