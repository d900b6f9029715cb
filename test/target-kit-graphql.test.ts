/**
 * A GraphQL storefront (graphql v16 on fastify) driven through BuyerSession.graphql: login for a
 * bearer token, cart → addItem → checkout, then the order read back; GraphQL errors are data.
 */
import { buildSchema, graphql, GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { BuyerSession } from '../harness/targets/kit/index.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startServer } from './helpers/kit-server.js';

const defer = cleanupAfterEach();

const SCHEMA = buildSchema(`
  type Line { sku: String!, quantity: Int!, price: Int! }
  type Cart { id: ID!, lines: [Line!]!, total: Int! }
  type Order { id: ID!, status: String!, total: Int!, email: String! }
  type Query { order(id: ID!): Order }
  type Mutation {
    login(email: String!): String!
    createCart: Cart!
    addItem(cartId: ID!, sku: String!, quantity: Int!): Cart!
    checkout(cartId: ID!): Order!
  }
`);

const PRICES: Record<string, number> = { 'steam-50': 5000, 'psn-20': 2000 };

interface Cart {
  id: string;
  lines: Array<{ sku: string; quantity: number; price: number }>;
  total: number;
}

interface Order {
  id: string;
  status: string;
  total: number;
  email: string;
}

async function startStorefront(): Promise<string> {
  const carts = new Map<string, Cart>();
  const orders = new Map<string, Order>();
  const tokens = new Map<string, string>();
  const cartOf = (id: string): Cart => {
    const cart = carts.get(id);
    if (cart === undefined) throw new GraphQLError(`no cart ${id}`, { extensions: { code: 'NOT_FOUND' } });
    return cart;
  };
  const rootValue = {
    login: ({ email }: { email: string }) => {
      const token = `tok-${tokens.size + 1}`;
      tokens.set(token, email);
      return token;
    },
    createCart: () => {
      const cart: Cart = { id: `cart-${carts.size + 1}`, lines: [], total: 0 };
      carts.set(cart.id, cart);
      return cart;
    },
    addItem: ({ cartId, sku, quantity }: { cartId: string; sku: string; quantity: number }) => {
      const cart = cartOf(cartId);
      const price = PRICES[sku];
      if (price === undefined) throw new GraphQLError(`unknown sku ${sku}`, { extensions: { code: 'BAD_USER_INPUT' } });
      cart.lines.push({ sku, quantity, price });
      cart.total += price * quantity;
      return cart;
    },
    checkout: ({ cartId }: { cartId: string }, context: { email?: string }) => {
      if (context.email === undefined) throw new GraphQLError('log in first', { extensions: { code: 'UNAUTHENTICATED' } });
      const cart = cartOf(cartId);
      const order: Order = { id: `ord-${orders.size + 1}`, status: 'awaiting_payment', total: cart.total, email: context.email };
      orders.set(order.id, order);
      return order;
    },
    order: ({ id }: { id: string }) => orders.get(id) ?? null,
  };
  return startServer(defer, (app) => {
    app.post('/graphql', async (request) => {
      const body = request.body as { query: string; variables?: Record<string, unknown>; operationName?: string };
      const bearer = request.headers.authorization?.replace(/^Bearer /, '');
      const email = bearer === undefined ? undefined : tokens.get(bearer);
      return graphql({ schema: SCHEMA, source: body.query, variableValues: body.variables ?? null, operationName: body.operationName ?? null, rootValue, contextValue: { email } });
    });
    app.post('/broken', async (_request, reply) => reply.code(502).type('text/html').send('<h1>502 Bad Gateway</h1>'));
  });
}

const CART_FIELDS = 'id total lines { sku quantity }';

describe('BuyerSession.graphql: a GraphQL checkout', () => {
  it('logs in, fills a cart, checks out with the bearer token and reads the order back', async () => {
    const url = `${await startStorefront()}/graphql`;
    const buyer = new BuyerSession();
    defer(() => buyer.close());

    const login = await buyer.graphql<{ login: string }>(url, 'mutation ($email: String!) { login(email: $email) }', { email: 'ann@example.test' });
    expect(login.errors).toBeUndefined();
    buyer.bearerToken = login.data!.login;

    const created = await buyer.graphql<{ createCart: Cart }>(url, `mutation { createCart { ${CART_FIELDS} } }`);
    const cartId = created.data!.createCart.id;
    const add = `mutation Add($cartId: ID!, $sku: String!, $quantity: Int!) { addItem(cartId: $cartId, sku: $sku, quantity: $quantity) { ${CART_FIELDS} } }`;
    await buyer.graphql(url, add, { cartId, sku: 'steam-50', quantity: 1 });
    const filled = await buyer.graphql<{ addItem: Cart }>(url, add, { cartId, sku: 'psn-20', quantity: 2 });
    expect(filled.data!.addItem).toEqual({
      id: cartId,
      total: 9000,
      lines: [
        { sku: 'steam-50', quantity: 1 },
        { sku: 'psn-20', quantity: 2 },
      ],
    });

    const checkout = await buyer.graphql<{ checkout: Order }>(url, 'mutation ($cartId: ID!) { checkout(cartId: $cartId) { id status total } }', { cartId });
    expect(checkout.errors).toBeUndefined();
    const orderId = checkout.data!.checkout.id;
    expect(checkout.data!.checkout).toEqual({ id: orderId, status: 'awaiting_payment', total: 9000 });

    const document = `query Order($id: ID!) { order(id: $id) { id status total email } }
                      query Nothing { order(id: "none") { id } }`;
    const read = await buyer.graphql<{ order: Order | null }>(url, document, { id: orderId }, { operationName: 'Order' });
    expect(read.status).toBe(200);
    expect(read.data).toEqual({ order: { id: orderId, status: 'awaiting_payment', total: 9000, email: 'ann@example.test' } });
  });

  it('answers GraphQL errors as data: a rejected input, a missing login, a syntax error', async () => {
    const url = `${await startStorefront()}/graphql`;
    const buyer = new BuyerSession();
    defer(() => buyer.close());
    const cartId = (await buyer.graphql<{ createCart: Cart }>(url, 'mutation { createCart { id } }')).data!.createCart.id;

    const unknown = await buyer.graphql(url, 'mutation ($c: ID!) { addItem(cartId: $c, sku: "nope", quantity: 1) { id } }', { c: cartId });
    expect(unknown.error).toBeUndefined();
    expect(unknown.data).toBeNull();
    expect(unknown.errors).toEqual([expect.objectContaining({ message: 'unknown sku nope', path: ['addItem'], extensions: { code: 'BAD_USER_INPUT' } })]);

    const anonymous = await buyer.graphql(url, 'mutation ($c: ID!) { checkout(cartId: $c) { id } }', { c: cartId });
    expect(anonymous.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });

    const syntax = await buyer.graphql(url, 'mutation { checkout(');
    expect(syntax.data).toBeUndefined();
    expect(syntax.errors?.[0]?.message).toMatch(/^Syntax Error/);
    expect(syntax.errors?.[0]?.locations).toEqual([{ line: 1, column: 21 }]);
  });

  it('leaves data and errors undefined when the answer is not a GraphQL result', async () => {
    const base = await startStorefront();
    const buyer = new BuyerSession();
    defer(() => buyer.close());
    const broken = await buyer.graphql(`${base}/broken`, '{ order(id: "1") { id } }');
    expect(broken.status).toBe(502);
    expect(broken.error).toBeUndefined();
    expect(broken.data).toBeUndefined();
    expect(broken.errors).toBeUndefined();
    expect(broken.text).toBe('<h1>502 Bad Gateway</h1>');
  });
});
