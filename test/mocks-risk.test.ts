import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import type { Scenario } from '../core/scenario-schema.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { RiskScreen, riskSignalsOf, type MockSet } from '../mocks/index.js';
import { Correlation, type MockRequest } from '../mocks/mock-types.js';
import type { RiskBuyer } from '../mocks/risk.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { call, type Answer } from './helpers/http.js';
import { eventsOf, waitForEvent } from './helpers/journal.js';
import { MONTH_SKU, mockScenario, startMockWorld, type MockWorld } from './helpers/mocks.js';

// ---- helpers -------------------------------------------------------------------------------

const defer = cleanupAfterEach();

function buildScenario(faults: unknown[] = [], seed = 7): Scenario {
  return mockScenario({ name: 'risk-test', seed, skus: [{ ...MONTH_SKU, stock: 50 }], faults });
}

function setup(faults: unknown[] = []): Promise<MockWorld> {
  return startMockWorld(defer, buildScenario(faults));
}

/** A buyer with every field the risk mock reads. */
type BuyerFields = Required<RiskBuyer>;

/** A buyer showing no signal: an old account, at home, paying for their own game id. */
function payload(orderId: string, buyer: Partial<BuyerFields> = {}, recipient = { kind: 'game_id', account: '1234567890' }): Record<string, unknown> {
  const id = buyer.id ?? `buyer-${orderId}`;
  return {
    orderId,
    buyer: { id, contact: '13800000000', ip: '113.10.20.30', region: 'CN-GD', accountAgeDays: 400, deviceId: `dev-${id}`, ...buyer },
    amount: 3000,
    sku: 'MONTH',
    recipient,
  };
}

function assess(mocks: MockSet, body: unknown): Promise<Answer> {
  return call('POST', `${mocks.urls.risk}/v1/assessments`, body);
}

// ---- signals -------------------------------------------------------------------------------

describe('risk signals', () => {
  it('computes each signal from the payload alone', () => {
    const buyer = { id: 'b1', contact: '13800000000', ip: '113.1.2.3', region: 'CN-GD', accountAgeDays: 30, deviceId: 'd1' };
    expect(riskSignalsOf({ buyer, recipient: { kind: 'game_id', account: '1234567890' } })).toEqual([]);
    expect(riskSignalsOf({ buyer: { ...buyer, accountAgeDays: 6.9 } })).toEqual(['new_account']);
    expect(riskSignalsOf({ buyer: { ...buyer, accountAgeDays: 7 } })).toEqual([]);
    expect(riskSignalsOf({ buyer: { ...buyer, ip: '23.4.5.6' } })).toEqual(['far_ip']);
    expect(riskSignalsOf({ buyer: { ...buyer, ip: '116.4.5.6' } })).toEqual(['far_ip']);
    // An address outside every known block tells nothing.
    expect(riskSignalsOf({ buyer: { ...buyer, ip: '10.0.0.1' } })).toEqual([]);
    expect(riskSignalsOf({ buyer, recipient: { kind: 'phone', account: '13900000000' } })).toEqual(['payer_mismatch']);
    expect(riskSignalsOf({ buyer, recipient: { kind: 'phone', account: '13800000000' } })).toEqual([]);
    expect(riskSignalsOf({ buyer, recipient: { kind: 'email', account: 'x@example.com' } })).toEqual([]);
    expect(riskSignalsOf({ buyer }, 1)).toEqual([]);
    expect(riskSignalsOf({ buyer }, 2)).toEqual(['device_switching']);
    expect(riskSignalsOf({ buyer: { ...buyer, accountAgeDays: 1, ip: '43.1.1.1' }, recipient: { kind: 'phone', account: '1' } }, 3)).toEqual([
      'new_account',
      'far_ip',
      'payer_mismatch',
      'device_switching',
    ]);
  });

  it('reports the signals a buyer shows as reasons, over HTTP, and approves without a fault', async () => {
    const { mocks, journal } = await setup();
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [payload('o1'), []],
      [payload('o2', { accountAgeDays: 2 }), ['new_account']],
      [payload('o3', { ip: '85.1.2.3' }), ['far_ip']],
      [payload('o4', {}, { kind: 'phone', account: '13911112222' }), ['payer_mismatch']],
      [payload('o5', { contact: '13911112222' }, { kind: 'phone', account: '13911112222' }), []],
    ];
    for (const [body, reasons] of cases) {
      const answer = await assess(mocks, body);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ assessmentId: expect.stringMatching(/^A\d{10}$/), decision: 'approve', reasons });
      const status = await call('GET', `${mocks.urls.risk}/v1/assessments/${answer.body.assessmentId as string}`);
      expect(status.body).toEqual({ assessmentId: answer.body.assessmentId, status: 'approved', decidedAt: expect.any(String) });
    }
    expect(eventsOf(journal, 'risk.assessed').map((event) => [event.orderId, event.decision, event.signals, event.reasons])).toEqual(
      cases.map(([body, reasons]) => [body.orderId, 'approve', reasons, reasons]),
    );
    expect(eventsOf(journal, 'risk.queried').map((event) => event.status)).toEqual(['approved', 'approved', 'approved', 'approved', 'approved']);
    expect(eventsOf(journal, 'fault.injected')).toEqual([]);
    expect(mocks.correlation.buyerOf('o2')).toBe('buyer-o2');
  });

  it('detects device switching across buyers', async () => {
    const { mocks } = await setup();
    const reasons = async (orderId: string, id: string, deviceId: string): Promise<unknown> =>
      (await assess(mocks, payload(orderId, { id, deviceId }))).body.reasons;
    expect(await reasons('o1', 'b1', 'shared')).toEqual([]);
    expect(await reasons('o2', 'b2', 'shared')).toEqual([]);
    // The same buyer again on the device adds no other buyer.
    expect(await reasons('o3', 'b2', 'shared')).toEqual([]);
    expect(await reasons('o4', 'b3', 'shared')).toEqual(['device_switching']);
    // The first buyer is now on a device two others used too.
    expect(await reasons('o5', 'b1', 'shared')).toEqual(['device_switching']);
    expect(await reasons('o6', 'b4', 'own')).toEqual([]);
    expect(mocks.risk.assessmentFor('o4')?.signals).toEqual(['device_switching']);
  });

  it('answers a repeated assessment of an order with the same assessment', async () => {
    const { mocks } = await setup([{ id: 'risk.review', resolveAfter: '1m' }]);
    const first = await assess(mocks, payload('o1', { deviceId: 'd' }));
    const again = await assess(mocks, payload('o1', { deviceId: 'd' }));
    expect(again).toEqual(first);
    expect(mocks.risk.assessments()).toHaveLength(1);
  });

  it('refuses malformed requests and unknown assessments', async () => {
    const { mocks } = await setup();
    for (const bad of [
      { ...payload('o1'), orderId: '' },
      { ...payload('o1'), buyer: { contact: 'x' } },
      { ...payload('o1'), buyer: { id: 'b', accountAgeDays: -1 } },
      { ...payload('o1'), buyer: { id: 'b', ip: 5 } },
      { ...payload('o1'), amount: 1.5 },
      { ...payload('o1'), recipient: { kind: 'phone' } },
      [1, 2],
    ]) {
      const answer = await assess(mocks, bad);
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(answer.body.code).toBe('INVALID_REQUEST');
    }
    const unknown = await call('GET', `${mocks.urls.risk}/v1/assessments/A0`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('ASSESSMENT_NOT_FOUND');
  });
});

// ---- decisions -----------------------------------------------------------------------------

describe('risk decisions', () => {
  it('risk.reject rejects at once, final', async () => {
    const { mocks, journal } = await setup([{ id: 'risk.reject' }]);
    const answer = await assess(mocks, payload('o1', { id: 'b1', accountAgeDays: 1 }));
    expect(answer.body).toMatchObject({ decision: 'reject', reasons: ['new_account'] });
    const status = await call('GET', `${mocks.urls.risk}/v1/assessments/${answer.body.assessmentId as string}`);
    expect(status.body).toMatchObject({ status: 'rejected', decidedAt: expect.any(String) });
    expect(eventsOf(journal, 'fault.injected')).toEqual([
      expect.objectContaining({ fault: 'risk.reject', faultIndex: 0, orderId: 'o1', buyerId: 'b1', detail: expect.objectContaining({ decision: 'reject', signals: 'new_account' }) }),
    ]);
    expect(eventsOf(journal, 'risk.assessed')[0]).toMatchObject({ orderId: 'o1', buyerId: 'b1', decision: 'reject', signals: ['new_account'] });
    expect(eventsOf(journal, 'risk.resolved')).toEqual([]);
  });

  it('risk.review holds the order, then resolves to the outcome once (by its timer)', async () => {
    const { mocks, journal } = await setup([
      { id: 'risk.review', resolveAfter: '120ms', outcome: 'approve', probability: 1 },
    ]);
    const answer = await assess(mocks, payload('o1', { id: 'b1' }));
    expect(answer.body).toMatchObject({ decision: 'review', reasons: [] });
    const id = answer.body.assessmentId as string;
    const pending = await call('GET', `${mocks.urls.risk}/v1/assessments/${id}`);
    expect(pending.body).toEqual({ assessmentId: id, status: 'pending' });
    expect(mocks.risk.pendingReviews()).toBe(1);

    const resolved = await waitForEvent(journal, 'risk.resolved');
    expect(resolved).toMatchObject({ orderId: 'o1', assessmentId: id, status: 'approved' });
    const assessedAt = eventsOf(journal, 'risk.assessed')[0]?.t ?? 0;
    expect(resolved.t - assessedAt).toBeGreaterThanOrEqual(115);
    const done = await call('GET', `${mocks.urls.risk}/v1/assessments/${id}`);
    expect(done.body).toMatchObject({ assessmentId: id, status: 'approved' });
    const record = mocks.risk.assessment(id);
    expect(Date.parse(done.body.decidedAt as string) - Date.parse(record?.assessedAt ?? '')).toBe(120);
    await call('GET', `${mocks.urls.risk}/v1/assessments/${id}`);
    expect(eventsOf(journal, 'risk.resolved')).toHaveLength(1);
    expect(eventsOf(journal, 'risk.queried').map((event) => event.status)).toEqual(['pending', 'approved', 'approved']);
    expect(eventsOf(journal, 'fault.injected')).toEqual([
      expect.objectContaining({ fault: 'risk.review', orderId: 'o1', buyerId: 'b1', detail: expect.objectContaining({ decision: 'review', resolveAfter: 120, outcome: 'approve' }) }),
    ]);
  });

  it('a review resolves lazily when queried after its time, and can end in a reject', () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const journal = new MemoryJournal();
    const scenario = buildScenario([{ id: 'risk.review', resolveAfter: '10m', outcome: 'reject' }]);
    const risk = new RiskScreen({ journal, plan: new FaultPlan(scenario.faults, 7), correlation: new Correlation(), clock: () => now });
    defer(() => risk.close());
    const request = (method: 'GET' | 'POST', params: Record<string, string>, body?: unknown): MockRequest => ({ method, path: '/', params, query: {}, headers: {}, body, rawBody: JSON.stringify(body ?? ''), target: '/' });
    const answer = risk.assess(request('POST', {}, payload('o1')));
    const id = (answer.body as { assessmentId: string }).assessmentId;
    expect(risk.query(request('GET', { id })).body).toEqual({ assessmentId: id, status: 'pending' });
    now += 600_000;
    expect(risk.query(request('GET', { id })).body).toEqual({ assessmentId: id, status: 'rejected', decidedAt: '2030-01-01T00:10:00.000Z' });
    expect(risk.query(request('GET', { id })).body).toMatchObject({ status: 'rejected' });
    expect(eventsOf(journal, 'risk.resolved')).toEqual([expect.objectContaining({ orderId: 'o1', assessmentId: id, status: 'rejected' })]);
    expect(risk.assessment(id)).toMatchObject({ decision: 'review', status: 'rejected', outcome: 'reject', resolvesAt: '2030-01-01T00:10:00.000Z' });
  });

  it('close() cancels review timers', async () => {
    const { mocks, journal } = await setup([{ id: 'risk.review', resolveAfter: '50ms' }]);
    await assess(mocks, payload('o1'));
    await mocks.close();
    await expect(waitForEvent(journal, 'risk.resolved', () => true, 200)).rejects.toThrow(/timed out/);
  });

  it('a fault listing signals hits only buyers showing one of them; reject goes before review', async () => {
    const { mocks, journal } = await setup([
      { id: 'risk.reject', signals: ['far_ip', 'payer_mismatch'] },
      { id: 'risk.review', signals: ['new_account'], resolveAfter: '1m' },
    ]);
    const decide = async (orderId: string, buyer: Partial<BuyerFields>, recipient?: { kind: string; account: string }): Promise<unknown> =>
      (await assess(mocks, payload(orderId, buyer, recipient))).body.decision;
    expect(await decide('o1', {})).toBe('approve');
    expect(await decide('o2', { ip: '23.1.1.1' })).toBe('reject');
    expect(await decide('o3', {}, { kind: 'phone', account: '13999999999' })).toBe('reject');
    expect(await decide('o4', { accountAgeDays: 0 })).toBe('review');
    expect(await decide('o5', { accountAgeDays: 0, ip: '43.1.1.1' })).toBe('reject');
    expect(eventsOf(journal, 'fault.injected').map((event) => [event.fault, event.faultIndex, event.orderId])).toEqual([
      ['risk.reject', 0, 'o2'],
      ['risk.reject', 0, 'o3'],
      ['risk.review', 1, 'o4'],
      ['risk.reject', 0, 'o5'],
    ]);
  });

  it('decides per buyer from the seed', async () => {
    const { mocks } = await setup([{ id: 'risk.reject', probability: 0.5 }]);
    const plan = new FaultPlan(buildScenario([{ id: 'risk.reject', probability: 0.5 }]).faults, 7);
    let rejected = 0;
    for (let i = 0; i < 30; i++) {
      const buyer = `b${i}`;
      const decision = (await assess(mocks, payload(`o${i}`, { id: buyer }))).body.decision;
      expect(decision).toBe(plan.decides(0, buyer) ? 'reject' : 'approve');
      if (decision === 'reject') rejected += 1;
    }
    expect(rejected).toBeGreaterThan(5);
    expect(rejected).toBeLessThan(25);
  });
});

// ---- the mock set --------------------------------------------------------------------------

describe('startMocks', () => {
  it('serves the risk mock on its own port and applies transport faults to its routes', async () => {
    const { mocks, journal } = await setup([{ id: 'transport.reset', service: 'risk', routes: ['assess'], times: 1 }]);
    expect(mocks.urls.risk).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new Set(Object.values(mocks.urls)).size).toBe(4);
    expect(mocks.risk).toBeInstanceOf(RiskScreen);
    await expect(assess(mocks, payload('o1', { id: 'b1' }))).rejects.toThrow();
    const retried = await assess(mocks, payload('o1', { id: 'b1' }));
    expect(retried.status).toBe(200);
    expect(eventsOf(journal, 'fault.injected')).toEqual([
      expect.objectContaining({ fault: 'transport.reset', orderId: 'o1', buyerId: 'b1', detail: expect.objectContaining({ service: 'risk', route: 'assess' }) }),
    ]);
    // The reset request never reached the mock: one assessment.
    expect(mocks.risk.assessments()).toHaveLength(1);
  });
});
