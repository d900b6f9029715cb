/**
 * The CLI's Ctrl-C / SIGTERM handling: the first signal aborts the run with the signal's name;
 * the second SIGKILLs the shops' process groups (a real detached process group here) and exits
 * at once with 128 + the signal's number.
 */
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { handleStopSignals } from '../harness/cli/signals.js';
import { signalExitCode } from '../core/interruption.js';
import { trackedProcessGroups, trackProcessGroup } from '../harness/drive/process-groups.js';
import { cleanupAfterEach } from './helpers/cleanups.js';

const defer = cleanupAfterEach();

describe('handleStopSignals', () => {
  it('first signal: aborts the run with its name and says so once; nothing exits', () => {
    const source = new EventEmitter();
    const controller = new AbortController();
    const written: string[] = [];
    const exits: number[] = [];
    const dispose = handleStopSignals({ controller, write: (text) => written.push(text), exit: (code) => exits.push(code), source });
    defer(dispose);
    source.emit('SIGTERM');
    expect(controller.signal.aborted).toBe(true);
    expect(controller.signal.reason).toBe('SIGTERM');
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/SIGTERM — stopping: .*Ctrl-C again to exit at once/);
    expect(exits).toEqual([]);
  });

  it('second signal: SIGKILLs the shops\' process groups and exits at once with 130 (SIGINT)', async () => {
    // A shop stand-in leading its own process group, with a child of its own.
    const shop = spawn('sh', ['-c', 'sleep 60 & exec sleep 60'], { detached: true, stdio: 'ignore' });
    defer(() => {
      try {
        process.kill(-(shop.pid ?? 0), 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    });
    const pgid = shop.pid!;
    trackProcessGroup(pgid);
    const source = new EventEmitter();
    const controller = new AbortController();
    const written: string[] = [];
    const exits: number[] = [];
    const dispose = handleStopSignals({ controller, write: (text) => written.push(text), exit: (code) => exits.push(code), source });
    defer(dispose);
    const exited = once(shop, 'exit');
    source.emit('SIGINT');
    expect(exits).toEqual([]);
    source.emit('SIGINT');
    expect(exits).toEqual([130]);
    expect(written[1]).toContain(`killed the shop's process group ${pgid}`);
    expect(trackedProcessGroups()).toEqual([]);
    const [, signal] = (await exited) as [number | null, string | null];
    expect(signal).toBe('SIGKILL');
    // The group's other member went too: nothing of it is left to signal.
    await expect.poll(() => {
      try {
        process.kill(-pgid, 0);
        return 'alive';
      } catch (error) {
        return (error as NodeJS.ErrnoException).code;
      }
    }, { timeout: 3000 }).toBe('ESRCH');
  });

  it('removes its listeners when the run is over', () => {
    const source = new EventEmitter();
    const dispose = handleStopSignals({ controller: new AbortController(), write: () => undefined, exit: () => undefined, source });
    const count = (): number => source.listenerCount('SIGINT') + source.listenerCount('SIGTERM') + source.listenerCount('SIGHUP');
    expect(count()).toBe(3);
    dispose();
    expect(count()).toBe(0);
  });

  it('exit codes are 128 + the signal\'s number', () => {
    expect(signalExitCode('SIGINT')).toBe(130);
    expect(signalExitCode('SIGTERM')).toBe(143);
    expect(signalExitCode('SIGHUP')).toBe(129);
  });

  it('SIGHUP (the terminal closed) stops the run like Ctrl-C, first making writes to the gone terminal harmless; a second exits 129', () => {
    const source = new EventEmitter();
    const controller = new AbortController();
    const calls: string[] = [];
    const exits: number[] = [];
    handleStopSignals({ controller, write: () => calls.push('write'), exit: (code) => exits.push(code), source, hangUp: () => calls.push('hangUp') });
    source.emit('SIGHUP');
    expect(controller.signal.aborted).toBe(true);
    expect(controller.signal.reason).toBe('SIGHUP');
    expect(calls).toEqual(['hangUp', 'write']);
    source.emit('SIGHUP');
    expect(calls).toEqual(['hangUp', 'write', 'write']);
    expect(exits).toEqual([129]);
  });
});
