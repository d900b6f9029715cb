/**
 * `notify.email.outage` over real sockets with nodemailer as the shop's mailer: each mode seen by
 * the mailer as the error a real relay gives, a retry after the window accepted, the hit journaled
 * as `fault.injected` + `notify.refused` against the order, and scored by the notify stage rules
 * from the journal the mocks wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentReport } from '../core/report-types.js';
import type { Scenario } from '../core/scenario-schema.js';
import { scoreScenario } from '../harness/score/score.js';
import type { RunCertificateAuthority } from '../mocks/intercept/index.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { eventsOf, faultsOf } from './helpers/journal.js';
import { buyerMail, mailer, sendRefused, sharedAuthority, startMailWorld, type MailWorld } from './helpers/mail.js';
import { mockScenario } from './helpers/mocks.js';

const defer = cleanupAfterEach();
let authority: RunCertificateAuthority;
let caPem: string;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ authority, caPem, dispose } = await sharedAuthority());
});
afterAll(() => dispose());

const ADA = 'ada@buyers.example';
const DELIVERED = buyerMail(ADA, 'Order O-1042 delivered', 'Your order O-1042 is delivered. Cards: X1 / PIN 2.');

interface OutageWorld extends MailWorld {
  scenario: Scenario;
}

/** The mocks with one outage fault inside 0..1 s of load time; buyer b1 (ada) arrived and has order O-1042. */
async function setup(fault: Record<string, unknown>): Promise<OutageWorld> {
  const scenario = mockScenario({ name: 'email-outage', faults: [{ id: 'notify.email.outage', window: '0s..1s', ...fault }] });
  const world = await startMailWorld(defer, scenario, { authority });
  arrive(world, 'b1', ADA, 'O-1042');
  return { ...world, scenario };
}

/** What the run's driver journals and links for a buyer who placed an order. */
function arrive(world: MailWorld, buyerId: string, contact: string, orderId: string): void {
  world.journal.append('buyer.arrived', { buyerId, seq: 1, behaviour: 'normal', sku: 'MONTH', quantity: 1, contact, region: 'CN-GD', signals: [], intendedAt: 0 });
  world.journal.append('order.create.answered', { buyerId, idempotencyKey: `key-${buyerId}`, latencyMs: 5, httpStatus: 201, orderId, status: 'pending_payment', amount: 3000 });
  world.mocks.correlation.linkContact(contact, buyerId);
  world.mocks.correlation.link(orderId, buyerId);
}

async function incidentOf(world: OutageWorld, orderId = 'O-1042'): Promise<IncidentReport> {
  const score = await scoreScenario(world.journal.events, world.scenario);
  const found = score.incidents.find((entry) => entry.class === 'notify.email.outage' && entry.orderId === orderId);
  if (!found) throw new Error(`no incident: ${JSON.stringify(score.incidents.map((entry) => [entry.class, entry.orderId]))}`);
  return found;
}

/** After the window the shop's retry goes through; the incident is then scored in full. */
async function retryAfterWindow(world: OutageWorld): Promise<IncidentReport> {
  world.clock.now = 1500;
  expect((await mailer(world.mail, 'implicit', caPem).sendMail(DELIVERED)).response).toMatch(/^250 /);
  expect(eventsOf(world.journal, 'notify.message').map((event) => [event.orderId, event.channel, event.kind])).toEqual([['O-1042', 'email', 'delivered']]);
  const incident = await incidentOf(world);
  for (const stage of ['detect', 'notify', 'recover'] as const) expect(incident.stages[stage].credit, stage).toBe(1);
  return incident;
}

describe('notify.email.outage', () => {
  it('refuse (421): the recipient is refused and the connection closed; the refusal is journaled against the buyer’s order', async () => {
    const world = await setup({ mode: 'refuse' });
    const error = await sendRefused(mailer(world.mail, 'starttls', caPem), DELIVERED);
    // nodemailer reports a 421 as the server closing the connection.
    expect(error).toMatchObject({ responseCode: 421 });
    expect(error.message).toMatch(/421 .*closing transmission channel/);
    expect(faultsOf(world.journal, 'notify.email.outage')).toEqual([
      expect.objectContaining({ orderId: 'O-1042', buyerId: 'b1', faultIndex: 0, detail: expect.objectContaining({ mode: 'refuse', smtpCode: 421, to: ADA }) }),
    ]);
    // Nothing of the message was seen: the refused attempt has no kind.
    const [refused] = eventsOf(world.journal, 'notify.refused');
    expect(refused).toMatchObject({ orderId: 'O-1042', to: ADA, smtpCode: 421, channel: 'email' });
    expect(refused?.kind).toBeUndefined();
    expect(eventsOf(world.journal, 'notify.email.received')).toEqual([]);
    await retryAfterWindow(world);
  });

  it('refuse (554): the mailer sees a permanent envelope rejection', async () => {
    const world = await setup({ mode: 'refuse', code: 554 });
    const error = await sendRefused(mailer(world.mail, 'implicit', caPem), DELIVERED);
    expect(error).toMatchObject({ responseCode: 554, code: 'EENVELOPE' });
    expect(eventsOf(world.journal, 'notify.refused').map((event) => event.smtpCode)).toEqual([554]);
    await retryAfterWindow(world);
  });

  it('tempfail: the message is read, then answered 451; retried in the window it is refused again, after it accepted', async () => {
    const world = await setup({ mode: 'tempfail' });
    const shop = mailer(world.mail, 'starttls', caPem);
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await sendRefused(shop, DELIVERED);
      expect(error).toMatchObject({ responseCode: 451, command: 'DATA' });
    }
    expect(eventsOf(world.journal, 'notify.refused').map((event) => [event.orderId, event.kind, event.smtpCode])).toEqual([
      ['O-1042', 'delivered', 451],
      ['O-1042', 'delivered', 451],
    ]);
    expect(faultsOf(world.journal, 'notify.email.outage')).toHaveLength(1);
    expect(eventsOf(world.journal, 'notify.email.received').map((event) => [event.outcome, event.smtpCode, event.orderId])).toEqual([
      ['refused', 451, 'O-1042'],
      ['refused', 451, 'O-1042'],
    ]);
    const incident = await retryAfterWindow(world);
    // Detected at the first retry, inside the window.
    const retried = eventsOf(world.journal, 'notify.refused')[1]!.t;
    expect(incident.stages.detect.at).toBe(retried);
  });

  it('drop: the connection is cut before the final reply; the mailer cannot tell whether the message was taken', async () => {
    const world = await setup({ mode: 'drop' });
    const error = await sendRefused(mailer(world.mail, 'implicit', caPem), DELIVERED);
    expect(error.code).toMatch(/^(ECONNECTION|ESOCKET)$/);
    expect(error.responseCode).toBeUndefined();
    const [refused] = eventsOf(world.journal, 'notify.refused');
    expect(refused).toMatchObject({ orderId: 'O-1042', kind: 'delivered', channel: 'email' });
    expect(refused?.smtpCode).toBeUndefined();
    expect(eventsOf(world.journal, 'notify.email.received')).toEqual([expect.objectContaining({ outcome: 'dropped', orderId: 'O-1042' })]);
    await retryAfterWindow(world);
  });

  it('slow: every reply is held back; a patient mailer gets through, and the hit is journaled against the order', async () => {
    const world = await setup({ mode: 'slow', delay: { fixed: '150ms' } });
    const started = performance.now();
    expect((await mailer(world.mail, 'implicit', caPem).sendMail(DELIVERED)).response).toMatch(/^250 /);
    // Greeting, MAIL FROM, RCPT TO and the final reply.
    expect(performance.now() - started).toBeGreaterThanOrEqual(4 * 150 - 20);
    const hits = faultsOf(world.journal, 'notify.email.outage');
    expect(hits.map((hit) => [hit.orderId, hit.detail.stage, hit.detail.delayMs])).toEqual([
      [undefined, 'greeting', 150],
      ['O-1042', 'rcpt', 150],
    ]);
    expect(eventsOf(world.journal, 'notify.refused')).toEqual([]);
    const incident = await incidentOf(world);
    expect(incident.stages.notify.at).toBe(eventsOf(world.journal, 'notify.message')[0]!.t);
  });

  it('slow: a mailer with a short greeting timeout gives up; after the window it gets through', async () => {
    const world = await setup({ mode: 'slow', delay: { fixed: '2s' } });
    const error = await sendRefused(mailer(world.mail, 'starttls', caPem, { greetingTimeout: 200 }), DELIVERED);
    expect(error.code).toBe('ETIMEDOUT');
    // Nothing named the order yet: the hit is in the journal, unattached.
    expect(faultsOf(world.journal, 'notify.email.outage')).toEqual([expect.objectContaining({ detail: expect.objectContaining({ stage: 'greeting', delayMs: 2000 }) })]);
    world.clock.now = 1500;
    expect((await mailer(world.mail, 'starttls', caPem).sendMail(DELIVERED)).response).toMatch(/^250 /);
  });

  it('a shop that never retries earns nothing for notify and recover', async () => {
    const world = await setup({ mode: 'tempfail' });
    await sendRefused(mailer(world.mail, 'implicit', caPem), DELIVERED);
    const incident = await incidentOf(world);
    expect(incident.stages.detect.at).toBeUndefined();
    expect(incident.stages.notify.at).toBeUndefined();
    expect(incident.stages.recover.at).toBeUndefined();
    expect(incident.score).toBe(0);
  });

  it('hits a share of buyers, decided per buyer from the seed, the same on every retry', async () => {
    const scenario = mockScenario({ name: 'email-outage-share', seed: 11, faults: [{ id: 'notify.email.outage', mode: 'refuse', code: 554, probability: 0.5 }] });
    const world = await startMailWorld(defer, scenario, { authority });
    const buyers = Array.from({ length: 12 }, (_, n) => ({ buyerId: `b${n}`, contact: `buyer${n}@buyers.example`, orderId: `O-${5000 + n}` }));
    for (const buyer of buyers) arrive(world, buyer.buyerId, buyer.contact, buyer.orderId);
    const shop = mailer(world.mail, 'implicit', caPem);
    const refusedOnce: string[] = [];
    for (const round of [1, 2]) {
      const refused: string[] = [];
      for (const buyer of buyers) {
        const sent = await shop.sendMail(buyerMail(buyer.contact, `Order ${buyer.orderId} delivered`, 'Your cards.')).then(
          () => true,
          () => false,
        );
        if (!sent) refused.push(buyer.buyerId);
      }
      if (round === 1) refusedOnce.push(...refused);
      else expect(refused).toEqual(refusedOnce);
    }
    expect(refusedOnce.length).toBeGreaterThan(0);
    expect(refusedOnce.length).toBeLessThan(buyers.length);
    expect(faultsOf(world.journal, 'notify.email.outage').map((hit) => hit.buyerId)).toEqual(refusedOnce);
  });
});
