/**
 * Form Shop as a process: `node dist/examples/form-shop/shop/main.js`, configured by environment
 * only (README.md lists the settings). Prints `form-shop listening on http://127.0.0.1:PORT` when
 * ready; SIGTERM / SIGINT stop it gracefully (exit 0). Bad settings: a message, exit code 2.
 */
import { startFormShop } from './app.js';
import { settingsFromEnv, SettingsError, type Settings } from './settings.js';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = settingsFromEnv(process.env);
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`form-shop: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const shop = await startFormShop(settings, log);
  process.stdout.write(`form-shop listening on ${shop.url}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    shop.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log(`error while stopping: ${(error as Error).stack ?? String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`form-shop: failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
