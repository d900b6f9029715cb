/**
 * The run's payment credentials: fresh for every scenario run, handed to the mocks, and written to
 * the run folder's `keys/` as the files a shop's configuration points at (with a README naming
 * each file's setting). Never copied into a report.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentialFiles, type PaymentChannel } from '../../mocks/index.js';

/** A payment channel of the run and where its personality listens (loopback). */
export interface ServedChannel {
  channel: PaymentChannel;
  url: string;
}

/** The run folder's subfolder for key files. */
export const KEYS_DIR = 'keys';

/**
 * Writes every channel's key files into `<runDir>/keys/` (readable by the owner only; the names
 * carry their protocol) with a README that says which setting each file is for and where each
 * provider listens. Returns the folder.
 */
export async function writeKeyFolder(runDir: string, channels: readonly ServedChannel[]): Promise<string> {
  const dir = join(runDir, KEYS_DIR);
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o700);
  const files = channels.flatMap((served) => credentialFiles(served.channel));
  for (const file of files) await writeFile(join(dir, file.name), file.content.endsWith('\n') ? file.content : `${file.content}\n`, { mode: 0o600 });
  const width = Math.max(...files.map((file) => file.name.length));
  const readme = [
    ...channels.map((served) => `Payment protocol: ${served.channel.protocol}, served at ${served.url} for this run only.`),
    'Test keys generated for this run; point the shop\'s payment settings at these files.',
    '',
    ...files.map((file) => `${file.name.padEnd(width)}  ${file.purpose}`),
    '',
  ].join('\n');
  await writeFile(join(dir, 'README.txt'), readme, { mode: 0o600 });
  return dir;
}
