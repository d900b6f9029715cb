/**
 * The README's fault × protocol table: what a shop speaking each protocol sees of each payment
 * fault, rendered from the personalities' `faultForms`. `npm run docs` writes it between its
 * markers; a test fails when the README and the personalities disagree.
 */
import { PAYMENT_PROTOCOLS, type PaymentProtocol } from '../../../core/schema-parts.js';
import { FAULT_IDS } from '../../../core/faults/index.js';
import type { FaultForm, PaymentFaultId } from '../personality.js';

export const PROTOCOL_TABLE_MARKERS = [
  '<!-- protocol-faults:start (generated from mocks/payment/personalities by `npm run docs`) -->',
  '<!-- protocol-faults:end -->',
] as const;

const PAYMENT_FAULT_IDS = FAULT_IDS.filter((id): id is PaymentFaultId => id.startsWith('payment.'));

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function formCell(form: FaultForm): string {
  return 'shopSees' in form ? cell(form.shopSees) : `*not expressible:* ${cell(form.inexpressible)}`;
}

/** One row per payment fault, one column per protocol. */
export function renderProtocolFaultTable(forms: Readonly<Record<PaymentProtocol, Readonly<Record<PaymentFaultId, FaultForm>>>>): string {
  return [
    `| fault | ${PAYMENT_PROTOCOLS.join(' | ')} |`,
    `|---|${PAYMENT_PROTOCOLS.map(() => '---').join('|')}|`,
    ...PAYMENT_FAULT_IDS.map((id) => `| \`${id}\` | ${PAYMENT_PROTOCOLS.map((protocol) => formCell(forms[protocol][id])).join(' | ')} |`),
  ].join('\n');
}

/** `readme` with the table between its markers replaced. */
export function withProtocolFaultTable(readme: string, forms: Readonly<Record<PaymentProtocol, Readonly<Record<PaymentFaultId, FaultForm>>>>): string {
  const [start, end] = PROTOCOL_TABLE_MARKERS;
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md: the markers ${start} … ${end} are missing`);
  return `${readme.slice(0, from + start.length)}\n${renderProtocolFaultTable(forms)}\n${readme.slice(to)}`;
}
