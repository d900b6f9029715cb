/**
 * Requests the mocks refused for lacking the run's credentials (`mock.outside_request`): from
 * another local process, or a shop that signs wrongly. They never reached a ledger, so they are
 * never orders and never the shop's fault; the report lists them apart — a count and the first
 * few — so that whoever reads it knows something else was talking to the mocks (issue 14, item 4).
 */
import type { JournalEventOf } from '../../core/journal.js';
import type { OutsideRequestExample, OutsideRequests } from '../../core/report-types.js';

/** How many outside requests a report shows as examples (the count covers all). */
export const OUTSIDE_REQUEST_EXAMPLES = 5;

/** Counts outside requests as the journal is folded, keeping the first few. */
export class OutsideRequestTally {
  private count = 0;
  private readonly byMock = new Map<string, number>();
  private readonly examples: OutsideRequestExample[] = [];

  add(event: JournalEventOf<'mock.outside_request'>): void {
    this.count += 1;
    this.byMock.set(event.mock, (this.byMock.get(event.mock) ?? 0) + 1);
    if (this.examples.length >= OUTSIDE_REQUEST_EXAMPLES) return;
    this.examples.push({
      t: event.t,
      mock: event.mock,
      method: event.method,
      path: event.path,
      ...(event.remoteAddress === undefined ? {} : { remoteAddress: event.remoteAddress }),
      reason: event.reason,
    });
  }

  /** The report's figures; undefined when there were none (reports of clean runs are unchanged). */
  figures(): OutsideRequests | undefined {
    if (this.count === 0) return undefined;
    return { count: this.count, byMock: Object.fromEntries(this.byMock), examples: this.examples.map((example) => ({ ...example })) };
  }
}

/** The score's `outsideRequests` field of a folded run: present only when there were some. */
export function outsideRequestsOf(run: { outside: OutsideRequestTally }): { outsideRequests?: OutsideRequests } {
  const figures = run.outside.figures();
  return figures === undefined ? {} : { outsideRequests: figures };
}
