/**
 * The shop's settings, read from the environment only (the way a PHP shop reads its `.env`).
 * A missing or malformed setting stops the start with a message naming it.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseFlaws, type Flaw } from './flaws.js';

export interface MailSettings {
  host: string;
  port: number;
  /** Implicit TLS from the first byte (port 465); otherwise STARTTLS, which is then required. */
  secure: boolean;
  user: string;
  pass: string;
  /** PEM of the authority the SMTP server's certificate is checked against; the system's when absent. */
  ca: string | undefined;
  /** The name the certificate must carry, when SMTP_HOST is an address. */
  servername: string | undefined;
  from: string;
  /** Sending attempts per message, the first included. */
  tries: number;
  /** Wait before the first retry; doubled for each further one. */
  backoffMs: number;
}

export interface Settings {
  port: number;
  /** Its own public URL (notify_url and return_url are built on it); the listening address when unset. */
  siteUrl: string | undefined;
  siteName: string;
  dataDir: string;
  dbFile: string;
  /** Signs CSRF tokens; kept in `<DATA_DIR>/app.key` when not given. */
  appKey: string | undefined;
  epay: { api: string; pid: string; key: string };
  /** No SMTP_HOST: mails are recorded as skipped, not sent. */
  mail: MailSettings | undefined;
  orderTimeoutMs: number;
  reconcileMs: number;
  cardsPerGoods: number;
  maxQuantity: number;
  flaws: ReadonlySet<Flaw>;
}

export class SettingsError extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function required(env: Env, name: string): string {
  const value = text(env, name);
  if (value === undefined) throw new SettingsError(`${name} is required`);
  return value;
}

/** A number of seconds (decimals allowed, so tests can run fast), as milliseconds. */
function seconds(env: Env, name: string, fallback: number): number {
  const value = text(env, name);
  if (value === undefined) return fallback * 1000;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new SettingsError(`${name} must be a positive number of seconds (got "${value}")`);
  return Math.round(parsed * 1000);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = text(env, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new SettingsError(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
  return parsed;
}

function httpUrl(env: Env, name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SettingsError(`${name} must be an http(s) URL (got "${value}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SettingsError(`${name} must be an http(s) URL (got "${value}")`);
  return value.replace(/\/+$/, '');
}

function mailSettings(env: Env): MailSettings | undefined {
  const host = text(env, 'SMTP_HOST');
  if (host === undefined) return undefined;
  const secure = text(env, 'SMTP_SECURE') === 'true';
  const caFile = text(env, 'SMTP_CA_FILE');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new SettingsError(`SMTP_CA_FILE: cannot read ${caFile}: ${(error as Error).message}`);
    }
  }
  return {
    host,
    port: integer(env, 'SMTP_PORT', secure ? 465 : 587, 1, 65_535),
    secure,
    user: required(env, 'SMTP_USER'),
    pass: required(env, 'SMTP_PASS'),
    ca,
    servername: text(env, 'SMTP_TLS_SERVERNAME'),
    from: text(env, 'MAIL_FROM') ?? 'Form Shop <shop@form-shop.test>',
    tries: integer(env, 'MAIL_TRIES', 4, 1, 10),
    backoffMs: seconds(env, 'MAIL_BACKOFF_SECONDS', 2),
  };
}

export function settingsFromEnv(env: Env): Settings {
  const dataDir = resolve(text(env, 'DATA_DIR') ?? 'data');
  const siteUrl = text(env, 'SITE_URL');
  let flaws: ReadonlySet<Flaw>;
  try {
    flaws = parseFlaws(text(env, 'SHOP_FLAWS') ?? '');
  } catch (error) {
    throw new SettingsError(`SHOP_FLAWS: ${(error as Error).message}`);
  }
  return {
    port: integer(env, 'PORT', 8080, 0, 65_535),
    siteUrl: siteUrl === undefined ? undefined : httpUrl(env, 'SITE_URL', siteUrl),
    siteName: text(env, 'SITE_NAME') ?? 'Form Shop 发卡网',
    dataDir,
    dbFile: resolve(text(env, 'DB_FILE') ?? join(dataDir, 'form-shop.sqlite')),
    appKey: text(env, 'APP_KEY'),
    epay: { api: httpUrl(env, 'EPAY_API', required(env, 'EPAY_API')), pid: required(env, 'EPAY_PID'), key: required(env, 'EPAY_KEY') },
    mail: mailSettings(env),
    orderTimeoutMs: seconds(env, 'ORDER_TIMEOUT_SECONDS', 300),
    reconcileMs: seconds(env, 'RECONCILE_SECONDS', 60),
    cardsPerGoods: integer(env, 'CARDS_PER_GOODS', 40, 0, 100_000),
    maxQuantity: integer(env, 'MAX_QUANTITY', 5, 1, 100),
    flaws,
  };
}
