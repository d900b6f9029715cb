/**
 * The payment provider's side of a scenario run, beyond the mocks: which scenario faults its
 * protocol cannot carry, the run's key files, and — with `--intercept` — the intercepting proxy for
 * shops whose payment library hard-codes the provider's host. Gives the environment the shop gets.
 */
import { join } from 'node:path';
import type { JournalSink } from '../../core/journal.js';
import type { NotInjectedFault } from '../../core/report-types.js';
import { OrdealError } from '../../core/errors.js';
import { PAYMENT_PROTOCOLS, type PaymentProtocol, type Scenario } from '../../core/scenario-schema.js';
import { inexpressibleIn, type PaymentChannel } from '../../mocks/index.js';
import { writeKeyFolder, type KeptKeyFiles, type ServedChannel } from './keys.js';

export type { ServedChannel } from './keys.js';

/** `--intercept`: extra `host → protocol` routes (a shop's 易支付 aggregator host) beside the providers' own. */
export interface InterceptSettings {
  hosts: Readonly<Record<string, PaymentProtocol>>;
}

export interface ProviderSide {
  /** What the shop's environment gets: the provider's URL, protocol and key folder (and the proxy's settings, with --intercept). */
  env: Record<string, string>;
  /** Stops the proxy, if one runs (after the shop has stopped). */
  close(): Promise<void>;
}

/**
 * The scenario's faults its payment protocol cannot express (never injected), with why. With
 * several channels, a fault one of them cannot express is injected in none (a fault is decided per
 * buyer, before the shop picks the channel), and the reason names that channel.
 */
export function notInjectedFaults(scenario: Scenario): NotInjectedFault[] {
  const protocols = [scenario.provider.protocol, ...scenario.provider.channels];
  return scenario.faults.flatMap((fault, faultIndex) => {
    for (const protocol of protocols) {
      const reason = inexpressibleIn(protocol, fault.id);
      if (reason !== undefined) return [{ faultIndex, fault: fault.id, reason: protocols.length > 1 ? `${protocol}: ${reason}` : reason }];
    }
    return [];
  });
}

/** `--protocol P[,P…]`: the primary protocol, then the further channels, each named once. */
export function parseProtocols(text: string): { protocol: PaymentProtocol; channels: PaymentProtocol[] } {
  const names = text.split(',').map((name) => name.trim());
  const known = (name: string): name is PaymentProtocol => (PAYMENT_PROTOCOLS as readonly string[]).includes(name);
  const unknown = names.find((name) => !known(name));
  if (unknown !== undefined || names.length === 0) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `--protocol takes one of ${PAYMENT_PROTOCOLS.join(', ')}, or several separated by commas (the first is the primary); got "${text}"`);
  }
  const protocols = names.filter(known);
  if (new Set(protocols).size !== protocols.length) throw new OrdealError('ORDEAL_ERR_USAGE', `--protocol names each protocol once; got "${text}"`);
  const [protocol, ...channels] = protocols;
  return { protocol: protocol!, channels };
}

/** `ORDEAL_PAYMENT_URL_<PROTOCOL>`: a channel's URL when a shop offers several. */
export function channelUrlVariable(protocol: PaymentProtocol): string {
  return `ORDEAL_PAYMENT_URL_${protocol.toUpperCase()}`;
}

/** The payment provider's variables for the shop: its URL per channel, protocols, key folder (and the native secret). */
export function providerEnv(channels: readonly ServedChannel[], keysDir: string): Record<string, string> {
  const [primary] = channels;
  if (primary === undefined) throw new TypeError('providerEnv: no payment channel');
  const native = channels.find((served) => served.channel.protocol === 'native')?.channel;
  return {
    ORDEAL_PAYMENT_URL: primary.url,
    ORDEAL_PAYMENT_PROTOCOL: channels.map((served) => served.channel.protocol).join(','),
    ORDEAL_PAYMENT_KEYS: keysDir,
    ...Object.fromEntries(channels.map((served) => [channelUrlVariable(served.channel.protocol), served.url])),
    ...(native?.protocol === 'native' ? { ORDEAL_PAYMENT_SECRET: native.credentials.secret } : {}),
  };
}

/**
 * Writes the run's key files and, with `intercept`, starts the proxy (its CA in `<runDir>/intercept/`),
 * journaling every host it refuses and every client that breaks off the TLS handshake.
 */
export async function prepareProvider(options: {
  runDir: string;
  /** The run's channels, the primary first. */
  channels: readonly ServedChannel[];
  journal: JournalSink;
  intercept?: InterceptSettings;
  /** Write the key files into this kept folder (a profile's `mocks.keys`) instead of the run folder. */
  keptKeys?: KeptKeyFiles;
}): Promise<ProviderSide> {
  const { runDir, channels, journal, intercept } = options;
  // Key file names carry their protocol, so every channel's files share one folder.
  const keysDir = await writeKeyFolder(runDir, channels, options.keptKeys);
  const env = providerEnv(channels, keysDir);
  if (!intercept) return { env, close: async () => undefined };
  // Loaded only here: most runs have no proxy to start.
  const { startInterceptProxy } = await import('../../mocks/intercept/index.js');
  const proxy = await startInterceptProxy({
    targets: Object.fromEntries(channels.map((served) => [served.channel.protocol, served.url])),
    routes: { ...intercept.hosts },
    caDir: join(runDir, 'intercept'),
    onRefused: (refusal) => journal.append('intercept.refused', { ...refusal }),
    onHandshakeFailed: (failure) => journal.append('intercept.handshake_failed', { ...failure }),
    ...(process.env.NODE_OPTIONS === undefined ? {} : { nodeOptions: process.env.NODE_OPTIONS }),
  });
  return { env: { ...env, ...proxy.env }, close: () => proxy.close() };
}
