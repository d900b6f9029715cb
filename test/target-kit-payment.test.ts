/**
 * followPaymentRedirect over real sockets: from the shop's "pay" page, through the gateway's
 * redirect (and cookie), to the cashier on a second server — by auto-submitting form, onload,
 * meta refresh, scripted location, and a gateway that hands over twice; bounded and off-loopback
 * hand-overs end as data. Then a shop's epay form followed to Ordeal's own epay cashier and paid there.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { BuyerSession, detectAutoNavigation, followPaymentRedirect, parsePage } from '../harness/targets/kit/index.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { BUYER_TOKEN_HEADER, startMocks } from '../mocks/index.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startPaymentWorld } from './helpers/kit-payment-shop.js';
import { html, startServer } from './helpers/kit-server.js';
import { mockScenario } from './helpers/mocks.js';

const defer = cleanupAfterEach();

function session(): BuyerSession {
  const created = new BuyerSession();
  defer(() => created.close());
  return created;
}

describe('followPaymentRedirect', () => {
  it('submits the auto-submitting form (no button, as form.submit() does) and follows the 302 to the cashier on the gateway', async () => {
    const world = await startPaymentWorld(defer);
    const buyer = session();
    const pay = await buyer.get(`${world.shop}/order/A1/pay-form`);
    const followed = await followPaymentRedirect(buyer, pay);
    expect(followed.error).toBeUndefined();
    expect(followed.answer.status).toBe(200);
    expect(followed.answer.url).toBe(`${world.gateway}/cashier/T-A1`);
    expect(followed.chain).toHaveLength(1);
    expect(followed.chain[0]).toBe(followed.answer);
    expect(followed.answer.hops.map((hop) => [hop.method, hop.url, hop.status])).toEqual([
      ['POST', `${world.gateway}/submit.php`, 302],
      ['GET', `${world.gateway}/cashier/T-A1`, 200],
    ]);
    // The hidden submit button was not clicked; the cookie set with the redirect reached the cashier.
    expect(world.submitted).toEqual([{ pid: '1001', out_trade_no: 'A1', money: '12.00', sign: 's-A1' }]);
    expect(buyer.page(followed.answer).text('h1')).toBe('Pay trade T-A1');
    expect(buyer.page(followed.answer).findForm({ button: 'Pay' })?.action).toBe(`${world.gateway}/cashier/T-A1/pay`);
  });

  it('submits the form a body onload names, when the page holds several', async () => {
    const world = await startPaymentWorld(defer);
    const buyer = session();
    const followed = await followPaymentRedirect(buyer, await buyer.get(`${world.shop}/order/B2/pay-onload`));
    expect(followed.answer.url).toBe(`${world.gateway}/cashier/T-B2`);
    expect(world.submitted).toHaveLength(1);
  });

  it('follows a meta refresh and a scripted location to the gateway and on to its cashier', async () => {
    const world = await startPaymentWorld(defer);
    const buyer = session();
    const refreshed = await followPaymentRedirect(buyer, await buyer.get(`${world.shop}/order/C3/pay-refresh`));
    expect(refreshed.error).toBeUndefined();
    expect(refreshed.answer.url).toBe(`${world.gateway}/cashier/T-C3`);
    expect(refreshed.answer.hops.map((hop) => hop.status)).toEqual([302, 200]);
    const scripted = await followPaymentRedirect(buyer, await buyer.get(`${world.shop}/order/D4/pay-script`));
    expect(scripted.answer.url).toBe(`${world.gateway}/cashier/T-D4`);
  });

  it('keeps following when the gateway hands over again before its cashier', async () => {
    const world = await startPaymentWorld(defer);
    const buyer = session();
    const followed = await followPaymentRedirect(buyer, await buyer.get(`${world.shop}/order/E5/pay-relay`));
    expect(followed.error).toBeUndefined();
    expect(followed.chain.map((answer) => answer.url)).toEqual([`${world.gateway}/relay`, `${world.gateway}/cashier/T-E5`]);
  });

  it('leaves a page that waits for the buyer as it is', async () => {
    const world = await startPaymentWorld(defer);
    const buyer = session();
    const order = await buyer.get(`${world.gateway}/cashier/T-F6`);
    // The cashier refuses a buyer without the gateway's cookie: still a page, not a hand-over.
    expect(order.status).toBe(403);
    const followed = await followPaymentRedirect(buyer, order);
    expect(followed).toEqual({ answer: order, chain: [] });
  });

  it('stops a page that keeps auto-submitting after maxSteps, and a hand-over off loopback, as data', async () => {
    const world = await startPaymentWorld(defer);
    const buyer = session();
    const looping = await followPaymentRedirect(buyer, await buyer.get(`${world.shop}/loop`), { maxSteps: 3 });
    expect(looping.chain).toHaveLength(3);
    expect(looping.error).toBe(`still auto-submitting after 3 steps at ${world.shop}/loop`);
    const offsite = await followPaymentRedirect(buyer, await buyer.get(`${world.shop}/offsite`));
    expect(offsite.chain).toEqual([]);
    expect(offsite.error).toBe(`refused: ${world.shop}/offsite sends the buyer to https://openapi.alipay.com/gateway.do, which is not loopback`);
  });
});

describe('detectAutoNavigation', () => {
  const at = 'http://127.0.0.1:8080/order/1/pay';

  it('tells hand-over pages from pages that wait for the buyer', () => {
    const detect = (body: string, head = '') => detectAutoNavigation(parsePage(`<html><head>${head}</head><body>${body}</body></html>`, at));
    expect(detect('<form action="/gw"><input type="hidden" name="a" value="1"></form><script>setTimeout(function(){document.forms[0].submit()},0)</script>')).toMatchObject({
      kind: 'form',
    });
    // A form the buyer fills in is not auto-submitted, whatever its scripts do on click.
    expect(detect('<form action="/gw"><input name="card"></form><script>btn.onclick = () => form.submit()</script>')).toBeUndefined();
    expect(detect('<form action="/gw"><input type="hidden" name="a"></form>')).toBeUndefined();
    expect(detect('', '<meta http-equiv="refresh" content="0;url=/gw">')).toEqual({ kind: 'refresh', url: 'http://127.0.0.1:8080/gw' });
    // A cashier polling itself, or a slow timer, is not a hand-over.
    expect(detect('', '<meta http-equiv="refresh" content="5">')).toBeUndefined();
    expect(detect('', '<meta http-equiv="refresh" content="60;url=/expired">')).toBeUndefined();
    expect(detect("<script>location.replace('/gw?t=1')</script>")).toEqual({ kind: 'script', url: 'http://127.0.0.1:8080/gw?t=1' });
    expect(detect('<script src="/app.js"></script><p>Pay</p>')).toBeUndefined();
  });

  it('follows what scripts do as the page loads, not what a click would do', () => {
    const hidden = '<form id="f" action="/gw" method="post"><input type="hidden" name="a" value="1"></form>';
    const detect = (script: string) => detectAutoNavigation(parsePage(`<html><body>${hidden}<script>${script}</script></body></html>`, at))?.kind;
    expect(detect('window.onload = function () { document.getElementById("f").submit(); };')).toBe('form');
    expect(detect('document.addEventListener("DOMContentLoaded", () => { document.forms[0].submit() })')).toBe('form');
    expect(detect('$(function () { $("#f").submit(); });')).toBe('form');
    expect(detect('if (document.forms.length) { document.forms[0].submit(); }')).toBe('form');
    expect(detect("setTimeout(() => { location.href = '/gw?x=1'; }, 1000)")).toBe('script');
    // Handlers and functions nobody calls at load: the buyer would have to click.
    expect(detect('document.getElementById("cancel").onclick = function () { document.getElementById("f").submit(); };')).toBeUndefined();
    expect(detect('$("#cancel").click(function () { $("#f").submit(); });')).toBeUndefined();
    expect(detect("function back() { location.href = '/orders'; }")).toBeUndefined();
    expect(detect("btn.addEventListener('click', () => { window.location = '/orders'; })")).toBeUndefined();
    // Braces in strings do not count; comments never run.
    expect(detect("var close = '}'; cancel.onclick = function () { document.forms[0].submit(); };")).toBeUndefined();
    expect(detect('// document.forms[0].submit();\n/* location.href = "/gw"; */')).toBeUndefined();
  });
});

describe("followPaymentRedirect to Ordeal's epay cashier", () => {
  const PID = '1001';
  const KEY = 'k3y';

  /** epay's published MD5 signature, written out here (not the personality's code). */
  function epaySigned(params: Record<string, string>): Record<string, string> {
    const text = Object.entries(params)
      .filter(([, value]) => value !== '')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => `${name}=${value}`)
      .join('&');
    return { ...params, sign: createHash('md5').update(text + KEY, 'utf8').digest('hex'), sign_type: 'MD5' };
  }

  it("reaches the cashier through submit.php's redirect, and pays there through the cashier's own form", async () => {
    const scenario = mockScenario({ name: 'kit-epay' });
    const mocks = await startMocks({ scenario, journal: new MemoryJournal(), plan: new FaultPlan(scenario.faults, scenario.seed), channel: { protocol: 'epay', credentials: { pid: PID, key: KEY } } });
    defer(() => mocks.close());
    const shop = await startServer(defer, (app) => {
      app.get('/notify', async () => 'success');
      app.get('/pay/:orderNo', async (request, reply) => {
        const { orderNo } = request.params as { orderNo: string };
        const params = epaySigned({ pid: PID, type: 'alipay', out_trade_no: orderNo, notify_url: 'http://127.0.0.1:1/notify', return_url: 'http://127.0.0.1:1/return', name: 'Monthly card', money: '30.00' });
        const inputs = Object.entries(params).map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`).join('');
        return reply.type('text/html').send(html(`<form id="dopay" action="${mocks.urls.payment}/submit.php" method="post">${inputs}<input type="submit" value="ok" style="display:none"></form><script>document.forms['dopay'].submit();</script>`));
      });
    });

    const buyer = new BuyerSession({ clientAddress: '198.51.100.4' });
    defer(() => buyer.close());
    const followed = await followPaymentRedirect(buyer, await buyer.get(`${shop}/pay/K-1`));
    expect(followed.error).toBeUndefined();
    const trade = mocks.payment.tradeByOrder('K-1');
    expect(trade).toMatchObject({ amount: 3000, status: 'WAIT_BUYER_PAY' });
    expect(followed.answer.url).toBe(`${mocks.urls.payment}/cashier/${trade!.tradeNo}`);
    const cashier = buyer.page(followed.answer);
    expect(cashier.text('h1')).toBe('Pay 30.00 CNY');

    const payForm = cashier.findForm({ button: 'Pay' })!.set('payerId', 'buyer-7');
    // Only Ordeal's buyers may pay in a run: the form posted without their token is refused.
    expect((await buyer.submitForm(payForm)).status).toBe(401);
    const paid = await buyer.submitForm(payForm, { headers: { [BUYER_TOKEN_HEADER]: mocks.buyerToken } });
    expect(paid.status).toBe(200);
    expect(paid.json).toMatchObject({ status: 'TRADE_SUCCESS', tradeNo: trade!.tradeNo });
    expect(mocks.payment.tradeByOrder('K-1')).toMatchObject({ status: 'TRADE_SUCCESS', payerId: 'buyer-7' });
  });
});
