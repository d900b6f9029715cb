/**
 * What a `GenerationalLedger` needs of the place its idle records go (`LedgerArchive`,
 * `SegmentArchive`), and the temporary directories those live in. An archive is a cache of the run,
 * not durable data: no journal, no syncing; deleted on close and at process exit.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** String records by kind and key, moved out of the heap. */
export interface RecordArchive {
  readonly isClosed: boolean;
  /** Stores many records (replacing earlier values of their keys). */
  putMany(kind: string, entries: ReadonlyArray<readonly [string, string]>): void;
  get(kind: string, key: string): string | undefined;
  has(kind: string, key: string): boolean;
  /** Removes the record and returns its value. */
  take(kind: string, key: string): string | undefined;
  count(kind: string): number;
  /** Every record of a kind, read a part at a time (the archive may be used between parts). */
  walk(kind: string): Iterable<readonly [string, string]>;
  close(): void;
}

/** Archives not yet closed: their directories are deleted if the process exits first. */
const openArchives = new Set<RecordArchive>();
let exitHookInstalled = false;

function deleteOpenArchives(): void {
  for (const archive of openArchives) archive.close();
}

/** A fresh temporary directory for an archive, deleted (with `archive.close()`) if the process exits first. */
export function archiveDirectory(archive: RecordArchive, prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  openArchives.add(archive);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', deleteOpenArchives);
  }
  return directory;
}

/** Forgets a closed archive (see `archiveDirectory`). */
export function archiveClosed(archive: RecordArchive): void {
  openArchives.delete(archive);
}
