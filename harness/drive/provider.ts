/**
 * The payment provider's side of a scenario run, beyond the mocks: which scenario faults its
 * protocol cannot carry, the run's key files, and — with `--intercept` — the intercepting proxy for
 * shops whose payment library hard-codes the provider's host. Gives the environment the shop gets.
 */
import { join } from 'node:path';
import type { JournalSink } from '../../core/journal.js';
import type { NotInjectedFault } from '../../core/report-types.js';
import type { PaymentProtocol, Scenario } from '../../core/scenario-schema.js';
import { inexpressibleIn, type PaymentChannel } from '../../mocks/index.js';
import { writeKeyFolder } from './keys.js';

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

/** The scenario's faults its payment protocol cannot express (never injected), with why. */
export function notInjectedFaults(scenario: Scenario): NotInjectedFault[] {
  return scenario.faults.flatMap((fault, faultIndex) => {
    const reason = inexpressibleIn(scenario.provider.protocol, fault.id);
    return reason === undefined ? [] : [{ faultIndex, fault: fault.id, reason }];
  });
}

/**
 * Writes the run's key files and, with `intercept`, starts the proxy (its CA in `<runDir>/intercept/`),
 * journaling every host it refuses and every client that breaks off the TLS handshake.
 */
export async function prepareProvider(options: {
  runDir: string;
  channel: PaymentChannel;
  /** The personality's loopback base URL. */
  paymentUrl: string;
  journal: JournalSink;
  intercept?: InterceptSettings;
}): Promise<ProviderSide> {
  const { runDir, channel, paymentUrl, journal, intercept } = options;
  const keysDir = await writeKeyFolder(runDir, channel, paymentUrl);
  const env: Record<string, string> = {
    ORDEAL_PAYMENT_URL: paymentUrl,
    ORDEAL_PAYMENT_PROTOCOL: channel.protocol,
    ORDEAL_PAYMENT_KEYS: keysDir,
    ...(channel.protocol === 'native' ? { ORDEAL_PAYMENT_SECRET: channel.credentials.secret } : {}),
  };
  if (!intercept) return { env, close: async () => undefined };
  // Loaded only here: most runs have no proxy to start.
  const { startInterceptProxy } = await import('../../mocks/intercept/index.js');
  const proxy = await startInterceptProxy({
    targets: { [channel.protocol]: paymentUrl },
    routes: { ...intercept.hosts },
    caDir: join(runDir, 'intercept'),
    onRefused: (refusal) => journal.append('intercept.refused', { ...refusal }),
    onHandshakeFailed: (failure) => journal.append('intercept.handshake_failed', { ...failure }),
    ...(process.env.NODE_OPTIONS === undefined ? {} : { nodeOptions: process.env.NODE_OPTIONS }),
  });
  return { env: { ...env, ...proxy.env }, close: () => proxy.close() };
}
