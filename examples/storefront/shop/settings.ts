/**
 * The storefront's settings, read from the environment only (twelve-factor style, as Node shops
 * deployed on a PaaS are configured). A bad value stops the start with a message naming it.
 */
import { readFileSync } from 'node:fs';
import { parseFlaws, type Flaw } from './flaws.js';

export interface StripeSettings {
  secretKey: string;
  /** Handed to the buyer's browser with the client secret; optional (the browser may have it built in). */
  publishableKey: string | undefined;
  webhookSecret: string;
  host: string;
  port: number;
  protocol: 'http' | 'https';
  /** Whether the shop registers its webhook endpoint through the API at start (else it is set up in the dashboard). */
  registerWebhook: boolean;
}

export interface SmtpSettings {
  host: string;
  port: number;
  user: string;
  pass: string;
  /** PEM text of the CA the server's certificate must chain to; undefined: the system's CAs. */
  ca: string | undefined;
  /** The name the certificate is checked against when `host` is an IP address. */
  servername: string | undefined;
  from: string;
}

export interface Settings {
  port: number;
  dataDir: string;
  /** Where the shop is reachable from the payment provider; undefined: http://127.0.0.1:<port>. */
  publicUrl: string | undefined;
  stripe: StripeSettings;
  /** undefined: mail is written to the log instead of sent. */
  smtp: SmtpSettings | undefined;
  paymentWindowMs: number;
  reconcileMs: number;
  keysPerProduct: number;
  flaws: ReadonlySet<Flaw>;
}

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (value === undefined || value === '') throw new SettingsError(`${name} is required`);
  return value;
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = optional(env, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new SettingsError(`${name} must be an integer from ${min} to ${max} (got "${text}")`);
  return value;
}

/** Seconds, fractions allowed (tests run the timers fast), as milliseconds. */
function seconds(env: Env, name: string, fallback: number): number {
  const text = optional(env, name);
  if (text === undefined) return fallback * 1000;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0.1 || value > 7 * 86_400) throw new SettingsError(`${name} must be a number of seconds from 0.1 to 604800 (got "${text}")`);
  return Math.round(value * 1000);
}

function stripeSettings(env: Env): StripeSettings {
  const base = optional(env, 'STRIPE_API_BASE') ?? 'https://api.stripe.com';
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new SettingsError(`STRIPE_API_BASE must be a URL (got "${base}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SettingsError('STRIPE_API_BASE must be an http or https URL');
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  const register = optional(env, 'STRIPE_REGISTER_WEBHOOK') ?? 'true';
  if (!['true', 'false', '1', '0'].includes(register)) throw new SettingsError('STRIPE_REGISTER_WEBHOOK must be true or false');
  return {
    secretKey: required(env, 'STRIPE_SECRET_KEY'),
    publishableKey: optional(env, 'STRIPE_PUBLISHABLE_KEY'),
    webhookSecret: required(env, 'STRIPE_WEBHOOK_SECRET'),
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (protocol === 'https' ? 443 : 80) : Number(url.port),
    protocol,
    registerWebhook: register === 'true' || register === '1',
  };
}

function smtpSettings(env: Env): SmtpSettings | undefined {
  const host = optional(env, 'SMTP_HOST');
  if (host === undefined) return undefined;
  const caFile = optional(env, 'SMTP_CA_FILE');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new SettingsError(`SMTP_CA_FILE cannot be read: ${(error as Error).message}`);
    }
  }
  return {
    host,
    port: integer(env, 'SMTP_PORT', 465, 1, 65_535),
    // The mailer always logs in: a relay that takes mail without a login is not one to trust.
    user: required(env, 'SMTP_USER'),
    pass: required(env, 'SMTP_PASS'),
    ca,
    servername: optional(env, 'SMTP_TLS_SERVERNAME'),
    from: optional(env, 'MAIL_FROM') ?? 'Starfall Keys <orders@storefront.invalid>',
  };
}

export function settingsFromEnv(env: Env): Settings {
  const publicUrl = optional(env, 'PUBLIC_URL')?.replace(/\/+$/, '');
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+/.test(publicUrl)) throw new SettingsError(`PUBLIC_URL must be an http(s) URL (got "${publicUrl}")`);
  return {
    port: integer(env, 'PORT', 3000, 0, 65_535),
    dataDir: optional(env, 'DATA_DIR') ?? './data',
    publicUrl,
    stripe: stripeSettings(env),
    smtp: smtpSettings(env),
    paymentWindowMs: seconds(env, 'PAYMENT_WINDOW_SECONDS', 900),
    reconcileMs: seconds(env, 'RECONCILE_SECONDS', 60),
    keysPerProduct: integer(env, 'KEYS_PER_PRODUCT', 100, 1, 100_000),
    flaws: parseFlaws(optional(env, 'SHOP_FLAWS'), (message) => new SettingsError(message)),
  };
}
