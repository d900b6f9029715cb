/**
 * The native personality: Ordeal's own wire protocol v1 (README, "Mock wire protocol v1"). JSON bodies, money in
 * minor units, errors `{ code, message }` with the HTTP status the refusal names; callbacks are
 * JSON POSTs signed `Ordeal-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` and
 * acknowledged by any 2xx. Merchant requests carry the same secret as `Authorization: Bearer
 * <ORDEAL_PAYMENT_SECRET>` (a wrong or missing one is 401 `INVALID_SIGNATURE`); the buyers' steps
 * (pay, complete a verification) carry the run's buyer token instead.
 */
import {
  asObject,
  errorReply,
  nonEmptyString,
  positiveInt,
  type JsonObject,
  type MockReply,
  type MockRequest,
} from '../../mock-types.js';
import { isReachableUrl, reachRule } from '../../../core/network-scope.js';
import { bearerProblem, buyerRoute, outside } from '../../run-credentials.js';
import { SIGNATURE_HEADER, signBody } from '../../signature.js';
import type { FaultSubject, SubjectAwareRoute } from '../../transport-faults.js';
import { isPayFailCode, refusal, type PaymentOperation, type PaymentRefusal, type TradeView } from '../answers.js';
import type { PaymentCore } from '../core.js';
import type { PaymentNotice } from '../notices.js';
import {
  channelOf,
  renderAnswer,
  type CallbackAck,
  type CallbackRequest,
  type CashierAnswer,
  type NoticeSigning,
  type PaymentCashier,
  type PaymentPersonality,
  type PaymentSite,
} from '../personality.js';
import { NATIVE_FAULT_FORMS } from './native-fault-forms.js';

export interface NativePersonalityOptions {
  /** Callback signing secret (ORDEAL_PAYMENT_SECRET). */
  secret: string;
}

/** The native cashier: `POST /v1/trades/{tradeNo}/pay`, `POST /v1/verifications/{id}/complete`. */
export const NATIVE_CASHIER: PaymentCashier = {
  // Without a trade number, the one in the cashier link the create answer gave (`payUrl`).
  payRequest: ({ providerUrl, tradeNo, payUrl, payerId, method }) => ({
    method: 'POST',
    url: `${providerUrl}/v1/trades/${encodeURIComponent(tradeNo || tradeNoInCashierUrl(providerUrl, payUrl))}/pay`,
    body: { payerId, method },
  }),
  readPayAnswer: (_status, body) => readCashierAnswer(body),
  verificationRequest: ({ providerUrl, verificationId }) => ({
    method: 'POST',
    url: `${providerUrl}/v1/verifications/${encodeURIComponent(verificationId)}/complete`,
    body: {},
  }),
  readVerificationAnswer: (_status, body) => readCashierAnswer(body),
};

function tradeNoInCashierUrl(providerUrl: string, payUrl: string | undefined): string {
  const prefix = `${providerUrl}/cashier/`;
  return payUrl?.startsWith(prefix) ? decodeURIComponent(payUrl.slice(prefix.length).split(/[/?#]/)[0] ?? '') : '';
}

/** The native answer's `status` field says what happened; `code` names a refusal or an error. */
function readCashierAnswer(body: unknown): CashierAnswer {
  const answer = asObject(body);
  const status = answer?.status;
  const outcome = status === 'TRADE_SUCCESS' ? 'paid' : status === 'PAY_FAILED' ? 'refused' : status === 'VERIFYING' ? 'verifying' : 'unknown';
  const code = answer?.code;
  const verificationId = answer?.verificationId;
  return {
    outcome,
    ...(nonEmptyString(code) ? { code } : {}),
    ...(nonEmptyString(verificationId) ? { verificationId } : {}),
  };
}

const ACK_ANY_2XX: CallbackAck = {
  readBody: false,
  acknowledged: (status) => status >= 200 && status < 300,
};

function invalid(message: string): PaymentRefusal {
  return refusal('INVALID_REQUEST', 400, message);
}

/**
 * The first problem with a create body's fields after `outTradeNo` (checked in the order the
 * protocol documents them), or undefined when they parse.
 */
function createProblem(body: JsonObject): string | undefined {
  const { amount, currency, subject, notifyUrl, method, payer, expiresInMs } = body;
  if (!positiveInt(amount)) return 'amount: expected a positive integer (minor units)';
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) return 'currency: expected a 3-letter code such as "CNY"';
  if (typeof subject !== 'string') return 'subject: expected a string';
  if (!nonEmptyString(notifyUrl, 2048) || !isReachableUrl(notifyUrl)) return `notifyUrl: expected an http URL on ${reachRule()}`;
  if (!nonEmptyString(method, 64)) return 'method: expected a non-empty string';
  if (payer !== undefined && payer !== null) {
    const payerObject = asObject(payer);
    if (!payerObject || !nonEmptyString(payerObject.id) || (payerObject.region !== undefined && typeof payerObject.region !== 'string')) {
      return 'payer: expected { id: string, region?: string }';
    }
  }
  if (expiresInMs !== undefined && !positiveInt(expiresInMs)) return 'expiresInMs: expected a positive integer';
  return undefined;
}

function queryBody(trade: TradeView): JsonObject {
  return {
    tradeNo: trade.tradeNo,
    outTradeNo: trade.outTradeNo,
    status: trade.status,
    amount: trade.amount,
    ...(trade.paidAt === undefined ? {} : { paidAt: trade.paidAt }),
    ...(trade.failCode === undefined ? {} : { failCode: trade.failCode }),
    refunded: trade.refunded,
  };
}


export class NativePersonality implements PaymentPersonality {
  readonly protocol = 'native';
  readonly faultForms = NATIVE_FAULT_FORMS;
  readonly callbackAck = ACK_ANY_2XX;
  readonly cashier = NATIVE_CASHIER;
  private readonly secret: string;

  constructor(options: NativePersonalityOptions) {
    this.secret = options.secret;
  }

  routes(core: PaymentCore, site: PaymentSite): SubjectAwareRoute[] {
    const byTrade = (request: MockRequest): FaultSubject => core.subjectOfTrade(request.params.tradeNo);
    const query = (request: MockRequest): MockReply => this.signedIn(request, 'query', () => this.query(core, request));
    return [
      { method: 'POST', path: '/v1/trades', name: 'create', handle: (request) => this.signedIn(request, 'create', () => this.create(core, site, request)) },
      buyerRoute({
        method: 'POST',
        path: '/v1/trades/:tradeNo/pay',
        name: 'pay',
        handle: (request) => this.pay(core, request),
        subjectOf: (request) => {
          const payerId = asObject(request.body)?.payerId;
          const found = byTrade(request);
          return nonEmptyString(payerId) ? { ...found, buyerId: payerId } : found;
        },
      }),
      { method: 'GET', path: '/v1/trades/:tradeNo', name: 'query', handle: query, subjectOf: byTrade },
      { method: 'GET', path: '/v1/trades', name: 'query', handle: query, subjectOf: (request) => core.subjectOfOrder(request.query.outTradeNo ?? '') },
      {
        method: 'POST',
        path: '/v1/trades/:tradeNo/close',
        name: 'close',
        handle: (request) =>
          this.signedIn(request, 'close', () => renderAnswer(this, 'close', core.closeTrade(request.params.tradeNo ?? ''), () => ({ status: 200, body: { status: 'TRADE_CLOSED' } }))),
        subjectOf: byTrade,
      },
      { method: 'POST', path: '/v1/trades/:tradeNo/refunds', name: 'refund', handle: (request) => this.signedIn(request, 'refund', () => this.refund(core, request)), subjectOf: byTrade },
      buyerRoute({
        method: 'POST',
        path: '/v1/verifications/:verificationId/complete',
        name: 'verification',
        handle: (request) =>
          renderAnswer(this, 'verification', core.completeVerification(request.params.verificationId ?? ''), (value) => ({ status: 200, body: value })),
        subjectOf: (request) => core.subjectOfVerification(request.params.verificationId),
      }),
    ];
  }

  renderRefusal(_operation: PaymentOperation, reason: PaymentRefusal): MockReply {
    const { code, httpStatus, message } = reason;
    if (isPayFailCode(code)) return { status: httpStatus, body: { code, status: 'PAY_FAILED', message } };
    const reply = errorReply(httpStatus, code, message);
    return reason.retryAfterS === undefined ? reply : { ...reply, headers: { 'retry-after': String(reason.retryAfterS) } };
  }

  renderCallback(notifyUrl: string, notice: PaymentNotice, signing: NoticeSigning, nowS: number): CallbackRequest {
    const bodyOf = ({ notifyId, tradeNo, outTradeNo, status, amount, paidAt, failCode }: PaymentNotice): string =>
      JSON.stringify({
        notifyId,
        tradeNo,
        outTradeNo,
        status,
        amount,
        ...(paidAt === undefined ? {} : { paidAt }),
        ...(failCode === undefined ? {} : { failCode }),
      });
    const body = bodyOf(notice);
    const signature =
      signing.kind === 'forged'
        ? signBody(`not-${this.secret}`, body, nowS)
        : signing.kind === 'altered'
          ? signBody(this.secret, bodyOf({ ...notice, amount: signing.signedAmount }), nowS)
          : signBody(this.secret, body, signing.kind === 'replayed' ? nowS - signing.ageS : nowS);
    return { method: 'POST', url: notifyUrl, headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature }, body };
  }

  /** Runs `handle` only for a request bearing this merchant's secret; else 401 `INVALID_SIGNATURE`, journaled as an outside request. */
  private signedIn(request: MockRequest, operation: PaymentOperation, handle: () => MockReply): MockReply {
    const problem = bearerProblem(request, this.secret);
    if (problem === undefined) return handle();
    return outside(this.renderRefusal(operation, refusal('INVALID_SIGNATURE', 401, `${problem}: merchant requests carry Authorization: Bearer <ORDEAL_PAYMENT_SECRET>`)), problem);
  }

  private invalid(operation: PaymentOperation, message: string): MockReply {
    return this.renderRefusal(operation, invalid(message));
  }

  private create(core: PaymentCore, site: PaymentSite, request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body) return this.invalid('create', 'expected a JSON object body');
    const { outTradeNo } = body;
    if (!nonEmptyString(outTradeNo, 128)) return this.invalid('create', 'outTradeNo: expected a non-empty string (at most 128 characters)');
    const problem = createProblem(body);
    if (problem !== undefined) return renderAnswer(this, 'create', core.refuseInvalidCreate(outTradeNo, problem), () => ({ status: 400 }));
    const payer = asObject(body.payer);
    const answer = core.create({
      ...channelOf(site),
      outTradeNo,
      amount: body.amount as number,
      currency: body.currency as string,
      subject: body.subject as string,
      notifyUrl: body.notifyUrl as string,
      method: body.method as string,
      ...(payer ? { payer: { id: payer.id as string, ...(typeof payer.region === 'string' ? { region: payer.region } : {}) } } : {}),
      ...(body.expiresInMs === undefined ? {} : { expiresInMs: body.expiresInMs as number }),
    });
    return renderAnswer(this, 'create', answer, ({ trade, expiresAt, repeat }) => ({
      status: repeat ? 200 : 201,
      body: {
        tradeNo: trade.tradeNo,
        outTradeNo: trade.outTradeNo,
        status: trade.status,
        payUrl: `${site.baseUrl}/cashier/${trade.tradeNo}`,
        expiresAt,
      },
    }));
  }

  private pay(core: PaymentCore, request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body || !nonEmptyString(body.payerId)) return this.invalid('pay', 'payerId: expected a non-empty string');
    if (body.method !== undefined && typeof body.method !== 'string') return this.invalid('pay', 'method: expected a string');
    return renderAnswer(this, 'pay', core.pay(request.params.tradeNo ?? '', body.payerId), (value) => ({
      status: value.status === 'VERIFYING' ? 202 : 200,
      body: value,
    }));
  }

  private query(core: PaymentCore, request: MockRequest): MockReply {
    const tradeNo = request.params.tradeNo;
    let key: { tradeNo: string } | { outTradeNo: string };
    if (tradeNo !== undefined) key = { tradeNo };
    else {
      const outTradeNo = request.query.outTradeNo;
      if (!outTradeNo) return this.invalid('query', 'expected ?outTradeNo=… or /v1/trades/{tradeNo}');
      key = { outTradeNo };
    }
    return renderAnswer(this, 'query', core.query(key), (trade) => ({ status: 200, body: queryBody(trade) }));
  }

  private refund(core: PaymentCore, request: MockRequest): MockReply {
    const body = asObject(request.body);
    if (!body || !nonEmptyString(body.refundNo, 128)) return this.invalid('refund', 'refundNo: expected a non-empty string');
    if (!positiveInt(body.amount)) return this.invalid('refund', 'amount: expected a positive integer (minor units)');
    return renderAnswer(this, 'refund', core.refund(request.params.tradeNo ?? '', body.refundNo, body.amount), ({ refundNo, amount }) => ({
      status: 200,
      body: { refundNo, amount, status: 'SUCCESS' },
    }));
  }
}
