/**
 * The reference shop as a process: `node dist/shop/main.js [--flaws a,b]`.
 *
 * `node dist/shop/main.js --list-flaws` prints the flaw catalogue as JSON
 * (`[{ "id": ..., "description": ... }]`) and exits 0 without starting anything: a harness learns
 * the built-in shop's flaws from the process, as it would any other shop's, without its code.
 *
 * Environment: PORT, HOST (optional: the address to listen on, default 127.0.0.1), ORDEAL_PAYMENT_URL, ORDEAL_PAYMENT_PROTOCOL (optional: native, epay, alipay,
 * wechatpay or stripe, or several comma-separated — one channel each, the first the primary;
 * default native), ORDEAL_PAYMENT_URL_<PROTOCOL> (each channel's URL; the primary falls back to
 * ORDEAL_PAYMENT_URL), ORDEAL_PAYMENT_METHODS (optional: method=protocol pairs),
 * ORDEAL_PAYMENT_SECRET (native) or ORDEAL_PAYMENT_KEYS (the folder of key files, the other
 * protocols), ORDEAL_STOCK_URL, ORDEAL_NOTIFY_URL, ORDEAL_RISK_URL (optional), ORDEAL_STOCK_KEY,
 * ORDEAL_NOTIFY_KEY, ORDEAL_RISK_KEY (the services' API keys), ORDEAL_SHOP_CONFIG (JSON: catalog, timers), ORDEAL_DATA_DIR (optional),
 * ORDEAL_SHOP_FLAWS (optional, like --flaws). Bad configuration: a message on stderr, exit code 2.
 * Prints `listening on http://127.0.0.1:PORT` when ready; SIGTERM/SIGINT close it and exit 0.
 */
import { startShop } from './app.js';
import { configFromEnv, ShopConfigError, type ShopConfig } from './config.js';
import { flawListing } from './flaws.js';

async function main(): Promise<void> {
  if (process.argv.slice(2).includes('--list-flaws')) {
    process.stdout.write(`${JSON.stringify(flawListing(), null, 2)}\n`);
    return;
  }
  let config: ShopConfig;
  try {
    config = configFromEnv(process.env, process.argv.slice(2));
  } catch (error) {
    if (error instanceof ShopConfigError) {
      process.stderr.write(`ordeal shop: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  config.log = (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const shop = await startShop(config);
  process.stdout.write(`listening on ${shop.url}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    shop.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`ordeal shop: error while stopping on ${signal}: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`ordeal shop: unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}\n`);
});

main().catch((error: unknown) => {
  process.stderr.write(`ordeal shop: failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
