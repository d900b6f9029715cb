/**
 * The personalities by protocol: the one place a protocol is registered. Each is built from the
 * run's credentials for it (`../credentials.ts`); the provider core, the dispatcher and the cashier
 * are the same whichever is served.
 */
import type { PaymentProtocol } from '../../../core/schema-parts.js';
import type { PaymentChannel, ProtocolCredentials } from '../credentials.js';
import type { PaymentPersonality } from '../personality.js';
import { AlipayPersonality } from './alipay.js';
import { EpayPersonality } from './epay.js';
import { NativePersonality } from './native.js';
import { StripePersonality } from './stripe.js';
import { WechatpayPersonality } from './wechatpay.js';

type PersonalityFactory<P extends PaymentProtocol> = (credentials: ProtocolCredentials[P]) => PaymentPersonality;

const PERSONALITIES: { [P in PaymentProtocol]: PersonalityFactory<P> } = {
  native: ({ secret }) => new NativePersonality({ secret }),
  epay: ({ pid, key }) => new EpayPersonality({ pid, key }),
  alipay: (credentials) => new AlipayPersonality({ credentials }),
  wechatpay: (credentials) => new WechatpayPersonality({ credentials }),
  stripe: (credentials) => new StripePersonality(credentials),
};

export type { PaymentChannel } from '../credentials.js';

/** The personality serving `channel`. */
export function createPersonality(channel: PaymentChannel): PaymentPersonality {
  return build(channel.protocol, channel.credentials);
}

function build<P extends PaymentProtocol>(protocol: P, credentials: ProtocolCredentials[P]): PaymentPersonality {
  const factory: PersonalityFactory<P> = PERSONALITIES[protocol];
  return factory(credentials);
}
