/**
 * Pages and forms read with cheerio: the entry list a browser would submit (checkboxes, radios,
 * selects, disabled controls, the clicked button, form-associated controls, relative actions),
 * links, values, CSRF tokens, meta refreshes; and those forms sent over real sockets.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BuyerSession, parsePage } from '../harness/targets/kit/index.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { formOf, startServer } from './helpers/kit-server.js';

const defer = cleanupAfterEach();
const EDGE_FORM = readFileSync(new URL('./fixtures/kit/edge-form.html', import.meta.url), 'utf8');
const PAGE_URL = 'http://127.0.0.1:8080/cart/view?step=2';

const ORDER_FIELDS = [
  ['_token', 'T-1'],
  ['email', 'ann@example.test'],
  ['agree', 'on'],
  ['extras', 'gift'],
  ['extras', 'wrap'],
  ['pay', 'wxpay'],
  ['sku', 'year'],
  ['region', 'North East'],
  ['addons', 'a'],
  ['note', 'line 1\r\nline 2'],
  ['in_legend', 'L'],
  ['avatar', ''],
  ['after_buttons', 'A'],
  ['outside', 'O'],
];

describe('HtmlForm: the entry list a browser submits', () => {
  const page = parsePage(EDGE_FORM, PAGE_URL);

  it('resolves the action against <base href> and reads method and enctype', () => {
    const form = page.findForm('#order')!;
    expect(form.action).toBe('http://127.0.0.1:8080/shop/checkout?from=cart');
    expect(form.method).toBe('POST');
    expect(form.enctype).toBe('application/x-www-form-urlencoded');
    expect(form.pageUrl).toBe(PAGE_URL);
    expect(page.findForm('#upload')!.enctype).toBe('multipart/form-data');
    expect(page.findForm('#search')!.method).toBe('GET');
  });

  it('sends checked boxes and radios, selected options, textareas with CRLF; skips disabled, unnamed and button controls; a file input with no file is empty', () => {
    expect(page.findForm('#order')!.fields).toEqual(ORDER_FIELDS);
    expect(page.findForm('#order')!.submission().files).toEqual(['avatar']);
  });

  it('adds the clicked button in its place, and takes its formaction and formmethod', () => {
    const form = page.findForm('#order')!;
    expect(form.buttons.map((button) => button.label)).toEqual(['Save for later', 'Pay now', 'Express checkout']);
    const position = ORDER_FIELDS.findIndex(([name]) => name === 'after_buttons');
    const byDefault = form.submission();
    expect(byDefault.entries).toEqual([...ORDER_FIELDS.slice(0, position), ['action', 'save'], ...ORDER_FIELDS.slice(position)]);
    expect(form.submission('pay NOW').entries).toContainEqual(['action', 'Pay now']);
    expect(form.submission(/express/i)).toMatchObject({ method: 'GET', url: 'http://127.0.0.1:8080/express', referer: PAGE_URL });
    expect(form.submission({ name: 'action', value: 'save' }).entries).toContainEqual(['action', 'save']);
    expect(form.submission(null).entries).toEqual(ORDER_FIELDS);
    expect(() => form.submission('Unavailable')).toThrow(expect.objectContaining({ code: 'ORDEAL_ERR_TARGET_ADAPTER', message: expect.stringContaining('"Pay now"') }));
  });

  it('sets and removes fields where they were, without touching the page', () => {
    const form = page.findForm({ name: 'order' })!;
    form.set('pay', 'alipay').set('extras', ['wrap']).remove('agree').set('coupon', 'NEW');
    expect(form.get('pay')).toBe('alipay');
    expect(form.getAll('extras')).toEqual(['wrap']);
    expect(form.has('agree')).toBe(false);
    expect(form.fields.slice(0, 5)).toEqual([
      ['_token', 'T-1'],
      ['email', 'ann@example.test'],
      ['extras', 'wrap'],
      ['pay', 'alipay'],
      ['sku', 'year'],
    ]);
    expect(form.fields.at(-1)).toEqual(['coupon', 'NEW']);
    expect(page.findForm('#order')!.fields).toEqual(ORDER_FIELDS);
  });

  it('finds forms by id, name, button and selector, and answers undefined when none matches', () => {
    expect(page.findForm({ button: 'Send' })!.action).toBe('http://127.0.0.1:8080/upload');
    expect(page.findForm({ id: 'search', button: 'Search' })!.get('q')).toBe('cards');
    expect(page.findForm('form[action$="checkout?from=cart"]')!.id).toBe('order');
    expect(page.findForm({ button: 'Nope' })).toBeUndefined();
    expect(page.findForm('#nope')).toBeUndefined();
    expect(page.forms().map((form) => form.id)).toEqual(['search', 'order', 'upload']);
  });

  it('posts the action of the page itself when a form has none', () => {
    const form = parsePage('<form method="post"><input name="a" value="1"></form>', PAGE_URL).forms()[0]!;
    expect(form.action).toBe(PAGE_URL);
  });
});

describe('HtmlPage: links, values, CSRF tokens, refreshes', () => {
  const page = parsePage(EDGE_FORM, PAGE_URL);

  it('finds links by text, RegExp and selector, resolved against <base href>', () => {
    expect(page.findLink('view ORDER 17')).toBe('http://127.0.0.1:8080/shop/orders/17');
    expect(page.findLink('Need help?')).toBe('http://127.0.0.1:8080/help');
    expect(page.findLink(/order \d+/)).toBe('http://127.0.0.1:8080/shop/orders/17');
    expect(page.findLink({ selector: 'a.help' })).toBe('http://127.0.0.1:8080/help');
    expect(page.findLink('missing')).toBeUndefined();
    expect(page.links()).toHaveLength(2);
  });

  it('reads texts, values and attributes by selector', () => {
    expect(page.text('p.total')).toBe('Total: 12.00 CNY');
    expect(page.text('.total b')).toBe('12.00');
    expect(page.texts('a')).toEqual(['View order 17', 'Need help?']);
    expect(page.value('select[name=sku]')).toBe('year');
    expect(page.value('select[name=region]')).toBe('Pick one');
    expect(page.value('input[name=email]')).toBe('ann@example.test');
    expect(page.value('textarea[name=note]')).toBe('line 1\nline 2');
    expect(page.attr('#order', 'action')).toBe('checkout?from=cart');
    expect(page.text('.missing')).toBeUndefined();
    expect(page.value('.missing')).toBeUndefined();
  });

  it('finds CSRF tokens as frameworks render them', () => {
    expect(page.csrfToken()).toEqual({ value: 'T-1', field: '_token' });
    expect(parsePage('<form><input type="HIDDEN" name="csrfmiddlewaretoken" value="dj"></form>', PAGE_URL).csrfToken()).toEqual({ value: 'dj', field: 'csrfmiddlewaretoken' });
    expect(parsePage('<head><meta name="csrf-param" content="authenticity_token"><meta name="csrf-token" content="rails"></head>', PAGE_URL).csrfToken()).toEqual({
      value: 'rails',
      field: 'authenticity_token',
    });
    expect(parsePage('<head><meta name="csrf-token" content="laravel"></head>', PAGE_URL).csrfToken()).toEqual({ value: 'laravel' });
    expect(parsePage('<head><meta name="_csrf" content="spring"><meta name="_csrf_header" content="X-XSRF-TOKEN"></head>', PAGE_URL).csrfToken()).toEqual({
      value: 'spring',
      field: '_csrf',
      header: 'X-XSRF-TOKEN',
    });
    expect(parsePage('<input type="hidden" name="my_guard" value="g">', PAGE_URL).csrfToken(['my_guard'])).toEqual({ value: 'g', field: 'my_guard' });
    expect(parsePage('<input type="text" name="_token" value="visible">', PAGE_URL).csrfToken()).toBeUndefined();
  });

  it('reads meta refreshes in their usual spellings', () => {
    const refresh = (content: string) => parsePage(`<head><meta http-equiv="Refresh" content="${content}"></head>`, PAGE_URL).metaRefresh();
    expect(refresh('0; url=/pay?t=1')).toEqual({ delaySeconds: 0, url: 'http://127.0.0.1:8080/pay?t=1' });
    expect(refresh("3;URL='http://127.0.0.1:9/cashier'")).toEqual({ delaySeconds: 3, url: 'http://127.0.0.1:9/cashier' });
    expect(refresh('1, next')).toEqual({ delaySeconds: 1, url: 'http://127.0.0.1:8080/cart/next' });
    expect(refresh('30')).toEqual({ delaySeconds: 30, url: PAGE_URL });
    expect(refresh('soon')).toBeUndefined();
    expect(parsePage('<p>no refresh</p>', PAGE_URL).metaRefresh()).toBeUndefined();
  });
});

describe('submitForm over real sockets', () => {
  it('sends the urlencoded entries in order, a GET form in the query, multipart when the form says so', async () => {
    const received: Array<{ method: string; url: string; entries: Array<[string, string]>; contentType: string; referer: string | undefined; origin: string | undefined }> = [];
    const base = await startServer(defer, (app) => {
      app.get('/cart/view', async (_request, reply) => reply.type('text/html').send(EDGE_FORM));
      const record = async (request: Parameters<typeof formOf>[0]) => {
        const form = request.method === 'GET' ? { entries: [...new URL(request.url, 'http://x').searchParams], contentType: '' } : formOf(request);
        received.push({ method: request.method, url: request.url, entries: form.entries, contentType: form.contentType, referer: request.headers.referer, origin: request.headers.origin });
        return { ok: true };
      };
      app.post('/shop/checkout', record);
      app.get('/express', record);
      app.post('/upload', record);
    });
    const buyer = new BuyerSession();
    defer(() => buyer.close());
    const answer = await buyer.get(`${base}/cart/view`);
    const page = buyer.page(answer);
    const order = page.findForm('#order')!;

    expect((await buyer.submitForm(order, { submitter: 'Pay now' })).json).toEqual({ ok: true });
    const express = await buyer.submitForm(order, { submitter: 'Express checkout' });
    expect(express.url.startsWith(`${base}/express?_token=T-1&email=ann%40example.test`)).toBe(true);
    await buyer.submitForm(page.findForm('#upload')!);

    const position = ORDER_FIELDS.findIndex(([name]) => name === 'after_buttons');
    expect(received[0]).toEqual({
      method: 'POST',
      url: '/shop/checkout?from=cart',
      entries: [...ORDER_FIELDS.slice(0, position), ['action', 'Pay now'], ...ORDER_FIELDS.slice(position)],
      contentType: 'application/x-www-form-urlencoded',
      referer: `${base}/cart/view`,
      origin: base,
    });
    expect(received[1]).toMatchObject({ method: 'GET', entries: [...ORDER_FIELDS.slice(0, position), ['action', 'express'], ...ORDER_FIELDS.slice(position)], origin: undefined });
    expect(received[2]).toMatchObject({
      method: 'POST',
      url: '/upload',
      entries: [
        ['order_no', 'N-1'],
        ['proof', 'file "" application/octet-stream 0 bytes'],
        ['message', 'hello\r\nthere'],
      ],
      contentType: expect.stringMatching(/^multipart\/form-data; ?boundary=/),
    });
  });
});
