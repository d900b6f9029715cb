/**
 * Summarises a V8 heap snapshot (`node --heapsnapshot-signal=SIGUSR2`, `v8.writeHeapSnapshot()`):
 * self size and count by node type and constructor name, to name what a process's memory holds.
 *
 *   node bench/.build/bench/heap-top.js FILE.heapsnapshot [--top 30]
 */
import { readFileSync } from 'node:fs';
import { numberArg, parseArgs, round, table } from './lib.js';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summariseHeap(path: string, top = 30): Array<{ type: string; name: string; count: number; mib: number }> {
  const snapshot = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { type: string; name: string; count: number; bytes: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]!] ?? '?';
    const raw = snapshot.strings[snapshot.nodes[i + nameAt]!] ?? '';
    // Strings and code are grouped by type only; objects by constructor.
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'code' || type === 'number' ? '' : raw.slice(0, 60);
    const key = `${type}\u0000${name}`;
    const group = groups.get(key) ?? { type, name, count: 0, bytes: 0 };
    group.count++;
    group.bytes += snapshot.nodes[i + sizeAt]!;
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, top)
    .map((group) => ({ type: group.type, name: group.name, count: group.count, mib: round(group.bytes / 2 ** 20, 2) }));
}

if (process.argv[1]?.endsWith('heap-top.js')) {
  const args = parseArgs();
  const file = process.argv.slice(2).find((arg) => !arg.startsWith('--'));
  if (!file) {
    process.stderr.write('usage: heap-top FILE.heapsnapshot [--top N]\n');
    process.exit(2);
  }
  const rows = summariseHeap(file, numberArg(args, 'top', 30));
  process.stdout.write(`${table(['type', 'constructor / name', 'count', 'self MiB'], rows.map((row) => [row.type, row.name, row.count, row.mib]))}\n`);
}
