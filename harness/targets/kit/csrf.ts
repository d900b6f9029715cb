/**
 * Finding a page's CSRF token the way frameworks render it: a hidden form field (Laravel `_token`,
 * Django `csrfmiddlewaretoken`, Rails `authenticity_token`, ...) or `<meta>` tags for scripts
 * (Rails / Laravel `csrf-token` + `csrf-param`, Spring `_csrf` + `_csrf_header`).
 */
import type { CheerioAPI } from 'cheerio';

export interface CsrfToken {
  value: string;
  /** The form field that carries it, when the page says (a hidden input's name, Rails' `csrf-param`). */
  field?: string;
  /** The request header the page asks scripts to send it in (Spring's `_csrf_header`). */
  header?: string;
}

/** Hidden-field names recognised as CSRF tokens, compared case-insensitively. */
export const CSRF_FIELD_NAMES: readonly string[] = [
  '_token',
  'csrf_token',
  'csrfmiddlewaretoken',
  'authenticity_token',
  '_csrf',
  '_csrf_token',
  'csrf',
  '__requestverificationtoken',
];

export function isCsrfFieldName(name: string, fieldNames: readonly string[] = CSRF_FIELD_NAMES): boolean {
  const lower = name.toLowerCase();
  return fieldNames.some((candidate) => candidate.toLowerCase() === lower);
}

function metaContent($: CheerioAPI, name: string): string | undefined {
  const content = $('meta')
    .filter((_, meta) => ($(meta).attr('name') ?? '').toLowerCase() === name)
    .first()
    .attr('content');
  return content === undefined || content === '' ? undefined : content;
}

/** The page's CSRF token: the first hidden field with a CSRF name, else the `<meta>` tags; undefined when none. */
export function findCsrfToken($: CheerioAPI, fieldNames: readonly string[] = CSRF_FIELD_NAMES): CsrfToken | undefined {
  const hidden = $('input')
    .filter((_, input) => {
      const element = $(input);
      return (element.attr('type') ?? '').toLowerCase() === 'hidden' && isCsrfFieldName(element.attr('name') ?? '', fieldNames);
    })
    .first();
  const hiddenValue = hidden.attr('value');
  if (hiddenValue !== undefined && hiddenValue !== '') return { value: hiddenValue, field: hidden.attr('name')! };

  const railsToken = metaContent($, 'csrf-token');
  if (railsToken !== undefined) {
    const field = metaContent($, 'csrf-param');
    return field === undefined ? { value: railsToken } : { value: railsToken, field };
  }
  const springToken = metaContent($, '_csrf');
  if (springToken !== undefined) {
    const header = metaContent($, '_csrf_header');
    const field = metaContent($, '_csrf_parameter') ?? '_csrf';
    return header === undefined ? { value: springToken, field } : { value: springToken, field, header };
  }
  return undefined;
}
