/** The one line every report prints when the mocks refused outside requests (report.json `outsideRequests`). */
import type { OutsideRequests } from '../core/report-types.js';

export function outsideRequestsLine(outside: OutsideRequests): string {
  const mocks = Object.entries(outside.byMock)
    .map(([mock, count]) => `${mock} ${count}`)
    .join(', ');
  const noun = outside.count === 1 ? 'request' : 'requests';
  return `${outside.count} outside ${noun} refused by the mocks (no valid run credentials: ${mocks}); not counted as orders, not blamed on the shop`;
}
