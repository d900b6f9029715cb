/**
 * The personalities by protocol: the one place a protocol is registered. Each is built from the
 * run's credentials for it (`../credentials.ts`); the provider core, the dispatcher and the cashier
 * are the same whichever is served.
 */
import { OrdealError } from '../../../core/errors.js';
import type { PaymentProtocol } from '../../../core/schema-parts.js';
import type { PaymentChannel, ProtocolCredentials } from '../credentials.js';
import type { PaymentPersonality } from '../personality.js';
import { AlipayPersonality } from './alipay.js';
import { NativePersonality } from './native.js';

type PersonalityFactory<P extends PaymentProtocol> = (credentials: ProtocolCredentials[P]) => PaymentPersonality;

function notBuiltYet(protocol: PaymentProtocol): PersonalityFactory<PaymentProtocol> {
  return () => {
    throw new OrdealError('ORDEAL_ERR_PROTOCOL_UNAVAILABLE', `the ${protocol} personality is not built yet`);
  };
}

const PERSONALITIES: { [P in PaymentProtocol]: PersonalityFactory<P> } = {
  native: ({ secret }) => new NativePersonality({ secret }),
  epay: notBuiltYet('epay'),
  alipay: (credentials) => new AlipayPersonality({ credentials }),
  wechatpay: notBuiltYet('wechatpay'),
  stripe: notBuiltYet('stripe'),
};

export type { PaymentChannel } from '../credentials.js';

/** The personality serving `channel`. @throws OrdealError ORDEAL_ERR_PROTOCOL_UNAVAILABLE */
export function createPersonality(channel: PaymentChannel): PaymentPersonality {
  return build(channel.protocol, channel.credentials);
}

function build<P extends PaymentProtocol>(protocol: P, credentials: ProtocolCredentials[P]): PaymentPersonality {
  const factory: PersonalityFactory<P> = PERSONALITIES[protocol];
  return factory(credentials);
}
