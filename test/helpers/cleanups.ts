import { afterEach } from 'vitest';

export type Cleanup = () => Promise<void> | void;
/** Registers something to undo when the test ends. */
export type Defer = (cleanup: Cleanup) => void;

/**
 * Registers an `afterEach` that runs what the test deferred, last first (so a shop closes before
 * the mocks it calls). Call once at the top of a test file.
 */
export function cleanupAfterEach(): Defer {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });
  return (cleanup) => {
    cleanups.push(cleanup);
  };
}
