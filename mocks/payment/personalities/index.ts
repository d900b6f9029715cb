/**
 * The personalities by protocol: the one place a protocol is registered. Each is built from the
 * run's credentials for it (`../credentials.ts`); the provider core, the dispatcher and the cashier
 * are the same whichever is served.
 */
import type { PaymentProtocol } from '../../../core/schema-parts.js';
import type { PaymentChannel, ProtocolCredentials } from '../credentials.js';
import type { FaultForm, PaymentFaultId, PaymentPersonality } from '../personality.js';
import { AlipayPersonality } from './alipay.js';
import { ALIPAY_FAULT_FORMS } from './alipay-codes.js';
import { EpayPersonality } from './epay.js';
import { EPAY_FAULT_FORMS } from './epay-fault-forms.js';
import { NATIVE_FAULT_FORMS, NativePersonality } from './native.js';
import { STRIPE_FAULT_FORMS, StripePersonality } from './stripe.js';
import { WechatpayPersonality } from './wechatpay.js';
import { WECHATPAY_FAULT_FORMS } from './wechatpay-words.js';

type PersonalityFactory<P extends PaymentProtocol> = (credentials: ProtocolCredentials[P]) => PaymentPersonality;

const PERSONALITIES: { [P in PaymentProtocol]: PersonalityFactory<P> } = {
  native: ({ secret }) => new NativePersonality({ secret }),
  epay: ({ pid, key }) => new EpayPersonality({ pid, key }),
  alipay: (credentials) => new AlipayPersonality({ credentials }),
  wechatpay: (credentials) => new WechatpayPersonality({ credentials }),
  stripe: (credentials) => new StripePersonality(credentials),
};

export type { PaymentChannel } from '../credentials.js';

/** Every protocol's form of every payment fault (`PaymentPersonality.faultForms`), known without building one. */
export const FAULT_FORMS: { readonly [P in PaymentProtocol]: Readonly<Record<PaymentFaultId, FaultForm>> } = {
  native: NATIVE_FAULT_FORMS,
  epay: EPAY_FAULT_FORMS,
  alipay: ALIPAY_FAULT_FORMS,
  wechatpay: WECHATPAY_FAULT_FORMS,
  stripe: STRIPE_FAULT_FORMS,
};

/** Why `protocol` cannot express `fault`, or undefined when it can (every fault outside `payment.*` can). */
export function inexpressibleIn(protocol: PaymentProtocol, fault: string): string | undefined {
  const form = (FAULT_FORMS[protocol] as Readonly<Record<string, FaultForm | undefined>>)[fault];
  return form && 'inexpressible' in form ? form.inexpressible : undefined;
}

/** The personality serving `channel`. */
export function createPersonality(channel: PaymentChannel): PaymentPersonality {
  return build(channel.protocol, channel.credentials);
}

function build<P extends PaymentProtocol>(protocol: P, credentials: ProtocolCredentials[P]): PaymentPersonality {
  const factory: PersonalityFactory<P> = PERSONALITIES[protocol];
  return factory(credentials);
}
