/**
 * The mocks service's control API on its own: only the run's drivers (the key) are answered, a
 * driver of another shape of run is refused before it starts, and a service whose segments never
 * come stops by itself, naming them.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadJournal } from '../core/journal.js';
import { serveMocks, type MocksService } from '../harness/mocks-service/serve.js';
import { CONTROL_PATHS } from '../harness/mocks-service/protocol.js';
import { RemoteMocks } from '../harness/drive/remote-mocks.js';
import { MemoryJournal } from '../core/journal.js';
import { loadScenarios } from '../harness/scenario/loader.js';
import { tempDir } from './helpers/cli.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startService(options: { segments?: number; readyTimeoutMs?: number } = {}): Promise<{ service: MocksService; dir: string }> {
  const work = await tempDir('ordeal-mocks-control-');
  cleanups.push(() => work.remove());
  const [loaded] = await loadScenarios(['test/fixtures/segments.yaml']);
  const service = await serveMocks({ scenario: loaded!.scenario, outDir: work.path, ...options });
  cleanups.push(() => service.close());
  return { service, dir: work.path };
}

describe('the mocks service\'s control API', () => {
  it('answers the key only; a request without it is refused and journaled as from outside', async () => {
    const { service, dir } = await startService();
    const ask = (authorization?: string) => fetch(`${service.controlUrl}${CONTROL_PATHS.run}`, { headers: authorization ? { authorization } : {} });
    expect((await ask()).status).toBe(401);
    expect((await ask(`Bearer ${service.key}x`)).status).toBe(401);
    const answer = await ask(`Bearer ${service.key}`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ scenario: 'segments', seed: 21, segments: 1, buyerToken: expect.any(String) });
    await service.close();
    const outside = (await loadJournal(join(dir, 'segments', 'journal.ndjson'))).filter((event) => event.type === 'mock.outside_request');
    expect(outside).toHaveLength(2);
    expect(JSON.stringify(outside)).not.toContain(service.key);
  });

  it('refuses a driver for another scenario or another number of segments, before its load', async () => {
    const { service } = await startService({ segments: 2 });
    const address = { url: service.controlUrl, key: service.key };
    await expect(RemoteMocks.connect(address, new MemoryJournal(), 'another', { index: 0, count: 2 })).rejects.toThrow(/serves scenario "segments", not "another"/);
    await expect(RemoteMocks.connect(address, new MemoryJournal(), 'segments', { index: 0, count: 3 })).rejects.toThrow(/waits for 2 segments; this driver runs segment 0\/3/);
    await expect(RemoteMocks.connect({ url: 'http://10.0.0.1:80', key: 'k' }, new MemoryJournal(), 'segments', { index: 0, count: 2 })).rejects.toThrow(/must be on loopback/);
  });

  it('stops by itself when a segment never comes, naming it, and answers a waiting driver', async () => {
    const { service, dir } = await startService({ segments: 2, readyTimeoutMs: 1000 });
    const driver = await RemoteMocks.connect({ url: service.controlUrl, key: service.key }, new MemoryJournal(), 'segments', { index: 0, count: 2 });
    await expect(driver.ready()).rejects.toThrow(/mocks service/);
    await service.finished;
    expect(service.finish).toBe('aborted');
    const events = await loadJournal(join(dir, 'segments', 'journal.ndjson'));
    expect(events.find((event) => event.type === 'harness.error')).toMatchObject({ message: expect.stringMatching(/segments 1\/2 of 2 never became ready/) });
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', reason: 'aborted' });
  });

  it('adds up the segments\' buyers in flight: each hears the others\' sum, and a segment that is done counts none', async () => {
    const { service } = await startService({ segments: 3 });
    const report = async (index: number, inFlight: number): Promise<number> => {
      const answer = await fetch(`${service.controlUrl}${CONTROL_PATHS.inFlight}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${service.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ segment: { index, count: 3 }, inFlight }),
      });
      expect(answer.status).toBe(200);
      return ((await answer.json()) as { others: number }).others;
    };
    expect(await report(0, 4)).toBe(0);
    expect(await report(1, 7)).toBe(4);
    expect(await report(2, 1)).toBe(11);
    expect(await report(0, 2)).toBe(8);
    await fetch(`${service.controlUrl}${CONTROL_PATHS.done}`, { method: 'POST', headers: { authorization: `Bearer ${service.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ segment: { index: 1, count: 3 } }) });
    expect(await report(2, 1)).toBe(2);
    const refused = await fetch(`${service.controlUrl}${CONTROL_PATHS.inFlight}`, { method: 'POST', headers: { authorization: `Bearer ${service.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ segment: { index: 0, count: 3 }, inFlight: -1 }) });
    expect(refused.status).toBe(400);
  });
});
