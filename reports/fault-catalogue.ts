/**
 * The README's fault catalogue and buyer-behaviour table, rendered from the fault registry
 * (core/faults/). `npm run docs` writes them into README.md between their markers; a test fails
 * when the README and the registry disagree.
 */
import { RECOVERY_KINDS } from '../core/faults/define.js';
import { BUYER_CLASSES, FAULTS } from '../core/faults/index.js';

/** The markers around each generated block in README.md. */
export const CATALOGUE_MARKERS = {
  faults: ['<!-- fault-catalogue:start (generated from core/faults by `npm run docs`) -->', '<!-- fault-catalogue:end -->'],
  buyers: ['<!-- buyer-behaviours:start (generated from core/faults/buyers.ts by `npm run docs`) -->', '<!-- buyer-behaviours:end -->'],
} as const;

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** One row per fault, in registry order, then the recovery kinds the rows name. */
export function renderFaultCatalogue(): string {
  const rows = FAULTS.map(
    (fault) =>
      `| ${fault.family} | \`${fault.id}\` | ${cell(fault.text.parameters)} | ${cell(fault.text.models)} | ${fault.injectedBy} | \`${fault.recovery}\` | ${cell(fault.text.expectation)} |`,
  );
  const kinds = Object.entries(RECOVERY_KINDS).map(([kind, meaning]) => `- \`${kind}\`: ${meaning}.`);
  return [
    '| family | id | parameters | models | injected by | recovery | what a good shop does (detect / notify / recover) |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Recovery kinds:',
    '',
    ...kinds,
  ].join('\n');
}

/** `normal`, then one row per buyer mistake (each scored as `buyer.<behaviour>`). */
export function renderBuyerBehaviours(): string {
  const rows = BUYER_CLASSES.map((entry) => `| \`${entry.behaviour}\` | ${cell(entry.text.does)} | ${cell(entry.text.expectation)} |`);
  return [
    '| behaviour | what the buyer does | what a good shop does |',
    '|---|---|---|',
    '| `normal` | orders, pays, waits for the cards | delivers (the steady state) |',
    ...rows,
  ].join('\n');
}

/** `readme` with both generated blocks replaced by what the registry says now. */
export function withCatalogue(readme: string): string {
  let text = readme;
  for (const [kind, render] of [
    ['faults', renderFaultCatalogue],
    ['buyers', renderBuyerBehaviours],
  ] as const) {
    const [start, end] = CATALOGUE_MARKERS[kind];
    const from = text.indexOf(start);
    const to = text.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md: the markers ${start} … ${end} are missing`);
    text = `${text.slice(0, from + start.length)}\n${render()}\n${text.slice(to)}`;
  }
  return text;
}
