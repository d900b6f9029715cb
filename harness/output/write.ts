/**
 * Writes a run's reports into its folder, in the formats asked for. Every format is rendered from
 * the report (and, for HTML, the run folder's journals) by a pure renderer.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Report } from '../../core/report-types.js';
import { renderJson } from '../../reports/json.js';
import { renderMarkdown } from '../../reports/markdown.js';

export const REPORT_FORMATS = ['json', 'md', 'html', 'junit'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** File name of each format inside the run folder. */
export const REPORT_FILES: Record<ReportFormat, string> = {
  json: 'report.json',
  md: 'report.md',
  html: 'report.html',
  junit: 'junit.xml',
};

/**
 * Writes the given formats for the report of the run in `runDir`; returns the paths written.
 * @param formats @default every format
 */
export async function writeReports(runDir: string, report: Report, formats: readonly ReportFormat[] = REPORT_FORMATS): Promise<string[]> {
  const written: string[] = [];
  for (const format of formats) {
    const content = await renderFormat(format, runDir, report);
    const path = join(runDir, REPORT_FILES[format]);
    await writeFile(path, content);
    written.push(path);
  }
  return written;
}

/** Every format has a renderer: a format added without a case here does not compile. */
async function renderFormat(format: ReportFormat, runDir: string, report: Report): Promise<string> {
  switch (format) {
    case 'json':
      return renderJson(report);
    case 'md':
      return renderMarkdown(report);
    case 'html': {
      const [{ buildHtmlData }, { renderHtml }] = await Promise.all([import('./html-data.js'), import('../../reports/html.js')]);
      return renderHtml(await buildHtmlData(runDir, report));
    }
    case 'junit':
      return (await import('../../reports/junit.js')).renderJunit(report);
  }
}
