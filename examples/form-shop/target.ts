/**
 * The form shop's adapter: buyers use its pages as a browser would — the catalogue page for
 * products and promotions, the order form (session cookie, CSRF token), the auto-submitting form to
 * the 易支付 gateway followed to Ordeal's cashier, and the order-query page for the status and the
 * delivered card codes. The worked example of `defineTarget()` in the README ("Testing your own
 * shop"); its facts (timers, start command, what it can show) are in `target.yaml` beside it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { defineTarget, type ShopOrderView, type ShopSession, type TargetContext } from '../../harness/targets/index.js';
import { BuyerSession, followPaymentRedirect, type HtmlPage, type PaymentRedirect, type SessionAnswer } from '../../harness/targets/kit/index.js';

/** `orders.status` → the canonical statuses (the shop's README lists its statuses). */
const STATUSES: Readonly<Record<string, string>> = {
  '0': 'pending_payment', // 待支付
  '1': 'refund_pending', // 已支付: paid but not deliverable, refund under way
  '2': 'delivered', // 已完成
  '3': 'expired', // 已关闭: not paid in time (data-closed="cancelled": the buyer cancelled it)
  '4': 'paid', // 异常: money taken, nothing delivered, refund failing — left for the owner
  '5': 'refunded', // 已退款
};

/** Times a buyer submits the payment hand-over when the gateway answers with an error page, and the pause between. */
const HANDOVER_TRIES = 3;
const HANDOVER_PAUSE_MS = 400;

/**
 * The hand-over reached the cashier: the gateway sent the browser on. A refusal is the gateway's
 * own message page (HTTP 200 or an nginx error), shown at submit.php itself.
 */
const atCashier = (handedOver: PaymentRedirect): boolean =>
  handedOver.error === undefined && handedOver.answer.status === 200 && !new URL(handedOver.answer.url).pathname.endsWith('/submit.php');

/** Yuan as the pages show them ("30.00") → fen. */
function fen(yuan: string | undefined): number | undefined {
  if (yuan === undefined || !/^\d+(\.\d{1,2})?$/.test(yuan.trim())) return undefined;
  return Math.round(Number(yuan) * 100);
}

/** One connection pool per run, shared by its buyers' sessions (each keeps its own cookies). */
const pools = new WeakMap<TargetContext, Agent>();
const open = new Set<Agent>();
function poolOf(context: TargetContext): Agent {
  let pool = pools.get(context);
  if (!pool) {
    pool = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
    pools.set(context, pool);
    open.add(pool);
  }
  return pool;
}

/** A refused or failed step as the buyer flow reads it: the status and the shop's error code. */
function refusal(answer: SessionAnswer, latencyMs: number, page?: HtmlPage): { status?: number; error?: string; latencyMs: number; body?: ShopOrderView } {
  const code = page?.attr('p.error[data-code]', 'data-code');
  return {
    ...(answer.status === undefined ? {} : { status: answer.status >= 200 && answer.status < 300 ? 502 : answer.status }),
    ...(answer.error === undefined ? {} : { error: answer.error }),
    latencyMs,
    ...(code ? { body: { orderId: '', status: '', error: { code } } } : {}),
  };
}

function orderView(page: HtmlPage, orderId: string): ShopOrderView | undefined {
  const status = page.attr('.order-status[data-status]', 'data-status');
  if (status === undefined) return undefined;
  const closed = page.attr('.order-status[data-status]', 'data-closed');
  const amount = fen(page.text('.amount')?.replace(/[^\d.]/g, ''));
  const cards = page.texts('ul.cards li.card-code').filter((code) => code !== '');
  return {
    orderId,
    status: status === '3' && closed === 'cancelled' ? 'cancelled' : (STATUSES[status] ?? `form-shop:${status}`),
    ...(amount === undefined ? {} : { amount }),
    ...(cards.length > 0 ? { delivery: { cards: cards.map((code) => ({ code })) } } : {}),
  };
}

export default defineTarget({
  name: 'form-shop',

  async catalog(context) {
    const session = new BuyerSession({ dispatcher: poolOf(context) });
    const answer = await session.get(`${context.shopUrl}/`);
    if (answer.status !== 200) return undefined;
    const page = session.page(answer);
    const skus = page.$('li.goods[data-goods-id]')
      .toArray()
      .flatMap((element) => {
        const item = page.$(element);
        const price = fen(item.find('.price').first().text());
        const stock = Number(item.find('.stock-count').first().text());
        return price !== undefined && stock > 0 ? [{ sku: String(item.attr('data-goods-id')), price, name: item.find('.goods-title').first().text().trim() }] : [];
      });
    const coupons = page.$('li.promotion[data-code]')
      .toArray()
      .flatMap((element) => {
        const item = page.$(element);
        const discount = fen(item.attr('data-discount'));
        const minAmount = fen(item.attr('data-min'));
        return discount !== undefined && minAmount !== undefined && Number(item.attr('data-remaining')) > 0 ? [{ code: String(item.attr('data-code')), discount, minAmount }] : [];
      });
    return skus.length > 0 ? { skus, coupons } : undefined;
  },

  session(context, buyer): ShopSession {
    const browser = new BuyerSession({ dispatcher: poolOf(context), clientAddress: buyer.ip });
    // One intent, one form page: a retry or a double click posts the same form again (its one-time id included).
    const forms = new Map<string, Promise<SessionAnswer>>();
    const queryUrl = (orderId: string): string => `${context.shopUrl}/query?order_no=${encodeURIComponent(orderId)}`;
    return {
      async createOrder(request, idempotencyKey) {
        // The order form: its cookie and CSRF token come with the page.
        let opened = forms.get(idempotencyKey);
        if (!opened) {
          opened = browser.get(`${context.shopUrl}/buy/${encodeURIComponent(request.sku)}`);
          forms.set(idempotencyKey, opened);
        }
        const formAnswer = await opened;
        let latencyMs = formAnswer.latencyMs;
        if (formAnswer.status !== 200) {
          forms.delete(idempotencyKey);
          return refusal(formAnswer, latencyMs);
        }
        const form = browser.page(formAnswer).findForm('form.order-form');
        if (!form) return refusal(formAnswer, latencyMs);
        form.set('email', request.contact).set('quantity', String(request.quantity)).set('coupon', request.coupon ?? '').set('pay_type', request.paymentMethod);
        const placed = await browser.submitForm(form, { csrf: 'field' });
        latencyMs += placed.latencyMs;
        const page = placed.status === 200 ? browser.page(placed) : undefined;
        const orderId = page?.value('form#epay-submit input[name=out_trade_no]') ?? page?.text('.order-no');
        if (!page || !orderId) return refusal(placed, latencyMs, placed.text.startsWith('<') ? browser.page(placed) : undefined);
        // The page hands the buyer to the gateway by itself; a browser lands on the cashier. A buyer
        // who meets the gateway's error page goes back and submits the payment form again.
        let handedOver = await followPaymentRedirect(browser, placed);
        latencyMs += handedOver.chain.reduce((sum, step) => sum + step.latencyMs, 0);
        for (let tries = 1; tries < HANDOVER_TRIES && !atCashier(handedOver); tries += 1) {
          await sleep(HANDOVER_PAUSE_MS);
          latencyMs += HANDOVER_PAUSE_MS;
          handedOver = await followPaymentRedirect(browser, placed);
          latencyMs += handedOver.chain.reduce((sum, step) => sum + step.latencyMs, 0);
        }
        const amount = fen(page.value('form#epay-submit input[name=money]'));
        const view: ShopOrderView = {
          orderId,
          status: 'pending_payment',
          ...(amount === undefined ? {} : { amount }),
          // Where the buyer pays: the cashier page the hand-over reached (if it did).
          ...(atCashier(handedOver) ? { payment: { payUrl: handedOver.answer.url } } : {}),
        };
        return { status: 201, body: view, latencyMs };
      },

      async readOrder(orderId) {
        const answer = await browser.get(queryUrl(orderId));
        if (answer.status !== 200) return refusal(answer, answer.latencyMs);
        const view = orderView(browser.page(answer), orderId);
        return view ? { status: 200, body: view, latencyMs: answer.latencyMs } : { status: 502, latencyMs: answer.latencyMs };
      },

      async cancelOrder(orderId) {
        const answer = await browser.get(queryUrl(orderId));
        const form = answer.status === 200 ? browser.page(answer).findForm('form.cancel-form') : undefined;
        if (!form) return { status: answer.status === 200 ? 409 : (answer.status ?? 502), latencyMs: answer.latencyMs };
        form.set('email', buyer.contact);
        const cancelled = await browser.submitForm(form, { csrf: 'field' });
        const view = cancelled.status === 200 ? orderView(browser.page(cancelled), orderId) : undefined;
        return { status: view ? 200 : (cancelled.status ?? 502), ...(view ? { body: view } : {}), latencyMs: answer.latencyMs + cancelled.latencyMs };
      },
    };
  },

  async close() {
    const pools = [...open];
    open.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  },
});

