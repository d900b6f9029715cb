/**
 * The SMTP capture server with nodemailer as the shop's mailer, over real sockets: STARTTLS and
 * implicit TLS verified against the run CA (and refused without it), any login, messages matched
 * to orders and classified, unmatched mail journaled, the size limit, STARTTLS insisted on.
 */
import { readFile } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyEnv } from '../mocks/index.js';
import type { RunCertificateAuthority } from '../mocks/intercept/index.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf } from './helpers/journal.js';
import { buyerMail, mailer, sendRefused, sharedAuthority, startMailWorld, type MailWorld } from './helpers/mail.js';
import { mockScenario } from './helpers/mocks.js';

const defer = cleanupAfterEach();
let authority: RunCertificateAuthority;
let caPem: string;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ authority, caPem, dispose } = await sharedAuthority());
});
afterAll(() => dispose());

async function setup(options: { requireTls?: boolean; maxMessageBytes?: number; messageKinds?: Record<string, string[]> } = {}): Promise<MailWorld> {
  const { messageKinds, ...email } = options;
  const world = await startMailWorld(defer, mockScenario({ name: 'email-capture' }), { authority, ...email }, messageKinds ? { messageKinds } : {});
  // The run knows order O-1042 of buyer b1 (whose contact is ada@buyers.example) and O-2077 of b2.
  world.mocks.correlation.linkContact('ada@buyers.example', 'b1');
  world.mocks.correlation.link('O-1042', 'b1');
  world.mocks.correlation.link('O-2077', 'b2');
  return world;
}

describe('TLS and login', () => {
  it('takes mail over STARTTLS (requireTLS) and implicit TLS, both verified against the CA file, and journals the login but not the password', async () => {
    const world = await setup();
    expect(world.mail.caFile).toBe(authority.caFile);
    const starttls = await mailer(world.mail, 'starttls', caPem).sendMail(buyerMail('ada@buyers.example', 'Order O-1042 delivered', 'Your order O-1042 is delivered. Cards: X1 / PIN 2.'));
    const implicit = await mailer(world.mail, 'implicit', caPem).sendMail(buyerMail('ada@buyers.example', 'Payment received', 'We received your payment for order O-1042.'));
    expect(starttls.response).toMatch(/^250 /);
    expect(implicit.response).toMatch(/^250 /);

    const received = eventsOf(world.journal, 'notify.email.received');
    expect(received.map((event) => [event.tls, event.user, event.outcome, event.orderId, event.kind])).toEqual([
      ['starttls', 'shop@cards.example', 'accepted', 'O-1042', 'delivered'],
      ['implicit', 'shop@cards.example', 'accepted', 'O-1042', 'payment_received'],
    ]);
    expect(JSON.stringify(world.journal.events)).not.toContain('not-a-real-password');
  });

  it('offers AUTH LOGIN as well as PLAIN, and hands the shop its settings as environment variables', async () => {
    const world = await setup();
    const env = notifyEnv(world.mocks);
    expect(env).toMatchObject({
      ORDEAL_SMTP_HOST: '127.0.0.1',
      ORDEAL_SMTP_PORT: String(world.mail.starttlsPort),
      ORDEAL_SMTPS_PORT: String(world.mail.tlsPort),
      ORDEAL_SMTP_CA_FILE: world.mail.caFile,
      NODE_EXTRA_CA_CERTS: world.mail.caFile,
      ORDEAL_SMS_URL: world.mocks.sms.url,
      ORDEAL_SMS_KEY: world.mocks.sms.credentials.key,
    });
    // A mailer configured from those variables alone, logging in with LOGIN.
    const shop = nodemailer.createTransport({
      host: env.ORDEAL_SMTP_HOST,
      port: Number(env.ORDEAL_SMTP_PORT),
      requireTLS: true,
      authMethod: 'LOGIN',
      auth: { user: 'orders@cards.example', pass: 'x' },
      tls: { ca: await readFile(env.ORDEAL_SMTP_CA_FILE!, 'utf8') },
    });
    await shop.sendMail(buyerMail('ada@buyers.example', 'Order O-1042 delivered', 'Your cards.'));
    expect(eventsOf(world.journal, 'notify.email.received')[0]).toMatchObject({ user: 'orders@cards.example', tls: 'starttls' });
    expect(notifyEnv({ sms: world.mocks.sms })).not.toHaveProperty('ORDEAL_SMTP_HOST');
  });

  it('is refused by a mailer that does not trust the CA: the certificate is really checked', async () => {
    const world = await setup();
    for (const how of ['starttls', 'implicit'] as const) {
      const error = await sendRefused(mailer(world.mail, how, undefined), buyerMail('ada@buyers.example', 'Order O-1042', 'delivered'));
      expect(error.message, how).toMatch(/self[- ]signed certificate in certificate chain|unable to verify|unable to get local issuer/i);
    }
    // The certificate names localhost as well as 127.0.0.1.
    const byName = mailer(world.mail, 'implicit', caPem, { tls: { ca: caPem, servername: 'localhost' } });
    expect((await byName.sendMail(buyerMail('ada@buyers.example', 'Order O-1042', 'Your order is delivered.'))).response).toMatch(/^250 /);
    const wrongName = mailer(world.mail, 'implicit', caPem, { tls: { ca: caPem, servername: 'smtp.other.example' } });
    expect((await sendRefused(wrongName, buyerMail('ada@buyers.example', 'x', 'y'))).message).toMatch(/altnames|Hostname\/IP does not match/i);
    expect(eventsOf(world.journal, 'notify.email.received')).toHaveLength(1);
  });

  it('accepts mail without TLS or login unless told to insist on STARTTLS, and journals it as such', async () => {
    const lax = await setup();
    await mailer(lax.mail, 'plain', undefined).sendMail(buyerMail('ada@buyers.example', 'Order O-1042 delivered', 'Your cards are here.'));
    const [event] = eventsOf(lax, 'notify.email.received');
    expect(event).toMatchObject({ tls: 'none', outcome: 'accepted', orderId: 'O-1042' });
    expect(event?.user).toBeUndefined();

    const strict = await setup({ requireTls: true });
    const error = await sendRefused(mailer(strict.mail, 'plain', undefined), buyerMail('ada@buyers.example', 'Order O-1042', 'delivered'));
    expect(error.responseCode).toBe(530);
    expect(error.message).toMatch(/STARTTLS/);
    // Over STARTTLS the same server takes it.
    expect((await mailer(strict.mail, 'starttls', caPem).sendMail(buyerMail('ada@buyers.example', 'Order O-1042', 'delivered'))).response).toMatch(/^250 /);
  });
});

describe('matching and classifying', () => {
  it('matches by an order number in the subject or body and journals notify.message (channel email) that the fold can score', async () => {
    const world = await setup();
    const shop = mailer(world.mail, 'implicit', caPem);
    await shop.sendMail(buyerMail('Ada@Buyers.example', '订单发货通知', '您的订单 O-1042 已发货，卡密：ABCD-1234。'));
    await shop.sendMail(buyerMail('bob@buyers.example', 'Refund', '', { html: '<p>Your payment for <b>O-2077</b> was <i>refunded in full</i>.</p>' }));
    await shop.sendMail(buyerMail('ada@buyers.example', '支付成功', '订单号：O-1042，我们已收到您的付款。'));

    const messages = eventsOf(world.journal, 'notify.message');
    expect(messages.map((event) => [event.orderId, event.to, event.channel, event.kind, event.duplicate])).toEqual([
      // The recipient is written as the buyer gave the contact.
      ['O-1042', 'ada@buyers.example', 'email', 'delivered', false],
      ['O-2077', 'bob@buyers.example', 'email', 'refunded', false],
      ['O-1042', 'ada@buyers.example', 'email', 'payment_received', false],
    ]);
    expect(messages[1]?.text).toContain('refunded in full');
    expect(eventsOf(world.journal, 'notify.email.received').map((event) => event.matchedBy)).toEqual(['order-number', 'order-number', 'order-number']);
    expect(world.mocks.notify.inbox({ orderId: 'O-1042' })).toHaveLength(2);
    // bob is now known as b2's contact: his next mail without a number finds O-2077.
    await shop.sendMail(buyerMail('bob@buyers.example', 'Thanks', 'Your cards are attached.'));
    expect(eventsOf(world.journal, 'notify.email.received').at(-1)).toMatchObject({ orderId: 'O-2077', matchedBy: 'contact', kind: 'delivered' });
  });

  it("matches by the recipient's contact, and uses the shop's own wording before the defaults", async () => {
    const world = await setup({ messageKinds: { delivered: ['your keys are * ready'] } });
    await mailer(world.mail, 'starttls', caPem).sendMail(buyerMail('ada@buyers.example', 'Good news', 'Your keys are finally ready, enjoy.'));
    expect(eventsOf(world.journal, 'notify.message').map((event) => [event.orderId, event.kind])).toEqual([['O-1042', 'delivered']]);
    expect(eventsOf(world.journal, 'notify.email.received')[0]).toMatchObject({ matchedBy: 'contact' });
  });

  it("matches by another id in the text (the provider's trade number)", async () => {
    const world = await setup();
    const { call } = await import('./helpers/http.js');
    const created = await call('POST', `${world.mocks.urls.payment}/v1/trades`, {
      outTradeNo: 'O-2077',
      amount: 3000,
      currency: 'CNY',
      subject: 'Monthly card',
      notifyUrl: 'http://127.0.0.1:9/callback',
      method: 'alipay',
      payer: { id: 'b2', region: 'CN' },
    });
    expect(created.status).toBe(201);
    await mailer(world.mail, 'implicit', caPem).sendMail(buyerMail('stranger@buyers.example', 'Payment confirmed', `Transaction ${String(created.body.tradeNo)} succeeded.`));
    expect(eventsOf(world.journal, 'notify.email.received')[0]).toMatchObject({ orderId: 'O-2077', matchedBy: 'content', kind: 'payment_received' });
  });

  it('journals mail it cannot match, without a notify.message', async () => {
    const world = await setup();
    await mailer(world.mail, 'starttls', caPem).sendMail(buyerMail('nobody@buyers.example', 'Newsletter', 'Our spring sale starts today; order 42 cards at once.'));
    expect(eventsOf(world.journal, 'notify.email.received')).toEqual([
      expect.objectContaining({ to: ['nobody@buyers.example'], subject: 'Newsletter', outcome: 'accepted', smtpCode: 250, tls: 'starttls' }),
    ]);
    const [event] = eventsOf(world.journal, 'notify.email.received');
    expect(event?.orderId).toBeUndefined();
    expect(event?.messageId).toMatch(/^<.+@.+>$/);
    expect(eventsOf(world.journal, 'notify.message')).toEqual([]);
    expect(world.mail.recent()).toEqual([expect.objectContaining({ subject: 'Newsletter', outcome: 'accepted', envelopeTo: ['nobody@buyers.example'] })]);
  });

  it('drops a retried message with the same Message-ID as a duplicate', async () => {
    const world = await setup();
    const shop = mailer(world.mail, 'implicit', caPem);
    const message = { ...buyerMail('ada@buyers.example', 'Order O-1042 delivered', 'Your order is delivered.'), messageId: '<fixed-1@cards.example>' };
    await shop.sendMail(message);
    await shop.sendMail(message);
    expect(eventsOf(world.journal, 'notify.message').map((event) => event.duplicate)).toEqual([false, true]);
  });
});

describe('bounds', () => {
  it('refuses a message over the size limit with 552, journaled against its order', async () => {
    const world = await setup({ maxMessageBytes: 4096 });
    const shop = mailer(world.mail, 'implicit', caPem);
    const error = await sendRefused(shop, buyerMail('ada@buyers.example', 'Order O-1042 delivered', 'x'.repeat(20_000)));
    expect(error.responseCode).toBe(552);
    // What arrived within the limit is still read: the refusal is journaled against the order.
    expect(eventsOf(world.journal, 'notify.email.received')).toEqual([
      expect.objectContaining({ outcome: 'refused', smtpCode: 552, subject: 'Order O-1042 delivered', orderId: 'O-1042', bytes: expect.any(Number) }),
    ]);
    expect(eventsOf(world.journal, 'notify.email.received')[0]!.bytes).toBeGreaterThan(20_000);
    expect((await shop.sendMail(buyerMail('ada@buyers.example', 'Order O-1042 delivered', 'small'))).response).toMatch(/^250 /);
    expect(eventsOf(world.journal, 'notify.message')).toHaveLength(1);
  });

  it('keeps a bounded ring of recent messages', async () => {
    const world = await startMailWorld(defer, mockScenario({ name: 'email-ring' }), { authority, recentLimit: 2 });
    const shop = mailer(world.mail, 'starttls', caPem, { pool: false });
    for (const n of [1, 2, 3]) await shop.sendMail(buyerMail('x@buyers.example', `m${n}`, 'hello'));
    expect(world.mail.recent().map((message) => message.subject)).toEqual(['m2', 'm3']);
    expect(world.mail.received()).toBe(3);
  });
});
