/**
 * The built shop as Ordeal starts it: `node dist/shop/main.js`, configured by environment.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { scenarioSchema } from '../core/scenario-schema.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { BUYER_TOKEN_HEADER, serviceKeyEnv, startMocks, type MockSet, type ServiceKeys } from '../mocks/index.js';
import { signBody } from '../mocks/signature.js';
import { SHOP_FLAWS } from '../shop/flaws.js';
import { cleanupAfterEach } from './helpers/cleanups.js';

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'dist', 'shop', 'main.js');
const SECRET = 'process-secret';

/** Builds dist when it is missing or older than the shop's sources (vitest run without `pretest`). */
beforeAll(() => {
  const sources = readdirSync(join(ROOT, 'shop'), { recursive: true }).map((file) => statSync(join(ROOT, 'shop', String(file))).mtimeMs);
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= Math.max(...sources)) return;
  // Type errors elsewhere in the tree must not stop the shop from being emitted.
  spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(MAIN)) throw new Error(`npm run build did not produce ${MAIN}`);
}, 120_000);

const defer = cleanupAfterEach();

const CONFIG = JSON.stringify({
  catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, currency: 'CNY', stock: 5 }], coupons: [] },
  timers: { orderTtl: 3000, reconcileAfter: 300, reconcileEvery: 200 },
});

function baseEnv(urls: { payment: string; stock: string; notify: string }, dataDir: string, keys?: ServiceKeys): NodeJS.ProcessEnv {
  return {
    ...(keys ? serviceKeyEnv(keys) : {}),
    PATH: process.env.PATH,
    PORT: '0',
    ORDEAL_PAYMENT_URL: urls.payment,
    ORDEAL_PAYMENT_SECRET: SECRET,
    ORDEAL_STOCK_URL: urls.stock,
    ORDEAL_NOTIFY_URL: urls.notify,
    ORDEAL_SHOP_CONFIG: CONFIG,
    ORDEAL_DATA_DIR: dataDir,
  };
}

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startProcess(env: NodeJS.ProcessEnv, args: string[] = []): Promise<Started> {
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => child.on('exit', (code, signal) => resolveExit({ code, signal })));
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exit;
    }
  });
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`shop did not report listening within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolveStart({ child, url: match[1]!, stderr: () => stderr, exit });
      }
    });
    void exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`shop exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
}

function runToExit(env: NodeJS.ProcessEnv, args: string[] = []): { status: number | null; stderr: string; stdout: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], { env, encoding: 'utf8', timeout: 15_000 });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shop-process-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function mocks(faults: unknown[] = []): Promise<MockSet> {
  const scenario = scenarioSchema.parse({
    name: 'shop-process',
    catalog: { skus: [{ sku: 'MONTH_CARD', name: 'Monthly card', price: 3000, stock: 5 }] },
    load: { stages: [{ rate: 1, duration: 1000 }] },
    faults,
  });
  const set = await startMocks({ scenario, journal: new MemoryJournal(), plan: new FaultPlan(scenario.faults, scenario.seed), secret: SECRET });
  defer(() => set.close());
  return set;
}

async function placeOrder(shopUrl: string, buyerId: string): Promise<{ orderId: string; payment: { tradeNo: string } }> {
  const created = await fetch(`${shopUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `key-${buyerId}` },
    body: JSON.stringify({
      sku: 'MONTH_CARD',
      quantity: 1,
      recipient: { kind: 'phone', account: '13912345678' },
      buyer: { id: buyerId, contact: '13912345678', region: 'CN' },
      paymentMethod: 'wechat',
    }),
  });
  expect(created.status).toBe(201);
  return (await created.json()) as { orderId: string; payment: { tradeNo: string } };
}

async function orderAndPay(shopUrl: string, set: MockSet, buyerId: string): Promise<string> {
  const order = await placeOrder(shopUrl, buyerId);
  const paid = await fetch(`${set.urls.payment}/v1/trades/${order.payment.tradeNo}/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [BUYER_TOKEN_HEADER]: set.buyerToken },
    body: JSON.stringify({ payerId: buyerId, method: 'wechat' }),
  });
  expect(paid.status).toBe(200);
  return order.orderId;
}

async function statusAfterWaiting(shopUrl: string, orderId: string, wanted: string, timeoutMs = 8000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let status = '';
  while (status !== wanted && Date.now() < deadline) {
    status = ((await (await fetch(`${shopUrl}/orders/${orderId}`)).json()) as { status: string }).status;
    if (status !== wanted) await new Promise((resolveWait) => setTimeout(resolveWait, 25));
  }
  return status;
}

describe('the shop process', () => {
  it('starts, serves an order to delivery, and exits 0 on SIGTERM', async () => {
    const set = await mocks();
    const dataDir = tempDir();
    const shop = await startProcess(baseEnv(set.urls, dataDir, set.serviceKeys), ['--flaws', 'no-failure-notice']);
    const health = await fetch(`${shop.url}/health`);
    expect(health.status).toBe(200);
    const orderId = await orderAndPay(shop.url, set, 'proc-buyer');
    expect(await statusAfterWaiting(shop.url, orderId, 'delivered')).toBe('delivered');
    expect(existsSync(join(dataDir, 'shop.db'))).toBe(true);

    shop.child.kill('SIGTERM');
    expect(await shop.exit).toEqual({ code: 0, signal: null });
  });

  it('picks up a paid order after SIGKILL and a restart on the same data folder', async () => {
    const set = await mocks([{ id: 'payment.callback.drop' }]);
    const dataDir = tempDir();
    // Reconciliation is far off in the first life, so the order is still unpaid when it dies.
    const slow = JSON.stringify({ ...JSON.parse(CONFIG), timers: { orderTtl: 60_000, reconcileAfter: 60_000, reconcileEvery: 1000 } });
    const first = await startProcess({ ...baseEnv(set.urls, dataDir, set.serviceKeys), ORDEAL_SHOP_CONFIG: slow });
    const orderId = await orderAndPay(first.url, set, 'killed-buyer');
    expect(await statusAfterWaiting(first.url, orderId, 'pending_payment')).toBe('pending_payment');
    first.child.kill('SIGKILL');
    expect((await first.exit).signal).toBe('SIGKILL');

    const second = await startProcess(baseEnv(set.urls, dataDir, set.serviceKeys));
    expect(await statusAfterWaiting(second.url, orderId, 'delivered')).toBe('delivered');
    expect(set.stock.issuedCards().filter((card) => card.orderId === orderId)).toHaveLength(1);
    second.child.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
  });

  describe('a callback acknowledged, then SIGKILL before the in-memory queue ran it', () => {
    /**
     * The buyer pays; the provider's own callback is lost (payment.callback.drop) and the test
     * delivers it, correctly signed, itself: as soon as the shop answers 200 the process is
     * SIGKILLed and restarted on the same data folder. A second, unpaid order is the clock: once it
     * has expired, the paid one had every chance to be reconciled or expired too.
     */
    async function killAfterAck(flaws: string[]): Promise<{ set: MockSet; url: string; paidId: string; controlId: string }> {
      const set = await mocks([{ id: 'payment.callback.drop' }]);
      const dataDir = tempDir();
      // The reconciler waits 2.5 s: the first life ends long before it would query.
      const config = JSON.stringify({ ...JSON.parse(CONFIG), timers: { orderTtl: 3000, reconcileAfter: 2500, reconcileEvery: 200 } });
      const env = { ...baseEnv(set.urls, dataDir, set.serviceKeys), ORDEAL_SHOP_CONFIG: config, ORDEAL_SHOP_FLAWS: flaws.join(',') };
      const first = await startProcess(env);
      const control = await placeOrder(first.url, 'control-buyer');
      const paidId = await orderAndPay(first.url, set, `acked-buyer`);
      const trade = set.payment.tradeByOrder(paidId)!;
      expect(trade.status).toBe('TRADE_SUCCESS');
      const raw = JSON.stringify({ notifyId: 'N-acked', tradeNo: trade.tradeNo, outTradeNo: paidId, status: 'TRADE_SUCCESS', amount: trade.amount, paidAt: trade.paidAt });
      const acked = await fetch(`${first.url}/payment/notify`, { method: 'POST', headers: { 'content-type': 'application/json', 'ordeal-signature': signBody(SECRET, raw) }, body: raw });
      first.child.kill('SIGKILL');
      expect(acked.status).toBe(200);
      expect((await first.exit).signal).toBe('SIGKILL');

      const second = await startProcess(env);
      expect(await statusAfterWaiting(second.url, control.orderId, 'expired')).toBe('expired');
      return { set, url: second.url, paidId, controlId: control.orderId };
    }

    it('the resilient shop committed before acknowledging: delivered after the restart', async () => {
      const { set, url, paidId } = await killAfterAck([]);
      expect(await statusAfterWaiting(url, paidId, 'delivered')).toBe('delivered');
      expect(set.stock.issuedCards().filter((card) => card.orderId === paidId)).toHaveLength(1);
    });

    it('with ack-before-commit the job is lost: the charged order stays pending_payment for good', async () => {
      const { set, url, paidId } = await killAfterAck(['ack-before-commit']);
      const order = (await (await fetch(`${url}/orders/${paidId}`)).json()) as { status: string; delivery?: unknown };
      expect(order.status).toBe('pending_payment');
      expect(order.delivery).toBeUndefined();
      expect(set.payment.tradeByOrder(paidId)).toMatchObject({ status: 'TRADE_SUCCESS', refunded: 0 });
      expect(set.stock.issuedCards()).toHaveLength(0);
    });
  });

  it('--list-flaws prints the flaw catalogue as JSON and exits 0, needing no configuration', () => {
    // No PORT, no service URLs, no config: nothing is started, so nothing is needed.
    const listed = runToExit({ PATH: process.env.PATH }, ['--list-flaws']);
    expect(listed.stderr).toBe('');
    expect(listed.status).toBe(0);
    const flaws = JSON.parse(listed.stdout) as unknown;
    expect(flaws).toEqual(SHOP_FLAWS.map((flaw) => ({ id: flaw.name, description: flaw.description })));
    expect((flaws as unknown[]).length).toBeGreaterThan(0);
  });

  it('exits 2 naming a missing variable or an unknown flaw', () => {
    const env = baseEnv({ payment: 'http://127.0.0.1:9', stock: 'http://127.0.0.1:9', notify: 'http://127.0.0.1:9' }, tempDir());
    const missing = runToExit({ ...env, ORDEAL_PAYMENT_SECRET: undefined });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('ORDEAL_PAYMENT_SECRET');
    const unknown = runToExit(env, ['--flaws', 'no-reconcile,made-up']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('made-up');
    expect(runToExit({ ...env, ORDEAL_SHOP_FLAWS: 'naive', ORDEAL_SHOP_CONFIG: 'not json' }).stderr).toContain('ORDEAL_SHOP_CONFIG');
    const fromEnv = runToExit({ ...env, ORDEAL_SHOP_FLAWS: 'nope' });
    expect(fromEnv.status).toBe(2);
    expect(fromEnv.stderr).toContain('nope');
    expect(runToExit({ ...env, ORDEAL_SHOP_CONFIG: '{"catalog":{}}' }).status).toBe(2);
  });
});
