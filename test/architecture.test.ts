/**
 * The layers import one way only (.dependency-cruiser.cjs, docs/ARCHITECTURE.md): the project's
 * own sources have no cycle and no forbidden import, and the check does fail on both — shown on a
 * small tree built to break the rules.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const LAYERS = ['core', 'memory', 'mocks', 'harness', 'reports', 'shop', 'examples'];

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: Array<{ name: string }>;
}

/** Runs dependency-cruiser with the project's rules in `cwd`; its JSON summary. */
async function cruise(cwd: string, folders: readonly string[]): Promise<{ violations: Violation[]; totalCruised: number }> {
  // Exit code 1 when it finds violations: the JSON on stdout is the answer either way.
  const { stdout } = await run(process.execPath, [DEPCRUISE, ...folders, '--config', CONFIG, '--output-type', 'json'], { cwd, maxBuffer: 64 * 1024 * 1024 }).catch(
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
  );
  const { summary } = JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  return summary;
}

const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ordeal-layers-'));
  scratch.push(dir);
  const all = { 'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }), ...files };
  for (const [path, text] of Object.entries(all)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

describe('layers', () => {
  it('the sources have no import cycle and no forbidden import', async () => {
    const { violations, totalCruised } = await cruise(ROOT, LAYERS);
    expect(totalCruised).toBeGreaterThan(80);
    expect(violations.map((violation) => `${violation.rule.name}: ${violation.from} → ${violation.to}`)).toEqual([]);
  });

  it('the check fails on a cycle and on a forbidden import', async () => {
    const dir = await tree({
      'core/a.ts': "import { b } from './b.js';\nexport const a = (): number => b() + 1;\n",
      'core/b.ts': "import { a } from './a.js';\nexport const b = (): number => a() - 1;\n",
      'mocks/payment.ts': "import { score } from '../harness/score/score.js';\nexport const pay = score;\n",
      'harness/score/score.ts': 'export const score = (): number => 1;\n',
      'shop/app.ts': "import { pay } from '../mocks/payment.js';\nexport const app = pay;\n",
    });
    const { violations } = await cruise(dir, ['core', 'mocks', 'harness', 'shop']);
    const found = violations.map((violation) => `${violation.rule.name}: ${violation.from} → ${violation.to}`).sort();
    // A cycle is reported once, from whichever of its modules the cruiser reached first.
    const cycle = found.filter((line) => line.startsWith('no-cycles: '));
    expect(cycle).toHaveLength(1);
    expect(['no-cycles: core/a.ts → core/b.ts', 'no-cycles: core/b.ts → core/a.ts']).toContain(cycle[0]);
    expect(found.filter((line) => !line.startsWith('no-cycles: '))).toEqual([
      'mocks-never-import-the-harness: mocks/payment.ts → harness/score/score.ts',
      'the-shop-is-a-black-box: shop/app.ts → mocks/payment.ts',
    ]);
  });
});
