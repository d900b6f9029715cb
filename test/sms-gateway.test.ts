/**
 * The HTTP SMS gateway beside the native notify API, over real HTTP with form posts signed as a
 * shop's own code signs them: the signature vector, good and bad signatures, stale timestamps, the
 * rate limit, matching and classifying, and `notify.error` applied to it.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { smsKeyFiles, smsSignature, type MockSet } from '../mocks/index.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf, faultsOf } from './helpers/journal.js';
import { mockScenario, startMockWorld, type MockWorld } from './helpers/mocks.js';

const defer = cleanupAfterEach();

interface SmsWorld extends MockWorld {
  clock: { now: number };
}

async function setup(faults: unknown[] = []): Promise<SmsWorld> {
  const clock = { now: 0 };
  const world = await startMockWorld(defer, mockScenario({ name: 'sms-gateway', faults }), { loadTime: () => clock.now });
  world.mocks.correlation.linkContact('13800138000', 'b1');
  world.mocks.correlation.link('O-1042', 'b1');
  world.mocks.correlation.link('O-2077', 'b2');
  return { ...world, clock };
}

/** Signs as a shop's own SMS client does: md5(account + key + mobile + content + timestamp), hex. */
function shopSign(key: string, fields: { account: string; mobile: string; content: string; timestamp: string }): string {
  return createHash('md5').update(fields.account + key + fields.mobile + fields.content + fields.timestamp, 'utf8').digest('hex');
}

async function sendSms(
  mocks: MockSet,
  mobile: string,
  content: string,
  tweak: { key?: string; timestamp?: string; format?: string; sign?: string } = {},
): Promise<{ status: number; text: string; body: Record<string, unknown> | undefined }> {
  const { url, credentials } = mocks.sms;
  const timestamp = tweak.timestamp ?? String(Math.floor(Date.now() / 1000));
  const fields = { account: credentials.account, mobile, content, timestamp };
  const form = new URLSearchParams({ ...fields, sign: tweak.sign ?? shopSign(tweak.key ?? credentials.key, fields), ...(tweak.format ? { format: tweak.format } : {}) });
  const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  const text = await answer.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  return { status: answer.status, text, body };
}

describe('SMS gateway', () => {
  it('signs as documented (a fixed vector) and hands the shop its account and key as files', () => {
    const fields = { account: 'shop01', mobile: '13800138000', content: '【卡铺】您的订单 O-1 已发货', timestamp: '1714521600' };
    expect(smsSignature('k3y', fields)).toBe(createHash('md5').update('shop01k3y13800138000【卡铺】您的订单 O-1 已发货1714521600').digest('hex'));
    expect(smsSignature('k3y', fields)).toMatch(/^[0-9a-f]{32}$/);
    expect(smsKeyFiles({ account: 'shop01', key: 'k3y' }).map((file) => [file.name, file.content])).toEqual([
      ['sms-account.txt', 'shop01'],
      ['sms-key.txt', 'k3y'],
    ]);
  });

  it('accepts a well-signed message, matches it to the order by number, classifies it and journals notify.message (channel sms)', async () => {
    const world = await setup();
    const { credentials } = world.mocks.sms;
    expect(world.mocks.sms.url).toBe(`${world.mocks.urls.notify}/sms/send`);
    expect(credentials.key).toMatch(/^[0-9a-f]{32}$/);

    const accepted = await sendSms(world.mocks, '13800138000', '【卡铺】您的订单 O-1042 已发货，卡密：ABCD-1234。');
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ code: 0, msg: 'ok', msgid: expect.stringMatching(/^S\d{10}$/), count: 1 });
    expect(eventsOf(world.journal, 'notify.message').map((event) => [event.orderId, event.to, event.channel, event.kind])).toEqual([['O-1042', '13800138000', 'sms', 'delivered']]);
    expect(eventsOf(world.journal, 'notify.sms.received')).toEqual([
      expect.objectContaining({ mobile: '13800138000', orderId: 'O-1042', matchedBy: 'order-number', kind: 'delivered', code: 0 }),
    ]);

    // The text answer, a number written with the country code, matched by the buyer's contact.
    const text = await sendSms(world.mocks, '+8613800138000', 'Payment received, thank you.', { format: 'text' });
    expect(text.text).toMatch(/^0,S\d{10}$/);
    expect(eventsOf(world.journal, 'notify.message').at(-1)).toMatchObject({ orderId: 'O-1042', to: '13800138000', kind: 'payment_received' });
    expect(eventsOf(world.journal, 'notify.sms.received').at(-1)).toMatchObject({ matchedBy: 'contact' });
  });

  it('refuses a bad signature, an unknown account and a stale timestamp, journaling nothing as sent', async () => {
    const world = await setup();
    expect((await sendSms(world.mocks, '13800138000', 'Order O-1042 delivered', { key: 'wrong-key' })).body).toMatchObject({ code: 102 });
    expect((await sendSms(world.mocks, '13800138000', 'Order O-1042 delivered', { key: 'wrong-key', format: 'text' })).text).toBe('102');
    const stale = String(Math.floor(Date.now() / 1000) - 3600);
    expect((await sendSms(world.mocks, '13800138000', 'Order O-1042 delivered', { timestamp: stale })).body).toMatchObject({ code: 103 });
    const form = new URLSearchParams({ account: 'someone-else', mobile: '1', content: 'x', timestamp: '1', sign: 'x' });
    const unknown = await fetch(world.mocks.sms.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(await unknown.json()).toMatchObject({ code: 101 });
    expect((await sendSms(world.mocks, 'not-a-number', 'Order O-1042 delivered')).body).toMatchObject({ code: 104 });
    expect(eventsOf(world.journal, 'notify.message')).toEqual([]);
    expect(eventsOf(world.journal, 'notify.sms.received')).toEqual([]);
  });

  it('limits the messages one number receives per window (code 105)', async () => {
    const world = await setup();
    const codes: number[] = [];
    for (let n = 0; n < 22; n++) codes.push((await sendSms(world.mocks, '13900139000', `Code ${n}`)).body?.code as number);
    expect(codes.slice(0, 20)).toEqual(Array.from({ length: 20 }, () => 0));
    expect(codes.slice(20)).toEqual([105, 105]);
    // Other numbers are not limited.
    expect((await sendSms(world.mocks, '13800138000', 'Order O-1042 delivered')).body).toMatchObject({ code: 0 });
    expect(eventsOf(world.journal, 'notify.sms.received').filter((event) => event.code === 105)).toHaveLength(2);
  });

  it('journals a message it cannot match, without notify.message', async () => {
    const world = await setup();
    expect((await sendSms(world.mocks, '13700137000', 'Spring sale: 20% off all cards')).body).toMatchObject({ code: 0 });
    const [received] = eventsOf(world.journal, 'notify.sms.received');
    expect(received).toMatchObject({ mobile: '13700137000', code: 0 });
    expect(received?.orderId).toBeUndefined();
    expect(eventsOf(world.journal, 'notify.message')).toEqual([]);
  });

  it('notify.error applies: refused with the fault’s status inside the window, journaled, accepted after it', async () => {
    const world = await setup([{ id: 'notify.error', window: '0s..1s', status: 502 }]);
    for (let attempt = 0; attempt < 2; attempt++) {
      const down = await sendSms(world.mocks, '13800138000', '您的订单 O-1042 已发货');
      expect(down.status).toBe(502);
      expect(down.body).toMatchObject({ code: 500 });
    }
    expect(faultsOf(world.journal, 'notify.error')).toEqual([
      expect.objectContaining({ orderId: 'O-1042', buyerId: 'b1', detail: expect.objectContaining({ status: 502, channel: 'sms', kind: 'delivered' }) }),
    ]);
    expect(eventsOf(world.journal, 'notify.refused').map((event) => [event.orderId, event.kind, event.httpStatus, event.channel])).toEqual([
      ['O-1042', 'delivered', 502, 'sms'],
      ['O-1042', 'delivered', 502, 'sms'],
    ]);
    world.clock.now = 1500;
    expect((await sendSms(world.mocks, '13800138000', '您的订单 O-1042 已发货')).body).toMatchObject({ code: 0 });
    expect(eventsOf(world.journal, 'notify.message')).toHaveLength(1);
  });
});
