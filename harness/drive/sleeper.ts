/** Waiting on the run's stop signal, for thousands of buyers at once. */

/**
 * `sleep` for many waiters on one signal: each wait is an entry in a set, woken by one abort
 * listener — not a listener of its own (adding and removing a signal's listener scans all the
 * others, and thousands of buyers wait at once).
 */
export function sleeper(signal: AbortSignal): (ms: number) => Promise<void> {
  const waiting = new Set<() => void>();
  signal.addEventListener(
    'abort',
    () => {
      for (const wake of waiting) wake();
    },
    { once: true },
  );
  return (ms) =>
    new Promise((wake) => {
      if (signal.aborted) return wake();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        waiting.delete(done);
        wake();
      }
      waiting.add(done);
    });
}
