/** Reading a MemoryJournal in tests: events of a type, and event-driven (bounded) waits for them. */
import { MemoryJournal, type JournalEventOf, type JournalEventType } from '../../core/journal.js';

/** A journal, or anything that carries one (a test rig). */
export type EventSource = MemoryJournal | { readonly journal: MemoryJournal };

function journalOf(source: EventSource): MemoryJournal {
  return source instanceof MemoryJournal ? source : source.journal;
}

/** The journal's events of one type, in order; only those for `orderId` when given. */
export function eventsOf<K extends JournalEventType>(source: EventSource, type: K, orderId?: string): JournalEventOf<K>[] {
  return journalOf(source).events.filter(
    (event) => event.type === type && (orderId === undefined || (event as { orderId?: string }).orderId === orderId),
  ) as unknown as JournalEventOf<K>[];
}

/** The `fault.injected` events of one fault id; only those for `orderId` when given. */
export function faultsOf(source: EventSource, fault: string, orderId?: string): JournalEventOf<'fault.injected'>[] {
  return eventsOf(source, 'fault.injected', orderId).filter((event) => event.fault === fault);
}

/**
 * Waits (event-driven, bounded) until `count` journal events of a type match the predicate;
 * resolves with all that match by then.
 */
export function waitForEvents<K extends JournalEventType>(
  source: EventSource,
  type: K,
  predicate: (event: JournalEventOf<K>) => boolean = () => true,
  count = 1,
  timeoutMs = 3000,
): Promise<JournalEventOf<K>[]> {
  const journal = journalOf(source);
  const matches = (): JournalEventOf<K>[] => eventsOf(journal, type).filter(predicate);
  const found = matches();
  if (found.length >= count) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting for ${count} × ${type} (saw ${matches().length})`));
    }, timeoutMs);
    const unsubscribe = journal.subscribe(() => {
      const now = matches();
      if (now.length >= count) {
        clearTimeout(timer);
        unsubscribe();
        resolve(now);
      }
    });
  });
}

/** Waits (event-driven, bounded) for the first journal event of a type matching the predicate. */
export async function waitForEvent<K extends JournalEventType>(
  source: EventSource,
  type: K,
  predicate: (event: JournalEventOf<K>) => boolean = () => true,
  timeoutMs = 3000,
): Promise<JournalEventOf<K>> {
  const [first] = await waitForEvents(source, type, predicate, 1, timeoutMs);
  if (first === undefined) throw new Error(`no ${type} event`);
  return first;
}
