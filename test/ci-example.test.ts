/**
 * examples/ci/github-actions-segments.yml, the distributed run as GitHub Actions jobs: its matrix,
 * its artifacts and its merge agree with each other, and every Ordeal flag it uses exists.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from './helpers/cli.js';

interface Step {
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  env: Record<string, string>;
  jobs: Record<string, { needs?: string[]; if?: string; strategy?: { matrix: { index: number[] } }; steps: Step[] }>;
}

const workflow = parse(await readFile('examples/ci/github-actions-segments.yml', 'utf8')) as Workflow;
const ordealLines = Object.values(workflow.jobs).flatMap((job) => job.steps.map((step) => step.run).filter((run): run is string => run?.startsWith('npx ordeal ') ?? false));

describe('the GitHub Actions example', () => {
  it('runs one matrix job per segment, each with its own index, against the one mocks job that waits for that many', () => {
    const indexes = workflow.jobs.drivers!.strategy!.matrix.index;
    const serve = ordealLines.find((line) => line.includes(' mocks serve '))!;
    const count = Number(/--segments (\d+)/.exec(serve)![1]);
    expect(indexes).toEqual(Array.from({ length: count }, (_, index) => index));
    const driver = ordealLines.find((line) => line.includes(' run '))!;
    expect(driver).toContain(`--segment \${{ matrix.index }}/${count}`);
    expect(workflow.env.ORDEAL_NETWORK).toBe('cluster');
  });

  it('merges the mocks and every segment artifact, after both jobs, even when one failed', () => {
    const merge = workflow.jobs.merge!;
    expect(merge.needs).toEqual(['mocks', 'drivers']);
    expect(merge.if).toBe('always()');
    const line = ordealLines.find((each) => each.includes(' merge '))!;
    const uploaded = workflow.jobs.drivers!.steps.find((step) => step.uses?.startsWith('actions/upload-artifact'))!.with!.name as string;
    const folders = workflow.jobs.drivers!.strategy!.matrix.index.map((index) => uploaded.replace('${{ matrix.index }}', String(index)));
    expect(line).toContain(`merge mocks ${folders.join(' ')} `);
  });

  it('uses only flags the commands have', async () => {
    for (const line of ordealLines) {
      const words = line.replace(/^npx ordeal /, '').split(/\s+/);
      const command = words[0] === 'mocks' ? ['mocks', 'serve'] : [words[0]!];
      const help = await runCli([...command, '--help'], 30_000);
      expect(help.code, help.stderr).toBe(0);
      for (const flag of words.filter((word) => word.startsWith('--'))) expect(help.stdout, `${command.join(' ')} ${flag}`).toContain(flag);
    }
  });
});
