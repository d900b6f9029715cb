/**
 * The run folder: a folder that already holds a run (a CI job with a fixed `--out`) is moved
 * aside whole, so the new run starts from empty journals and the old one is kept as it was.
 */
import { access, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { OrdealError } from '../../core/errors.js';

const RUN_MARKERS = ['run.json', 'journal.ndjson'];

/** True when `dir` holds a run's files: its run.json, or a scenario folder with a journal. */
async function holdsRun(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isFile() && RUN_MARKERS.includes(entry.name)) return true;
    if (entry.isDirectory() && (await exists(join(dir, entry.name, 'journal.ndjson')))) return true;
  }
  return false;
}

/** Whether `path` exists (a file or a folder). */
export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** `<out>.previous-<time>`, numbered when a run was moved there in the same second. */
async function asideName(outDir: string, now: Date): Promise<string> {
  const stamp = now.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const base = join(dirname(outDir), `${basename(outDir)}.previous-${stamp}`);
  for (let n = 1; n <= 1000; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    if (!(await exists(candidate))) return candidate;
  }
  throw new OrdealError('ORDEAL_ERR_OUT_DIR', `${outDir} holds an earlier run and no free name was found beside it to move it to`);
}

/**
 * Makes `outDir` ready for a new run: created if missing; an earlier run in it moved aside to a
 * sibling folder (returned), never written over or appended to.
 * @throws OrdealError ORDEAL_ERR_OUT_DIR when the folder cannot be created or the old run moved
 */
export async function prepareOutDir(outDir: string, now = new Date()): Promise<{ outDir: string; previousRunMovedTo?: string }> {
  const dir = resolve(outDir);
  let previousRunMovedTo: string | undefined;
  if (await holdsRun(dir)) {
    previousRunMovedTo = await asideName(dir, now);
    await rename(dir, previousRunMovedTo).catch((error: unknown) => {
      throw new OrdealError('ORDEAL_ERR_OUT_DIR', `${dir} holds an earlier run, which could not be moved to ${previousRunMovedTo} (${(error as Error).message}); choose another --out`, { cause: error });
    });
  }
  await makeDirs(dir).catch((error: unknown) => {
    throw new OrdealError('ORDEAL_ERR_OUT_DIR', `cannot create ${dir} (${(error as Error).message})`, { cause: error });
  });
  return previousRunMovedTo === undefined ? { outDir: dir } : { outDir: dir, previousRunMovedTo };
}

/**
 * `mkdir -p`, one level at a time from the nearest folder that exists: Node's recursive mkdir never
 * settles under some pseudo file systems (`--out /proc/x` hung for ever); a plain mkdir answers.
 */
async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let current = dir;
  // Bounded by the path's depth: each step goes one level up, and the root exists.
  while (!(await stat(current).then(() => true, () => false))) {
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const level of missing.reverse()) {
    await mkdir(level).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}
