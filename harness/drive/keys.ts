/**
 * The run's payment credentials: fresh for every scenario run, handed to the mocks, and written to
 * the run folder's `keys/` as the files a shop's configuration points at (with a README naming
 * each file's setting). Never copied into a report. A target profile's `mocks.keys` names a folder
 * kept between runs instead (`harness/targets/kept-keys.ts`): the same files, written there.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentialFiles, type KeyFile, type PaymentChannel } from '../../mocks/index.js';

/** A payment channel of the run and where its personality listens (loopback). */
export interface ServedChannel {
  channel: PaymentChannel;
  url: string;
}

/** The run folder's subfolder for key files. */
export const KEYS_DIR = 'keys';

/** Where `writeKeyFolder` writes, when not into the run folder. */
export interface KeptKeyFiles {
  /** The kept folder (a profile's `mocks.keys`, resolved). */
  dir: string;
  /** Further files the shop is configured with (the SMS account and key), listed in the README too. */
  files: readonly KeyFile[];
  /** Lines on further things kept there (the mail server's CA). */
  notes: readonly string[];
}

/**
 * Writes every channel's key files into `<runDir>/keys/` — or, with `kept`, into the kept folder —
 * (readable by the owner only; the names carry their protocol) with a README that says which
 * setting each file is for and where each provider listens. Returns the folder.
 */
export async function writeKeyFolder(runDir: string, channels: readonly ServedChannel[], kept?: KeptKeyFiles): Promise<string> {
  const dir = kept?.dir ?? join(runDir, KEYS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A kept folder the user made keeps the mode they gave it.
  if (!kept) await chmod(dir, 0o700);
  const files = [...channels.flatMap((served) => credentialFiles(served.channel)), ...(kept?.files ?? [])];
  for (const file of files) await writeFile(join(dir, file.name), file.content.endsWith('\n') ? file.content : `${file.content}\n`, { mode: 0o600 });
  const width = Math.max(...files.map((file) => file.name.length));
  const readme = [
    ...channels.map((served) => `Payment protocol: ${served.channel.protocol}, served at ${served.url}${kept ? '' : ' for this run only'}.`),
    kept
      ? 'Test keys kept between runs (made on the first): point the shop\'s settings at these files once. Delete this folder for new ones.'
      : 'Test keys generated for this run; point the shop\'s payment settings at these files.',
    '',
    ...files.map((file) => `${file.name.padEnd(width)}  ${file.purpose}`),
    ...(kept && kept.notes.length > 0 ? ['', ...kept.notes] : []),
    '',
  ].join('\n');
  await writeFile(join(dir, 'README.txt'), readme, { mode: 0o600 });
  return dir;
}
