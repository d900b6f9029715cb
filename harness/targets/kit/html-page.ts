/**
 * A shop's page read with cheerio (a spec-compliant HTML parser, never regular expressions on
 * markup): its forms, links, values and CSRF token, with URLs resolved as the browser resolves
 * them (against `<base href>` when the page has one).
 */
import { load, type CheerioAPI } from 'cheerio';
import { findCsrfToken, type CsrfToken } from './csrf.js';
import { HtmlForm, matchesText, normalizeText, optionValue, resolveUrl, type ButtonQuery, type ElementSelection, type FormContext } from './html-form.js';

/** A form by CSS selector (a string), or by its id, its name, or one of its submit buttons. */
export type FormQuery = string | { id?: string; name?: string; button?: ButtonQuery };

/** A link by its text (whitespace-collapsed, case-insensitive equality, or a RegExp) or by CSS selector. */
export type LinkQuery = string | RegExp | { selector: string };

export interface HtmlLink {
  /** The link's text, whitespace-collapsed. */
  text: string;
  /** Absolute URL of its href. */
  url: string;
}

/** A `<meta http-equiv="refresh">`: go to `url` (the page itself when it names none) after `delaySeconds`. */
export interface MetaRefresh {
  delaySeconds: number;
  url: string;
}

export class HtmlPage {
  /** The page's own URL (the final one, after redirects). */
  readonly url: string;
  /** What relative URLs resolve against: `<base href>`, else the page's URL. */
  readonly baseUrl: string;
  /** The parsed document, for what the helpers below do not cover. */
  readonly $: CheerioAPI;

  constructor(html: string, url: string) {
    this.$ = load(html);
    this.url = url;
    const base = this.$('base[href]').first().attr('href');
    this.baseUrl = base === undefined ? url : (resolveUrl(base, url) ?? url);
  }

  /** Every form on the page, in document order. */
  forms(): HtmlForm[] {
    const context: FormContext = { $: this.$, documentUrl: this.url, baseUrl: this.baseUrl };
    return this.$('form')
      .toArray()
      .map((form) => new HtmlForm(context, form));
  }

  /** The first form matching `query`, or undefined. */
  findForm(query: FormQuery): HtmlForm | undefined {
    const context: FormContext = { $: this.$, documentUrl: this.url, baseUrl: this.baseUrl };
    if (typeof query === 'string') {
      const form = this.find(query).filter('form').get(0);
      return form === undefined ? undefined : new HtmlForm(context, form);
    }
    return this.forms().find(
      (form) =>
        (query.id === undefined || form.id === query.id) &&
        (query.name === undefined || form.name === query.name) &&
        (query.button === undefined || hasButton(form, query.button)),
    );
  }

  /** Every `<a href>` on the page, resolved. */
  links(): HtmlLink[] {
    return this.linksIn(this.$('a[href]'));
  }

  /** The absolute URL of the first link matching `query`, or undefined. */
  findLink(query: LinkQuery): string | undefined {
    if (typeof query === 'object' && !(query instanceof RegExp)) return this.linksIn(this.find(query.selector).filter('a[href]'))[0]?.url;
    return this.links().find((link) => matchesText(link.text, query))?.url;
  }

  /** The text of the first element matching `selector`, whitespace-collapsed; undefined when none matches. */
  text(selector: string): string | undefined {
    const element = this.find(selector).first();
    return element.length === 0 ? undefined : normalizeText(element.text());
  }

  /** The texts of every element matching `selector`. */
  texts(selector: string): string[] {
    return this.find(selector)
      .toArray()
      .map((element) => normalizeText(this.$(element).text()));
  }

  /**
   * The value a control holds: an input's `value`, a textarea's text, a select's selected option;
   * for any other element, its `value` attribute or else its text. Undefined when nothing matches.
   */
  value(selector: string): string | undefined {
    const element = this.find(selector).first();
    const node = element.get(0);
    if (node === undefined) return undefined;
    const tag = node.tagName.toLowerCase();
    if (tag === 'textarea') return element.text();
    if (tag === 'select') {
      const options = element.find('option');
      const option = options.filter('[selected]').last().get(0) ?? options.get(0);
      if (option === undefined) return undefined;
      return optionValue(this.$, option);
    }
    return element.attr('value') ?? (tag === 'input' ? '' : normalizeText(element.text()));
  }

  /** An attribute of the first element matching `selector`. */
  attr(selector: string, name: string): string | undefined {
    return this.find(selector).first().attr(name);
  }

  /** The page's CSRF token (see csrf.ts for where it is looked for), or undefined. */
  csrfToken(fieldNames?: readonly string[]): CsrfToken | undefined {
    return findCsrfToken(this.$, fieldNames);
  }

  /** The page's `<meta http-equiv="refresh">`, or undefined when it has none (or it does not parse). */
  metaRefresh(): MetaRefresh | undefined {
    const content = this.$('meta[http-equiv]')
      .filter((_, meta) => (this.$(meta).attr('http-equiv') ?? '').trim().toLowerCase() === 'refresh')
      .first()
      .attr('content');
    return content === undefined ? undefined : parseRefresh(content, this.url, this.baseUrl);
  }

  /** Elements matching a CSS selector, in document order. */
  private find(selector: string): ElementSelection {
    return this.$.root().find(selector);
  }

  private linksIn(anchors: ElementSelection): HtmlLink[] {
    const links: HtmlLink[] = [];
    for (const anchor of anchors.toArray()) {
      const url = resolveUrl(this.$(anchor).attr('href') ?? '', this.baseUrl);
      if (url !== undefined) links.push({ text: normalizeText(this.$(anchor).text()), url });
    }
    return links;
  }
}

function hasButton(form: HtmlForm, query: ButtonQuery): boolean {
  return form.buttons.some((button) =>
    typeof query === 'string' || query instanceof RegExp
      ? matchesText(button.label, query)
      : button.name === query.name && (query.value === undefined || button.value === query.value),
  );
}

/**
 * The content of a refresh: `5`, `0; url=/next`, `0;URL='/next'` (HTML's "shared declarative
 * refresh steps", simplified: a delay, then an optional `url=` with optional quotes).
 */
export function parseRefresh(content: string, pageUrl: string, baseUrl: string): MetaRefresh | undefined {
  const trimmed = content.trim();
  let digits = 0;
  while (digits < trimmed.length && ((trimmed[digits]! >= '0' && trimmed[digits]! <= '9') || trimmed[digits] === '.')) digits += 1;
  if (digits === 0) return undefined;
  const delaySeconds = Number.parseFloat(trimmed.slice(0, digits));
  if (!Number.isFinite(delaySeconds)) return undefined;
  let rest = trimmed.slice(digits).trim();
  if (rest.startsWith(';') || rest.startsWith(',')) rest = rest.slice(1).trim();
  if (rest === '') return { delaySeconds, url: pageUrl };
  if (rest.toLowerCase().startsWith('url')) {
    const afterUrl = rest.slice(3).trim();
    if (afterUrl.startsWith('=')) rest = afterUrl.slice(1).trim();
  }
  const quote = rest[0];
  if (quote === '"' || quote === "'") {
    const end = rest.indexOf(quote, 1);
    rest = rest.slice(1, end < 0 ? undefined : end);
  }
  const url = resolveUrl(rest, baseUrl);
  return url === undefined ? undefined : { delaySeconds, url };
}

/** Parses a page; `url` is its own (final) URL, which relative links and actions resolve against. */
export function parsePage(html: string, url: string): HtmlPage {
  return new HtmlPage(html, url);
}
