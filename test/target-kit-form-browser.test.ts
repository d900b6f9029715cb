/**
 * The browser is the judge of form submission: a real Chromium clicks the buttons of the edge-case
 * form, a BuyerSession submits the same form with the same button, and the shop must receive the
 * same request (byte for byte for urlencoded bodies and GET queries, entry for entry for multipart).
 * And Chromium, left alone on a shop's "pay" page, must reach the cashier followPaymentRedirect reaches.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuyerSession, followPaymentRedirect } from '../harness/targets/kit/index.js';
import { launchBrowser, type Browser } from './helpers/browser.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startPaymentWorld } from './helpers/kit-payment-shop.js';
import { formOf, startServer } from './helpers/kit-server.js';

const defer = cleanupAfterEach();
const EDGE_FORM = readFileSync(new URL('./fixtures/kit/edge-form.html', import.meta.url), 'utf8');

interface Received {
  method: string;
  url: string;
  /** The urlencoded body or query as sent; for multipart, the parsed entries. */
  payload: string;
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

async function shop(received: Received[]): Promise<string> {
  return startServer(defer, (app) => {
    app.get('/cart/view', async (_request, reply) => reply.type('text/html').send(EDGE_FORM));
    app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());
    const record = async (request: Parameters<typeof formOf>[0], reply: { type(value: string): { send(body: string): unknown } }) => {
      const query = request.url.indexOf('?');
      const payload =
        request.method === 'GET'
          ? query < 0
            ? ''
            : request.url.slice(query + 1)
          : formOf(request).contentType.startsWith('multipart/')
            ? JSON.stringify(formOf(request).entries)
            : formOf(request).raw;
      received.push({ method: request.method, url: request.url.split('?')[0]!, payload });
      return reply.type('text/html').send('<p>received</p>');
    };
    app.post('/shop/checkout', record);
    app.get('/express', record);
    app.post('/upload', record);
  });
}

describe('form submission, Chromium vs BuyerSession', () => {
  for (const [form, button] of [
    ['#order', 'Pay now'],
    ['#order', 'Save for later'],
    ['#order', 'Express checkout'],
    ['#upload', 'Send'],
  ] as const) {
    it(`${form}, clicking "${button}"`, async () => {
      const received: Received[] = [];
      const base = await shop(received);

      const { page, errors } = await browser.newPage();
      defer(() => page.close());
      await page.goto(`${base}/cart/view`);
      await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/cart/')), page.locator(form).getByRole('button', { name: button, exact: true }).click()]);
      expect(errors).toEqual([]);
      expect(received).toHaveLength(1);

      const buyer = new BuyerSession();
      defer(() => buyer.close());
      const answer = await buyer.get(`${base}/cart/view`);
      const submitted = await buyer.submitForm(buyer.page(answer).findForm(form)!, { submitter: button });
      expect(submitted.status).toBe(200);
      expect(received).toHaveLength(2);
      expect(received[1]).toEqual(received[0]);
    });
  }
});

describe('payment hand-over, Chromium vs followPaymentRedirect', () => {
  for (const kind of ['pay-form', 'pay-onload', 'pay-refresh', 'pay-script', 'pay-relay']) {
    it(`${kind}: both end at the same cashier, having sent the gateway the same fields`, async () => {
      const world = await startPaymentWorld(defer);
      const { page, errors } = await browser.newPage();
      defer(() => page.close());
      await page.goto(`${world.shop}/order/N1/${kind}`);
      await page.waitForURL((url) => url.pathname.startsWith('/cashier/'));
      await page.waitForLoadState('load');
      expect(errors).toEqual([]);
      expect(await page.locator('h1').textContent()).toBe('Pay trade T-N1');

      const buyer = new BuyerSession();
      defer(() => buyer.close());
      const followed = await followPaymentRedirect(buyer, await buyer.get(`${world.shop}/order/N1/${kind}`));
      expect(followed.error).toBeUndefined();
      expect(followed.answer.url).toBe(page.url());
      expect(world.submitted.length % 2).toBe(0);
      expect(world.submitted.slice(world.submitted.length / 2)).toEqual(world.submitted.slice(0, world.submitted.length / 2));
    });
  }
});
