/**
 * What a target profile's `${…}` placeholders stand for in one scenario run: where the shop itself
 * listens, where each of Ordeal's mocks is served, the run's key folder. The README's "Testing
 * your own shop" lists them; an unknown one is an error that lists these.
 */
import type { PaymentProtocol } from '../../core/scenario-schema.js';
import type { MockUrls } from '../../mocks/index.js';

/**
 * What the placeholders are filled from; what is not known is left out (`ordeal target env` for a
 * shop Ordeal starts has no port of its own yet, a mock without a fixed port no URL).
 */
export interface PlaceholderSources {
  /** The port the shop is given (also in `PORT`), or an attached shop's. */
  port?: number;
  /** The shop's base URL. @default `http://127.0.0.1:<port>` */
  shopUrl?: string;
  /** The shop's own data folder for this scenario run (fresh for each), or kept beside an attached shop's keys. */
  shopDataDir?: string;
  /** Ordeal's own variables for the shop (`ORDEAL_*`). */
  ordealEnv: Readonly<Record<string, string>>;
  /** The run's payment channels, the primary first. */
  channels: ReadonlyArray<{ protocol: PaymentProtocol; url: string }>;
  mocks: { urls: Partial<MockUrls> };
  /** Flaws switched on (`--flaws`), for the `${flaws}` placeholder. */
  flaws: readonly string[];
}

export function placeholderValues({ port, shopUrl, shopDataDir, ordealEnv, channels, mocks, flaws }: PlaceholderSources): Record<string, string> {
  const [primary] = channels;
  const known = (entries: Record<string, string | undefined>): Record<string, string> =>
    Object.fromEntries(Object.entries(entries).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const values: Record<string, string> = known({
    port: port === undefined ? undefined : String(port),
    'shop.url': shopUrl ?? (port === undefined ? undefined : `http://127.0.0.1:${port}`),
    'data.dir': shopDataDir,
    'stock.url': mocks.urls.stock,
    'notify.url': mocks.urls.notify,
    'risk.url': mocks.urls.risk,
    // The keys those three mocks require on every state-changing request (`Authorization: Bearer …`).
    'stock.key': ordealEnv.ORDEAL_STOCK_KEY,
    'notify.key': ordealEnv.ORDEAL_NOTIFY_KEY,
    'risk.key': ordealEnv.ORDEAL_RISK_KEY,
    'payment.keys': ordealEnv.ORDEAL_PAYMENT_KEYS ?? '',
    flaws: flaws.join(','),
  });
  // The notify gateways, under names a mailer's and an SMS client's settings use.
  const notify: Array<[string, string]> = [
    ['sms.url', 'ORDEAL_SMS_URL'],
    ['sms.account', 'ORDEAL_SMS_ACCOUNT'],
    ['sms.key', 'ORDEAL_SMS_KEY'],
    ['smtp.host', 'ORDEAL_SMTP_HOST'],
    ['smtp.port', 'ORDEAL_SMTP_PORT'],
    ['smtps.port', 'ORDEAL_SMTPS_PORT'],
    ['smtp.user', 'ORDEAL_SMTP_USER'],
    ['smtp.pass', 'ORDEAL_SMTP_PASS'],
    ['smtp.caFile', 'ORDEAL_SMTP_CA_FILE'],
  ];
  for (const [name, variable] of notify) if (ordealEnv[variable] !== undefined) values[name] = ordealEnv[variable]!;
  if (primary) {
    values['payment.url'] = primary.url;
    values['payment.protocol'] = primary.protocol;
    // host/port/protocol separately, for client libraries configured that way (the stripe client).
    const url = new URL(primary.url);
    values['payment.host'] = url.hostname;
    values['payment.port'] = url.port;
  }
  for (const channel of channels) {
    const url = new URL(channel.url);
    values[`payment.${channel.protocol}.url`] = channel.url;
    values[`payment.${channel.protocol}.host`] = url.hostname;
    values[`payment.${channel.protocol}.port`] = url.port;
  }
  return values;
}
