/**
 * How work on orders runs: one task at a time per order (`KeyedLock`), background tasks tracked so
 * a closing shop can wait for them, and every await on a dependency checked against shutdown.
 *
 * The lock orders the shop's own tasks; it does not cover a payment callback, which changes the
 * order directly. That is why every state change is a compare-and-set (`ShopDb.update` with the
 * statuses it may start from): whichever of them comes second finds the status moved and does
 * nothing, instead of undoing the first.
 */
import { sleep } from './http-client.js';
import { KeyedLock } from './keyed-lock.js';

/** Thrown inside tasks when the shop is closing: the order stays as it is and resumes on restart. */
export class ShuttingDown extends Error {
  constructor() {
    super('the shop is shutting down');
    this.name = 'ShuttingDown';
  }
}

export interface OrderTasksOptions {
  /** Aborted when the shop closes (cuts pauses short). */
  signal: AbortSignal;
  log: (line: string) => void;
  /** Advances one order from its stored state (the reconciler's step). */
  step: (orderId: string) => Promise<void>;
}

export class OrderTasks {
  private readonly locks = new KeyedLock();
  /** Orders whose state changed while their task ran: step them again before letting go. */
  private readonly rerun = new Set<string>();
  private readonly background = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(private readonly options: OrderTasksOptions) {}

  /** True once the shop started closing: no new work is taken on. */
  get closed(): boolean {
    return this.stopped;
  }

  /** Order tasks running or waiting. */
  get running(): number {
    return this.locks.size;
  }

  busy(orderId: string): boolean {
    return this.locks.busy(orderId);
  }

  /** Keeps a background promise until it settles; its failure is logged (a shutdown is not a failure). */
  track<T>(promise: Promise<T>): void {
    const tracked = promise.catch((error: unknown) => {
      if (!(error instanceof ShuttingDown)) this.options.log(`task failed: ${(error as Error).stack ?? String(error)}`);
    });
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  /** Awaits a dependency call; when the shop closed meanwhile, abandons the task. */
  async call<T>(promise: Promise<T>): Promise<T> {
    if (this.stopped) throw new ShuttingDown();
    const result = await promise;
    if (this.stopped) throw new ShuttingDown();
    return result;
  }

  async pause(ms: number): Promise<void> {
    await sleep(ms, this.options.signal);
    if (this.stopped) throw new ShuttingDown();
  }

  /** Pauses `ms` unless that ends past `deadline`; returns whether it paused (whether to retry). */
  async pauseWithin(deadline: number, ms: number): Promise<boolean> {
    if (Date.now() + ms >= deadline) return false;
    await this.pause(ms);
    return true;
  }

  /** Runs `task` as the order's only task, then any step requested meanwhile. */
  exclusive<T>(orderId: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(orderId, async () => {
      try {
        return await task();
      } finally {
        while (!this.stopped && this.rerun.delete(orderId)) {
          await this.options.step(orderId).catch((error: unknown) => {
            if (!(error instanceof ShuttingDown)) this.options.log(`step ${orderId} failed: ${(error as Error).stack ?? String(error)}`);
          });
        }
      }
    });
  }

  /** Asks for the order to be advanced now (or right after its running task). */
  schedule(orderId: string): void {
    if (this.stopped) return;
    if (this.locks.busy(orderId)) {
      this.rerun.add(orderId);
      return;
    }
    this.track(this.exclusive(orderId, () => this.options.step(orderId)));
  }

  /** Advances the order now unless a task already has it (the reconciler's pick-up). */
  stepIfIdle(orderId: string): void {
    if (!this.locks.busy(orderId)) this.track(this.exclusive(orderId, () => this.options.step(orderId)));
  }

  /** Takes no new work; `settle()` then waits for what runs. */
  close(): void {
    this.stopped = true;
  }

  /** Resolves once every tracked and every order task has finished. */
  async settle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    await this.locks.idle();
  }
}
