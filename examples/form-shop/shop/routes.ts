/**
 * The shop's HTTP routes: pages for the buyer, the order form and its CSRF check, the hand-over
 * to the gateway, and the gateway's notify. `/` doubles as the health page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ORDER_STATUS, type OrderRow } from './database.js';
import type { EpayClient } from './epay.js';
import type { Fulfilment } from './fulfilment.js';
import { page, type SafeHtml } from './html.js';
import type { OrderBook, OrderProblem } from './orders.js';
import type { Sessions } from './session.js';
import { catalogueView, EMPTY_FORM, messageView, orderFormView, payRedirectView, queryView, returnView, type FormValues } from './views.js';

export interface RouteDeps {
  siteName: string;
  maxQuantity: number;
  book: OrderBook;
  epay: EpayClient;
  fulfilment: Fulfilment;
  sessions: Sessions;
  /** The shop's public URL, known once it listens. */
  siteUrl: () => string;
  log: (line: string) => void;
}

type Fields = Record<string, string>;

/** One value of a query or form field (the first, when repeated). */
function field(source: unknown, name: string): string {
  const value = (source as Record<string, unknown> | undefined)?.[name];
  const first = Array.isArray(value) ? (value[0] as unknown) : value;
  return typeof first === 'string' ? first : '';
}

/** The query string exactly as sent, decoded as PHP's `$_GET` would be (`+` is a space). */
function rawQuery(request: FastifyRequest): Fields {
  const url = request.raw.url ?? '';
  const at = url.indexOf('?');
  const fields: Fields = {};
  if (at < 0) return fields;
  for (const [name, value] of new URLSearchParams(url.slice(at + 1))) if (!(name in fields)) fields[name] = value;
  return fields;
}

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { book, sessions } = deps;

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_request, body, done) => {
    const fields: Fields = {};
    for (const [name, value] of new URLSearchParams(String(body))) if (!(name in fields)) fields[name] = value;
    done(null, fields);
  });

  const send = (reply: FastifyReply, status: number, title: string, body: SafeHtml, setCookie?: string): FastifyReply => {
    if (setCookie !== undefined) void reply.header('set-cookie', setCookie);
    return reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(page(deps.siteName, title, body));
  };

  const payPage = (reply: FastifyReply, order: OrderRow): FastifyReply => {
    const fields = deps.epay.submitFields({
      orderNo: order.order_no,
      type: order.pay_type,
      name: order.quantity > 1 ? `${order.goods_title} x${order.quantity}` : order.goods_title,
      amountFen: order.amount_fen,
      notifyUrl: `${deps.siteUrl()}/notify/epay`,
      returnUrl: `${deps.siteUrl()}/return`,
    });
    return send(reply, 200, '去支付 Pay', payRedirectView(order, deps.epay.submitUrl, fields));
  };

  const formPage = (request: FastifyRequest, reply: FastifyReply, goodsId: number, status: number, values: FormValues, problem?: OrderProblem): FastifyReply => {
    const goods = book.goods(goodsId);
    if (!goods) return send(reply, 404, '商品不存在', messageView('商品不存在 No such goods', '商品不存在或已下架 · No such goods.', { href: '/', text: '返回首页 Back to the shop' }));
    const session = sessions.ensure(request.headers.cookie);
    return send(reply, status, goods.title, orderFormView(goods, sessions.csrfToken(session.id), deps.maxQuantity, values, problem), session.setCookie);
  };

  app.get('/', (_request, reply) => send(reply, 200, '首页 Home', catalogueView(book.catalogue(), book.activeCoupons())));

  app.get('/buy/:goodsId', (request, reply) => {
    const goodsId = Number(field(request.params, 'goodsId'));
    return formPage(request, reply, Number.isSafeInteger(goodsId) ? goodsId : -1, 200, EMPTY_FORM);
  });

  app.post('/order', (request, reply) => {
    const body = (request.body ?? {}) as Fields;
    const goodsId = Number(field(body, 'goods_id'));
    const values: FormValues = { email: field(body, 'email'), quantity: field(body, 'quantity'), coupon: field(body, 'coupon'), payType: field(body, 'pay_type') };
    if (!sessions.csrfValid(request.headers.cookie, field(body, '_token') || undefined)) {
      const back = Number.isSafeInteger(goodsId) && goodsId > 0 ? `/buy/${goodsId}` : '/';
      return send(reply, 403, '页面已过期', messageView('页面已过期 Page expired', '表单已过期或来源无效，请刷新后重试。 The form has expired or did not come from this shop; reload it and try again.', { href: back, text: '重新下单 Back to the form' }));
    }
    const placed = book.place({ goodsId: Number.isSafeInteger(goodsId) ? goodsId : -1, ...values, formId: field(body, 'form_id') }, Date.now());
    if ('problem' in placed) return formPage(request, reply, goodsId, placed.problem.httpStatus, values, placed.problem);
    deps.log(`order ${placed.order.order_no} placed: ${placed.order.quantity} × goods ${placed.order.goods_id}, ${placed.order.amount_fen} fen`);
    return payPage(reply, placed.order);
  });

  // The buyer comes back to an unpaid order's payment from the query page.
  app.get('/pay/:orderNo', (request, reply) => {
    const order = book.order(field(request.params, 'orderNo'));
    if (!order) return send(reply, 404, '订单不存在', messageView('订单不存在 No such order', '订单不存在 · No such order.', { href: '/query', text: '订单查询 Order lookup' }));
    if (order.status !== ORDER_STATUS.UNPAID) return reply.redirect(`/query?order_no=${encodeURIComponent(order.order_no)}`, 303);
    return payPage(reply, order);
  });

  // epay notifies by GET; some gateways of the family POST the same fields.
  const notify = async (fields: Fields, reply: FastifyReply): Promise<FastifyReply> => {
    const answer = await deps.fulfilment.handleNotify(fields);
    return reply.code(answer.status).type('text/plain; charset=utf-8').send(answer.body);
  };
  app.get('/notify/epay', (request, reply) => notify(rawQuery(request), reply));
  app.post('/notify/epay', (request, reply) => notify({ ...rawQuery(request), ...((request.body ?? {}) as Fields) }, reply));

  // Where the gateway sends the browser after paying. Only the notify (or reconcile) settles an order.
  app.get('/return', (request, reply) => {
    const fields = rawQuery(request);
    const orderNo = fields.out_trade_no ?? '';
    return send(reply, 200, '支付结果 Payment', returnView(orderNo, deps.epay.signatureValid(fields) && book.order(orderNo) !== undefined));
  });

  app.get('/query', (request, reply) => {
    const orderNo = field(request.query, 'order_no').trim();
    const order = orderNo === '' ? undefined : book.order(orderNo);
    const session = sessions.ensure(request.headers.cookie);
    const notice = field(request.query, 'notice');
    const notices: Record<string, string> = {
      closed: '订单已取消 · The order was cancelled.',
      paid: '该订单已支付，无法取消 · The order was paid and cannot be cancelled.',
      'not-unpaid': '该订单无法取消 · The order can no longer be cancelled.',
    };
    const status = orderNo !== '' && !order ? 404 : 200;
    return send(reply, status, '订单查询 Order lookup', queryView(orderNo, order, order ? book.cardsOf(order.order_no) : [], sessions.csrfToken(session.id), notices[notice]), session.setCookie);
  });

  app.post('/cancel', async (request, reply) => {
    const body = (request.body ?? {}) as Fields;
    const orderNo = field(body, 'order_no');
    if (!sessions.csrfValid(request.headers.cookie, field(body, '_token') || undefined)) {
      return send(reply, 403, '页面已过期', messageView('页面已过期 Page expired', '表单已过期，请刷新后重试。 The form has expired; reload it and try again.', { href: `/query?order_no=${encodeURIComponent(orderNo)}`, text: '返回订单 Back to the order' }));
    }
    const result = await deps.fulfilment.cancel(orderNo, field(body, 'email'));
    if (result === 'not-found') return send(reply, 404, '订单不存在', messageView('订单不存在 No such order', '订单号或邮箱不正确 · Wrong order number or e-mail.', { href: '/query', text: '订单查询 Order lookup' }));
    return reply.redirect(`/query?order_no=${encodeURIComponent(orderNo)}&notice=${result}`, 303);
  });

  app.setNotFoundHandler((_request, reply) => send(reply, 404, '页面不存在', messageView('页面不存在 Not found', '页面不存在 · No such page.', { href: '/', text: '返回首页 Back to the shop' })));
  app.setErrorHandler((error, request, reply) => {
    const status = typeof (error as { statusCode?: unknown }).statusCode === 'number' ? (error as { statusCode: number }).statusCode : 500;
    if (status >= 500) deps.log(`${request.method} ${request.url} failed: ${(error as Error).stack ?? String(error)}`);
    return send(reply, status, '出错了', messageView('出错了 Something went wrong', status >= 500 ? '服务器繁忙，请稍后再试 · Please try again later.' : '请求无效 · Bad request.'));
  });
}
