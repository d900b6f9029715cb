/**
 * Building pages: every value that reaches HTML goes through `html` (a tagged template that
 * escapes what it interpolates) or `raw` (markup this file's callers built with `html` already).
 */

/** Markup that is already safe to place in a page. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => ENTITIES[character] ?? character);
}

type Part = SafeHtml | string | number | undefined | null | readonly Part[];

function render(part: Part): string {
  if (part === undefined || part === null) return '';
  if (part instanceof SafeHtml) return part.text;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

/** `html\`<p>${value}</p>\``: strings and numbers escaped, SafeHtml kept, arrays joined. */
export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}

/** Fen as yuan with two decimals (`3000` → `30.00`). */
export function yuan(fen: number): string {
  return (fen / 100).toFixed(2);
}

/** Epoch ms as the shop prints times: `YYYY-MM-DD HH:mm:ss`, China time. */
export function chinaTime(ms: number | null): string {
  if (ms === null) return '—';
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A whole page in the shop's frame. */
export function page(siteName: string, title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} - ${siteName}</title></head>
<body>
<header><a href="/" class="site-name">${siteName}</a> · <a href="/query">订单查询 Order lookup</a></header>
<main>
${body}
</main>
</body>
</html>
`.text;
}
