/**
 * `--intercept` as a run wires it (`prepareProvider`): a shop whose official Stripe client keeps
 * its hard-coded host reaches the run's Stripe personality over HTTPS through the proxy, with
 * nothing but the environment Ordeal gives it, and a request to any other host is refused and
 * journaled.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { newChannel, startMocks } from '../mocks/index.js';
import { prepareProvider } from '../harness/drive/provider.js';
import { eventsOf } from './helpers/journal.js';
import { mockScenario } from './helpers/mocks.js';

const run = promisify(execFile);

describe('ordeal run --intercept', () => {
  it('a shop with a hard-coded api.stripe.com pays through the run; another host is refused and journaled', async (context) => {
    const runDir = await mkdtemp(join(tmpdir(), 'ordeal-intercept-run-'));
    context.onTestFinished(() => rm(runDir, { recursive: true, force: true }));
    const scenario = mockScenario({ name: 'intercepted' });
    const journal = new MemoryJournal(0);
    const channel = newChannel('stripe');
    const mocks = await startMocks({ scenario, journal, plan: new FaultPlan(scenario.faults, scenario.seed), channel });
    context.onTestFinished(() => mocks.close());
    const provider = await prepareProvider({ runDir, channels: [{ channel, url: mocks.urls.payment }], journal, intercept: { hosts: {} } });
    context.onTestFinished(() => provider.close());

    expect(provider.env).toMatchObject({ ORDEAL_PAYMENT_PROTOCOL: 'stripe', HTTPS_PROXY: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(provider.env.NODE_EXTRA_CA_CERTS).toBe(join(runDir, 'intercept', 'ca.pem'));
    const { stdout } = await run(process.execPath, [join(import.meta.dirname, 'fixtures', 'intercept-stripe-shop.mjs')], {
      env: { PATH: process.env.PATH ?? '', ...provider.env },
      timeout: 20_000,
    });
    const result = JSON.parse(stdout) as { stripe: { id?: string; status?: string; amount?: number; error?: string }; other: { status?: number; error?: string } };

    expect(result.stripe).toMatchObject({ status: 'requires_payment_method', amount: 3000 });
    expect(result.stripe.id).toMatch(/^pi_/);
    // The personality, not anything on the internet, created it: the core's ledger has the trade.
    expect(mocks.payment.tradeByOrder('ord_intercepted')).toMatchObject({ amount: 3000 });
    expect(result.other.status).toBeUndefined();
    expect(eventsOf(journal, 'intercept.refused')).toEqual([expect.objectContaining({ host: 'example.com', port: 443, method: 'CONNECT', reason: 'not-a-provider-host' })]);
  }, 30_000);
});
