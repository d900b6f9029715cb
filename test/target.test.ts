/**
 * Stopping a managed target: SIGTERM reaches the shop itself — run by `exec` or as the child of a
 * shell that does not exec (dash) — and `stop()` resolves only once the shop's graceful shutdown is
 * over; a target that ignores SIGTERM is SIGKILLed after the grace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../core/journal.js';
import { builtInShopCommand, builtInShopFlaws, packageRoot, resolveBuiltInFlaws, startTarget, type ManagedTarget } from '../harness/drive/target.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { tempDir } from './helpers/cli.js';

const defer = cleanupAfterEach();

/**
 * A target: writes its pid to PID_FILE and answers GET /health; on SIGTERM (unless IGNORE_TERM is
 * set) it does some asynchronous cleanup, writes MARKER and exits.
 */
const TARGET_SCRIPT = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
writeFileSync(process.env.PID_FILE, String(process.pid));
const server = createServer((request, response) => response.end('ok'));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', async () => {
  if (process.env.IGNORE_TERM) return;
  await new Promise((wake) => setTimeout(wake, 200));
  await new Promise((wake) => server.close(wake));
  await writeFile(process.env.MARKER, 'clean shutdown');
  process.exit(0);
});
`;

interface Fixture {
  target: ManagedTarget;
  journal: MemoryJournal;
  marker: string;
  /** The target script's own pid (not the shell's). */
  scriptPid: number;
}

async function start(command: (script: string) => string, env: Record<string, string> = {}, stopGraceMs?: number): Promise<Fixture> {
  const work = await tempDir('ordeal-target-');
  defer(() => work.remove());
  const script = join(work.path, 'target.mjs');
  await writeFile(script, TARGET_SCRIPT);
  const marker = join(work.path, 'marker');
  const pidFile = join(work.path, 'pid');
  const journal = new MemoryJournal();
  const target = await startTarget({
    command: command(script),
    env: { MARKER: marker, PID_FILE: pidFile, ...env },
    logFile: join(work.path, 'target.log'),
    journal,
    readyTimeoutMs: 10_000,
    ...(stopGraceMs === undefined ? {} : { stopGraceMs }),
  });
  defer(() => target.kill());
  // /health answered: the script wrote its pid before it listened.
  return { target, journal, marker, scriptPid: Number(readFileSync(pidFile, 'utf8')) };
}

/** True while `pid` runs (a zombie, exited and not yet reaped, does not count). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const node = JSON.stringify(process.execPath);

describe('stopping a managed target', () => {
  it.runIf(existsSync(join(packageRoot(), 'dist', 'shop', 'main.js')))('starts the built-in shop with exec, so the shop itself gets the signals', () => {
    expect(builtInShopCommand([])).toMatch(/^exec /);
    expect(builtInShopCommand(['no-refund'])).toMatch(/^exec .* --flaws no-refund$/);
  });

  it('lets a target run by exec finish its graceful shutdown', async () => {
    const { target, journal, marker, scriptPid } = await start((script) => `exec ${node} ${script}`);
    expect(scriptPid).toBe(target.pid);
    await target.stop();
    expect(readFileSync(marker, 'utf8')).toBe('clean shutdown');
    expect(running(scriptPid)).toBe(false);
    expect(journal.events.find((event) => event.type === 'target.exited')).toMatchObject({ code: 0, expected: true });
  });

  it('waits for a shell child that outlives the shell (no exec) to finish its shutdown', async () => {
    // `node …; true`: the shell has to stay to run `true`, so even a shell that would exec the
    // last command forks here; on SIGTERM the shell exits at once, the script goes on cleaning up.
    const { target, marker, scriptPid } = await start((script) => `${node} ${script}; true`);
    expect(scriptPid).not.toBe(target.pid);
    await target.stop();
    expect(readFileSync(marker, 'utf8')).toBe('clean shutdown');
    expect(running(scriptPid)).toBe(false);
  });

  it('SIGKILLs a target that ignores SIGTERM once the grace is over', async () => {
    const graceMs = 400;
    const { target, marker, scriptPid } = await start((script) => `${node} ${script}; true`, { IGNORE_TERM: '1' }, graceMs);
    const started = performance.now();
    await target.stop();
    expect(performance.now() - started).toBeGreaterThanOrEqual(graceMs - 5);
    expect(running(scriptPid)).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  it('stops once: a second stop() waits for the same shutdown', async () => {
    const { target, marker } = await start((script) => `exec ${node} ${script}`);
    await Promise.all([target.stop(), target.stop()]);
    expect(readFileSync(marker, 'utf8')).toBe('clean shutdown');
  });
});

describe("the built-in shop's flaws, learnt from the shop process", () => {
  it('lists every flaw with a description, and resolves names, naive and duplicates against that list', () => {
    const known = builtInShopFlaws();
    expect(known.length).toBeGreaterThan(10);
    for (const flaw of known) expect(flaw.description.length, flaw.id).toBeGreaterThan(10);
    expect(resolveBuiltInFlaws('no-refund, no-reconcile,no-refund', known)).toEqual(['no-refund', 'no-reconcile']);
    expect(resolveBuiltInFlaws('naive', known)).toEqual(known.map((flaw) => flaw.id));
    expect(() => resolveBuiltInFlaws('no-refund,bogus', known)).toThrow(/unknown shop flaw "bogus"; known flaws: .*no-refund/);
  });

  it('a shop that cannot list them is ORDEAL_ERR_TARGET_START (exit 3), not a crash of Ordeal', () => {
    const saved = process.env.NODE_OPTIONS;
    // The shop process cannot start: every Node it runs must first load a module that is not there.
    process.env.NODE_OPTIONS = '--require ./no-such-module-for-ordeal-test.cjs';
    try {
      expect(() => builtInShopFlaws()).toThrow(expect.objectContaining({ code: 'ORDEAL_ERR_TARGET_START', message: expect.stringMatching(/could not list its flaws/) }));
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
  });
});
