/**
 * Target profiles: the shop's own facts, validated with errors that name the place; `${…}`
 * placeholders filled from the run; the shop's own timers replacing the scenario's — and, end to
 * end, a contract-v1 shop whose payment window is longer than the scenario's default gets its
 * abandoned orders decided (expired) within the run and scored.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { scenarioSchema } from '../core/scenario-schema.js';
import { targetProfileJsonSchema } from '../core/target-schema.js';
import { run } from '../harness/drive/run.js';
import { scoreJournalFile } from '../harness/score/score.js';
import { settleMsOf } from '../harness/score/credit.js';
import { builtInShopCommand } from '../harness/drive/target.js';
import { decidedWithinMs, expandEnv, loadTarget, resolveProfileFlaws, scenarioForTarget, validateProfile } from '../harness/targets/profile.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { thrown } from './helpers/errors.js';
import { tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();

const minimal = { name: 'shop', start: { command: 'node server.js' }, timers: { paymentWindow: '15m' } };

describe('target profile validation', () => {
  it('matches the committed JSON Schema in docs/ (regenerate with `npm run docs`)', () => {
    const committed = JSON.parse(readFileSync('docs/target.schema.json', 'utf8')) as unknown;
    expect(committed).toEqual(targetProfileJsonSchema());
  });

  it('fills the defaults and converts units', () => {
    const profile = validateProfile('target.yaml', minimal);
    expect(profile.adapter).toBe('contract-v1');
    expect(profile.timers).toEqual({ paymentWindow: 900_000, reconcileAfter: 5000, reconcileEvery: 5000 });
    expect(profile.start.health).toBe('/health');
    expect(profile.observes).toEqual({ stockSupplier: true, riskScreening: true, notify: ['api'], buyerCancel: true, recipient: true });
  });

  it('names the file, the path and what was expected', async () => {
    const missingTimers = await thrown(() => validateProfile('shop/target.yaml', { name: 'shop', start: { command: 'x' } }));
    expect(missingTimers.code).toBe('ORDEAL_ERR_TARGET_PROFILE');
    expect(missingTimers.message).toContain('shop/target.yaml: timers: expected the shop\'s own timers');
    const typo = await thrown(() => validateProfile('target.yaml', { ...minimal, start: { command: 'x', helth: '/' } }));
    expect(typo.message).toContain('start.helth: unknown field "helth" (did you mean "health"?)');
    const channel = await thrown(() => validateProfile('target.yaml', { ...minimal, payment: { protocol: 'epay', methods: { card: 'stripe' } } }));
    expect(channel.message).toContain('payment.methods.card: "stripe" is not one of the shop\'s channels (epay)');
  });

  it('reports the YAML line of a problem, and an adapter module without a definition', async () => {
    const work = await tempDir('ordeal-profile-');
    defer(() => work.remove());
    await writeFile(join(work.path, 'target.yaml'), 'name: shop\nstart:\n  command: node x.js\ntimers:\n  paymentWindow: soon\n');
    const line = await thrown(() => loadTarget(join(work.path, 'target.yaml')));
    expect(line.message).toMatch(/target\.yaml:5: timers\.paymentWindow: /);
    await writeFile(join(work.path, 'adapter.ts'), 'export default { name: "half" };\n');
    await writeFile(join(work.path, 'target.yaml'), stringify({ ...minimal, adapter: './adapter.ts' }));
    const adapter = await thrown(() => loadTarget(join(work.path, 'target.yaml')));
    expect(adapter.code).toBe('ORDEAL_ERR_TARGET_ADAPTER');
    expect(adapter.message).toContain('the default export is not a target definition');
  });
});

describe('placeholders', () => {
  it('fills run values and key files, keeps $${ literal, and refuses unknown names listing the known ones', async () => {
    const work = await tempDir('ordeal-keys-');
    defer(() => work.remove());
    await writeFile(join(work.path, 'epay-key.txt'), 'k3y\n');
    const given = { keysDir: work.path, values: { 'payment.epay.url': 'http://127.0.0.1:4001', port: '4000' } };
    const env = await expandEnv('t.yaml', { URL: '${payment.epay.url}/submit.php', KEY: '${key:epay-key.txt}', FILE: '${keyfile:epay-key.txt}', RAW: 'a$${port}b', BOTH: '${port}:${port}' }, given);
    expect(env).toEqual({
      URL: 'http://127.0.0.1:4001/submit.php',
      KEY: 'k3y',
      FILE: join(work.path, 'epay-key.txt'),
      RAW: 'a${port}b',
      BOTH: '4000:4000',
    });
    const unknown = await thrown(() => expandEnv('t.yaml', { X: '${smtp.hots}' }, given));
    expect(unknown.message).toBe('t.yaml: start.env.X: unknown placeholder ${smtp.hots}; known: payment.epay.url, port, key:FILE, keyfile:FILE');
    const missingKey = await thrown(() => expandEnv('t.yaml', { X: '${key:alipay.pem}' }, given));
    expect(missingKey.message).toContain('names no key file of this run');
  });
});

describe("the shop's own timers", () => {
  const scenarioInput = {
    name: 's',
    catalog: { skus: [{ sku: 'A', name: 'A', price: 100, stock: 5 }] },
    load: { stages: [{ rate: 1, duration: 1000 }] },
    buyers: { mix: { normal: 1, abandon_payment: 1 } },
  };
  const scenario = scenarioSchema.parse(scenarioInput);

  it('replace the scenario\'s, and the settle period grows until every deadline can be decided', () => {
    const profile = validateProfile('t.yaml', { ...minimal, timers: { paymentWindow: '30s', reconcileAfter: '2s', reconcileEvery: '3s' } });
    const resolved = scenarioForTarget(scenario, profile);
    expect(resolved.shop).toEqual({ orderTtl: 30_000, reconcileAfter: 2000, reconcileEvery: 3000 });
    // buyer.abandon_payment recovers by the expiry: its deadline follows the shop's window.
    expect(decidedWithinMs(resolved)).toBeGreaterThan(2 * 30_000);
    expect(resolved.settle).toBe(decidedWithinMs(resolved));
    // A shop that takes ORDEAL_SHOP_CONFIG keeps the scenario's timers and settle.
    const configured = scenarioForTarget(scenario, validateProfile('t.yaml', { name: 'shop', start: { command: 'x' }, shopConfig: true }));
    expect(configured.shop).toEqual(scenario.shop);
    expect(configured.settle).toBe(scenario.settle);
  });

  it('`settle: auto` is long enough for every deadline, with a profile or without', () => {
    const auto = scenarioSchema.parse({ ...scenarioInput, settle: 'auto' });
    expect(auto.settle).toBe('auto');
    expect(settleMsOf(auto)).toBe(decidedWithinMs(auto));
    expect(settleMsOf(scenarioSchema.parse({ ...scenarioInput, settle: '3s' }))).toBe(3000);
    const profile = validateProfile('t.yaml', { ...minimal, timers: { paymentWindow: '30s', reconcileAfter: '2s', reconcileEvery: '3s' } });
    const resolved = scenarioForTarget(auto, profile);
    expect(resolved.settle).toBe(decidedWithinMs(resolved));
    expect(decidedWithinMs(resolved)).toBeGreaterThan(decidedWithinMs(auto));
    expect(scenarioSchema.safeParse({ ...scenarioInput, settle: 'soon' }).success).toBe(false);
  });

  it('profile flaws resolve by id or naive, and an unknown one names the known ones', async () => {
    const target = { file: 't.yaml', dir: '.', profile: validateProfile('t.yaml', { ...minimal, flaws: { 'skip-sign-check': 'x', 'double-deliver': 'y' } }), createAdapter: () => { throw new Error('unused'); } };
    expect(resolveProfileFlaws(target, 'naive')).toEqual(['skip-sign-check', 'double-deliver']);
    expect(resolveProfileFlaws(target, 'double-deliver')).toEqual(['double-deliver']);
    const unknown = await thrown(() => resolveProfileFlaws(target, 'oops'));
    expect(unknown.message).toBe('unknown shop flaw "oops"; flaws of shop: skip-sign-check, double-deliver (or naive: all of them)');
  });
});

describe('a contract-v1 shop with a longer payment window than the scenario says', () => {
  it('has its abandoned orders expired within the run and scored', async () => {
    const work = await tempDir('ordeal-window-');
    defer(() => work.remove());
    const catalog = { skus: [{ sku: 'CARD', name: 'Card', price: 1000, stock: 100 }] };
    const input = {
      name: 'long-window',
      seed: 5,
      catalog,
      // The scenario's window (2 s, for shops that take it) is not the shop's: it keeps orders payable for 9 s.
      shop: { orderTtl: '2s' },
      load: { stages: [{ rate: '4/s', duration: '2s' }] },
      buyers: { mix: { normal: 1, abandon_payment: 1 } },
      gate: { steadyState: { successRate: 0.9 } },
    };
    const loaded = { file: 'long-window.yaml', scenario: scenarioSchema.parse(input), input };
    const profileFile = join(work.path, 'target.yaml');
    await writeFile(
      profileFile,
      stringify({
        name: 'reference-shop-own-timers',
        start: {
          command: builtInShopCommand([]),
          // The shop's own configuration: it does not take the scenario's timers.
          env: { ORDEAL_SHOP_CONFIG: JSON.stringify({ catalog, timers: { orderTtl: 9000, reconcileAfter: 1000, reconcileEvery: 1000 } }) },
        },
        timers: { paymentWindow: '9s', reconcileAfter: '1s', reconcileEvery: '1s' },
      }),
    );
    const target = await loadTarget(profileFile);
    const result = await run({ scenarios: [loaded], outDir: join(work.path, 'out'), target });
    const scenario = result.report.scenarios[0]!;
    const abandoned = scenario.classes['buyer.abandon_payment'];
    expect(abandoned, result.summary).toBeDefined();
    // Every abandoned order was decided within the run, on the shop's clock, and earned credit.
    expect(abandoned!.stages.recover.reached, result.summary).toBe(abandoned!.incidents);
    expect(abandoned!.score, result.summary).toBeGreaterThan(90);
    expect(abandoned!.deadlines.recover).toBeGreaterThan(9000);
    const journal = (await readFile(join(work.path, 'out', 'long-window', 'journal.ndjson'), 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; status?: string; t: number; targetProfile?: string });
    expect(journal[0]).toMatchObject({ type: 'run.started', targetProfile: 'reference-shop-own-timers' });
    const expired = journal.filter((event) => event.type === 'order.observed' && event.status === 'expired');
    expect(expired.length).toBe(abandoned!.incidents);
    // On the shop's own clock: not before its 9 s window.
    const firstCreated = journal.find((event) => event.type === 'order.create.answered')!.t;
    expect(Math.min(...expired.map((event) => event.t)) - firstCreated).toBeGreaterThan(8500);
    // The same journal judged on the scenario's timers (what Ordeal did before profiles): no stage met its deadline.
    const { score: onScenarioTimers } = await scoreJournalFile(join(work.path, 'out', 'long-window', 'journal.ndjson'), loaded.scenario);
    const misjudged = onScenarioTimers.classes['buyer.abandon_payment']!;
    expect([misjudged.stages.detect.met, misjudged.stages.notify.met, misjudged.stages.recover.met]).toEqual([0, 0, 0]);
    expect(misjudged.score).toBeLessThan(20);
  });
});
