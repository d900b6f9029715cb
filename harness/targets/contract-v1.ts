/**
 * The contract v1 adapter (DESIGN §2): the shop speaks Ordeal's own JSON API — `GET /catalog`,
 * `POST /orders` with an Idempotency-Key, `GET /orders/:id`, `POST /orders/:id/cancel` — and its
 * statuses are already the canonical ones. Stateless per buyer, so every buyer shares one session:
 * the hot path of load runs allocates nothing per buyer here.
 */
import type { CatalogView, ShopOrderView } from '../../core/http-client.js';
import { FULLY_OBSERVABLE, type OrderRequest, type ShopCatalog, type ShopSession, type TargetAdapter, type TargetContext, type TargetObservability } from './adapter.js';

/** The body of `POST /orders` for a request. */
export function contractOrderBody(request: OrderRequest): Record<string, unknown> {
  const { buyer } = request;
  return {
    sku: request.sku,
    quantity: request.quantity,
    recipient: request.recipient,
    buyer: {
      id: buyer.id,
      contact: buyer.contact,
      ip: buyer.ip,
      region: buyer.region,
      accountAgeDays: buyer.accountAgeDays,
      deviceId: buyer.deviceId,
    },
    paymentMethod: request.paymentMethod,
    ...(request.coupon ? { coupon: request.coupon } : {}),
  };
}

/** A contract v1 order view is usable when it names its status. */
function usable(body: ShopOrderView | undefined): boolean {
  return body !== undefined && body !== null && typeof body === 'object' && typeof body.status === 'string';
}

export function contractV1Target(context: TargetContext, observes: Partial<TargetObservability> = {}): TargetAdapter {
  const { client } = context;
  const orderUrl = (orderId: string): string => `${context.shopUrl}/orders/${encodeURIComponent(orderId)}`;
  const session: ShopSession = {
    createOrder: (request, idempotencyKey) =>
      client.send<ShopOrderView>('POST', `${context.shopUrl}/orders`, contractOrderBody(request), { 'idempotency-key': idempotencyKey }),
    readOrder: async (orderId) => {
      const answer = await client.send<ShopOrderView>('GET', orderUrl(orderId));
      // An answer that is not an order view is no view: the buyer looks again later.
      return answer.status === 200 && !usable(answer.body) ? { ...answer, body: undefined } : answer;
    },
    cancelOrder: (orderId) => client.send<ShopOrderView>('POST', `${orderUrl(orderId)}/cancel`, {}),
  };
  return {
    name: 'contract-v1',
    observes: { ...FULLY_OBSERVABLE, ...observes },
    async catalog(): Promise<ShopCatalog | undefined> {
      const answer = await client.send<CatalogView>('GET', `${context.shopUrl}/catalog`);
      const skus = answer.status === 200 ? answer.body?.skus : undefined;
      if (!Array.isArray(skus) || skus.length === 0 || !skus.every((entry) => typeof entry?.sku === 'string' && Number.isSafeInteger(entry.price))) return undefined;
      const coupons = Array.isArray(answer.body?.coupons)
        ? answer.body.coupons.filter((coupon) => typeof coupon?.code === 'string' && Number.isSafeInteger(coupon.discount) && Number.isSafeInteger(coupon.minAmount))
        : [];
      return { skus: skus.map((entry) => ({ sku: entry.sku, price: entry.price })), coupons };
    },
    session: () => session,
  };
}
