/** `ordeal --version` / `-v`: the built CLI prints the package's version and exits 0. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('ordeal --version', () => {
  it.each([['--version'], ['-v']])('%s prints the version and exits 0', async (flag) => {
    const result = await runCli([flag]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`${version}\n`);
    expect(result.code).toBe(0);
  });

  it('is listed in --help', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/-v, --version\s+Print Ordeal's version/);
  });
});
