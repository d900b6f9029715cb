/**
 * GitHub Actions: the Markdown report as the job summary. When `GITHUB_STEP_SUMMARY` names a file
 * (GitHub sets it in every step), the report is appended to it and shows on the run's summary page.
 */
import { appendFile, stat } from 'node:fs/promises';
import { truncateMarkdown } from '../../reports/markdown.js';

/** GitHub's limit on a step's summary, in bytes; a larger summary is not shown at all. */
export const STEP_SUMMARY_LIMIT = 1024 * 1024;

const TRUNCATED_NOTE =
  '> [!NOTE]\n> The Ordeal report was cut to fit GitHub\'s 1 MiB step-summary limit: the whole report is in the run folder (report.md, report.html, report.json).';

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/**
 * Appends `markdown` to the job summary when `GITHUB_STEP_SUMMARY` is set; cuts it (at a line, with
 * a note) so the step's summary stays within 1 MiB, counting what the step already wrote there.
 * @returns true when it wrote, false when the variable is unset or the summary is already full.
 * Rejects when the file cannot be written.
 */
export async function writeStepSummary(markdown: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const path = env.GITHUB_STEP_SUMMARY;
  if (!path) return false;
  const existing = await sizeOf(path);
  // Separate from whatever an earlier step of the job wrote, and end with a line break.
  const text = `${existing > 0 ? '\n' : ''}${markdown}${markdown.endsWith('\n') ? '' : '\n'}`;
  const budget = STEP_SUMMARY_LIMIT - existing;
  if (bytes(text) > budget && bytes(TRUNCATED_NOTE) + 2 > budget) return false;
  await appendFile(path, truncateMarkdown(text, budget, TRUNCATED_NOTE, bytes), 'utf8');
  return true;
}
