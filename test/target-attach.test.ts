/**
 * Attaching to a shop Ordeal does not start: the profile's `attach` and `mocks` validated with
 * errors that name the field; a kept key folder that makes credentials once and gives the same
 * ones after; `ordeal target env` printing the shop's settings for the fixed ports and kept keys;
 * and, end to end, a reference shop started by the test with those settings, driven by two runs
 * in turn (the same keys and ports both times), its target.crash fault reported as not injected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { scenarioSchema } from '../core/scenario-schema.js';
import { run } from '../harness/drive/run.js';
import { builtInShopCommand, freePort } from '../harness/drive/target.js';
import { loadOrCreateKeys, KEPT_CREDENTIALS_FILE } from '../harness/targets/kept-keys.js';
import { loadTarget, validateProfile } from '../harness/targets/profile.js';
import { formatDotenv, shopSettings } from '../harness/targets/shop-env.js';
import { createCertificateAuthority } from '../mocks/intercept/certificate-authority.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { thrown } from './helpers/errors.js';
import { runCli, tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();

async function work(): Promise<string> {
  const folder = await tempDir('ordeal-attach-');
  defer(() => folder.remove());
  return folder.path;
}

async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  // Bounded: the OS hands out distinct ports almost always; a repeat only costs another look.
  for (let attempt = 0; ports.size < count && attempt < count * 10; attempt++) ports.add(await freePort());
  return [...ports];
}

const timers = { paymentWindow: '4s', reconcileAfter: '1s', reconcileEvery: '1s' };
const fullPorts = { payment: 41001, stock: 41002, notify: 41003, risk: 41004 };

describe('attach and mocks in a profile', () => {
  it('refuses a profile that starts and attaches, attaches without fixed mocks, or to a host that is not loopback', async () => {
    const both = await thrown(() => validateProfile('t.yaml', { name: 'shop', start: { command: 'node x.js' }, attach: { url: 'http://127.0.0.1:8080' }, mocks: { ports: fullPorts, keys: './k' }, timers }));
    expect(both.code).toBe('ORDEAL_ERR_TARGET_PROFILE');
    expect(both.message).toContain('t.yaml: attach: give either `start.command` (Ordeal starts the shop) or `attach` (it is already running), not both');

    const neither = await thrown(() => validateProfile('t.yaml', { name: 'shop', timers }));
    expect(neither.message).toContain('t.yaml: start.command: expected how Ordeal starts the shop (`start.command`), or `attach: { url }`');

    const noMocks = await thrown(() => validateProfile('t.yaml', { name: 'shop', attach: { url: 'http://127.0.0.1:8080' }, timers }));
    expect(noMocks.message).toContain('t.yaml: mocks: an attached shop is configured once, so it needs fixed mock ports and a kept key folder');

    const remote = await thrown(() => validateProfile('t.yaml', { name: 'shop', attach: { url: 'http://shop.example.com:8080' }, mocks: { ports: fullPorts, keys: './k' }, timers }));
    expect(remote.message).toContain('t.yaml: attach.url: expected an http(s) URL on loopback');

    // What an attached shop is configured with, field by field: the keys, a port per mock it uses, each port once.
    const partial = await thrown(() =>
      validateProfile('t.yaml', {
        name: 'shop',
        attach: { url: 'http://localhost:8080' },
        mocks: { ports: { payment: 41001, notify: 41001, smtp: 41005 } },
        payment: { protocol: 'epay', channels: ['stripe'] },
        observes: { riskScreening: false, notify: ['email'] },
        timers,
      }),
    );
    expect(partial.message).toContain('mocks.keys: expected a folder kept between runs');
    expect(partial.message).toContain('mocks.ports.channels.stripe: expected a fixed port for the stripe payment channel');
    expect(partial.message).toContain('mocks.ports.stock: expected a fixed port for the stock supplier');
    expect(partial.message).toContain('mocks.ports.smtps: expected a fixed port for the mail server (implicit TLS)');
    expect(partial.message).toContain('mocks.ports.notify: port 41001 is also mocks.ports.payment');
    expect(partial.message).not.toContain('mocks.ports.risk');

    const attached = validateProfile('t.yaml', { name: 'shop', attach: { url: 'http://127.0.0.1:8080/' }, mocks: { ports: fullPorts, keys: './k' }, timers, start: { env: { PORT: '${port}' } } });
    expect(attached.attach).toEqual({ url: 'http://127.0.0.1:8080/', health: '/health', readyTimeout: 20_000 });
    expect(attached.start.command).toBeUndefined();
    // A started shop may fix some ports and keep its keys too.
    expect(validateProfile('t.yaml', { name: 'shop', start: { command: 'x' }, mocks: { ports: { payment: 41001 } }, timers }).mocks?.ports?.payment).toBe(41001);
  });
});

describe('a kept key folder', () => {
  it('makes credentials once, readable by the owner only, and gives the same ones after', async () => {
    const dir = join(await work(), 'keys');
    const first = await loadOrCreateKeys(dir, ['epay', 'wechatpay']);
    const second = await loadOrCreateKeys(dir, ['wechatpay', 'epay']);
    expect(second.channels.map((channel) => channel.protocol)).toEqual(['wechatpay', 'epay']);
    expect(second.channels[1]).toEqual(first.channels[0]);
    expect(second.channels[0]).toEqual(first.channels[1]);
    expect(second.sms).toEqual(first.sms);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, KEPT_CREDENTIALS_FILE))).mode & 0o777).toBe(0o600);
    // A protocol asked for later is added beside the others, which stay.
    const third = await loadOrCreateKeys(dir, ['stripe', 'epay']);
    expect(third.channels[1]).toEqual(first.channels[0]);

    // The mail server's CA is kept the same way: its key written once (0600), the same certificate after.
    const ca = await createCertificateAuthority({ caDir: first.smtpCaDir, keep: true, keyBits: 1024 });
    const again = await createCertificateAuthority({ caDir: first.smtpCaDir, keep: true, keyBits: 1024 });
    expect(again.caCertificatePem).toBe(ca.caCertificatePem);
    expect((await stat(join(first.smtpCaDir, 'ca-key.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(ca.caFile, 'utf8')).toBe(ca.caCertificatePem);

    await writeFile(join(dir, KEPT_CREDENTIALS_FILE), '{ not json');
    const broken = await thrown(() => loadOrCreateKeys(dir, ['epay']));
    expect(broken.code).toBe('ORDEAL_ERR_TARGET_PROFILE');
    expect(broken.message).toContain(`${KEPT_CREDENTIALS_FILE} is not the JSON Ordeal keeps there`);
  });
});

describe('ordeal target env', () => {
  it('prints the shop\'s settings for the fixed ports and kept keys, the same each time', async () => {
    const dir = await work();
    const profileFile = join(dir, 'target.yaml');
    await writeFile(
      profileFile,
      stringify({
        name: 'mail-shop',
        attach: { url: 'http://127.0.0.1:8090' },
        mocks: { ports: { payment: 41101, smtp: 41102, smtps: 41103, channels: { alipay: 41104 } }, keys: './ordeal-keys' },
        payment: { protocol: 'epay', channels: ['alipay'] },
        observes: { stockSupplier: false, riskScreening: false, notify: ['email'] },
        timers,
        start: {
          env: {
            SITE_URL: '${shop.url}',
            EPAY_API: '${payment.epay.url}',
            EPAY_KEY: '${key:epay-key.txt}',
            ALIPAY_PRIVATE_KEY: '${key:alipay-app-private-key.pem}',
            ALIPAY_GATEWAY: '${payment.alipay.url}/gateway.do',
            SMTP_PORT: '${smtp.port}',
            SMTP_CA_FILE: '${smtp.caFile}',
            GREETING: "it's # here",
          },
        },
      }),
    );
    const printed = await runCli(['target', 'env', profileFile], 30_000);
    expect(printed.code, printed.stderr).toBe(0);
    const keys = join(dir, 'ordeal-keys');
    const epayKey = (await readFile(join(keys, 'epay-key.txt'), 'utf8')).trim();
    const alipayKey = (await readFile(join(keys, 'alipay-app-private-key.pem'), 'utf8')).trim();
    expect(printed.stdout).toBe(
      [
        'SITE_URL=http://127.0.0.1:8090',
        'EPAY_API=http://127.0.0.1:41101',
        `EPAY_KEY=${epayKey}`,
        `ALIPAY_PRIVATE_KEY='${alipayKey}'`,
        'ALIPAY_GATEWAY=http://127.0.0.1:41104/gateway.do',
        'SMTP_PORT=41102',
        `SMTP_CA_FILE=${join(keys, 'smtp-ca', 'ca.pem')}`,
        `GREETING="it's # here"`,
        '',
      ].join('\n'),
    );
    expect(alipayKey).toContain('\n');
    expect((await stat(join(keys, 'alipay-app-private-key.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(keys, 'smtp-ca', 'ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
    // The keys are kept: a second look prints the same.
    const again = await runCli(['target', 'env', profileFile], 30_000);
    expect(again.stdout).toBe(printed.stdout);

    // A setting whose mock has no fixed port is an error naming the field; no mocks at all, too.
    await writeFile(profileFile, stringify({ name: 'x', start: { command: 'x', env: { STOCK: '${stock.url}' } }, mocks: { ports: { payment: 41101 }, keys: './ordeal-keys' }, timers }));
    const unfixed = await thrown(async () => shopSettings(await loadTarget(profileFile)));
    expect(unfixed.message).toBe(`${profileFile}: start.env.STOCK: \${stock.url} needs a fixed port: mocks.ports.stock`);
    await writeFile(profileFile, stringify({ name: 'x', start: { command: 'x' }, timers }));
    const none = await runCli(['target', 'env', profileFile], 30_000);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('ORDEAL_ERR_TARGET_PROFILE');
    expect(none.stderr).toContain('the profile needs fixed mock ports and a kept key folder');
  });

  it('quotes what a dotenv reader would misread', () => {
    expect(formatDotenv({ A: 'plain-1.2/x:y@z', B: '', C: 'two words', D: 'a\nb', E: "it's", F: 'x#y' })).toBe("A=plain-1.2/x:y@z\nB=\nC='two words'\nD='a\nb'\nE=\"it's\"\nF='x#y'\n");
  });
});

describe('a run against an attached shop', () => {
  const catalog = { skus: [{ sku: 'CARD', name: 'Card', price: 1000, stock: 200 }] };
  const input = {
    name: 'attached',
    seed: 9,
    catalog,
    load: { stages: [{ rate: '5/s', duration: '1500ms' }] },
    buyers: { payAfter: '200ms' },
    faults: [
      { id: 'target.crash', at: '500ms', pause: '500ms' },
      { id: 'payment.callback.duplicate', probability: 0.5, copies: 2, spacing: '200ms' },
    ],
    gate: { steadyState: { successRate: 0.9 } },
  };
  const loaded = { file: 'attached.yaml', scenario: scenarioSchema.parse(input), input };

  async function writeProfile(dir: string, shopPort: number, ports: Record<string, number>, extra: Record<string, unknown> = {}): Promise<string> {
    const file = join(dir, 'target.yaml');
    await writeFile(
      file,
      stringify({
        name: 'attached-reference',
        attach: { url: `http://127.0.0.1:${shopPort}`, readyTimeout: '5s' },
        mocks: { ports, keys: './ordeal-keys' },
        payment: { protocol: 'epay' },
        timers,
        start: {
          // The reference shop's settings, for the fixed ports and kept keys (`ordeal target env` prints them).
          env: {
            PORT: '${port}',
            ORDEAL_PAYMENT_URL: '${payment.url}',
            ORDEAL_PAYMENT_PROTOCOL: '${payment.protocol}',
            ORDEAL_PAYMENT_KEYS: '${payment.keys}',
            ORDEAL_STOCK_URL: '${stock.url}',
            ORDEAL_NOTIFY_URL: '${notify.url}',
            ORDEAL_RISK_URL: '${risk.url}',
            ORDEAL_STOCK_KEY: '${stock.key}',
            ORDEAL_NOTIFY_KEY: '${notify.key}',
            ORDEAL_RISK_KEY: '${risk.key}',
            ORDEAL_DATA_DIR: '${data.dir}',
            ORDEAL_SHOP_CONFIG: JSON.stringify({ catalog, timers: { orderTtl: 4000, reconcileAfter: 1000, reconcileEvery: 1000 } }),
          },
        },
        ...extra,
      }),
    );
    return file;
  }

  /** The reference shop, started the way its owner would: with the printed settings. */
  async function startShopWith(env: Record<string, string>): Promise<ChildProcess> {
    const shop = spawn(builtInShopCommand([]), { shell: true, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    defer(async () => {
      if (shop.exitCode !== null || shop.signalCode !== null) return;
      const exited = once(shop, 'exit');
      shop.kill('SIGTERM');
      await exited;
    });
    let output = '';
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`the shop did not start:\n${output}`)), 15_000);
      shop.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('listening on')) {
          clearTimeout(timer);
          ready();
        }
      });
      shop.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      shop.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`the shop exited (${code}):\n${output}`));
      });
    });
    return shop;
  }

  it('drives the running shop twice with the same keys and ports, and reports target.crash as not injected', async () => {
    const dir = await work();
    const [shopPort, payment, stock, notify, risk] = await freePorts(5);
    const profileFile = await writeProfile(dir, shopPort!, { payment: payment!, stock: stock!, notify: notify!, risk: risk! });
    const target = await loadTarget(profileFile);
    const settings = await shopSettings(target);
    expect(settings).toMatchObject({ PORT: String(shopPort), ORDEAL_PAYMENT_URL: `http://127.0.0.1:${payment}`, ORDEAL_PAYMENT_KEYS: join(dir, 'ordeal-keys') });
    const shop = await startShopWith(settings);
    const epayKey = await readFile(join(dir, 'ordeal-keys', 'epay-key.txt'), 'utf8');

    for (const round of [1, 2]) {
      const outDir = join(dir, `out-${round}`);
      const result = await run({ scenarios: [loaded], outDir, target });
      const scenario = result.report.scenarios[0]!;
      // Orders placed, paid through the epay mock with the kept keys, delivered, and scored.
      expect(scenario.steadyState.orders, result.summary).toBeGreaterThan(0);
      expect(scenario.steadyState.successRate, result.summary).toBeGreaterThanOrEqual(0.9);
      expect(scenario.classes['payment.callback.duplicate']?.score, result.summary).toBeGreaterThan(50);
      expect(scenario.provider?.notInjected).toEqual([
        { faultIndex: 0, fault: 'target.crash', reason: 'the shop is attached: Ordeal does not run it, so it cannot kill and restart it', cause: 'attached' },
      ]);
      expect(scenario.classes['target.crash']).toBeUndefined();
      expect(result.summary).toContain('target.crash not injected: the shop is attached');
      const journal = (await readFile(join(outDir, 'attached', 'journal.ndjson'), 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; target?: string });
      expect(journal[0]).toMatchObject({ type: 'run.started', target: `attached http://127.0.0.1:${shopPort}`, targetProfile: 'attached-reference' });
      expect(journal.filter((event) => event.type === 'target.killed' || event.type === 'target.started')).toEqual([]);
      // Ordeal neither started nor stopped it, and its keys are the ones it was configured with.
      expect(shop.exitCode).toBeNull();
      expect(await readFile(join(dir, 'ordeal-keys', 'epay-key.txt'), 'utf8')).toBe(epayKey);
    }

    // Fixed ports: scenarios one at a time.
    const parallel = await thrown(() => run({ scenarios: [loaded, { ...loaded, scenario: { ...loaded.scenario, name: 'second' } }], outDir: join(dir, 'out-3'), target, concurrency: 2 }));
    expect(parallel.code).toBe('ORDEAL_ERR_USAGE');
    expect(parallel.message).toContain('fixes the mocks\' ports (mocks.ports), so its scenarios run one at a time');
  }, 60_000);

  it('names a fixed port that is taken, and exits 3 when the attached shop does not answer', async () => {
    const dir = await work();
    const [shopPort, payment, stock, notify, risk] = await freePorts(5);
    const profileFile = await writeProfile(dir, shopPort!, { payment: payment!, stock: stock!, notify: notify!, risk: risk! }, { attach: { url: `http://127.0.0.1:${shopPort}`, health: '/ready', readyTimeout: '400ms' } });
    const scenarioFile = join(dir, 'attached.yaml');
    await writeFile(scenarioFile, stringify(input));

    const unreachable = await runCli(['run', scenarioFile, '--target', profileFile, '--out', join(dir, 'out'), '--quiet'], 30_000);
    expect(unreachable.code, unreachable.stderr).toBe(3);
    expect(unreachable.stderr).toContain('ORDEAL_ERR_TARGET_UNREACHABLE');
    expect(unreachable.stderr).toContain(`the attached shop at http://127.0.0.1:${shopPort} did not answer GET /ready`);

    const parallel = await runCli(['run', scenarioFile, '--target', profileFile, '--out', join(dir, 'out'), '--parallel', '2'], 30_000);
    expect(parallel.code).toBe(2);
    expect(parallel.stderr).toContain('--parallel 2:');

    const squatter: Server = createServer();
    await new Promise<void>((listening) => squatter.listen(stock, '127.0.0.1', listening));
    defer(() => new Promise<void>((closed) => squatter.close(() => closed())));
    const taken = await thrown(async () => run({ scenarios: [loaded], outDir: join(dir, 'out-taken'), target: await loadTarget(profileFile) }));
    expect(taken.code).toBe('ORDEAL_ERR_PORT_IN_USE');
    expect(taken.message).toBe(`the stock mock cannot listen on 127.0.0.1:${stock}: another process listens there (EADDRINUSE); the port is set by ${profileFile}: mocks.ports.stock`);
  }, 40_000);
});
