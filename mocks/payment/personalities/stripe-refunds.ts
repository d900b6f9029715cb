/**
 * Refunds (`POST /v1/refunds`, `GET /v1/refunds/:refund`) over the core's `refund`, and the
 * account's webhook endpoints (`/v1/webhook_endpoints`). A refund's number in the core is the
 * request's `Idempotency-Key` (stripe-node sends one on every POST), so a retried refund is the
 * same refund even after its saved answer is forgotten; without a key every request is a new one.
 */
import type { MockReply } from '../../mock-types.js';
import type { PaymentCore } from '../core.js';
import { renderAnswer } from '../personality.js';
import { executed, invalidRequest, missingParam, refusalReply, resourceMissing } from './stripe-errors.js';
import type { ApiCall, Outcome } from './stripe-intents.js';
import { unsaved } from './stripe-intents.js';
import { chargeIdOf, intentIdOf, refundObject, refundOfId, tradeNoOfId } from './stripe-objects.js';
import { integerParam, listParam, metadataOf, stringParam } from './stripe-params.js';
import { acceptableEndpointUrl, type WebhookEndpoints } from './stripe-webhooks.js';

export class RefundApi {
  /** Refunds asked for without an idempotency key: each is new. */
  private unkeyed = 0;

  constructor(
    private readonly core: PaymentCore,
    private readonly nowS: () => number,
  ) {}

  create(call: ApiCall): Outcome {
    const { params } = call;
    const intentId = stringParam(params, 'payment_intent');
    const chargeId = stringParam(params, 'charge');
    if (intentId === undefined && chargeId === undefined) {
      return unsaved(invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', 'payment_intent', 'parameter_missing'));
    }
    const tradeNo = intentId !== undefined ? tradeNoOfId(intentId, 'pi_') : tradeNoOfId(chargeId, 'ch_');
    const record = tradeNo === '' ? undefined : this.core.trade(tradeNo);
    if (!record) {
      return unsaved(intentId !== undefined ? resourceMissing('payment_intent', intentId, 'payment_intent', 400) : resourceMissing('charge', chargeId ?? '', 'charge', 400));
    }
    const amountText = stringParam(params, 'amount');
    const amount = amountText === undefined ? record.amount - record.refunded : integerParam(amountText);
    if (amount === undefined) return unsaved(invalidRequest(`Invalid integer: ${amountText ?? ''}`, 'amount', 'parameter_invalid_integer'));
    if (amount < 1) {
      // Nothing left to refund (the default amount), or a zero amount asked for.
      return amountText === undefined
        ? unsaved(invalidRequest(`Charge ${chargeIdOf(record.tradeNo)} has already been refunded.`, undefined, 'charge_already_refunded'))
        : unsaved(invalidRequest('This value must be greater than or equal to 1.', 'amount', 'parameter_invalid_integer'));
    }
    const refundNo = call.idempotencyKey ?? `unkeyed-${++this.unkeyed}`;
    const metadata = metadataOf(params);
    const answer = this.core.refund(tradeNo, refundNo, amount);
    const reply = renderAnswer(
      {
        renderRefusal: (operation, refusal) =>
          refusalReply(operation, refusal, { id: intentIdOf(tradeNo), fullyRefunded: record.refunded >= record.amount }),
      },
      'refund',
      answer,
      (value) => {
        const refunds = this.core.trade(tradeNo)?.refunds ?? [];
        const index = refunds.findIndex((refund) => refund.refundNo === value.refundNo);
        const at = refunds[index]?.at;
        const createdS = at === undefined ? this.nowS() : Math.floor(Date.parse(at) / 1000);
        return { status: 200, body: refundObject(record, index + 1, value.amount, createdS, metadata) };
      },
    );
    return { reply, save: answer.kind !== 'hang' && executed(answer.kind === 'refused' ? answer.refusal : undefined) };
  }

  retrieve(call: ApiCall): Outcome {
    const id = call.path.refund ?? '';
    const parsed = refundOfId(id);
    const record = parsed ? this.core.trade(parsed.tradeNo) : undefined;
    const refund = parsed ? record?.refunds[parsed.index - 1] : undefined;
    if (!record || !refund) return unsaved(resourceMissing('refund', id, 'id'));
    return unsaved({ status: 200, body: refundObject(record, parsed?.index ?? 0, refund.amount, Math.floor(Date.parse(refund.at) / 1000)) });
  }
}

/** `/v1/webhook_endpoints`: register, list, retrieve and delete the endpoints events go to. */
export class WebhookEndpointApi {
  constructor(
    private readonly endpoints: WebhookEndpoints,
    private readonly nowS: () => number,
  ) {}

  create(call: ApiCall): Outcome {
    const url = stringParam(call.params, 'url');
    if (url === undefined) return unsaved(missingParam('url'));
    if (!acceptableEndpointUrl(url)) return unsaved(invalidRequest(`Invalid URL: ${url}. Ordeal only calls back to loopback (127.0.0.1, ::1, localhost).`, 'url', 'url_invalid'));
    const events = listParam(call.params, 'enabled_events');
    if (events === undefined || events.length === 0) return unsaved(missingParam('enabled_events'));
    const unknown = events.filter((event) => event !== '*' && !/^[a-z_]+(\.[a-z_]+)+$/.test(event));
    if (unknown.length > 0) return unsaved(invalidRequest(`Invalid enabled_events: ${unknown.join(', ')}`, 'enabled_events'));
    const endpoint = this.endpoints.add({
      url,
      enabledEvents: events,
      apiVersion: stringParam(call.params, 'api_version') ?? call.apiVersion,
      description: stringParam(call.params, 'description') ?? null,
      metadata: metadataOf(call.params),
      createdS: this.nowS(),
    });
    return { reply: { status: 200, body: this.endpoints.render(endpoint, true) }, save: true };
  }

  list(): Outcome {
    const data = this.endpoints.list().map((endpoint) => this.endpoints.render(endpoint, false));
    return unsaved({ status: 200, body: { object: 'list', data: [...data].reverse(), has_more: false, url: '/v1/webhook_endpoints' } });
  }

  retrieve(call: ApiCall): Outcome {
    const endpoint = this.endpoints.find(call.path.endpoint);
    return unsaved(endpoint ? { status: 200, body: this.endpoints.render(endpoint, false) } : resourceMissing('webhook_endpoint', call.path.endpoint ?? '', 'id'));
  }

  remove(call: ApiCall): Outcome {
    const id = call.path.endpoint ?? '';
    const reply: MockReply = this.endpoints.remove(id)
      ? { status: 200, body: { id, object: 'webhook_endpoint', deleted: true } }
      : resourceMissing('webhook_endpoint', id, 'id');
    return unsaved(reply);
  }
}
