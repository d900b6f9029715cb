/**
 * The four mocks driven directly (no HTTP) on a manual clock, with their records in the heap or
 * in a space that moves idle ones out of it (swept by hand): what the ledger memory and archive
 * tests hold their orders in. The payment provider is its protocol-neutral core (no personality):
 * its operations are called as the personality would.
 */
import { MemoryJournal } from '../../core/journal.js';
import type { Scenario } from '../../core/scenario-schema.js';
import { FaultPlan } from '../../mocks/fault-plan.js';
import { NotifyGateway, RiskScreen, StockSupplier } from '../../mocks/index.js';
import { openRecordSpace, type RecordSpace } from '../../memory/index.js';
import { Correlation, type MockContext, type MockReply, type MockRequest } from '../../mocks/mock-types.js';
import type { CoreAnswer, CreateTradeInput } from '../../mocks/payment/answers.js';
import { PaymentCore } from '../../mocks/payment/core.js';
import type { CallbackNotice, CallbackTarget } from '../../mocks/payment/dispatcher.js';
import type { Defer } from './cleanups.js';
import { mockScenario } from './mocks.js';

/** Where the manual clock starts. */
export const T0 = Date.parse('2030-01-01T00:00:00Z');
export const NOTIFY_URL = 'http://127.0.0.1:40123/payment/notify';

export interface LedgerRig {
  context: MockContext;
  journal: MemoryJournal;
  payment: PaymentCore;
  stock: StockSupplier;
  notify: NotifyGateway;
  risk: RiskScreen;
  /** Where the mocks keep their records (but the payment provider's, see createMocks). */
  records: RecordSpace;
  callbacks: Array<{ target: CallbackTarget; notice: CallbackNotice }>;
  /** Moves the manual clock on. */
  advance(ms: number): void;
  /** One sweep of every ledger (what createMocks runs on timers); 0 without an archive. */
  sweep(): number;
}

/** Two SKUs with plenty of stock, seed 5, and `faults`. */
export function ledgerScenario(name: string, faults: unknown[] = []): Scenario {
  return mockScenario({
    name,
    seed: 5,
    skus: [
      { sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 100_000 },
      { sku: 'GEMS_680', name: '680 gems', price: 6800, stock: 100_000 },
    ],
    faults,
  });
}

/** The mocks over `ledgerScenario`, closed (and the archive deleted) by `defer`. */
export function ledgerRig(defer: Defer, options: { name: string; faults?: unknown[]; archive: boolean; inboxLimit?: number }): LedgerRig {
  const scenario = ledgerScenario(options.name, options.faults);
  const journal = new MemoryJournal(0);
  const records = openRecordSpace({ spill: options.archive ? 'lookups' : 'none' });
  const correlation = new Correlation(records);
  const context: MockContext = { journal, plan: new FaultPlan(scenario.faults, scenario.seed), correlation };
  let now = T0;
  const clock = (): number => now;
  const callbacks: LedgerRig['callbacks'] = [];
  const payment = new PaymentCore({ ...context, clock, records, callbacks: (target, notice) => callbacks.push({ target, notice }) });
  const stock = new StockSupplier({ ...context, scenario, clock, records });
  const notify = new NotifyGateway({ ...context, clock, records, ...(options.inboxLimit === undefined ? {} : { inboxLimit: options.inboxLimit }) });
  const risk = new RiskScreen({ ...context, clock, records });
  defer(() => {
    payment.close();
    stock.close();
    risk.close();
    records.close();
  });
  const sweep = (): number => records.sweep();
  return { context, journal, payment, stock, notify, risk, records, callbacks, advance: (ms) => void (now += ms), sweep };
}

/** A request as a transport hands it over: the body freshly parsed, as from the wire. */
export function request(method: MockRequest['method'], params: Record<string, string> = {}, body?: unknown, query: Record<string, string> = {}): MockRequest {
  const rawBody = body === undefined ? '' : JSON.stringify(body);
  return { method, path: '/', params, query, headers: {}, body: body === undefined ? undefined : JSON.parse(rawBody), rawBody, target: '/' };
}

/** A create-trade input for `orderId` (3000 CNY by alipay, callbacks to NOTIFY_URL); `overrides` replace fields. */
export function tradeInput(orderId: string, overrides: Partial<CreateTradeInput> = {}): CreateTradeInput {
  return { outTradeNo: orderId, amount: 3000, currency: 'CNY', subject: 'card', notifyUrl: NOTIFY_URL, method: 'alipay', ...overrides };
}

/** The value of a core answer that must have succeeded. */
export function valueOf<T>(answer: CoreAnswer<T>): T {
  if (answer.kind !== 'ok') throw new Error(`expected an ok answer, got ${JSON.stringify(answer)}`);
  return answer.value;
}

/** One field of a reply's JSON body. */
export function field<T = string>(reply: MockReply, name: string): T {
  return (reply.body as Record<string, unknown>)[name] as T;
}

/** One order placed by `placeOrder`, with the status of each call that could fail. */
export interface PlacedOrder {
  orderId: string;
  buyerId: string;
  tradeNo: string;
  reservationId: string;
  assessmentId: string;
  codes: string[];
  /** HTTP statuses of the stock and risk answers; the payment core's answer kind. */
  statuses: { reserved: number; assessed: number; created: CoreAnswer<unknown>['kind'] };
}

/**
 * One buyer's order on the happy path, as a shop and the harness make it: reserve, assess, create
 * the trade, link, pay, fulfil, tell; then 7 ms pass. Order `i` is `ord_<i>_<tag>`, SKU and amount
 * alternate; each buyer has a device of its own unless `deviceId` is given.
 */
export function placeOrder(r: LedgerRig, i: number, options: { tag: string; deviceId?: string; buyerId?: string; quantity?: number }): PlacedOrder {
  const orderId = `ord_${String(i).padStart(8, '0')}_${options.tag}`;
  const buyerId = options.buyerId ?? `buyer-${String(i).padStart(6, '0')}`;
  const quantity = options.quantity ?? 1;
  const sku = i % 2 === 0 ? 'MONTH_CARD' : 'GEMS_680';
  const amount = (i % 2 === 0 ? 3000 : 6800) * quantity;
  const deviceId = options.deviceId ?? `device-${i}-0f0e0d0c0b0a`;
  const buyer = { id: buyerId, contact: `138${String(i).padStart(8, '0')}`, ip: '113.10.20.30', region: 'CN-GD', accountAgeDays: 400, deviceId };
  const reserved = r.stock.reserve(request('POST', {}, { sku, quantity, orderId, ttlMs: 60_000, buyerId }));
  const assessed = r.risk.assess(request('POST', {}, { orderId, buyer, amount, sku, recipient: { kind: 'game_id', account: '1234567890' } }));
  const created = r.payment.create(tradeInput(orderId, { amount, subject: `${quantity} x card`, payer: { id: buyerId, region: 'CN-GD' } }));
  r.context.correlation.link(orderId, buyerId);
  const tradeNo = valueOf(created).trade.tradeNo;
  r.payment.pay(tradeNo, buyerId);
  const reservationId = field(reserved, 'reservationId');
  const fulfilled = r.stock.fulfil(request('POST', { id: reservationId }));
  const codes = (fulfilled.status === 200 ? field<Array<{ code: string }>>(fulfilled, 'cards') : []).map((card) => card.code);
  r.notify.send(request('POST', {}, { to: buyer.contact, orderId, channel: 'sms', kind: 'delivered', text: `TEXT ${orderId}: ${codes.join(', ')}`, messageKey: `${orderId}:delivered` }));
  r.advance(7);
  return { orderId, buyerId, tradeNo, reservationId, assessmentId: field(assessed, 'assessmentId'), codes, statuses: { reserved: reserved.status, assessed: assessed.status, created: created.kind } };
}
