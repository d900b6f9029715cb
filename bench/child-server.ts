/** Starts a benchmark server script as a child process and waits for its `listening on URL` line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BUILD_DIR, ROOT } from './lib.js';

export interface ChildServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function startChildServer(script: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 15_000): Promise<ChildServer> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [join(BUILD_DIR, `${script}.js`)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let buffer = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffer += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(buffer);
      if (!match) return;
      clearTimeout(timer);
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      resolveStart({
        url: match[1]!,
        child,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with code ${code} before it was ready`));
    });
  });
}
