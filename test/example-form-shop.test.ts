/**
 * The example form shop (`examples/form-shop/`) as a third-party shop: the built process, started
 * unmodified with only its settings pointing at Ordeal — Ordeal's epay personality as its gateway
 * and an SMTP server (STARTTLS, a certificate from Ordeal's run CA, a login) in this test. A buyer
 * goes through it as a browser would: the order form with its session cookie and CSRF token, the
 * auto-submitting form to submit.php, Ordeal's cashier, the notify, the order-query page, the mail.
 * Then its own timers (closing unpaid orders, reconciling a paid order whose notify was dropped)
 * and its flaws.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import * as cheerio from 'cheerio';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { startMocks, type MockSet } from '../mocks/index.js';
import { createCertificateAuthority, type RunCertificateAuthority } from '../mocks/intercept/certificate-authority.js';
import type { PaymentChannel } from '../mocks/payment/credentials.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf, faultsOf, waitForEvent } from './helpers/journal.js';
import { credentialsFor } from './helpers/http.js';
import { mockScenario, trustMocks } from './helpers/mocks.js';

const ROOT = resolve(import.meta.dirname, '..');
const SOURCES = join(ROOT, 'examples', 'form-shop', 'shop');
const MAIN = join(ROOT, 'dist', 'examples', 'form-shop', 'shop', 'main.js');
const PID = '1001';
const KEY = randomBytes(12).toString('hex');
const CHANNEL: PaymentChannel = { protocol: 'epay', credentials: { pid: PID, key: KEY } };
const SMTP_USER = 'shop-mailer';
const SMTP_PASS = 'mail-secret';

const defer = cleanupAfterEach();
let ca: RunCertificateAuthority;

beforeAll(async () => {
  // Built when a source has no output as new as itself (tsc leaves unchanged outputs alone).
  const stale = readdirSync(SOURCES)
    .filter((file) => file.endsWith('.ts'))
    .some((file) => {
      const built = join(dirname(MAIN), file.replace(/\.ts$/, '.js'));
      return !existsSync(built) || statSync(built).mtimeMs < statSync(join(SOURCES, file)).mtimeMs;
    });
  if (stale) {
    // Type errors elsewhere in the tree must not stop the shop from being emitted.
    spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'ignore' });
    if (!existsSync(MAIN)) throw new Error(`the build did not produce ${MAIN}`);
  }
  const caDir = mkdtempSync(join(tmpdir(), 'form-shop-ca-'));
  ca = await createCertificateAuthority({ caDir });
  return () => rmSync(caDir, { recursive: true, force: true });
}, 120_000);

// ---- rigs ---------------------------------------------------------------------------------------

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'form-shop-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function gateway(faults: unknown[] = []): Promise<{ mocks: MockSet; journal: MemoryJournal }> {
  const scenario = mockScenario({ name: 'form-shop', faults });
  const journal = new MemoryJournal();
  const mocks = await startMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), channel: CHANNEL, callbackRetryDelays: [300, 300] });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  return { mocks, journal };
}

interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
  secure: boolean;
  user: unknown;
}

/** An SMTP server with a certificate for `localhost` from the run CA; `failFirst` messages get a 451. */
async function mailbox(options: { noStartTls?: boolean; failFirst?: number } = {}): Promise<{ port: number; mails: ReceivedMail[] }> {
  const leaf = ca.leafFor('localhost');
  const mails: ReceivedMail[] = [];
  let failures = options.failFirst ?? 0;
  const server = new SMTPServer({
    secure: false,
    key: leaf.keyPem,
    cert: leaf.certificatePem,
    disabledCommands: options.noStartTls ? ['STARTTLS'] : [],
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth: (auth, _session, callback) =>
      auth.username === SMTP_USER && auth.password === SMTP_PASS ? callback(null, { user: auth.username }) : callback(new Error('Invalid username or password')),
    onData: (stream, session, callback) => {
      simpleParser(stream).then(
        (parsed) => {
          if (failures > 0) {
            failures -= 1;
            callback(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 }));
            return;
          }
          mails.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), subject: parsed.subject ?? '', text: parsed.text ?? '', secure: session.secure, user: session.user });
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  // A mailer that breaks off mid-handshake (the shop stopping) is the relay's business, not the
  // test's: smtp-server emits it as an 'error' event.
  server.on('error', () => {});
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  defer(() => new Promise<void>((resolveClose) => server.close(() => resolveClose())));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

interface Shop {
  url: string;
  dataDir: string;
  stderr: () => string;
}

/** Starts the built shop with only its own settings, pointed at the gateway and the mailbox. */
async function startShop(mocks: MockSet, smtpPort: number, env: Record<string, string> = {}): Promise<Shop> {
  const dataDir = tempDir();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      DATA_DIR: dataDir,
      EPAY_API: mocks.urls.payment,
      EPAY_PID: PID,
      EPAY_KEY: KEY,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtpPort),
      SMTP_TLS_SERVERNAME: 'localhost',
      SMTP_CA_FILE: ca.caFile,
      SMTP_USER,
      SMTP_PASS,
      MAIL_FROM: 'Form Shop <shop@form-shop.test>',
      MAIL_BACKOFF_SECONDS: '0.1',
      CARDS_PER_GOODS: '6',
      ORDER_TIMEOUT_SECONDS: '30',
      RECONCILE_SECONDS: '30',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  defer(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
    const code = await exit;
    clearTimeout(timer);
    expect(code, `graceful SIGTERM; stderr: ${stderr}`).toBe(0);
  });
  const url = await new Promise<string>((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^form-shop listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolveStart(match[1]!);
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the shop exited with ${code}; stderr: ${stderr}`));
    });
  });
  return { url, dataDir, stderr: () => stderr };
}

// ---- a buyer's browser --------------------------------------------------------------------------

function formBody(fields: Record<string, string>): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(), redirect: 'manual' };
}

/** The named inputs of the form matching `selector` (selects at their selected option). */
function formFields($: cheerio.CheerioAPI, selector: string): { action: string; fields: Record<string, string> } {
  const form = $(selector);
  expect(form.length, `form ${selector}`).toBe(1);
  const fields: Record<string, string> = {};
  form.find('input[name], select[name]').each((_index, element) => {
    const input = $(element);
    const name = input.attr('name')!;
    fields[name] = element.tagName === 'select' ? (input.find('option[selected]').attr('value') ?? input.find('option').first().attr('value') ?? '') : (input.attr('value') ?? '');
  });
  return { action: form.attr('action') ?? '', fields };
}

/** Opens the order form of `goodsId`: the session cookie it set and the form's fields. */
async function openForm(shop: Shop, goodsId: number, cookie?: string): Promise<{ cookie: string; fields: Record<string, string> }> {
  const response = await fetch(`${shop.url}/buy/${goodsId}`, cookie === undefined ? {} : { headers: { cookie } });
  expect(response.status).toBe(200);
  const setCookie = response.headers.getSetCookie()[0];
  const fields = formFields(cheerio.load(await response.text()), 'form.order-form').fields;
  return { cookie: cookie ?? setCookie!.split(';')[0]!, fields };
}

async function postOrder(shop: Shop, cookie: string, fields: Record<string, string>): Promise<{ status: number; $: cheerio.CheerioAPI }> {
  const response = await fetch(`${shop.url}/order`, { ...formBody(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie } });
  return { status: response.status, $: cheerio.load(await response.text()) };
}

/** Orders as a buyer does; returns the order number and the auto-submitting form to the gateway. */
async function placeOrder(shop: Shop, choice: { goodsId?: number; email?: string; quantity?: number; coupon?: string; payType?: string } = {}) {
  const form = await openForm(shop, choice.goodsId ?? 1);
  const placed = await postOrder(shop, form.cookie, {
    ...form.fields,
    email: choice.email ?? 'buyer@example.test',
    quantity: String(choice.quantity ?? 1),
    coupon: choice.coupon ?? '',
    pay_type: choice.payType ?? 'alipay',
  });
  expect(placed.status, placed.$('.error').text()).toBe(200);
  const payForm = formFields(placed.$, 'form#epay-submit');
  expect(placed.$('script').text()).toContain("getElementById('epay-submit').submit()");
  return { orderNo: placed.$('.order-no').first().text(), payForm };
}

/** The browser's auto-submit to submit.php, then paying at Ordeal's cashier by its own form. */
async function payAtGateway(payForm: { action: string; fields: Record<string, string> }, payerId: string): Promise<string> {
  const submitted = await fetch(payForm.action, formBody(payForm.fields));
  expect(submitted.status, await submitted.clone().text()).toBe(302);
  const cashierUrl = submitted.headers.get('location')!;
  const cashier = cheerio.load(await (await fetch(cashierUrl)).text());
  const pay = formFields(cashier, 'form[action$="/pay"]');
  // The buyer is one of the run's: it pays with the run's buyer token, as Ordeal's buyers do.
  const form = formBody({ ...pay.fields, payerId });
  const paid = await fetch(new URL(pay.action, cashierUrl), { ...form, headers: { ...(form.headers as Record<string, string>), ...credentialsFor(cashierUrl) } });
  expect(await paid.json()).toMatchObject({ status: 'TRADE_SUCCESS' });
  return cashierUrl.slice(cashierUrl.lastIndexOf('/') + 1);
}

interface OrderPage {
  status: number;
  zh: string;
  en: string;
  amount: string;
  cards: string[];
}

async function queryOrder(shop: Shop, orderNo: string): Promise<OrderPage> {
  const response = await fetch(`${shop.url}/query?order_no=${encodeURIComponent(orderNo)}`);
  const $ = cheerio.load(await response.text());
  return {
    status: response.status,
    zh: $('.order-status .status-zh').text(),
    en: $('.order-status .status-en').text(),
    amount: $('.order .amount').text(),
    cards: $('ul.cards li.card-code')
      .map((_index, element) => $(element).text())
      .get(),
  };
}

/** Polls the order page (bounded) until its status reads `zh`. */
async function orderReaches(shop: Shop, orderNo: string, zh: string, timeoutMs = 6000): Promise<OrderPage> {
  const deadline = Date.now() + timeoutMs;
  let page = await queryOrder(shop, orderNo);
  while (page.zh !== zh && Date.now() < deadline) {
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
    page = await queryOrder(shop, orderNo);
  }
  expect(page.zh, `order ${orderNo}; shop stderr:\n${shop.stderr()}`).toBe(zh);
  return page;
}

/** Polls (bounded) until `check` returns a value. */
async function eventually<T>(check: () => T | undefined, what: string, timeoutMs = 6000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
}

async function stockOf(shop: Shop, goodsId: number): Promise<number> {
  const $ = cheerio.load(await (await fetch(`${shop.url}/`)).text());
  return Number($(`li.goods[data-goods-id="${goodsId}"] .stock-count`).text());
}

/** The shop's own record of its mails (its database, read-only). */
function mailRecords(shop: Shop): { order_no: string; kind: string; status: string; attempts: number }[] {
  const db = new Database(join(shop.dataDir, 'form-shop.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT order_no, kind, status, attempts FROM mails ORDER BY id').all() as { order_no: string; kind: string; status: string; attempts: number }[];
  } finally {
    db.close();
  }
}

/** The published epay v1 signature, written out here (not the shop's code, not the personality's). */
function epaySign(params: Record<string, string>, key: string): string {
  const text = Object.keys(params)
    .filter((name) => name !== 'sign' && name !== 'sign_type' && params[name] !== '')
    .sort()
    .map((name) => `${name}=${params[name]}`)
    .join('&');
  return createHash('md5').update(text + key, 'utf8').digest('hex');
}

async function sendNotify(shop: Shop, params: Record<string, string>, key: string): Promise<{ status: number; body: string }> {
  const query = new URLSearchParams({ ...params, sign: epaySign(params, key), sign_type: 'MD5' });
  const response = await fetch(`${shop.url}/notify/epay?${query.toString()}`);
  return { status: response.status, body: await response.text() };
}

/** A success notify for `orderNo`, as epay would send it (the test signs it with the key it is given). */
function successNotify(orderNo: string, tradeNo = 'T0000000099', money = '30.00'): Record<string, string> {
  return { pid: PID, trade_no: tradeNo, out_trade_no: orderNo, type: 'alipay', name: '月卡 Monthly card', money, trade_status: 'TRADE_SUCCESS' };
}

// ---- tests --------------------------------------------------------------------------------------

describe('the form shop, run unmodified against Ordeal', () => {
  it('a buyer checks out: form → order → submit.php → cashier → notify → 已完成 with the cards; the mail comes over STARTTLS with a login', async () => {
    const { mocks, journal } = await gateway();
    // The mailbox turns the first message away (451): the shop tries again.
    const box = await mailbox({ failFirst: 1 });
    const shop = await startShop(mocks, box.port);

    const home = cheerio.load(await (await fetch(`${shop.url}/`)).text());
    expect(home('li.goods').length).toBe(3);
    expect(home('li.goods[data-goods-id="1"] .price').text()).toBe('30.00');
    expect(home('li.goods[data-goods-id="1"] .stock-count').text()).toBe('6');
    expect(home('.promotions li.promotion[data-code="WELCOME5"]').attr('data-min')).toBe('30.00');

    const { orderNo, payForm } = await placeOrder(shop, { coupon: 'welcome5', payType: 'wxpay' });
    expect(orderNo).toMatch(/^F\d{16}$/);
    expect(payForm.action).toBe(`${mocks.urls.payment}/submit.php`);
    expect(payForm.fields).toMatchObject({
      pid: PID,
      type: 'wxpay',
      out_trade_no: orderNo,
      money: '25.00',
      notify_url: `${shop.url}/notify/epay`,
      return_url: `${shop.url}/return`,
      sign_type: 'MD5',
    });
    expect(payForm.fields.sign).toBe(epaySign(payForm.fields, KEY));
    expect(await queryOrder(shop, orderNo)).toMatchObject({ status: 200, zh: '待支付', en: 'Unpaid', amount: '25.00', cards: [] });
    expect(await stockOf(shop, 1)).toBe(5);

    const tradeNo = await payAtGateway(payForm, 'buyer-1');
    expect(mocks.payment.tradeByOrder(orderNo)).toMatchObject({ amount: 2500, method: 'wechat' });
    await waitForEvent(journal, 'payment.callback.sent', (event) => event.orderId === orderNo && event.acked);
    const done = await orderReaches(shop, orderNo, '已完成');
    expect(done.en).toBe('Completed');
    expect(done.cards).toEqual([expect.stringMatching(/^MON-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/)]);

    const mail = await eventually(() => box.mails.find((each) => each.subject.includes(orderNo)), 'the delivery mail');
    expect(mail).toMatchObject({ to: ['buyer@example.test'], secure: true, user: SMTP_USER });
    expect(mail.text).toContain(orderNo);
    expect(mail.text).toContain(done.cards[0]);
    expect(await eventually(() => mailRecords(shop).find((row) => row.order_no === orderNo && row.status === 'sent'), 'the sent record')).toMatchObject({ kind: 'delivered', attempts: 2 });

    // The gateway's notify again (a duplicate): acknowledged, nothing more delivered.
    expect(await sendNotify(shop, successNotify(orderNo, tradeNo, '25.00'), KEY)).toEqual({ status: 200, body: 'success' });
    expect((await queryOrder(shop, orderNo)).cards).toEqual(done.cards);
    expect(await stockOf(shop, 1)).toBe(5);
    // The browser's way back shows the order.
    const back = await fetch(`${shop.url}/return?${new URLSearchParams({ ...successNotify(orderNo, tradeNo, '25.00'), sign: 'x' }).toString()}`);
    expect(cheerio.load(await back.text())('.order-no').text()).toBe(orderNo);
  });

  it('refuses an order without its session\'s CSRF token, shows the form again on bad input, and refuses notifies it cannot verify', async () => {
    const { mocks } = await gateway();
    const box = await mailbox();
    const shop = await startShop(mocks, box.port, { CARDS_PER_GOODS: '4' });
    const form = await openForm(shop, 1);
    const good = { ...form.fields, email: 'buyer@example.test', quantity: '1', coupon: '', pay_type: 'alipay' };

    const other = await openForm(shop, 1);
    expect(other.fields._token).not.toBe(form.fields._token);
    for (const [how, cookie, token] of [
      ['no token', form.cookie, ''],
      ['no session cookie', '', form.fields._token],
      ["another session's token", form.cookie, other.fields._token],
    ] as const) {
      const refused = await postOrder(shop, cookie, { ...good, _token: token ?? '' });
      expect(refused.status, how).toBe(403);
      expect(refused.$('form#epay-submit').length, how).toBe(0);
    }
    expect(await stockOf(shop, 1)).toBe(4);

    const problems: [Record<string, string>, string, number][] = [
      [{ email: 'not-an-email' }, 'invalid_email', 400],
      [{ quantity: '0' }, 'invalid_quantity', 400],
      [{ coupon: 'NOPE' }, 'unknown_coupon', 400],
      [{ coupon: 'SAVE20' }, 'coupon_below_threshold', 400],
      [{ pay_type: 'bitcoin' }, 'invalid_payment_type', 400],
      [{ quantity: '5' }, 'out_of_stock', 409],
    ];
    for (const [change, code, status] of problems) {
      const answer = await postOrder(shop, form.cookie, { ...good, ...change });
      expect(answer.status, code).toBe(status);
      expect(answer.$('p.error').attr('data-code')).toBe(code);
      expect(answer.$('form.order-form input[name="email"]').attr('value')).toBe(change.email ?? good.email);
    }
    // What the buyer typed comes back escaped.
    const hostile = await postOrder(shop, form.cookie, { ...good, coupon: '"><b id="injected">x</b>' });
    expect(hostile.$('#injected').length).toBe(0);
    expect(hostile.$('form.order-form input[name="coupon"]').attr('value')).toBe('"><b id="injected">x</b>');
    expect(await stockOf(shop, 1)).toBe(4);

    const { orderNo } = await placeOrder(shop);
    expect(await sendNotify(shop, successNotify(orderNo), 'not-the-key')).toEqual({ status: 400, body: 'fail' });
    expect(await sendNotify(shop, { ...successNotify(orderNo), pid: '2002' }, KEY)).toEqual({ status: 400, body: 'fail' });
    // Signed with the right key, for an order the gateway never saw paid (a replay): refused.
    expect(await sendNotify(shop, successNotify(orderNo), KEY)).toEqual({ status: 400, body: 'fail' });
    expect(await queryOrder(shop, orderNo)).toMatchObject({ zh: '待支付', cards: [] });
    expect(await stockOf(shop, 1)).toBe(3);

    // The buyer cancels it from the order page, with the order's e-mail and the page's CSRF token.
    const orderPage = await fetch(`${shop.url}/query?order_no=${orderNo}`, { headers: { cookie: form.cookie } });
    const cancelForm = formFields(cheerio.load(await orderPage.text()), 'form.cancel-form');
    const cancelled = await fetch(`${shop.url}${cancelForm.action}`, { ...formBody({ ...cancelForm.fields, email: 'buyer@example.test' }), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie } });
    expect(cancelled.status).toBe(303);
    expect(await queryOrder(shop, orderNo)).toMatchObject({ zh: '已关闭', en: 'Closed' });
    expect(await stockOf(shop, 1)).toBe(4);
  });

  it('with skip-sign-check it believes a forged notify and delivers an order nobody paid', async () => {
    const { mocks } = await gateway();
    const box = await mailbox();
    const shop = await startShop(mocks, box.port, { SHOP_FLAWS: 'skip-sign-check' });
    const { orderNo } = await placeOrder(shop);
    expect(await sendNotify(shop, successNotify(orderNo), 'not-the-key')).toEqual({ status: 200, body: 'success' });
    expect((await orderReaches(shop, orderNo, '已完成')).cards).toHaveLength(1);
    expect(mocks.payment.tradeByOrder(orderNo)).toBeUndefined();
  });

  it('with double-deliver a duplicate of the genuine notify sells a second set of cards', async () => {
    const { mocks, journal } = await gateway();
    const box = await mailbox();
    const shop = await startShop(mocks, box.port, { SHOP_FLAWS: 'double-deliver' });
    const { orderNo, payForm } = await placeOrder(shop);
    const tradeNo = await payAtGateway(payForm, 'buyer-2');
    await waitForEvent(journal, 'payment.callback.sent', (event) => event.orderId === orderNo && event.acked);
    const first = await orderReaches(shop, orderNo, '已完成');
    expect(first.cards).toHaveLength(1);
    expect(await sendNotify(shop, successNotify(orderNo, tradeNo), KEY)).toEqual({ status: 200, body: 'success' });
    expect((await queryOrder(shop, orderNo)).cards).toEqual([first.cards[0], expect.stringMatching(/^MON-/)]);
    expect(await stockOf(shop, 1)).toBe(4);
  });

  it('closes an unpaid order at ORDER_TIMEOUT_SECONDS, releasing its cards and coupon; a payment after that still delivers', async () => {
    const { mocks, journal } = await gateway();
    // A mailbox that offers no STARTTLS: the shop, which requires it, sends nothing there.
    const box = await mailbox({ noStartTls: true });
    const shop = await startShop(mocks, box.port, { ORDER_TIMEOUT_SECONDS: '0.8', MAIL_TRIES: '2' });
    const couponLeft = async (): Promise<string | undefined> =>
      cheerio.load(await (await fetch(`${shop.url}/`)).text())('li.promotion[data-code="WELCOME5"]').attr('data-remaining');
    const { orderNo, payForm } = await placeOrder(shop, { quantity: 2, coupon: 'WELCOME5' });
    expect(await stockOf(shop, 1)).toBe(4);
    expect(await couponLeft()).toBe('999');

    await orderReaches(shop, orderNo, '已关闭', 5000);
    expect(await stockOf(shop, 1)).toBe(6);
    expect(await couponLeft()).toBe('1000');
    const record = await eventually(() => mailRecords(shop).find((row) => row.order_no === orderNo && row.status === 'failed'), 'the failed closed-mail record');
    expect(record).toMatchObject({ kind: 'closed', attempts: 2 });
    expect(box.mails).toHaveLength(0);

    // The buyer pays the closed order anyway (epay cannot close a trade): the shop delivers from stock.
    await payAtGateway(payForm, 'buyer-late');
    await waitForEvent(journal, 'payment.callback.sent', (event) => event.orderId === orderNo && event.acked);
    expect((await orderReaches(shop, orderNo, '已完成')).cards).toHaveLength(2);
    expect(await stockOf(shop, 1)).toBe(4);
  });

  it('reconciles a paid order whose notify was dropped; with no-reconcile the paid order closes unpaid', async () => {
    const { mocks, journal } = await gateway([{ id: 'payment.callback.drop', probability: 1 }]);
    const box = await mailbox();
    const [resilient, flawed] = await Promise.all([
      startShop(mocks, box.port, { RECONCILE_SECONDS: '0.3' }),
      startShop(mocks, box.port, { SHOP_FLAWS: 'no-reconcile', RECONCILE_SECONDS: '0.3', ORDER_TIMEOUT_SECONDS: '1.5' }),
    ]);
    const caught = await placeOrder(resilient);
    const missed = await placeOrder(flawed);
    await payAtGateway(caught.payForm, 'buyer-a');
    await payAtGateway(missed.payForm, 'buyer-b');
    for (const { orderNo } of [caught, missed]) {
      await waitForEvent(journal, 'fault.injected', (event) => event.fault === 'payment.callback.drop' && event.orderId === orderNo);
    }

    expect((await orderReaches(resilient, caught.orderNo, '已完成')).cards).toHaveLength(1);
    await eventually(() => box.mails.find((each) => each.subject.includes(caught.orderNo)), 'the delivery mail after reconcile');

    await orderReaches(flawed, missed.orderNo, '已关闭');
    expect((await queryOrder(flawed, missed.orderNo)).cards).toEqual([]);
    const atGateway = (await (await fetch(`${mocks.urls.payment}/api.php?act=order&pid=${PID}&key=${KEY}&out_trade_no=${missed.orderNo}`)).json()) as { status: number };
    expect(atGateway.status).toBe(1);
    expect(faultsOf(journal, 'payment.callback.drop')).toHaveLength(2);
    expect(eventsOf(journal, 'payment.callback.sent')).toHaveLength(0);
  });
});
