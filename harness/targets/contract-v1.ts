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

export function contractV1Target(context: TargetContext, observes: Partial<TargetObservability> = {}): TargetAdapter {
  const { client } = context;
  const orderUrl = (orderId: string): string => `${context.shopUrl}/orders/${encodeURIComponent(orderId)}`;
  const session: ShopSession = {
    createOrder: (request, idempotencyKey) =>
      client.send<ShopOrderView>('POST', `${context.shopUrl}/orders`, contractOrderBody(request), { 'idempotency-key': idempotencyKey }),
    // What is not an order view is dropped by the run's guard (./order-view.ts), for every adapter alike.
    readOrder: (orderId) => client.send<ShopOrderView>('GET', orderUrl(orderId)),
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
