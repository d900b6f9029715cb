/**
 * `ordeal merge --wait`: in a Kubernetes run the merge is a pod that starts with the others, and
 * Jobs cannot wait for each other; it waits here until the mocks service has stopped (its
 * `mocks-service.json` says `finished`) and every segment has written its `run.json`, for at most
 * the time given.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OrdealError } from '../../core/errors.js';
import { SERVICE_FILE, type ServiceFile } from '../mocks-service/protocol.js';
import { RUN_FILE } from '../score/rescore.js';
import { exists } from '../drive/out-dir.js';

const POLL_MS = 1000;

export interface WaitForRunsOptions {
  serviceDir: string;
  segmentDirs: readonly string[];
  /** At most this long (ms). */
  waitMs: number;
  /** Checks between tries (ms). @default 1000 */
  pollMs?: number;
  signal?: AbortSignal;
  /** Told once a minute what is still missing. */
  log?: (line: string) => void;
}

/** What is not finished yet: the service, segment folders; empty once everything is. */
export async function unfinishedParts(serviceDir: string, segmentDirs: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  const service = await readServiceFile(join(serviceDir, SERVICE_FILE));
  if (service?.finished === undefined) missing.push(`the mocks service (${serviceDir})`);
  for (const dir of segmentDirs) {
    if (!(await exists(join(dir, RUN_FILE)))) missing.push(dir);
  }
  return missing;
}

/** Resolves once every part is finished, or at once when `signal` aborts; throws naming the missing parts when `waitMs` has passed. */
export async function waitForRuns(options: WaitForRunsOptions): Promise<void> {
  const deadline = performance.now() + options.waitMs;
  let toldAt = performance.now();
  for (;;) {
    const missing = await unfinishedParts(options.serviceDir, options.segmentDirs);
    if (missing.length === 0) return;
    if (options.signal?.aborted) return;
    if (performance.now() >= deadline) {
      throw new OrdealError('ORDEAL_ERR_RUN_DIR', `waited ${Math.round(options.waitMs / 1000)} s and these parts of the run never finished: ${missing.join(', ')}`);
    }
    if (performance.now() - toldAt >= 60_000) {
      toldAt = performance.now();
      options.log?.(`waiting for ${missing.join(', ')}`);
    }
    await new Promise<void>((wake) => {
      const stop = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', stop);
        wake();
      };
      const timer = setTimeout(stop, Math.min(options.pollMs ?? POLL_MS, Math.max(0, deadline - performance.now())));
      options.signal?.addEventListener('abort', stop, { once: true });
    });
  }
}

async function readServiceFile(path: string): Promise<ServiceFile | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ServiceFile;
  } catch {
    // Not written yet, or caught half-written: not finished.
    return undefined;
  }
}
