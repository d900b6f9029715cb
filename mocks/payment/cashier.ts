/**
 * Ordeal's cashier: the page a buyer pays at when the protocol leaves the paying to the provider's
 * own pages or apps (epay's cashier after `submit.php`, Alipay's page after `page.pay` or the QR
 * code of `precreate`, WeChat Pay's `code_url`). The harness, as the buyer, posts the pay form; the
 * page itself is for people looking at a run (and for issue 13's browser-driven checkouts).
 *
 * Served by any personality that mounts `cashierRoutes` (native keeps its own `/v1/trades/:tradeNo/pay`).
 * Trade numbers here are the core's (`TradeView.tradeNo`), which those personalities also use as
 * their provider trade number.
 */
import { asObject, nonEmptyString, type MockReply } from '../mock-types.js';
import { buyerRoute } from '../run-credentials.js';
import type { SubjectAwareRoute } from '../transport-faults.js';
import { refusal, type PaymentOperation, type PaymentRefusal } from './answers.js';
import type { PaymentCore } from './core.js';
import { renderAnswer, type CashierAnswer, type PaymentCashier } from './personality.js';

/** Where the cashier page of `tradeNo` is, under a personality served at `baseUrl`. */
export function cashierUrl(baseUrl: string, tradeNo: string): string {
  return `${baseUrl}/cashier/${encodeURIComponent(tradeNo)}`;
}

/** The cashier's own answers: `{ status, code?, verificationId? }`, the status a trade word. */
function readAnswer(body: unknown): CashierAnswer {
  const answer = asObject(body);
  const status = answer?.status;
  const outcome = status === 'TRADE_SUCCESS' ? 'paid' : status === 'PAY_FAILED' ? 'refused' : status === 'VERIFYING' ? 'verifying' : 'unknown';
  return {
    outcome,
    ...(nonEmptyString(answer?.code) ? { code: answer.code } : {}),
    ...(nonEmptyString(answer?.verificationId) ? { verificationId: answer.verificationId } : {}),
    ...(nonEmptyString(answer?.tradeNo) ? { tradeNo: answer.tradeNo } : {}),
  };
}

/** How the buyer uses the cashier: `POST /cashier/{tradeNo}/pay`, `POST /cashier/verifications/{id}/complete`. */
export const ORDEAL_CASHIER: PaymentCashier = {
  // A cashier link (a page URL, a QR code's content) is followed; else the trade number names the page.
  payRequest: ({ providerUrl, tradeNo, payUrl, payerId, method }) => ({
    method: 'POST',
    url: `${payUrl !== undefined && payUrl.startsWith(`${providerUrl}/cashier/`) ? payUrl.split(/[?#]/)[0] : cashierUrl(providerUrl, tradeNo)}/pay`,
    body: { payerId, method },
  }),
  readPayAnswer: (_status, body) => readAnswer(body),
  verificationRequest: ({ providerUrl, verificationId }) => ({
    method: 'POST',
    url: `${providerUrl}/cashier/verifications/${encodeURIComponent(verificationId)}/complete`,
    body: {},
  }),
  readVerificationAnswer: (_status, body) => readAnswer(body),
};

/** A refusal as the cashier shows it: the trade word for a failed payment, else the code. */
function renderCashierRefusal(_operation: PaymentOperation, reason: PaymentRefusal): MockReply {
  const failed = reason.httpStatus === 402;
  return { status: reason.httpStatus, body: { ...(failed ? { status: 'PAY_FAILED' } : {}), code: reason.code, message: reason.message } };
}

const CASHIER_RENDERER = { renderRefusal: renderCashierRefusal };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The cashier page: what is being paid for, and the form that pays. */
function cashierPage(tradeNo: string, amount: number, currency: string, status: string): string {
  const due = `${(amount / 100).toFixed(2)} ${currency}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>Ordeal cashier</title></head><body>',
    `<h1>Pay ${escapeHtml(due)}</h1>`,
    `<p>Trade <code>${escapeHtml(tradeNo)}</code>: ${escapeHtml(status)}</p>`,
    `<form method="post" action="/cashier/${encodeURIComponent(tradeNo)}/pay">`,
    '<label>Payer <input name="payerId" required></label>',
    '<input type="hidden" name="method" value="alipay">',
    '<button type="submit">Pay</button>',
    '</form></body></html>',
  ].join('\n');
}

/**
 * The cashier's routes over `core`: the page (`GET /cashier/:tradeNo`), paying (`POST …/pay`, JSON
 * or form `{ payerId, method }`) and completing a verification. Paying and verifying are the
 * buyers' steps: they need the run's buyer token (`Ordeal-Buyer-Token`), checked by the route guard.
 */
export function cashierRoutes(core: PaymentCore): SubjectAwareRoute[] {
  return [
    {
      method: 'GET',
      path: '/cashier/:tradeNo',
      name: 'cashier',
      handle: (request) => {
        const tradeNo = request.params.tradeNo ?? '';
        const trade = core.trade(tradeNo);
        if (!trade) return { status: 404, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<!doctype html><p>No such trade.</p>' };
        return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: cashierPage(tradeNo, trade.amount, trade.currency, trade.status) };
      },
      subjectOf: (request) => core.subjectOfTrade(request.params.tradeNo),
    },
    buyerRoute({
      method: 'POST',
      path: '/cashier/:tradeNo/pay',
      name: 'pay',
      handle: (request) => {
        const body = asObject(request.body);
        if (!body || !nonEmptyString(body.payerId)) return renderCashierRefusal('pay', refusal('INVALID_REQUEST', 400, 'payerId: expected a non-empty string'));
        const tradeNo = request.params.tradeNo ?? '';
        return renderAnswer(CASHIER_RENDERER, 'pay', core.pay(tradeNo, body.payerId), (value) => ({
          status: value.status === 'VERIFYING' ? 202 : 200,
          body: { ...value, tradeNo },
        }));
      },
      subjectOf: (request) => {
        const payerId = asObject(request.body)?.payerId;
        const found = core.subjectOfTrade(request.params.tradeNo);
        return nonEmptyString(payerId) ? { ...found, buyerId: payerId } : found;
      },
    }),
    buyerRoute({
      method: 'POST',
      path: '/cashier/verifications/:verificationId/complete',
      name: 'verification',
      handle: (request) =>
        renderAnswer(CASHIER_RENDERER, 'verification', core.completeVerification(request.params.verificationId ?? ''), (value) => ({ status: 200, body: value })),
      subjectOf: (request) => core.subjectOfVerification(request.params.verificationId),
    }),
  ];
}
