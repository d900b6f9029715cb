/**
 * A key folder kept between runs (a target profile's `mocks.keys`): the payment channels' and the
 * SMS gateway's credentials, and the mail server's CA, made there on the first run and reused on
 * every later one — so a shop configured once (an attached shop) goes on trusting them. Without
 * it, every run makes fresh ones (`harness/drive/keys.ts`).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OrdealError } from '../../core/errors.js';
import type { PaymentProtocol } from '../../core/scenario-schema.js';
import {
  channelFromKept,
  newChannel,
  newServiceKeys,
  newSmsCredentials,
  serviceKeysFromKept,
  smsKeyFiles,
  type PaymentChannel,
  type ServiceKeys,
  type SmsCredentials,
} from '../../mocks/index.js';
import type { KeptKeyFiles } from '../drive/keys.js';

/** Ordeal's own copy of every credential kept, the providers' halves too (the shop needs none of it). */
export const KEPT_CREDENTIALS_FILE = 'ordeal-credentials.json';
/** The subfolder of the mail server's kept CA: `ca.pem` (the shop trusts it) and `ca-key.pem`. */
export const KEPT_SMTP_CA_DIR = 'smtp-ca';

/** What a kept folder holds for one run. */
export interface KeptKeys extends KeptKeyFiles {
  /** A channel per protocol asked for, in that order. */
  channels: PaymentChannel[];
  sms: SmsCredentials;
  /** The stock, risk and notify APIs' keys (ORDEAL_STOCK_KEY, …), kept too: an attached shop is configured with them once. */
  services: ServiceKeys;
  /** The folder of the mail server's CA, kept too (`startEmailCapture` with `keepCa`). */
  smtpCaDir: string;
}

/** The kept credentials file as stored. */
interface KeptRecord {
  payment: Partial<Record<PaymentProtocol, unknown>>;
  sms?: unknown;
  services?: unknown;
}

/**
 * The payment credentials for `protocols` and the SMS account kept in `dir`: loaded when there,
 * made and stored (mode 0600, the folder 0700) when not — once; later calls return the same.
 * @throws OrdealError ORDEAL_ERR_TARGET_PROFILE when the kept file cannot be read as Ordeal wrote it
 */
export async function loadOrCreateKeys(dir: string, protocols: readonly PaymentProtocol[]): Promise<KeptKeys> {
  // Owner-only when Ordeal makes it; a folder the user already had keeps its mode.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, KEPT_CREDENTIALS_FILE);
  const record = await readKept(file);
  let changed = false;
  const channels = protocols.map((protocol) => {
    const kept = channelFromKept(protocol, record.payment[protocol]);
    if (kept) return kept;
    const made = newChannel(protocol);
    record.payment[protocol] = made.credentials;
    changed = true;
    return made;
  });
  let sms = smsFromKept(record.sms);
  if (!sms) {
    sms = newSmsCredentials();
    record.sms = sms;
    changed = true;
  }
  let services = serviceKeysFromKept(record.services);
  if (!services) {
    services = newServiceKeys();
    record.services = services;
    changed = true;
  }
  if (changed) {
    // Written whole, then moved into place: an interrupted write never leaves half a file to load.
    const partial = `${file}.${process.pid}.partial`;
    await writeFile(partial, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    await rename(partial, file);
  }
  const smtpCaDir = join(dir, KEPT_SMTP_CA_DIR);
  return {
    dir,
    channels,
    sms,
    services,
    smtpCaDir,
    files: smsKeyFiles(sms),
    notes: [
      `${KEPT_SMTP_CA_DIR}/ca.pem  the mail server's CA certificate: the shop's mailer trusts it (\${smtp.caFile}); ca-key.pem beside it is Ordeal's alone`,
      `${KEPT_CREDENTIALS_FILE}  Ordeal's own copy of every credential here, the providers' halves too (the shop needs none of it)`,
    ],
  };
}

async function readKept(file: string): Promise<KeptRecord> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { payment: {} };
    throw new OrdealError('ORDEAL_ERR_TARGET_PROFILE', `mocks.keys: cannot read ${file} (${(error as Error).message})`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_TARGET_PROFILE', `mocks.keys: ${file} is not the JSON Ordeal keeps there (${(error as Error).message}); delete it to have new credentials made`, { cause: error });
  }
  const payment = typeof data === 'object' && data !== null ? (data as { payment?: unknown }).payment : undefined;
  if (typeof payment !== 'object' || payment === null) {
    throw new OrdealError('ORDEAL_ERR_TARGET_PROFILE', `mocks.keys: ${file} holds no "payment" credentials; delete it to have new ones made`);
  }
  const { sms, services } = data as { sms?: unknown; services?: unknown };
  return { payment: { ...(payment as KeptRecord['payment']) }, sms, services };
}

function smsFromKept(data: unknown): SmsCredentials | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { account, key } = data as Record<string, unknown>;
  return typeof account === 'string' && account !== '' && typeof key === 'string' && key !== '' ? { account, key } : undefined;
}

/**
 * One kept folder for a whole run: its scenarios load it one at a time (when they run in
 * parallel, the first makes what is missing and the others find it).
 */
export class KeptKeyFolder {
  private last: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {}

  load(protocols: readonly PaymentProtocol[]): Promise<KeptKeys> {
    const next = this.last.then(() => loadOrCreateKeys(this.dir, protocols));
    this.last = next.catch(() => undefined);
    return next;
  }
}
