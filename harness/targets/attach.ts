/**
 * An attached shop: one already running at a URL (in docker, in an IDE), configured once with the
 * settings `ordeal target env` prints. Ordeal neither starts nor stops it: the run waits for its
 * health path, and a fault that needs Ordeal to run the shop (`target.crash`) is journaled as not
 * injected instead.
 */
import { request } from 'undici';
import { OrdealError } from '../../core/errors.js';
import type { JournalSink } from '../../core/journal.js';
import type { NotInjectedFault } from '../../core/report-types.js';
import type { Scenario } from '../../core/scenario-schema.js';

/** What a run needs of the shop it drives, started (`TargetSupervisor`) or attached. */
export interface RunningShop {
  readonly url: string;
  /** True while the shop is known to be down. */
  readonly down: boolean;
  /** Called once if the shop goes away when Ordeal did not make it. */
  onUnexpectedExit(listener: () => void): void;
  stop(): Promise<void>;
}

/** How `run.started` names an attached shop. */
export function attachedTargetLabel(url: string): string {
  return `attached ${url}`;
}

/** The URL without a trailing slash: adapters append paths to it. */
export function attachedBaseUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The scenario's `target.crash` faults, which an attached shop never meets, with why. */
export function attachedNotInjected(scenario: Scenario): NotInjectedFault[] {
  return scenario.faults.flatMap((fault, faultIndex) =>
    fault.id === 'target.crash'
      ? [{ faultIndex, fault: fault.id, reason: 'the shop is attached: Ordeal does not run it, so it cannot kill and restart it', cause: 'attached' as const }]
      : [],
  );
}

export interface AttachOptions {
  /** The profile's `attach.url`. */
  url: string;
  /** The profile's `attach.health`. */
  healthPath: string;
  readyTimeoutMs: number;
  journal: JournalSink;
  /** Between health checks, ms. @default 100 */
  pollEveryMs?: number;
}

/**
 * Waits until the attached shop answers its health path with 2xx or 3xx (journaled as `target.ready`).
 * @throws OrdealError ORDEAL_ERR_TARGET_UNREACHABLE naming the URL and the health path when it does not within `readyTimeoutMs`
 */
export async function attachShop(options: AttachOptions): Promise<RunningShop> {
  const url = attachedBaseUrl(options.url);
  const health = `${url}${options.healthPath}`;
  const started = performance.now();
  const pollEveryMs = options.pollEveryMs ?? 100;
  let lastProblem = 'no answer yet';
  // At least one look, however short the timeout.
  do {
    const left = options.readyTimeoutMs - (performance.now() - started);
    const timeout = Math.max(100, Math.min(1000, left));
    try {
      const response = await request(health, { headersTimeout: timeout, bodyTimeout: timeout });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 400) {
        options.journal.append('target.ready', { afterMs: Math.round(performance.now() - started) });
        return attached(url);
      }
      lastProblem = `GET ${options.healthPath} answered ${response.statusCode}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    if (performance.now() - started + pollEveryMs >= options.readyTimeoutMs) break;
    await new Promise((wake) => setTimeout(wake, pollEveryMs));
  } while (performance.now() - started < options.readyTimeoutMs);
  throw new OrdealError(
    'ORDEAL_ERR_TARGET_UNREACHABLE',
    `the attached shop at ${url} did not answer GET ${options.healthPath} with 2xx or 3xx within ${options.readyTimeoutMs} ms (${lastProblem}); Ordeal does not start an attached shop: start it first, with the settings \`ordeal target env PROFILE\` prints`,
  );
}

function attached(url: string): RunningShop {
  return {
    url,
    // Ordeal cannot see an attached shop's process: a shop that goes away shows in its answers.
    down: false,
    onUnexpectedExit: () => undefined,
    // Not Ordeal's to stop.
    stop: async () => undefined,
  };
}
