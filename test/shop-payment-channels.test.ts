/**
 * The reference shop with several payment channels at once: the environment contract
 * (`ORDEAL_PAYMENT_PROTOCOL` as a list, `ORDEAL_PAYMENT_URL_<PROTOCOL>`, `ORDEAL_PAYMENT_METHODS`),
 * which gateway serves which buyer method, and one in-process shop with Alipay and WeChat Pay side
 * by side, each order paid at its own provider's cashier and notified on its own route.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HttpClient } from '../core/http-client.js';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { serviceKeyEnv, startMocks, type MockSet } from '../mocks/index.js';
import { credentialFiles, newChannel } from '../mocks/payment/credentials.js';
import { startShop } from '../shop/app.js';
import { configFromEnv, parsePaymentMethods, ShopConfigError, type PaymentMethodMap, type ShopPaymentProtocol } from '../shop/config.js';
import { OutgoingHttp } from '../shop/http-client.js';
import { PaymentChannels, routeMethods } from '../shop/payment/channels.js';
import type { PaymentGateway } from '../shop/payment/gateway.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';
import { request } from './helpers/http.js';
import { eventsOf, waitForEvent } from './helpers/journal.js';
import { mockScenario, trustMocks } from './helpers/mocks.js';
import { orderBody, placeOrder, PRICE, startShopRig, waitFor, type OrderAnswer } from './helpers/shop.js';

const defer = cleanupAfterEach();

const BASE_ENV = {
  PORT: '0',
  ORDEAL_PAYMENT_URL: 'http://127.0.0.1:1/',
  ORDEAL_PAYMENT_KEYS: '/keys',
  ORDEAL_STOCK_URL: 'http://127.0.0.1:2',
  ORDEAL_NOTIFY_URL: 'http://127.0.0.1:3',
  ORDEAL_SHOP_CONFIG: JSON.stringify({ catalog: { skus: [{ sku: 'A', name: 'A card', price: 100 }] } }),
};

describe('payment channels from the environment', () => {
  it('keeps one protocol exactly as before: one channel at ORDEAL_PAYMENT_URL (or its own variable)', () => {
    expect(configFromEnv({ ...BASE_ENV, ORDEAL_PAYMENT_PROTOCOL: 'alipay' }, []).payment).toEqual({ protocol: 'alipay', url: 'http://127.0.0.1:1', keysDir: '/keys' });
    expect(configFromEnv({ ...BASE_ENV, ORDEAL_PAYMENT_SECRET: 's' }, []).payment).toEqual({ protocol: 'native', url: 'http://127.0.0.1:1', secret: 's' });
    const own = configFromEnv({ ...BASE_ENV, ORDEAL_PAYMENT_PROTOCOL: 'stripe', ORDEAL_PAYMENT_URL_STRIPE: 'http://127.0.0.1:9/' }, []);
    expect(own.payment).toEqual({ protocol: 'stripe', url: 'http://127.0.0.1:9', keysDir: '/keys' });
  });

  it('reads a list: one channel per protocol, the first the primary (falling back to ORDEAL_PAYMENT_URL)', () => {
    const config = configFromEnv(
      {
        ...BASE_ENV,
        ORDEAL_PAYMENT_PROTOCOL: 'alipay, wechatpay,stripe',
        ORDEAL_PAYMENT_URL_WECHATPAY: 'http://127.0.0.1:4',
        ORDEAL_PAYMENT_URL_STRIPE: 'http://127.0.0.1:5/',
      },
      [],
    );
    expect(config.payment).toEqual({
      channels: [
        { protocol: 'alipay', url: 'http://127.0.0.1:1', keysDir: '/keys' },
        { protocol: 'wechatpay', url: 'http://127.0.0.1:4', keysDir: '/keys' },
        { protocol: 'stripe', url: 'http://127.0.0.1:5', keysDir: '/keys' },
      ],
      methods: {},
    });
    const native = configFromEnv(
      { ...BASE_ENV, ORDEAL_PAYMENT_PROTOCOL: 'native,epay', ORDEAL_PAYMENT_SECRET: 's', ORDEAL_PAYMENT_URL_NATIVE: 'http://127.0.0.1:6', ORDEAL_PAYMENT_URL_EPAY: 'http://127.0.0.1:7', ORDEAL_PAYMENT_METHODS: 'wechat=epay' },
      [],
    );
    expect(native.payment).toEqual({
      channels: [
        { protocol: 'native', url: 'http://127.0.0.1:6', secret: 's' },
        { protocol: 'epay', url: 'http://127.0.0.1:7', keysDir: '/keys' },
      ],
      methods: { wechat: 'epay' },
    });
  });

  it('reads the method map, blanks ignored', () => {
    const listed: ShopPaymentProtocol[] = ['alipay', 'wechatpay', 'stripe'];
    expect(parsePaymentMethods(' alipay=alipay , wechat = wechatpay,card=stripe', listed)).toEqual({ alipay: 'alipay', wechat: 'wechatpay', card: 'stripe' });
    expect(parsePaymentMethods(undefined, listed)).toEqual({});
    expect(parsePaymentMethods('  ', listed)).toEqual({});
  });

  const multi = { ...BASE_ENV, ORDEAL_PAYMENT_PROTOCOL: 'alipay,wechatpay', ORDEAL_PAYMENT_URL_WECHATPAY: 'http://127.0.0.1:4' };
  it.each([
    [{ ...multi, ORDEAL_PAYMENT_URL_WECHATPAY: undefined }, /missing required environment variable ORDEAL_PAYMENT_URL_WECHATPAY/],
    [{ ...multi, ORDEAL_PAYMENT_URL_WECHATPAY: 'nope' }, /ORDEAL_PAYMENT_URL_WECHATPAY is not a URL/],
    [{ ...multi, ORDEAL_PAYMENT_URL: undefined }, /missing required environment variable ORDEAL_PAYMENT_URL\b/],
    [{ ...multi, ORDEAL_PAYMENT_KEYS: undefined }, /ORDEAL_PAYMENT_KEYS \(the folder of alipay key files\)/],
    [{ ...multi, ORDEAL_PAYMENT_PROTOCOL: 'alipay,paypal' }, /ORDEAL_PAYMENT_PROTOCOL must be one of .* got "paypal" in "alipay,paypal"/],
    [{ ...multi, ORDEAL_PAYMENT_PROTOCOL: 'alipay,' }, /got "" in "alipay,"/],
    [{ ...multi, ORDEAL_PAYMENT_PROTOCOL: 'alipay,alipay' }, /lists alipay twice/],
    [{ ...multi, ORDEAL_PAYMENT_PROTOCOL: 'native,alipay' }, /ORDEAL_PAYMENT_SECRET/],
    [{ ...multi, ORDEAL_PAYMENT_METHODS: 'alipay' }, /method=protocol pairs.*got "alipay"/],
    [{ ...multi, ORDEAL_PAYMENT_METHODS: 'alipay=alipay=x' }, /method=protocol pairs/],
    [{ ...multi, ORDEAL_PAYMENT_METHODS: '=alipay' }, /method=protocol pairs/],
    [{ ...multi, ORDEAL_PAYMENT_METHODS: 'alipay=alipay,' }, /method=protocol pairs.*got ""/],
    [{ ...multi, ORDEAL_PAYMENT_METHODS: 'bitcoin=alipay' }, /unknown payment method "bitcoin" \(the methods are alipay, wechat, card\)/],
    [{ ...multi, ORDEAL_PAYMENT_METHODS: 'card=paypal' }, /unknown protocol "paypal" for card/],
    [{ ...multi, ORDEAL_PAYMENT_METHODS: 'card=stripe' }, /names stripe for card, but ORDEAL_PAYMENT_PROTOCOL lists only alipay, wechatpay/],
    [{ ...multi, ORDEAL_PAYMENT_METHODS: 'card=alipay,card=wechatpay' }, /gives card twice/],
    [{ ...BASE_ENV, ORDEAL_PAYMENT_PROTOCOL: 'alipay', ORDEAL_PAYMENT_METHODS: 'wechat=wechatpay' }, /lists only alipay/],
  ])('refuses %j', (env, message) => {
    expect(() => configFromEnv(env, [])).toThrow(ShopConfigError);
    expect(() => configFromEnv(env, [])).toThrow(message);
  });
});

/** A gateway that only names its protocol: routing never calls it. */
function namedGateway(protocol: string): PaymentGateway {
  const unused = (): never => {
    throw new Error(`${protocol}: not called when routing`);
  };
  return {
    protocol,
    payUrl: unused,
    createTrade: unused,
    queryTrade: unused,
    queryByOutTradeNo: unused,
    closeTrade: unused,
    refund: unused,
    notify: { methods: ['POST'], orderIdOf: unused, read: unused, acknowledge: unused, refuse: unused },
  };
}

function channelSet(protocols: readonly [ShopPaymentProtocol, ...ShopPaymentProtocol[]], methods: PaymentMethodMap = {}): PaymentChannels {
  const [primary, ...others] = protocols;
  const channel = (protocol: ShopPaymentProtocol): { protocol: ShopPaymentProtocol; gateway: PaymentGateway } => ({ protocol, gateway: namedGateway(protocol) });
  return new PaymentChannels([channel(primary), ...others.map(channel)], methods);
}

describe('which channel serves a buyer method', () => {
  it('each protocol serves its own methods; a method nothing serves goes to the primary', () => {
    expect(routeMethods(['alipay', 'wechatpay', 'stripe'])).toEqual({ byMethod: { alipay: 'alipay', wechat: 'wechatpay', card: 'stripe' }, otherwise: 'alipay' });
    expect(routeMethods(['wechatpay', 'alipay'])).toEqual({ byMethod: { alipay: 'alipay', wechat: 'wechatpay', card: 'wechatpay' }, otherwise: 'wechatpay' });
    // epay aggregates Alipay and WeChat; the first listed protocol that serves a method wins.
    expect(routeMethods(['stripe', 'epay', 'wechatpay']).byMethod).toEqual({ alipay: 'epay', wechat: 'epay', card: 'stripe' });
    // native takes any method, even one the shop does not know by name.
    expect(routeMethods(['alipay', 'native'])).toEqual({ byMethod: { alipay: 'alipay', wechat: 'native', card: 'native' }, otherwise: 'native' });
  });

  it('an explicit choice wins over the natural one', () => {
    expect(routeMethods(['epay', 'wechatpay'], { wechat: 'wechatpay' }).byMethod).toEqual({ alipay: 'epay', wechat: 'wechatpay', card: 'epay' });
    expect(routeMethods(['alipay', 'stripe'], { card: 'alipay', alipay: 'stripe' }).byMethod).toEqual({ alipay: 'stripe', wechat: 'alipay', card: 'alipay' });
  });

  it('hands each order the gateway of its method, and each protocol its own', () => {
    const channels = channelSet(['alipay', 'wechatpay', 'stripe']);
    expect(['alipay', 'wechat', 'card', 'unionpay', 'toString'].map((method) => channels.forMethod(method).protocol)).toEqual(['alipay', 'wechatpay', 'stripe', 'alipay', 'alipay']);
    expect(channels.forProtocol('wechatpay')?.protocol).toBe('wechatpay');
    expect(channels.forProtocol('epay')).toBeUndefined();
    expect(channels.primary.protocol).toBe('alipay');
    expect(channelSet(['stripe']).forMethod('wechat').protocol).toBe('stripe');
  });

  it('takes one channel per protocol, and methods only for its channels', () => {
    expect(() => new PaymentChannels([{ protocol: 'alipay', gateway: namedGateway('alipay') }, { protocol: 'alipay', gateway: namedGateway('alipay') }])).toThrow(/one payment channel per protocol/);
    expect(() => channelSet(['alipay', 'wechatpay'], { card: 'stripe' })).toThrow(/card is to go to stripe, which is not one of the channels \(alipay, wechatpay\)/);
  });

  it('loads only the listed channels, and names a channel whose key files are missing', async () => {
    const http = new OutgoingHttp();
    defer(() => http.close());
    const options = { timeoutMs: 1000, http };
    const native = await PaymentChannels.load({ channels: [{ protocol: 'native', url: 'http://127.0.0.1:1', secret: 's' }], methods: {} }, options);
    expect(native.channels.map((channel) => channel.protocol)).toEqual(['native']);
    expect(native.forMethod('card').protocol).toBe('native');
    const empty = await tempDir('ordeal-channels-');
    defer(() => empty.remove());
    const missing = PaymentChannels.load({ channels: [{ protocol: 'native', url: 'http://127.0.0.1:1', secret: 's' }, { protocol: 'epay', url: 'http://127.0.0.1:2', keysDir: empty.path }], methods: {} }, options);
    await expect(missing).rejects.toThrow(ShopConfigError);
    await expect(missing).rejects.toThrow(/epay-pid\.txt/);
  });
});

describe('a shop with one channel', () => {
  it('keeps giving its provider /payment/notify, and answers on its protocol\u2019s route too', async () => {
    const rig = await startShopRig(defer, { name: 'one-channel', seed: 3, secret: 'one-channel-secret' });
    const order = await placeOrder(rig, 'buyer-one');
    expect(rig.mocks.payment.tradeByOrder(order.orderId)?.notifyUrl).toBe(`${rig.shop.url}/payment/notify`);
    // An unsigned notify is refused by the native endpoint on either route, not left unrouted.
    expect((await request('POST', `${rig.shop.url}/payment/notify/native`, '{}')).status).toBe(401);
    expect((await request('POST', `${rig.shop.url}/payment/notify`, '{}')).status).toBe(401);
  });
});

// ---- one shop, two providers --------------------------------------------------------------------

interface Provider {
  mocks: MockSet;
  journal: MemoryJournal;
}

async function startProvider(protocol: 'alipay' | 'wechatpay'): Promise<Provider> {
  const scenario = mockScenario({ name: `channels-${protocol}`, skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: PRICE, stock: 10 }] });
  const journal = new MemoryJournal();
  const mocks = await startMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), channel: newChannel(protocol) });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  return { mocks, journal };
}

describe('a shop with Alipay and WeChat Pay side by side', () => {
  it('pays each order through the provider of its method, notified on its protocol\u2019s own route', async () => {
    const [alipay, wechatpay] = await Promise.all([startProvider('alipay'), startProvider('wechatpay')]);
    const keys = await tempDir('ordeal-channels-keys-');
    defer(() => keys.remove());
    // One folder for every channel's key files: their names are protocol-prefixed.
    for (const file of [...credentialFiles(alipay.mocks.channel), ...credentialFiles(wechatpay.mocks.channel)]) {
      await writeFile(join(keys.path, file.name), `${file.content}\n`, { mode: 0o600 });
    }
    const config = configFromEnv(
      {
        ORDEAL_PAYMENT_PROTOCOL: 'alipay,wechatpay',
        ORDEAL_PAYMENT_URL: alipay.mocks.urls.payment,
        ORDEAL_PAYMENT_URL_WECHATPAY: wechatpay.mocks.urls.payment,
        ORDEAL_PAYMENT_KEYS: keys.path,
        ORDEAL_STOCK_URL: alipay.mocks.urls.stock,
        ORDEAL_NOTIFY_URL: alipay.mocks.urls.notify,
        ...serviceKeyEnv(alipay.mocks.serviceKeys),
        ORDEAL_SHOP_CONFIG: JSON.stringify({
          catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: PRICE, currency: 'CNY' }] },
          // The reconciler's first query comes late: delivery within the test is the notify's doing.
          timers: { orderTtl: 20_000, reconcileAfter: 15_000, reconcileEvery: 1000 },
        }),
      },
      [],
    );
    const shop = await startShop({ ...config, scanEvery: 50 });
    defer(() => shop.close());
    const buyers = new HttpClient({ connections: 2 });
    defer(() => buyers.close());

    const place = async (buyerId: string, paymentMethod: string): Promise<OrderAnswer> => {
      const answer = await request('POST', `${shop.url}/orders`, orderBody(buyerId, { paymentMethod }));
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      return answer.body as unknown as OrderAnswer;
    };
    const payAt = async (provider: Provider, order: OrderAnswer, buyerId: string, method: string): Promise<void> => {
      const { cashier, urls } = provider.mocks;
      const link = order.payment;
      const pay = cashier.payRequest({ providerUrl: urls.payment, tradeNo: link?.tradeNo ?? '', ...(link?.payUrl ? { payUrl: link.payUrl } : {}), payerId: buyerId, method });
      const answer = await buyers.send(pay.method, pay.url, pay.body, pay.headers);
      expect(cashier.readPayAnswer(answer.status, answer.body)).toMatchObject({ outcome: 'paid' });
    };
    const delivered = (orderId: string): Promise<OrderAnswer> =>
      waitFor(`order ${orderId} to be delivered`, async () => {
        const answer = await request('GET', `${shop.url}/orders/${orderId}`);
        return answer.body.status === 'delivered' ? (answer.body as unknown as OrderAnswer) : undefined;
      }, 8000);

    const byAlipay = await place('buyer-ali', 'alipay');
    const byWechat = await place('buyer-wx', 'wechat');
    expect(byAlipay).toMatchObject({ status: 'pending_payment', payment: { payUrl: expect.stringContaining(alipay.mocks.urls.payment) } });
    expect(byWechat).toMatchObject({ status: 'pending_payment', payment: { payUrl: expect.stringContaining(wechatpay.mocks.urls.payment) } });
    expect(alipay.mocks.payment.tradeByOrder(byAlipay.orderId)?.notifyUrl).toBe(`${shop.url}/payment/notify/alipay`);
    expect(wechatpay.mocks.payment.tradeByOrder(byWechat.orderId)?.notifyUrl).toBe(`${shop.url}/payment/notify/wechatpay`);

    await Promise.all([payAt(alipay, byAlipay, 'buyer-ali', 'alipay'), payAt(wechatpay, byWechat, 'buyer-wx', 'wechat')]);
    const [aliDone, wxDone] = await Promise.all([delivered(byAlipay.orderId), delivered(byWechat.orderId)]);
    expect(aliDone.delivery?.cards).toHaveLength(1);
    expect(wxDone.delivery?.cards).toHaveLength(1);

    // Each provider's notify was taken on its own route, and each saw only its own order's trade.
    await waitForEvent(alipay.journal, 'payment.callback.sent', (event) => event.orderId === byAlipay.orderId && event.acked);
    await waitForEvent(wechatpay.journal, 'payment.callback.sent', (event) => event.orderId === byWechat.orderId && event.acked);
    expect(eventsOf(alipay.journal, 'payment.trade.created').map((event) => event.orderId)).toEqual([byAlipay.orderId]);
    expect(eventsOf(wechatpay.journal, 'payment.trade.created').map((event) => event.orderId)).toEqual([byWechat.orderId]);
    // A protocol the shop does not run has no notify route.
    expect((await request('GET', `${shop.url}/payment/notify/stripe`)).status).toBe(404);
  }, 15_000);
});
