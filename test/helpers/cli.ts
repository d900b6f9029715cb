import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Report } from '../../core/report-types.js';
import { loadJournal, type JournalEvent } from '../../core/journal.js';

export const CLI = resolve('dist/harness/cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion (bounded by timeoutMs) and collects its output. */
export function runCli(args: readonly string[], timeoutMs = 90_000, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolveResult, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ordeal ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveResult({ code, stdout, stderr });
    });
  });
}

export async function tempDir(prefix = 'ordeal-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function readReport(outDir: string): Promise<Report> {
  return JSON.parse(await readFile(join(outDir, 'report.json'), 'utf8')) as Report;
}

export async function readScenarioJournal(outDir: string, scenario: string): Promise<JournalEvent[]> {
  return loadJournal(join(outDir, scenario, 'journal.ndjson'));
}
