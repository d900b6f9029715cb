/**
 * A real headless browser for the report tests: Debian's chromium driven by playwright-core.
 * Nothing is installed at test time; the browser is found at $ORDEAL_CHROMIUM or /usr/bin/chromium.
 */
import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_ENV = 'ORDEAL_CHROMIUM';
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The chromium executable to use; throws a message naming both places it looked. */
export async function findChromium(): Promise<string> {
  const fromEnv = process.env[CHROMIUM_ENV]?.trim() || undefined;
  const path = fromEnv ?? DEFAULT_CHROMIUM;
  try {
    await access(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(
      `No Chromium to test the HTML report in: ${fromEnv ? `${CHROMIUM_ENV}=${fromEnv} is not an executable file` : `${CHROMIUM_ENV} is not set and ${DEFAULT_CHROMIUM} does not exist`}. ` +
        `Install Debian's chromium (apt-get install chromium) so that ${DEFAULT_CHROMIUM} exists, or set ${CHROMIUM_ENV} to a Chromium executable.`,
    );
  }
}

export interface Browser {
  context: BrowserContext;
  /** A new page whose console errors and page errors are collected. */
  newPage(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/** Launches chromium headless with a fresh user-data dir (removed on close). */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = await findChromium();
  const userDataDir = await mkdtemp(join(tmpdir(), 'ordeal-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 1400 },
      timeout: 30_000,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
      return { page, errors };
    },
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
