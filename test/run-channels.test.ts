/**
 * One end-to-end run through several payment channels: the reference shop offers Alipay, WeChat
 * Pay and Stripe at once, each buyer pays through the channel of the method they chose, and the
 * faults reach the shop in each channel's own words. The resilient shop passes; the naive one fails.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scenarioSchema } from '../core/scenario-schema.js';
import { run } from '../harness/drive/run.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();

describe('a run with the reference shop on three channels', () => {
  it('pays each order through its buyer\'s channel; the resilient shop passes, the naive one fails', async () => {
    const work = await tempDir('ordeal-channels-');
    defer(() => work.remove());
    const input = {
      name: 'three-channels',
      seed: 31,
      catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 500 }] },
      provider: { protocol: 'alipay', channels: ['wechatpay', 'stripe'] },
      shop: { orderTtl: '2500ms', reconcileAfter: '500ms', reconcileEvery: '300ms' },
      load: { stages: [{ rate: '15/s', duration: '2s' }], maxInFlight: 100 },
      faults: [
        { id: 'payment.callback.forged', probability: 0.15, after: '200ms' },
        { id: 'payment.callback.altered', probability: 0.1, after: '200ms' },
        { id: 'payment.callback.drop', probability: 0.15 },
        { id: 'payment.callback.duplicate', probability: 0.3, copies: 2, spacing: '200ms' },
        { id: 'payment.error', probability: 0.1, routes: ['create'], status: 503, times: 1 },
      ],
      gate: { minScore: 75, steadyState: { successRate: 0.99 } },
      settle: '4s',
    };
    const loaded = { file: 'three-channels.yaml', scenario: scenarioSchema.parse(input), input };
    const [resilient, naive] = await Promise.all([
      run({ scenarios: [loaded], outDir: join(work.path, 'resilient') }),
      run({ scenarios: [loaded], outDir: join(work.path, 'naive'), flaws: ['naive'] }),
    ]);
    const good = resilient.report.scenarios[0]!;
    expect(good.gate.reasons, resilient.summary).toEqual([]);
    expect(resilient.exitCode).toBe(0);
    expect(good.provider).toMatchObject({ protocol: 'alipay', channels: ['wechatpay', 'stripe'] });
    expect(naive.report.gate.passed, naive.summary).toBe(false);

    // Every channel took orders, each for its own methods (alipay → Alipay, wechat → WeChat Pay, card → Stripe).
    const journal = (await readFile(join(work.path, 'resilient', 'three-channels', 'journal.ndjson'), 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { type: string; channel?: string; method?: string; repeat?: boolean });
    const created = journal.filter((event) => event.type === 'payment.trade.created' && event.repeat === false);
    const byChannel = new Map<string, Set<string>>();
    for (const event of created) {
      const channel = event.channel ?? 'alipay';
      byChannel.set(channel, (byChannel.get(channel) ?? new Set()).add(event.method ?? ''));
    }
    expect([...byChannel.keys()].sort()).toEqual(['alipay', 'stripe', 'wechatpay']);
    expect([...byChannel.get('wechatpay')!]).toEqual(['wechat']);
    expect([...byChannel.get('stripe')!]).toEqual(['card']);
    const classes = good.classes as Record<string, { incidents: number } | undefined>;
    for (const fault of ['payment.callback.forged', 'payment.callback.drop', 'payment.callback.duplicate']) expect(classes[fault]?.incidents ?? 0, fault).toBeGreaterThan(0);
  }, 60_000);
});
