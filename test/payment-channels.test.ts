/**
 * Several payment channels at once: a shop offering the native protocol and 易支付 side by side.
 * One provider core (one ledger, one fault plan) behind two personalities on two ports; each
 * trade remembers where it was created, its buyer pays at that channel's cashier, and its notice
 * goes out in that channel's words. Plus the scenario field, `--protocol a,b` and the faults a
 * multi-channel run cannot inject.
 */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { channelUrlVariable, notInjectedFaults, parseProtocols } from '../harness/drive/provider.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks } from '../mocks/index.js';
import { newChannel } from '../mocks/payment/credentials.js';
import { OutgoingHttp } from '../shop/http-client.js';
import { EpayGateway } from '../shop/payment/epay.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { request } from './helpers/http.js';
import { eventsOf, waitForEvents } from './helpers/journal.js';
import { listenOnLoopback, mockScenario, postTrade, tradeBody, trustMocks } from './helpers/mocks.js';

const defer = cleanupAfterEach();

describe('a provider with two channels', () => {
  it('serves each on its own port; a trade is paid at its own channel\'s cashier and notified in its words', async () => {
    const scenario = mockScenario({ name: 'two-channels' });
    const journal = new MemoryJournal();
    const native = newChannel('native');
    const epay = newChannel('epay');
    if (epay.protocol !== 'epay' || native.protocol !== 'native') throw new Error('expected native and epay credentials');
    const mocks = await startMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), channel: native, channels: [epay], callbackRetryDelays: [] });
    trustMocks(defer, mocks);
    defer(() => mocks.close());
    expect(mocks.paymentChannels.map((channel) => channel.protocol)).toEqual(['native', 'epay']);
    const [nativeServed, epayServed] = mocks.paymentChannels;
    expect(nativeServed!.url).toBe(mocks.urls.payment);
    expect(epayServed!.url).not.toBe(nativeServed!.url);

    // The shop's notify endpoint: it records each notice and acknowledges it as each protocol wants.
    const notices: Array<{ method: string; url: string }> = [];
    const app = Fastify({ logger: false, forceCloseConnections: true });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    app.route({ method: ['GET', 'POST'], url: '/notify/:protocol', handler: (req, reply) => {
      notices.push({ method: req.method, url: req.url });
      return reply.code(200).send('success');
    } });
    const shopUrl = await listenOnLoopback(app, defer);

    const viaNative = await postTrade(mocks.urls.payment, tradeBody(`${shopUrl}/notify/native`));
    const http = new OutgoingHttp();
    defer(() => http.close());
    const gateway = new EpayGateway(epayServed!.url, epay.credentials.pid, epay.credentials.key, { timeoutMs: 2000, http });
    const viaEpay = await gateway.createTrade({
      outTradeNo: 'E-1',
      amount: 1200,
      currency: 'CNY',
      subject: '1 × Weekly card',
      notifyUrl: `${shopUrl}/notify/epay`,
      method: 'alipay',
      payer: { id: 'buyer-epay', region: 'CN-GD' },
      expiresInMs: 60_000,
    });
    expect(viaEpay.kind).toBe('created');
    if (viaEpay.kind !== 'created') return;

    // One ledger: both trades, each on its channel.
    expect(mocks.payment.channelOfOrder(viaNative.outTradeNo)).toBeUndefined();
    expect(mocks.payment.channelOfOrder('E-1')).toBe('epay');
    expect(mocks.channelOfOrder(viaNative.outTradeNo).protocol).toBe('native');
    expect(mocks.channelOfOrder('E-1')).toMatchObject({ protocol: 'epay', url: epayServed!.url });
    expect(mocks.channelOfOrder('no-such-order').protocol).toBe('native');

    // Each buyer pays where the shop sent it.
    for (const [orderId, tradeNo, payUrl, payerId] of [
      [viaNative.outTradeNo, viaNative.tradeNo, undefined, viaNative.payerId],
      ['E-1', viaEpay.tradeNo, viaEpay.payUrl, 'buyer-epay'],
    ] as const) {
      const { url, cashier } = mocks.channelOfOrder(orderId);
      const pay = cashier.payRequest({ providerUrl: url, tradeNo, ...(payUrl ? { payUrl } : {}), payerId, method: 'alipay' });
      const answer = await request(pay.method, pay.url, pay.body, pay.headers);
      expect(cashier.readPayAnswer(answer.status, answer.body).outcome, orderId).toBe('paid');
    }
    const sent = await waitForEvents(journal, 'payment.callback.sent', (event) => event.acked, 2);
    expect(sent.map((event) => event.orderId).sort()).toEqual(['E-1', viaNative.outTradeNo].sort());
    // Native notifies by a signed JSON POST; epay by a GET with its signed parameters.
    const byPath = Object.fromEntries(notices.map((notice) => [notice.url.split('?')[0], notice]));
    expect(byPath['/notify/native']).toMatchObject({ method: 'POST' });
    expect(byPath['/notify/epay']).toMatchObject({ method: 'GET', url: expect.stringContaining('out_trade_no=E-1') });
    expect(byPath['/notify/epay']!.url).toContain(`pid=${epay.credentials.pid}`);
    expect(eventsOf(journal, 'payment.trade.paid').map((event) => event.orderId).sort()).toEqual(['E-1', viaNative.outTradeNo].sort());
    expect(mocks.payment.totals()).toMatchObject({ trades: 2, paid: 2, captured: 4200 });
  });

  it('refuses two channels of one protocol', async () => {
    const scenario = mockScenario({ name: 'same-twice' });
    await expect(
      startMocks({ scenario, journal: new MemoryJournal(), plan: new FaultPlan([], 1), channel: newChannel('epay'), channels: [newChannel('epay')] }),
    ).rejects.toThrow(/one channel per protocol/);
  });
});

describe('choosing the channels', () => {
  it('provider.channels: further protocols beside the primary, each once', () => {
    const base = { name: 'c', catalog: { skus: [{ sku: 'A', name: 'A', price: 100, stock: 1 }] }, load: { stages: [{ rate: '1/s', duration: '1s' }] } };
    expect(scenarioSchema.parse(base).provider).toEqual({ protocol: 'native', channels: [] });
    expect(scenarioSchema.parse({ ...base, provider: { protocol: 'alipay', channels: ['wechatpay', 'stripe'] } }).provider).toEqual({ protocol: 'alipay', channels: ['wechatpay', 'stripe'] });
    const twice = scenarioSchema.safeParse({ ...base, provider: { protocol: 'alipay', channels: ['wechatpay', 'alipay'] } });
    expect(twice.success).toBe(false);
    expect(twice.error?.issues[0]).toMatchObject({ path: ['provider', 'channels'], message: expect.stringContaining('"alipay" is named twice') });
    expect(scenarioSchema.safeParse({ ...base, provider: { protocol: 'alipay', channels: ['paypal'] } }).success).toBe(false);
  });

  it('--protocol takes one protocol or several, the first the primary', () => {
    expect(parseProtocols('stripe')).toEqual({ protocol: 'stripe', channels: [] });
    expect(parseProtocols('alipay, wechatpay,stripe')).toEqual({ protocol: 'alipay', channels: ['wechatpay', 'stripe'] });
    expect(() => parseProtocols('alipay,paypal')).toThrow(/--protocol takes one of native, epay, alipay, wechatpay, stripe.*"alipay,paypal"/);
    expect(() => parseProtocols('alipay,alipay')).toThrow(/each protocol once/);
    expect(() => parseProtocols('')).toThrow(/--protocol takes/);
    expect(channelUrlVariable('wechatpay')).toBe('ORDEAL_PAYMENT_URL_WECHATPAY');
  });

  it('a fault one channel cannot express is injected in none, and the reason names that channel', () => {
    const input = {
      name: 'c',
      catalog: { skus: [{ sku: 'A', name: 'A', price: 100, stock: 1 }] },
      load: { stages: [{ rate: '1/s', duration: '1s' }] },
      faults: [{ id: 'payment.limit.single' }, { id: 'payment.callback.forged' }],
    };
    expect(notInjectedFaults(scenarioSchema.parse({ ...input, provider: { protocol: 'alipay' } }))).toEqual([]);
    const withEpay = notInjectedFaults(scenarioSchema.parse({ ...input, provider: { protocol: 'alipay', channels: ['epay'] } }));
    expect(withEpay).toEqual([{ faultIndex: 0, fault: 'payment.limit.single', reason: expect.stringMatching(/^epay: /) }]);
  });
});
