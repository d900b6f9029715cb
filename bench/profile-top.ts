/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): self time by function and by package/module,
 * so that RESULTS.md can name what bounds a benchmark.
 *
 *   node bench/.build/bench/profile-top.js FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { numberArg, parseArgs, round, table } from './lib.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  byFunction: Array<{ name: string; where: string; selfMs: number; share: number }>;
  byModule: Array<{ module: string; selfMs: number; share: number }>;
  /** Time with the module anywhere on the stack (each sample counted once per module). */
  inclusiveByModule: Array<{ module: string; ms: number; share: number }>;
}

/** The package (node_modules/<name>) or project folder a script URL belongs to. */
export function moduleOf(url: string): string {
  if (url === '') return '(native/VM)';
  if (url.startsWith('node:')) return url;
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1]!;
  const project = /\/(harness|mocks|shop|reports|bench)\/([^/]+)$/.exec(url);
  if (project) return `${project[1]}/${project[2]!.replace(/\.js$/, '.ts')}`;
  return url.replace(/^file:\/\//, '');
}

export function summariseProfile(path: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame || frame.url === '') continue;
      seen.add(moduleOf(frame.url));
    }
    for (const module of seen) inclusive.set(module, (inclusive.get(module) ?? 0) + us);
  }
  const totalUs = profile.endTime - profile.startTime;
  let idleUs = 0;
  let gcUs = 0;
  const functions = new Map<string, { name: string; where: string; us: number }>();
  const modules = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    if (functionName === '(garbage collector)') gcUs += us;
    const module = functionName === '(garbage collector)' ? '(garbage collector)' : moduleOf(url);
    const key = `${functionName}@${url}:${lineNumber}`;
    const entry = functions.get(key) ?? { name: functionName || '(anonymous)', where: `${moduleOf(url)}:${lineNumber + 1}`, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    modules.set(module, (modules.get(module) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    gcMs: gcUs / 1000,
    byFunction: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((entry) => ({ name: entry.name, where: entry.where, selfMs: round(entry.us / 1000, 1), share: round((100 * entry.us) / busyUs, 1) })),
    byModule: [...modules.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([module, us]) => ({ module, selfMs: round(us / 1000, 1), share: round((100 * us) / busyUs, 1) })),
    inclusiveByModule: [...inclusive.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([module, us]) => ({ module, ms: round(us / 1000, 1), share: round((100 * us) / busyUs, 1) })),
  };
}

export function renderProfile(summary: ProfileSummary, top = 15): string {
  const busy = summary.totalMs - summary.idleMs;
  return [
    `profile: ${round(summary.totalMs)} ms wall, ${round(busy)} ms busy (${round((100 * busy) / summary.totalMs, 1)} %), GC ${round(summary.gcMs)} ms`,
    '',
    table(['module', 'self ms', '% of busy'], summary.byModule.slice(0, top).map((entry) => [entry.module, entry.selfMs, entry.share])),
    '',
    table(['module on stack', 'inclusive ms', '% of busy'], summary.inclusiveByModule.slice(0, top).map((entry) => [entry.module, entry.ms, entry.share])),
    '',
    table(['function', 'where', 'self ms', '% of busy'], summary.byFunction.slice(0, top).map((entry) => [entry.name, entry.where, entry.selfMs, entry.share])),
  ].join('\n');
}

if (process.argv[1]?.endsWith('profile-top.js')) {
  const args = parseArgs();
  const file = process.argv.slice(2).find((arg) => !arg.startsWith('--'));
  if (!file) {
    process.stderr.write('usage: profile-top FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const top = numberArg(args, 'top', 25);
  process.stdout.write(`${renderProfile(summariseProfile(file, top), top)}\n`);
}
