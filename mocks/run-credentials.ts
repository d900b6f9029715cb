/**
 * The mocks trust only the run: every request that changes state must carry the run's credentials,
 * as the real service would require, and anything else is refused and journaled as an outside
 * request (`mock.outside_request`) — it never reaches a ledger, so another local process cannot
 * make a correct shop fail (issue 14, item 4).
 *
 * - Payment protocols check their merchant's own credentials in their handlers (epay's MD5 `sign`
 *   and key, Alipay's RSA2, WeChat Pay's `Authorization`, Stripe's secret key, native's bearer
 *   secret); a refusal for credentials carries `outside` on its reply, which the guard journals.
 * - The stock supplier, risk screen and notify API take a per-run key as `Authorization: Bearer`
 *   on every state-changing route (ORDEAL_STOCK_KEY, ORDEAL_RISK_KEY, ORDEAL_NOTIFY_KEY); reads
 *   stay open: they change nothing, and a shop's health checks and tools may read without keys.
 * - The buyers' own steps at the provider (paying at the cashier, completing a verification) carry
 *   the run's buyer token in `Ordeal-Buyer-Token`: only Ordeal's buyers have it (it never leaves
 *   the harness process, and is in no file of the run).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { JournalSink } from '../core/journal.js';
import type { MockReply, MockRequest, MockRoute } from './mock-types.js';
import type { CashierRequest, PaymentCashier } from './payment/personality.js';
import type { SubjectAwareRoute } from './transport-faults.js';

/** The header Ordeal's buyers send their run token in. */
export const BUYER_TOKEN_HEADER = 'ordeal-buyer-token';

/** The per-run API keys of the services that have no provider protocol of their own. */
export interface ServiceKeys {
  /** Stock supplier API key (ORDEAL_STOCK_KEY). */
  stock: string;
  /** Risk screen API key (ORDEAL_RISK_KEY). */
  risk: string;
  /** Notify API key (ORDEAL_NOTIFY_KEY); the SMS gateway beside it signs with its own account key. */
  notify: string;
}

/** Fresh service keys; the `stock_`, `risk_`, `notify_` prefixes say which service a key is for when one turns up in a log. */
export function newServiceKeys(): ServiceKeys {
  const key = (prefix: string): string => `${prefix}_${randomBytes(24).toString('base64url')}`;
  return { stock: key('stock'), risk: key('risk'), notify: key('notify') };
}

/** A fresh buyer token (never written anywhere: the harness's buyers hold it in memory). */
export function newBuyerToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The environment variable each service key is given to the shop in. */
export const SERVICE_KEY_ENV: Readonly<Record<keyof ServiceKeys, string>> = {
  stock: 'ORDEAL_STOCK_KEY',
  risk: 'ORDEAL_RISK_KEY',
  notify: 'ORDEAL_NOTIFY_KEY',
};

/** The service keys as the shop's environment (`ORDEAL_STOCK_KEY`, …). */
export function serviceKeyEnv(keys: ServiceKeys): Record<string, string> {
  return { [SERVICE_KEY_ENV.stock]: keys.stock, [SERVICE_KEY_ENV.risk]: keys.risk, [SERVICE_KEY_ENV.notify]: keys.notify };
}

/** Reads kept service keys (JSON data), or undefined when `data` is not a complete set. */
export function serviceKeysFromKept(data: unknown): ServiceKeys | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { stock, risk, notify } = data as Record<string, unknown>;
  const valid = (value: unknown): value is string => typeof value === 'string' && value !== '';
  return valid(stock) && valid(risk) && valid(notify) ? { stock, risk, notify } : undefined;
}

/** Compares a given secret with the expected one in constant time (for equal lengths). */
export function secretMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerOf(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Why a request's bearer key is refused, or undefined when it is the expected one. */
export function bearerProblem(request: MockRequest, expected: string): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined || header.trim() === '') return 'no credentials (Authorization: Bearer <the run key>)';
  return secretMatches(bearerOf(header), expected) ? undefined : 'wrong credentials';
}

/** Why a buyer step is refused, or undefined when it carries the run's buyer token. */
export function buyerTokenProblem(request: MockRequest, token: string): string | undefined {
  const given = request.headers[BUYER_TOKEN_HEADER];
  if (given === undefined || given === '') return `no buyer token (${BUYER_TOKEN_HEADER})`;
  return secretMatches(given, token) ? undefined : 'wrong buyer token';
}

/** `cashier` whose requests (paying, completing a verification) carry the run's buyer token. */
export function withBuyerToken(cashier: PaymentCashier, token: string): PaymentCashier {
  const signed = (request: CashierRequest): CashierRequest => ({ ...request, headers: { ...request.headers, [BUYER_TOKEN_HEADER]: token } });
  return {
    payRequest: (input) => signed(cashier.payRequest(input)),
    readPayAnswer: (status, body) => cashier.readPayAnswer(status, body),
    verificationRequest: (input) => signed(cashier.verificationRequest(input)),
    readVerificationAnswer: (status, body) => cashier.readVerificationAnswer(status, body),
  };
}

/** A reply marked as a refusal for credentials: the guard journals it (and strips the mark). */
export function outside(reply: MockReply, reason: string): MockReply {
  return { ...reply, outside: reason };
}

/** The route marked as a step of Ordeal's buyers (`caller: 'buyer'`): it needs the buyer token. */
export function buyerRoute(route: SubjectAwareRoute): SubjectAwareRoute {
  return { ...route, caller: 'buyer' };
}

export interface GuardOptions {
  /** The mock's name in the journal: `stock`, `payment`, `payment (alipay)`. */
  mock: string;
  journal: JournalSink;
  /** The bearer key every state-changing route needs (stock, risk, notify); absent: the routes check their own. */
  key?: string;
  /** Route names that check credentials of their own (the SMS gateway's signed sends). */
  ownAuth?: readonly string[];
  /** The buyers' token, for routes marked `caller: 'buyer'`; absent: buyer steps are not checked. */
  buyerToken?: string;
  /** How the refusal of a missing or wrong key reads, in the service's own error form (a buyer step's refusal is always the default). @default 401 `{ code: 'UNAUTHORIZED', message }` */
  refuse?: (reason: string) => MockReply;
}

/** At most 200 characters, control characters shown as `?`: the path and reason may hold what the sender chose. */
function printable(text: string): string {
  return text.slice(0, 200).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}

const STATE_CHANGING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function defaultRefusal(reason: string): MockReply {
  return { status: 401, headers: { 'www-authenticate': 'Bearer realm="ordeal"' }, body: { code: 'UNAUTHORIZED', message: `refused: ${reason}` } };
}

/**
 * Wraps a mock's routes so that requests without the run's credentials are refused before they
 * reach the mock (the bearer key of `key`, the buyer token of buyer routes) or, when the route
 * itself refused them for credentials (`reply.outside`), journaled as such. Either way one
 * `mock.outside_request` is journaled: mock, method, path (no query: epay puts its key there),
 * remote address and reason — never the credentials given.
 */
export function guardRoutes(routes: readonly MockRoute[], options: GuardOptions): MockRoute[] {
  const refuse = options.refuse ?? defaultRefusal;
  const ownAuth = new Set(options.ownAuth ?? []);
  const { key, buyerToken } = options;
  const journalOutside = (request: MockRequest, reason: string): void => {
    options.journal.append('mock.outside_request', {
      mock: options.mock,
      method: request.method,
      path: printable(request.path),
      ...(request.remoteAddress === undefined ? {} : { remoteAddress: printable(request.remoteAddress) }),
      reason: printable(reason),
    });
  };
  const settle = (request: MockRequest, reply: MockReply): MockReply => {
    if (reply.outside === undefined) return reply;
    const { outside: reason, ...rest } = reply;
    journalOutside(request, reason);
    return rest;
  };
  return routes.map((route): MockRoute => {
    const forBuyer = (route as SubjectAwareRoute).caller === 'buyer';
    const needsKey = STATE_CHANGING.has(route.method) && !ownAuth.has(route.name) && !forBuyer;
    const handle = (request: MockRequest): MockReply | Promise<MockReply> => {
      const problem =
        forBuyer && buyerToken !== undefined
          ? buyerTokenProblem(request, buyerToken)
          : needsKey && key !== undefined
            ? bearerProblem(request, key)
            : undefined;
      if (problem !== undefined) {
        journalOutside(request, problem);
        return forBuyer ? defaultRefusal(problem) : refuse(problem);
      }
      const result = route.handle(request);
      return isPromise(result) ? result.then((reply) => settle(request, reply)) : settle(request, result);
    };
    return { ...route, handle };
  });
}
