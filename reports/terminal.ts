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
