/**
 * The browser is the judge of form submission: a real Chromium clicks the buttons of the edge-case
 * form, a BuyerSession submits the same form with the same button, and the shop must receive the
 * same request (byte for byte for urlencoded bodies and GET queries, entry for entry for multipart).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuyerSession } from '../harness/targets/kit/index.js';
import { launchBrowser, type Browser } from './helpers/browser.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
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
