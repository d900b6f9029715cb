/**
 * `npm run bench`: every benchmark in turn, each in its own process, with its own default
 * settings (the ones RESULTS.md quotes). Each prints its table; the tables are also collected in
 * bench/results/summary.txt. A benchmark that fails is reported and the others still run.
 *
 *   npm run bench [-- --only micro,driver]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR, log, machineInfo, parseArgs, RESULTS_DIR, ROOT } from './lib.js';

const BENCHES = ['micro', 'driver', 'capacity', 'e2e', 'scoring', 'fidelity', 'memory'] as const;

function runBench(name: string): Promise<{ code: number; output: string; seconds: number }> {
  return new Promise((resolveRun) => {
    const started = performance.now();
    // scoring reports the heap the fold keeps after a forced GC.
    const nodeArgs = name === 'scoring' ? ['--expose-gc'] : [];
    const child = spawn(process.execPath, [...nodeArgs, join(BUILD_DIR, `${name}.js`)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    // Bounded: the longest (memory, 100k orders) takes about 10 minutes on the 2-core machine.
    const timer = setTimeout(() => child.kill('SIGKILL'), 40 * 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? 1, output, seconds: (performance.now() - started) / 1000 });
    });
  });
}

async function main(): Promise<void> {
  const args = parseArgs();
  const only = args.get('only')?.split(',');
  const machine = machineInfo();
  const parts = [`# npm run bench — ${machine.date}, Node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, commit ${machine.commit}, load average ${machine.loadAverage}\n`];
  let failed = 0;
  for (const name of BENCHES) {
    if (only && !only.includes(name)) continue;
    log(`\n=== bench:${name} ===`);
    const { code, output, seconds } = await runBench(name);
    if (code !== 0) failed++;
    parts.push(`## bench:${name} (${seconds.toFixed(0)} s, exit ${code})\n${output}`);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'summary.txt'), parts.join('\n'));
  log(`\nsummary: ${join(RESULTS_DIR, 'summary.txt')}${failed > 0 ? ` — ${failed} benchmark(s) failed` : ''}`);
  process.exit(failed > 0 ? 1 : 0);
}

void main();
