/**
 * A profile's `mocks`: fixed ports and a kept key folder, for a shop configured once (an attached
 * shop must be; a started one may be). Resolved against the profile's folder, and what they mean
 * for a run: the ports the mocks listen on, and why scenarios then run one at a time.
 */
import { join, resolve } from 'node:path';
import { OrdealError } from '../../core/errors.js';
import type { Scenario } from '../../core/scenario-schema.js';
import type { TargetProfile } from '../../core/target-schema.js';
import type { MockPorts } from '../../mocks/index.js';
import type { LoadedTarget } from './profile.js';

/** The subfolder of a kept key folder given to an attached shop as `${data.dir}` (it persists, as the shop's data does). */
export const KEPT_SHOP_DATA_DIR = 'shop-data';

/** A profile's `mocks`, resolved. */
export interface FixedMocks {
  ports: MockPorts;
  /** How a taken port is named: `<profile file>: mocks.ports` (+ `.stock`). */
  portsField: string;
  /** The kept key folder, absolute; absent: fresh keys in every run folder. */
  keysDir?: string;
}

export function fixedMocksOf(target: LoadedTarget): FixedMocks | undefined {
  const mocks = target.profile.mocks;
  if (mocks === undefined) return undefined;
  return {
    ports: { ...mocks.ports, ...(mocks.ports?.channels ? { channels: { ...mocks.ports.channels } } : {}) },
    portsField: `${target.file}: mocks.ports`,
    ...(mocks.keys === undefined ? {} : { keysDir: resolve(target.dir, mocks.keys) }),
  };
}

/**
 * The profile's `mocks` for one scenario run.
 * @throws OrdealError ORDEAL_ERR_TARGET_PROFILE when the shop is attached and a payment channel of
 *   the run (`--protocol` may add some) has no fixed port: the shop could not have been told where it is
 */
export function fixedMocksForRun(target: LoadedTarget, scenario: Scenario): FixedMocks | undefined {
  const fixed = fixedMocksOf(target);
  if (fixed === undefined || target.profile.attach === undefined) return fixed;
  for (const protocol of scenario.provider.channels) {
    if (fixed.ports.channels?.[protocol] === undefined) {
      throw new OrdealError('ORDEAL_ERR_TARGET_PROFILE', `${target.file}: mocks.ports.channels.${protocol}: scenario "${scenario.name}" pays through ${protocol} too, and an attached shop needs a fixed port for each channel`);
    }
  }
  return fixed;
}

/** True when the profile fixes any mock port: its scenarios cannot run side by side. */
export function hasFixedPorts(profile: TargetProfile): boolean {
  const { channels, ...own } = profile.mocks?.ports ?? {};
  return Object.values(own).some((port) => port !== undefined) || Object.keys(channels ?? {}).length > 0;
}

/**
 * What a run cannot do with the profile: scenarios side by side on fixed ports, and, for an
 * attached shop, anything that needs Ordeal to start it (flaws, the intercepting proxy).
 * @throws OrdealError ORDEAL_ERR_USAGE saying why
 */
export function checkProfileRun(target: LoadedTarget | undefined, options: { concurrency: number; flaws: readonly string[]; intercept: boolean }): void {
  if (target === undefined) return;
  const attached = target.profile.attach !== undefined;
  if (options.concurrency > 1 && hasFixedPorts(target.profile)) {
    const why = attached ? 'one attached shop is configured with one set of mocks' : 'two scenarios would bind the same ports';
    throw new OrdealError('ORDEAL_ERR_USAGE', `--parallel ${options.concurrency}: ${target.file} fixes the mocks' ports (mocks.ports), so its scenarios run one at a time (${why}); drop --parallel`);
  }
  if (attached && options.flaws.length > 0) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `--flaws: ${target.file} attaches to a running shop, whose flaws are switched on where it is started (\`ordeal target env ${target.file} --flaws ${options.flaws.join(',')}\` puts them in \${flaws})`);
  }
  if (attached && options.intercept) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `--intercept: ${target.file} attaches to a running shop, and the proxy's settings (HTTPS_PROXY, its CA) are made per run for a shop Ordeal starts`);
  }
}

/** Loopback base URL of a mock on a fixed port. */
export function fixedUrl(port: number | undefined): string | undefined {
  return port === undefined ? undefined : `http://127.0.0.1:${port}`;
}

/** The `${data.dir}` of an attached shop: kept beside its keys, since its data persists too. */
export function keptShopDataDir(keysDir: string): string {
  return join(keysDir, KEPT_SHOP_DATA_DIR);
}
