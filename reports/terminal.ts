/** Terminal text for the console renderers and the progress display: ANSI colours and aligned columns. */

/** Wraps text in one ANSI style, or leaves it as it is. */
export type Paint = (text: string) => string;

export interface Palette {
  green: Paint;
  red: Paint;
  yellow: Paint;
  dim: Paint;
  bold: Paint;
}

const ansi = (open: number, close: number): Paint => (text) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain: Paint = (text) => text;

/** The colours, or (`color` false) paints that change nothing. */
export function palette(color: boolean): Palette {
  if (!color) return { green: plain, red: plain, yellow: plain, dim: plain, bold: plain };
  return { green: ansi(32, 39), red: ansi(31, 39), yellow: ansi(33, 39), dim: ansi(2, 22), bold: ansi(1, 22) };
}

/** Display width, ignoring ANSI sequences. */
function width(text: string): number {
  // eslint-disable-next-line no-control-regex
  return [...text.replace(/\u001b\[[0-9;]*m/g, '')].length;
}

function pad(text: string, size: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'left' ? text + fill : fill + text;
}

/** Lays out rows as columns two spaces apart, each as wide as its widest cell. */
export function table(rows: string[][], align: Array<'left' | 'right'>, indent: string): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, width(cell))));
  return rows.map((row) => indent + row.map((cell, index) => pad(cell, widths[index] ?? 0, align[index] ?? 'left')).join('  ').trimEnd());
}

/**
 * Characters a terminal acts on rather than shows — C0 and C1 controls (ESC starts cursor moves,
 * screen clears, title changes), line and paragraph separators, bidirectional overrides — which a
 * shop can put in any id or message it returns.
 */
const TERMINAL_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every terminal control shown as its escape (`\x1b`, `\u202e`): one line, nothing acted on. */
export function printable(text: string): string {
  return text.replace(TERMINAL_CONTROL, (char) => {
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
