/**
 * The shops' process groups this process started and has not yet seen gone. A shop runs in its
 * own process group (so that stopping it reaches its children), which also means a terminal's
 * Ctrl-C never reaches it: whoever exits in a hurry (a second Ctrl-C) must kill these groups itself.
 */

const liveGroups = new Set<number>();
/** Groups other processes started and told us of (a mocks service's shop), read when it is time to kill. */
const groupSources = new Set<() => number[]>();

/**
 * Adds a source of process groups started by a child of ours (which a SIGKILL of that child
 * would orphan); returns the function that removes it. Read synchronously at kill time.
 */
export function addProcessGroupSource(source: () => number[]): () => void {
  groupSources.add(source);
  return () => void groupSources.delete(source);
}

/** Notes a process group started by this process (its leader's pid). */
export function trackProcessGroup(pgid: number): void {
  if (pgid > 0) liveGroups.add(pgid);
}

/** Forgets a process group once every process of it is gone. */
export function forgetProcessGroup(pgid: number): void {
  liveGroups.delete(pgid);
}

/** The process groups started and not yet seen gone. */
export function trackedProcessGroups(): number[] {
  return [...liveGroups];
}

/**
 * SIGKILLs every tracked process group, synchronously (for an exit that cannot wait for the
 * graceful stop); returns the groups signalled.
 */
export function killTrackedProcessGroups(): number[] {
  const killed: number[] = [];
  for (const source of groupSources) {
    try {
      for (const pgid of source()) if (pgid > 0) liveGroups.add(pgid);
    } catch {
      // A source that cannot be read (its file gone) has nothing left to kill.
    }
  }
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
      killed.push(pgid);
    } catch {
      // Already gone.
    }
    liveGroups.delete(pgid);
  }
  return killed;
}
