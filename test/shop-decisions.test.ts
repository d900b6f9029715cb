/**
 * The flaws as named decisions (`shop/flaws.ts`), and the shape the reference shop keeps: a black
 * box that imports nothing of Ordeal's, stages that read decisions rather than flaw ids, and the
 * payment provider's vocabulary confined to its client.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decisionsFor, FLAW_CATALOGUE, FlawSet, flawListing, SHOP_FLAWS, type Decision } from '../shop/flaws.js';

const SHOP = resolve(import.meta.dirname, '..', 'shop');
const sources = readdirSync(SHOP, { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.ts'))
  .map((file) => ({ file: relative(SHOP, join(SHOP, file)), text: readFileSync(join(SHOP, file), 'utf8') }));

describe('flaw decisions', () => {
  it('gives every flaw its own decision, with a defect and what it changes', () => {
    const decisions = FLAW_CATALOGUE.map((flaw) => flaw.decision);
    expect(new Set(decisions).size).toBe(decisions.length);
    for (const flaw of FLAW_CATALOGUE) {
      expect(flaw.decision).toMatch(/^[a-z][A-Za-z]+$/);
      expect(flaw.defect.length).toBeGreaterThan(10);
      expect(flaw.changes.length).toBeGreaterThan(10);
    }
  });

  it('decides like the resilient shop with no flaws', () => {
    expect(Object.values(decisionsFor([])).every((decision) => decision === false)).toBe(true);
    expect(Object.keys(decisionsFor([])).sort()).toEqual(FLAW_CATALOGUE.map((flaw) => flaw.decision).sort());
  });

  it('turns on exactly the decision of each flaw', () => {
    for (const flaw of FLAW_CATALOGUE) {
      const decisions = decisionsFor(new FlawSet([flaw.id]));
      const on = (Object.keys(decisions) as Decision[]).filter((name) => decisions[name]);
      expect(on, flaw.id).toEqual([flaw.decision]);
    }
    expect(decisionsFor(['no-refund', 'no-reconcile'])).toMatchObject({ failInsteadOfRefunding: true, relyOnCallbacksOnly: true, acceptAnyPaidAmount: false });
  });

  it('keeps SHOP_FLAWS and the --list-flaws listing in step with the catalogue', () => {
    expect(SHOP_FLAWS.map((flaw) => flaw.name)).toEqual(FLAW_CATALOGUE.map((flaw) => flaw.id));
    expect(flawListing()).toEqual(SHOP_FLAWS.map((flaw) => ({ id: flaw.name, description: flaw.description })));
  });
});

describe('the shop as a black box', () => {
  it('imports nothing from the harness, the mocks or the reports', () => {
    for (const { file, text } of sources) {
      expect(text, file).not.toMatch(/from '(\.\.\/)+(harness|mocks|reports)\//);
    }
  });

  it('keeps every source file under 600 lines', () => {
    for (const { file, text } of sources) expect(text.split('\n').length, file).toBeLessThan(600);
  });

  it('reads decisions, never flaw ids, outside flaws.ts and config.ts', () => {
    const ids = FLAW_CATALOGUE.map((flaw) => flaw.id);
    for (const { file, text } of sources) {
      if (file === 'flaws.ts' || file === 'config.ts') continue;
      expect(text, file).not.toMatch(/flaws\.has\(/);
      for (const id of ids) expect(text.includes(`'${id}'`), `${file} names the flaw '${id}'`).toBe(false);
    }
  });

  it('reads every decision somewhere', () => {
    const code = sources.filter(({ file }) => file !== 'flaws.ts').map(({ text }) => text);
    for (const flaw of FLAW_CATALOGUE) {
      expect(code.some((text) => text.includes(`decisions.${flaw.decision}`)), flaw.decision).toBe(true);
    }
  });

  it('spells the providers\u2019 trade statuses only in the payment protocol modules', () => {
    for (const { file, text } of sources) {
      if (file.startsWith('payment/')) continue;
      expect(text, file).not.toMatch(/\b(TRADE_SUCCESS|PAY_FAILED|TRADE_CLOSED|WAIT_BUYER_PAY|VERIFYING)\b/);
    }
  });
});
