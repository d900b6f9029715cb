/**
 * The JSON API under `/api`. Bodies are checked by fastify's JSON schemas; every error is
 * `{ error: { code, message } }`. Customers authenticate with `Authorization: Bearer <token>`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts, Customer } from './accounts.js';
import { ApiError } from './api-error.js';
import type { Carts } from './carts.js';
import type { Catalog } from './catalog.js';
import type { OrderRow, Orders } from './orders.js';
import type { PaymentFlow } from './payment-flow.js';
import type { Payments } from './payments.js';
import type { Settings } from './settings.js';

export interface RouteDeps {
  settings: Settings;
  accounts: Accounts;
  catalog: Catalog;
  carts: Carts;
  orders: Orders;
  payments: Payments;
  flow: PaymentFlow;
}

const credentialsBody = {
  type: 'object',
  required: ['email', 'password'],
  properties: { email: { type: 'string', maxLength: 254 }, password: { type: 'string', maxLength: 200 }, name: { type: 'string', maxLength: 100 } },
} as const;

type Credentials = { email: string; password: string; name?: string };

const guestBody = {
  type: 'object',
  required: ['email'],
  properties: { email: { type: 'string', maxLength: 254 }, name: { type: 'string', maxLength: 100 } },
} as const;
type GuestDetails = { email: string; name?: string };
type CartParams = { id: string };
type OrderParams = { number: string };

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { settings, accounts, catalog, carts, orders, payments, flow } = deps;
  const customerOf = (request: FastifyRequest): Customer => accounts.authenticate(request.headers.authorization);
  const orderView = (order: OrderRow) => orders.view(orders.row(order.number) ?? order, settings.stripe.publishableKey);

  app.setErrorHandler((error: FastifyError | ApiError, _request, reply: FastifyReply) => {
    if (error instanceof ApiError) return reply.code(error.status).send({ error: { code: error.code, message: error.message } });
    if ('validation' in error && error.validation) return reply.code(400).send({ error: { code: 'invalid_request', message: error.message } });
    const status = 'statusCode' in error && typeof error.statusCode === 'number' && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) app.log.error(error);
    return reply.code(status).send({ error: { code: status >= 500 ? 'internal_error' : 'bad_request', message: status >= 500 ? 'something went wrong' : error.message } });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: { code: 'not_found', message: 'no such endpoint' } }));

  app.get('/api/health', async () => ({
    status: 'ok',
    payment_window_seconds: settings.paymentWindowMs / 1000,
    reconcile_seconds: settings.reconcileMs / 1000,
  }));

  app.get('/api/products', async () => ({ products: catalog.products() }));
  app.get('/api/coupons', async () => ({ coupons: catalog.activeCoupons() }));

  app.post<{ Body: Credentials }>('/api/customers', { schema: { body: credentialsBody } }, async (request, reply) => {
    const { email, password, name } = request.body;
    return reply.code(201).send(accounts.register({ email, password, name: name ?? '' }));
  });
  app.post<{ Body: GuestDetails }>('/api/guests', { schema: { body: guestBody } }, async (request, reply) =>
    reply.code(201).send(accounts.guest({ email: request.body.email, name: request.body.name ?? '' })),
  );
  app.post<{ Body: Credentials }>('/api/sessions', { schema: { body: credentialsBody } }, async (request) => accounts.logIn(request.body.email, request.body.password));
  app.get('/api/me', async (request) => ({ customer: customerOf(request) }));

  app.post('/api/carts', async (request, reply) => reply.code(201).send(carts.create(customerOf(request).id)));
  app.get<{ Params: CartParams }>('/api/carts/:id', async (request) => carts.view(customerOf(request).id, request.params.id));
  app.post<{ Params: CartParams; Body: { sku: string; quantity?: number } }>(
    '/api/carts/:id/items',
    {
      schema: {
        body: { type: 'object', required: ['sku'], properties: { sku: { type: 'string', maxLength: 64 }, quantity: { type: 'integer', minimum: 1, maximum: 10 } } },
      },
    },
    async (request) => carts.addItem(customerOf(request).id, request.params.id, request.body.sku, request.body.quantity ?? 1),
  );
  app.delete<{ Params: CartParams & { sku: string } }>('/api/carts/:id/items/:sku', async (request) => carts.removeItem(customerOf(request).id, request.params.id, request.params.sku));
  app.put<{ Params: CartParams; Body: { code: string } }>(
    '/api/carts/:id/coupon',
    { schema: { body: { type: 'object', required: ['code'], properties: { code: { type: 'string', minLength: 1, maxLength: 64 } } } } },
    async (request) => carts.applyCoupon(customerOf(request).id, request.params.id, request.body.code),
  );
  app.delete<{ Params: CartParams }>('/api/carts/:id/coupon', async (request) => carts.removeCoupon(customerOf(request).id, request.params.id));

  app.post<{ Params: CartParams }>('/api/carts/:id/checkout', async (request, reply) => {
    const customer = customerOf(request);
    const { order, created } = orders.checkout(customer.id, request.params.id, settings.paymentWindowMs);
    if (order.status === 'awaiting_payment') await flow.startPayment(order);
    return reply.code(created ? 201 : 200).send(orderView(order));
  });

  app.get('/api/orders', async (request) => ({ orders: orders.listFor(customerOf(request).id).map((order) => orderView(order)) }));
  app.get<{ Params: OrderParams }>('/api/orders/:number', async (request) => orderView(orders.owned(customerOf(request).id, request.params.number)));

  // The payment details again, creating the PaymentIntent if checkout could not.
  app.post<{ Params: OrderParams }>('/api/orders/:number/payment', async (request) => {
    const order = orders.owned(customerOf(request).id, request.params.number);
    if (order.status !== 'awaiting_payment') throw new ApiError(409, 'order_not_payable', `order ${order.number} is ${order.status}`);
    if (!(await flow.startPayment(order))) throw new ApiError(502, 'payment_unavailable', 'the payment provider cannot be reached; try again shortly');
    return orderView(order);
  });

  app.post<{ Params: OrderParams }>('/api/orders/:number/cancel', async (request) => {
    const order = orders.owned(customerOf(request).id, request.params.number);
    if (order.status !== 'awaiting_payment') throw new ApiError(409, 'order_not_cancelable', `order ${order.number} is ${order.status}`);
    if (order.payment_intent_id === null) orders.cancel(order.number, 'canceled_by_customer');
    else {
      let state;
      try {
        state = await payments.cancel(order.payment_intent_id);
      } catch {
        throw new ApiError(502, 'payment_unavailable', 'the payment provider cannot be reached; try again shortly');
      }
      await flow.applyState(order, state, 'canceled_by_customer');
    }
    const now = orders.row(order.number) ?? order;
    if (now.status !== 'canceled') throw new ApiError(409, 'order_not_cancelable', `order ${order.number} is ${now.status}`);
    return orderView(now);
  });

  // Stripe's webhook: the raw body is kept as sent, since the signature covers its exact bytes.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 512 * 1024 }, (_request, body, done) => done(null, body));
    scope.post('/api/webhooks/stripe', async (request, reply) => {
      const signature = request.headers['stripe-signature'];
      const answer = await flow.receiveWebhook(String(request.body ?? ''), typeof signature === 'string' ? signature : undefined);
      return reply.code(answer.status).send(answer.body);
    });
  });
}
