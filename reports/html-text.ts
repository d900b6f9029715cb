/** Escaping for the HTML report. (What each incident class models comes from the fault registry.) */

// A raw carriage return would be read as a line feed (HTML normalises CR LF): `&#13;` keeps an id
// in an attribute equal to the same id in the embedded data.
const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '\r': '&#13;' };

/**
 * Characters a page would act on rather than show, which a shop can put in any id or message:
 * C0 and C1 controls (but tab, line feed and carriage return) and the bidirectional marks and
 * overrides that make an id read backwards or hide what follows it.
 */
const HIDDEN_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every hidden control shown as its escape (`\u202e`), as the console shows it. */
export function showControls(text: string): string {
  return text.replace(HIDDEN_CONTROL, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return showControls(text).replace(/[&<>"'\r]/g, (char) => HTML_ESCAPES[char] ?? char);
}

/**
 * JSON safe inside a `<script type="application/json">` element: no `<`, `>`, `&` or line
 * separators, and its strings with their hidden controls shown (the page puts them in as text).
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => (typeof field === 'string' ? showControls(field) : field))
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
