/**
 * Starting the shop of a scenario run: the environment it gets (the mocks' URLs, the provider's
 * keys, Ordeal's own `ORDEAL_*` variables, and a profile's `start.env` with its placeholders
 * filled), then the process, supervised. An attached shop is not started (`harness/targets/attach.ts`).
 */
import { join, resolve } from 'node:path';
import type { FileJournal } from '../../core/journal.js';
import type { Scenario } from '../../core/scenario-schema.js';
import type { MockSet, PaymentChannel } from '../../mocks/index.js';
import { serviceKeyEnv } from '../../mocks/index.js';
import { notifyEnv } from '../../mocks/notify-env.js';
import { placeholderValues } from '../targets/placeholders.js';
import { expandEnv, type LoadedTarget } from '../targets/profile.js';
import type { ProviderSide } from './provider.js';
import { freePort, TargetSupervisor } from './target.js';

export interface StartShopOptions {
  scenario: Scenario;
  runDir: string;
  command: string;
  journal: FileJournal;
  provider: ProviderSide;
  mocks: MockSet;
  /** The run's channels, the primary first. */
  channels: readonly PaymentChannel[];
  /** The intercepting proxy runs (it sets NODE_EXTRA_CA_CERTS itself). */
  intercepted: boolean;
  target?: LoadedTarget;
  /** Flaws switched on in a profiled shop (its `${flaws}` placeholder). */
  flaws?: readonly string[];
  /** The run's interruption: stops waiting for the shop to be ready. */
  signal?: AbortSignal;
  /** A fixed port (a mocks service in a pod, behind a Kubernetes Service). @default a free one */
  port?: number;
  /** Told each shop process's pid, the first and every restart's (`TargetOptions.onProcess`). */
  onProcess?: (pid: number) => void;
  /** The shop's own data folder (ORDEAL_DATA_DIR): a pod's local disk rather than the shared volume. @default `<runDir>/shop-data` */
  dataDir?: string;
  /** The address the shop should listen on, given as HOST (a pod: every interface). @default 127.0.0.1 */
  listenHost?: string;
}

/** Starts the shop on a free port with the run's environment and waits until it is ready. */
export async function startShop({ scenario, runDir, command, journal, provider, mocks, channels, intercepted, target: profiled, flaws, signal, port: fixedPort, listenHost, dataDir, onProcess }: StartShopOptions): Promise<TargetSupervisor> {
  const shopDataDir = dataDir ?? join(runDir, 'shop-data');
  const ordealEnv: Record<string, string> = {
    ...provider.env,
    ...notifyEnv({ sms: mocks.sms, email: mocks.email }, { nodeExtraCaCerts: !intercepted }),
    ORDEAL_STOCK_URL: mocks.urls.stock,
    ORDEAL_NOTIFY_URL: mocks.urls.notify,
    ORDEAL_RISK_URL: mocks.urls.risk,
    // The mocks refuse state-changing requests without them (ORDEAL_STOCK_KEY, ORDEAL_RISK_KEY, ORDEAL_NOTIFY_KEY).
    ...serviceKeyEnv(mocks.serviceKeys),
    ORDEAL_DATA_DIR: shopDataDir,
    // Always set: a HOST left in the user's environment must not move the shop off loopback.
    HOST: listenHost ?? '127.0.0.1',
  };
  // The convenience for shops that take their catalogue and timers from Ordeal (the reference shop does).
  if (!profiled || profiled.profile.shopConfig) ordealEnv.ORDEAL_SHOP_CONFIG = JSON.stringify({ catalog: scenario.catalog, timers: scenario.shop });
  const port = fixedPort ?? (await freePort());
  const servedAt = mocks.paymentChannels;
  const profileEnv = profiled
    ? await expandEnv(profiled.file, profiled.profile.start.env, {
        keysDir: provider.env.ORDEAL_PAYMENT_KEYS ?? join(runDir, 'keys'),
        values: placeholderValues({ port, shopDataDir, ordealEnv, flaws: flaws ?? [], channels: channels.map((each, index) => ({ protocol: each.protocol, url: servedAt[index]!.url })), mocks }),
      })
    : {};
  return TargetSupervisor.start({
    command,
    logFile: join(runDir, 'target.log'),
    journal,
    port,
    env: { ...ordealEnv, ...profileEnv },
    ...(signal ? { signal } : {}),
    ...(onProcess ? { onProcess } : {}),
    ...(profiled
      ? { cwd: resolve(profiled.dir, profiled.profile.start.cwd ?? '.'), healthPath: profiled.profile.start.health, readyTimeoutMs: profiled.profile.start.readyTimeout }
      : {}),
  });
}
