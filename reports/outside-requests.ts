/** The one line every report prints when the mocks refused outside requests (report.json `outsideRequests`). */
import type { OutsideRequests } from '../core/report-types.js';

export function outsideRequestsLine(outside: OutsideRequests): string {
  const mocks = [...new Set(outside.examples.map((example) => example.mock))].join(', ');
  const noun = outside.count === 1 ? 'request' : 'requests';
  return `${outside.count} outside ${noun} refused by the mocks (no valid run credentials${mocks === '' ? '' : `: ${mocks}`}); not counted as orders, not blamed on the shop`;
}
