/**
 * The personalities by protocol: the one place a protocol is registered. Each is built from the
 * run's credentials for it (`../credentials.ts`); the provider core, the dispatcher and the cashier
 * are the same whichever is served. A personality's module is loaded only when a run serves it
 * (the others would cost every run their code's heap); its fault forms are small modules of their
 * own, known without it.
 */
import type { PaymentProtocol } from '../../../core/schema-parts.js';
import type { PaymentChannel, ProtocolCredentials } from '../credentials.js';
import type { FaultForm, PaymentFaultId, PaymentPersonality } from '../personality.js';
import { ALIPAY_FAULT_FORMS } from './alipay-codes.js';
import { EPAY_FAULT_FORMS } from './epay-fault-forms.js';
import { NATIVE_FAULT_FORMS } from './native-fault-forms.js';
import { STRIPE_FAULT_FORMS } from './stripe-fault-forms.js';
import { WECHATPAY_FAULT_FORMS } from './wechatpay-words.js';

type PersonalityLoader<P extends PaymentProtocol> = (credentials: ProtocolCredentials[P]) => Promise<PaymentPersonality>;

const PERSONALITIES: { [P in PaymentProtocol]: PersonalityLoader<P> } = {
  native: async ({ secret }) => new (await import('./native.js')).NativePersonality({ secret }),
  epay: async ({ pid, key }) => new (await import('./epay.js')).EpayPersonality({ pid, key }),
  alipay: async (credentials) => new (await import('./alipay.js')).AlipayPersonality({ credentials }),
  wechatpay: async (credentials) => new (await import('./wechatpay.js')).WechatpayPersonality({ credentials }),
  stripe: async (credentials) => new (await import('./stripe.js')).StripePersonality(credentials),
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

/** The personality serving `channel`, its module loaded on first use. */
export function loadPersonality(channel: PaymentChannel): Promise<PaymentPersonality> {
  return load(channel.protocol, channel.credentials);
}

function load<P extends PaymentProtocol>(protocol: P, credentials: ProtocolCredentials[P]): Promise<PaymentPersonality> {
  const loader: PersonalityLoader<P> = PERSONALITIES[protocol];
  return loader(credentials);
}
