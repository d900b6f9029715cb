/**
 * Driver benchmark: Ordeal's HTTP driver (`HttpClient` of core/http-client.ts, the undici
 * keep-alive connections every buyer uses) against autocannon, on the same trivial fastify endpoint (a
 * separate process), with the same number of connections, in the same run, alternating which goes
 * first. Ratio = Ordeal requests/s ÷ autocannon requests/s, per round; the median over rounds.
 *
 *   npm run bench:driver [-- --rounds 5 --seconds 5 --connections 16,128]
 */
import autocannon from 'autocannon';
import { HttpClient } from '../core/http-client.js';
import { startChildServer } from './child-server.js';
import { log, median, numberArg, parseArgs, round, runMain, table, writeResult } from './lib.js';

interface Sample {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  /** CPU time of this (client) process per answered request, µs: robust to CPU stolen by other processes */
  cpuUsPerRequest: number;
}

function cpuNow(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** `connections` closed loops over one client, each sending the next request when the last is answered. */
async function runOrdeal(url: string, connections: number, seconds: number): Promise<Sample> {
  const client = new HttpClient({ connections, timeoutMs: 10_000 });
  let requests = 0;
  let errors = 0;
  const cpu = cpuNow();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const answer = await client.send('GET', url);
      if (answer.status === 200) requests++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const cpuUs = cpuNow() - cpu;
  await client.close();
  return { requests, errors, seconds: elapsed, rps: requests / elapsed, cpuUsPerRequest: cpuUs / Math.max(1, requests) };
}

async function runAutocannon(url: string, connections: number, seconds: number): Promise<Sample> {
  const cpu = cpuNow();
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  const cpuUs = cpuNow() - cpu;
  const ok = result['2xx'];
  const elapsed = result.duration;
  return { requests: ok, errors: result.errors + result.non2xx + result.timeouts, seconds: elapsed, rps: ok / elapsed, cpuUsPerRequest: cpuUs / Math.max(1, ok) };
}

export interface DriverRow {
  connections: number;
  rounds: Array<{ first: 'ordeal' | 'autocannon'; ordeal: Sample; autocannon: Sample; ratio: number }>;
  ordealRps: number;
  autocannonRps: number;
  ratio: number;
  /** client CPU per request, µs (medians) and the efficiency ratio autocannon ÷ ordeal (1 = as cheap) */
  cpuUs: { ordeal: number; autocannon: number };
  cpuRatio: number;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const rounds = numberArg(args, 'rounds', 5);
  const seconds = numberArg(args, 'seconds', 5);
  const connectionSets = (args.get('connections') ?? '16,128').split(',').map(Number);
  const server = await startChildServer('trivial-server');
  const url = `${server.url}/`;
  const rows: DriverRow[] = [];
  try {
    // Warm both clients and the server's JIT.
    await runOrdeal(url, 16, 1);
    await runAutocannon(url, 16, 1);
    for (const connections of connectionSets) {
      const row: DriverRow = {
        connections,
        rounds: [],
        ordealRps: 0,
        autocannonRps: 0,
        ratio: 0,
        cpuUs: { ordeal: 0, autocannon: 0 },
        cpuRatio: 0,
      };
      for (let round = 0; round < rounds; round++) {
        const first = round % 2 === 0 ? 'ordeal' : 'autocannon';
        let ordeal: Sample;
        let cannon: Sample;
        if (first === 'ordeal') {
          ordeal = await runOrdeal(url, connections, seconds);
          cannon = await runAutocannon(url, connections, seconds);
        } else {
          cannon = await runAutocannon(url, connections, seconds);
          ordeal = await runOrdeal(url, connections, seconds);
        }
        const ratio = ordeal.rps / cannon.rps;
        row.rounds.push({ first, ordeal, autocannon: cannon, ratio });
        log(
          `  connections ${connections}, round ${round + 1}/${rounds}: ordeal ${Math.round(ordeal.rps)} req/s (${ordeal.cpuUsPerRequest.toFixed(1)} µs CPU/req), autocannon ${Math.round(cannon.rps)} req/s (${cannon.cpuUsPerRequest.toFixed(1)} µs), ratio ${ratio.toFixed(3)}`,
        );
      }
      row.ordealRps = median(row.rounds.map((entry) => entry.ordeal.rps));
      row.autocannonRps = median(row.rounds.map((entry) => entry.autocannon.rps));
      row.ratio = median(row.rounds.map((entry) => entry.ratio));
      row.cpuUs = {
        ordeal: median(row.rounds.map((entry) => entry.ordeal.cpuUsPerRequest)),
        autocannon: median(row.rounds.map((entry) => entry.autocannon.cpuUsPerRequest)),
      };
      row.cpuRatio = median(row.rounds.map((entry) => entry.autocannon.cpuUsPerRequest / entry.ordeal.cpuUsPerRequest));
      rows.push(row);
    }
  } finally {
    await server.stop();
  }
  process.stdout.write(
    `\nDriver: Ordeal HttpClient vs autocannon, trivial fastify GET, ${rounds} alternating rounds of ${seconds} s, medians\n\n${table(
      ['connections', 'ordeal req/s', 'autocannon req/s', 'ratio (median)', 'min', 'max', 'goal ≥ 1.0 (req/s and CPU)', 'CPU µs/req ordeal / autocannon', 'CPU ratio'],
      rows.map((row) => {
        const ratios = row.rounds.map((entry) => entry.ratio);
        return [
          row.connections,
          Math.round(row.ordealRps),
          Math.round(row.autocannonRps),
          round(row.ratio, 3),
          round(Math.min(...ratios), 3),
          round(Math.max(...ratios), 3),
          row.ratio >= 1 && row.cpuRatio >= 1 ? 'met' : 'missed',
          `${round(row.cpuUs.ordeal, 1)} / ${round(row.cpuUs.autocannon, 1)}`,
          round(row.cpuRatio, 3),
        ];
      }),
    )}\n`,
  );
  const path = writeResult('driver', { rounds, seconds, rows });
  log(`results: ${path}`);
}

runMain(main);
