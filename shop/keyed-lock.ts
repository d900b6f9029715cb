/**
 * One task at a time per key (an order id): tasks for the same order run in turn, tasks for
 * different orders run side by side.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Whether a task for this key is running or waiting. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  get size(): number {
    return this.tails.size;
  }

  /** Runs `task` once every earlier task for `key` has finished (whatever their outcome). */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves when every task started so far has finished. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
