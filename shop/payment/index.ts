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
import { AlipayGateway } from './alipay.js';
import type { PaymentGateway } from './gateway.js';
import { EpayGateway } from './epay.js';
import { NativeGateway } from './native.js';
import { StripeGateway } from './stripe.js';
import { createWechatpayGateway } from './wechatpay.js';

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

const GATEWAYS: Record<Exclude<ShopPaymentProtocol, 'native'>, GatewayFactory> = {
  epay: (url, keys, options) => new EpayGateway(url, keys.read('epay-pid.txt'), keys.read('epay-key.txt'), options),
  alipay: (url, keys, options) => new AlipayGateway(url, keys, options),
  wechatpay: createWechatpayGateway,
  stripe: (url, keys, options) => new StripeGateway(url, keys, options),
};

/** The gateway for `config`. @throws ShopConfigError when its key files are missing */
export function createGateway(config: ShopPaymentConfig, options: ServiceOptions): PaymentGateway {
  if (config.protocol === 'native') return new NativeGateway(config.url, config.secret, options);
  return GATEWAYS[config.protocol](config.url, new KeyFolder(config.keysDir), options);
}
