/**
 * Starfall Keys, a JSON storefront selling game license keys: `node main.js`.
 * Configured by environment only (see settingsFromEnv and the README); prints
 * `listening on http://127.0.0.1:<port>` when ready; SIGTERM or SIGINT stop it gracefully.
 * A bad setting: a message on stderr and exit code 2.
 */
import type { Storefront } from './app.js';
import { SettingsError, settingsFromEnv, type Settings } from './settings.js';

const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString()} storefront: ${line}\n`);
};

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = settingsFromEnv(process.env);
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`storefront: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  // Handlers first: a supervisor may signal as soon as it reads the "listening" line.
  let stopping: NodeJS.Signals | undefined;
  let shop: Storefront | undefined;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = signal;
    if (shop) closeAndExit(shop, signal);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  // Loaded only once the settings are good: a bad one is reported without loading the stack.
  const { startStorefront } = await import('./app.js');
  shop = await startStorefront(settings, log);
  if (stopping) {
    closeAndExit(shop, stopping);
    return;
  }
  if (settings.flaws.size > 0) log(`flaws on: ${[...settings.flaws].join(', ')}`);
  process.stdout.write(`listening on ${shop.url}\n`);
}

function closeAndExit(shop: Storefront, signal: NodeJS.Signals): void {
  log(`${signal}: stopping`);
  shop.close().then(
    () => process.exit(0),
    (error: unknown) => {
      log(`error while stopping: ${(error as Error).stack ?? String(error)}`);
      process.exit(1);
    },
  );
}

main().catch((error: unknown) => {
  log(`failed to start: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
