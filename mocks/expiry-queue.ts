/**
 * Records by expiry time, the earliest first (a binary min-heap): what the stock supplier's sweep
 * needs — the reservations due now — without sorting every active one.
 */
export class ExpiryQueue<T extends { readonly expiresAt: number }> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The record that expires first (undefined when empty). */
  peek(): T | undefined {
    return this.heap[0];
  }

  push(item: T): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as T).expiresAt <= item.expiresAt) break;
      heap[i] = heap[parent] as T;
      i = parent;
    }
    heap[i] = item;
  }

  /** Removes and returns the record that expires first (undefined when empty). */
  pop(): T | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (last !== undefined && heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && (heap[right] as T).expiresAt < (heap[left] as T).expiresAt ? right : left;
        if ((heap[child] as T).expiresAt >= last.expiresAt) break;
        heap[i] = heap[child] as T;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
