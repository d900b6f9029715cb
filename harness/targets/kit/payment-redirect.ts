/**
 * Following a card shop's hand-over to its payment gateway: the shop answers "pay" with a page
 * whose only job is to move the browser on — a form of hidden fields that a script (or the body's
 * `onload`) submits at once, a `<meta http-equiv="refresh">`, or a script setting `location` — and
 * the gateway may do the same again before the buyer reaches the cashier. This module does what
 * the browser would, step by step, until a page that waits for the buyer.
 */
import { isReachableUrl, outsideRule } from '../../../core/network-scope.js';
import type { BuyerSession, SessionAnswer } from './buyer-session.js';
import { resolveUrl, type HtmlForm } from './html-form.js';
import type { HtmlPage } from './html-page.js';
import { codeRunOnLoad } from './script-on-load.js';

/** How a page moves the browser on by itself. */
export type AutoNavigation = { kind: 'form'; form: HtmlForm } | { kind: 'refresh'; url: string } | { kind: 'script'; url: string };

export interface AutoNavigationOptions {
  /** A meta refresh that waits longer than this is the page's own timer (a cashier's expiry), not a hand-over, s. @default 5 */
  maxRefreshDelaySeconds?: number;
}

export interface PaymentRedirectOptions extends AutoNavigationOptions {
  /** Auto-submitting pages followed at most; one more is a result with `error`. @default 5 */
  maxSteps?: number;
}

export interface PaymentRedirect {
  /** The page the chain stopped at: the cashier when all went well (the given answer when it was not an auto-submit page). */
  answer: SessionAnswer;
  /** Each answer after the given one, in order (the last is `answer`). */
  chain: SessionAnswer[];
  /** Why following stopped early: a failed step, a target that is not loopback, too many steps. */
  error?: string;
}

/** Input types a buyer fills in: a form holding one is waiting for the buyer, not auto-submitting. */
const BUYER_FILLED = new Set(['text', 'email', 'password', 'tel', 'number', 'search', 'url', 'date', 'checkbox', 'radio', 'file']);

/** What a page's scripts do on their own as it loads: inline scripts and the body's (or frameset's) onload, without handlers waiting for the buyer. */
function loadScript(page: HtmlPage): string {
  const { $ } = page;
  const inline = $('script')
    .filter((_, script) => $(script).attr('src') === undefined)
    .toArray()
    .map((script) => $(script).text());
  const onload = $('body, frameset')
    .toArray()
    .map((element) => $(element).attr('onload') ?? '');
  return [...inline, ...onload].map(codeRunOnLoad).join('\n');
}

function callsSubmit(script: string): boolean {
  return script.includes('.submit(') || script.includes('.requestSubmit(');
}

/** The form a submitting script names (by id or name), else the page's first: `document.forms[0].submit()`. */
function submittedForm(page: HtmlPage, script: string): HtmlForm | undefined {
  const { $ } = page;
  const elements = $('form').toArray();
  const forms = page.forms();
  const waitsForBuyer = (index: number): boolean =>
    $(elements[index])
      .find('input, select, textarea')
      .toArray()
      .some((control) => {
        const tag = control.tagName.toLowerCase();
        return tag !== 'input' || BUYER_FILLED.has(($(control).attr('type') ?? 'text').toLowerCase());
      });
  let chosen = 0;
  if (forms.length > 1) {
    const named = forms.findIndex((form) => (form.id !== undefined && script.includes(form.id)) || (form.name !== undefined && script.includes(form.name)));
    if (named >= 0) chosen = named;
  }
  const form = forms[chosen];
  return form === undefined || waitsForBuyer(chosen) ? undefined : form;
}

/** A script's `location.href = "…"`, `location = "…"`, `location.replace("…")` / `.assign("…")` target. */
function scriptedLocation(script: string, page: HtmlPage): string | undefined {
  const match = /\blocation(?:\.href)?\s*=\s*(["'])([^"']+)\1|\blocation\.(?:replace|assign)\(\s*(["'])([^"']+)\3/.exec(script);
  const target = match?.[2] ?? match?.[4];
  return target === undefined ? undefined : resolveUrl(target, page.baseUrl);
}

function withoutHash(url: string): string {
  const hash = url.indexOf('#');
  return hash < 0 ? url : url.slice(0, hash);
}

/**
 * How `page` moves the browser on by itself, or undefined when it waits for the buyer: a form of
 * hidden fields submitted by a script or `onload`, a prompt meta refresh to another URL, or a
 * script that sets `location`.
 */
export function detectAutoNavigation(page: HtmlPage, options: AutoNavigationOptions = {}): AutoNavigation | undefined {
  const script = loadScript(page);
  if (callsSubmit(script)) {
    const form = submittedForm(page, script);
    if (form !== undefined) return { kind: 'form', form };
  }
  const refresh = page.metaRefresh();
  if (refresh !== undefined && refresh.delaySeconds <= (options.maxRefreshDelaySeconds ?? 5) && withoutHash(refresh.url) !== withoutHash(page.url)) {
    return { kind: 'refresh', url: refresh.url };
  }
  const scripted = scriptedLocation(script, page);
  if (scripted !== undefined && withoutHash(scripted) !== withoutHash(page.url)) return { kind: 'script', url: scripted };
  return undefined;
}

/**
 * From the shop's "pay" answer to the page that waits for the buyer (the provider's cashier):
 * submits auto-submitting forms (no button clicked, as `form.submit()` does), follows prompt meta
 * refreshes and scripted `location` changes, with the session's cookies and redirects, at most
 * `maxSteps` times. Never throws for what the pages do: a step that fails, or a page that sends
 * the buyer off loopback, ends the chain with `error`.
 */
export async function followPaymentRedirect(session: BuyerSession, answer: SessionAnswer, options: PaymentRedirectOptions = {}): Promise<PaymentRedirect> {
  const maxSteps = options.maxSteps ?? 5;
  const chain: SessionAnswer[] = [];
  let current = answer;
  // Bounded: the pass after the maxSteps-th step returns.
  for (;;) {
    if (current.error !== undefined) return { answer: current, chain, error: current.error };
    const next = current.text === '' ? undefined : detectAutoNavigation(session.page(current), options);
    if (next === undefined) return { answer: current, chain };
    if (chain.length >= maxSteps) return { answer: current, chain, error: `still auto-submitting after ${maxSteps} steps at ${current.url}` };
    const target = next.kind === 'form' ? next.form.submission(null).url : next.url;
    if (!isReachableUrl(target)) return { answer: current, chain, error: `refused: ${current.url} sends the buyer to ${target}, which is ${outsideRule()}` };
    current = next.kind === 'form' ? await session.submitForm(next.form, { submitter: null }) : await session.get(next.url, { referer: current.url });
    chain.push(current);
  }
}
