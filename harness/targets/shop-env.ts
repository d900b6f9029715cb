/**
 * `ordeal target env PROFILE`: the shop's settings (`start.env`) with every placeholder filled from
 * the profile's fixed mock ports and kept key folder (made on first use), as dotenv lines — what a
 * shop owner starts an attached shop with, once.
 */
import { mkdir } from 'node:fs/promises';
import { OrdealError } from '../../core/errors.js';
import type { PaymentProtocol } from '../../core/scenario-schema.js';
import type { TargetProfile } from '../../core/target-schema.js';
import { notifyEnv, serviceKeyEnv, SMS_SEND_PATH, type MockPorts } from '../../mocks/index.js';
import { createCertificateAuthority } from '../../mocks/intercept/certificate-authority.js';
import { writeKeyFolder } from '../drive/keys.js';
import { attachedBaseUrl } from './attach.js';
import { fixedMocksOf, fixedUrl, keptShopDataDir } from './fixed-mocks.js';
import { loadOrCreateKeys } from './kept-keys.js';
import { placeholderValues } from './placeholders.js';
import { expandEnv, type LoadedTarget } from './profile.js';

/** The payment protocols a profile's shop is configured for: its own, else the scenarios' default. */
export function profileProtocols(profile: TargetProfile): PaymentProtocol[] {
  return profile.payment ? [profile.payment.protocol, ...profile.payment.channels] : ['native'];
}

/**
 * The shop's settings with every placeholder resolved against the fixed ports and the kept keys.
 * @throws OrdealError ORDEAL_ERR_TARGET_PROFILE when the profile has no kept key folder or fixed
 *   payment port, or a setting uses a placeholder that has no fixed value (naming why)
 */
export async function shopSettings(target: LoadedTarget, options: { flaws?: readonly string[] } = {}): Promise<Record<string, string>> {
  const { profile, file } = target;
  const fixed = fixedMocksOf(target);
  if (fixed?.keysDir === undefined || fixed.ports.payment === undefined) {
    throw new OrdealError(
      'ORDEAL_ERR_TARGET_PROFILE',
      `${file}: \`ordeal target env\` prints the settings of a shop configured once, so the profile needs fixed mock ports and a kept key folder: \`mocks: { ports: { payment: 4101, stock: 4102, … }, keys: ./ordeal-keys }\``,
    );
  }
  const { ports } = fixed;
  const protocols = profileProtocols(profile);
  const kept = await loadOrCreateKeys(fixed.keysDir, protocols);
  const served = kept.channels.flatMap((channel, index) => {
    const url = fixedUrl(index === 0 ? ports.payment : ports.channels?.[channel.protocol]);
    return url === undefined ? [] : [{ channel, url }];
  });
  // Every channel's key files, even one whose port is chosen per run: `${key:…}` reads them.
  await writeKeyFolder(kept.dir, kept.channels.map((channel) => served.find((each) => each.channel === channel) ?? { channel, url: 'a port chosen per run' }), kept);

  const email = profile.observes.notify.includes('email');
  // The same CA the runs' mail server keeps there: made now if this is the first look.
  const caFile = email ? (await createCertificateAuthority({ caDir: kept.smtpCaDir, keep: true })).caFile : '';
  const notifyUrl = fixedUrl(ports.notify);
  const ordealEnv: Record<string, string> = {
    ORDEAL_PAYMENT_KEYS: kept.dir,
    ...serviceKeyEnv(kept.services),
    ...notifyEnv(
      {
        sms: { url: `${notifyUrl ?? ''}${SMS_SEND_PATH}`, credentials: kept.sms },
        ...(email ? { email: { host: '127.0.0.1', starttlsPort: ports.smtp ?? 0, tlsPort: ports.smtps ?? 0, caFile } } : {}),
      },
      { nodeExtraCaCerts: false },
    ),
  };
  // Only what has a fixed port: the rest is `unavailable`, with why.
  if (notifyUrl === undefined) delete ordealEnv.ORDEAL_SMS_URL;
  if (ports.smtp === undefined) delete ordealEnv.ORDEAL_SMTP_PORT;
  if (ports.smtps === undefined) delete ordealEnv.ORDEAL_SMTPS_PORT;

  const shopUrl = profile.attach ? attachedBaseUrl(profile.attach.url) : undefined;
  const shopDataDir = shopUrl === undefined ? undefined : keptShopDataDir(kept.dir);
  if (shopDataDir !== undefined) await mkdir(shopDataDir, { recursive: true });
  const values = placeholderValues({
    ...(shopUrl === undefined ? {} : { port: portOf(shopUrl), shopUrl, shopDataDir }),
    ordealEnv,
    flaws: options.flaws ?? [],
    channels: served.map((each) => ({ protocol: each.channel.protocol, url: each.url })),
    mocks: { urls: { payment: fixedUrl(ports.payment), stock: fixedUrl(ports.stock), notify: notifyUrl, risk: fixedUrl(ports.risk) } },
  });
  return expandEnv(file, profile.start.env, { keysDir: kept.dir, values, unavailable: unavailablePlaceholders(profile, protocols, ports) });
}

function portOf(url: string): number {
  const parsed = new URL(url);
  return parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
}

/** Placeholders a run fills but `target env` cannot (no fixed value), and why. */
function unavailablePlaceholders(profile: TargetProfile, protocols: readonly PaymentProtocol[], ports: MockPorts): Record<string, string> {
  const why: Record<string, string> = {};
  const needs = (field: string, names: readonly string[]): void => {
    for (const name of names) why[name] = `needs a fixed port: mocks.ports.${field}`;
  };
  if (!profile.attach) for (const name of ['port', 'shop.url', 'data.dir']) why[name] = 'is chosen per run for a shop Ordeal starts; only an attached shop has it fixed';
  if (ports.stock === undefined) needs('stock', ['stock.url']);
  if (ports.notify === undefined) needs('notify', ['notify.url', 'sms.url']);
  if (ports.risk === undefined) needs('risk', ['risk.url']);
  for (const protocol of protocols.slice(1)) {
    if (ports.channels?.[protocol] === undefined) needs(`channels.${protocol}`, ['url', 'host', 'port'].map((part) => `payment.${protocol}.${part}`));
  }
  if (!profile.observes.notify.includes('email')) {
    for (const name of ['smtp.host', 'smtp.port', 'smtps.port', 'smtp.user', 'smtp.pass', 'smtp.caFile']) why[name] = 'is the mail server, which runs for a shop that e-mails its buyers only (`observes.notify: [email]`)';
  } else {
    if (ports.smtp === undefined) needs('smtp', ['smtp.port']);
    if (ports.smtps === undefined) needs('smtps', ['smtps.port']);
  }
  return why;
}

/**
 * `NAME=value` lines, as dotenv files, `docker compose` and a shell's `set -a; . ./.env` read them:
 * plain when the value is plain, else in single quotes (literal, over several lines for a PEM
 * key), and in double quotes only for a value holding a single quote.
 */
export function formatDotenv(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([name, value]) => `${name}=${quoteValue(value)}\n`)
    .join('');
}

function quoteValue(value: string): string {
  if (/^[\w./:@%+,=-]*$/.test(value)) return value;
  if (!value.includes("'")) return `'${value}'`;
  return `"${value.replace(/[\\"$`]/g, (character) => `\\${character}`)}"`;
}
