/**
 * The image the Kubernetes manifests run (Dockerfile): this machine has no Docker daemon, so the
 * test checks what would break a build or a pod — sources the Dockerfile copies, the entrypoint
 * and the layout the manifests mount into, and that the built code needs nothing `npm prune
 * --omit=dev` removes.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IMAGE_LAYOUT } from '../harness/k8s/manifest.js';

const dockerfile = await readFile('Dockerfile', 'utf8');
const packageJson = JSON.parse(await readFile('package.json', 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };

async function jsFiles(folder: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) found.push(...(await jsFiles(path)));
    else if (entry.name.endsWith('.js')) found.push(path);
  }
  return found;
}

/** `lodash/fp` → `lodash`, `@scope/name/x` → `@scope/name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

describe('the Dockerfile', () => {
  it('copies only sources that exist, builds into the layout the manifests use, and runs ordeal as its entrypoint', async () => {
    const buildStage = dockerfile.split(/^FROM /m)[1]!;
    for (const [, source] of buildStage.matchAll(/^COPY (?!--from)(\S+)/gm)) await expect(stat(source!), source).resolves.toBeTruthy();
    expect(dockerfile).toMatch(new RegExp(`^WORKDIR ${IMAGE_LAYOUT.home}$`, 'm'));
    expect(dockerfile).toContain(`ln -s ${IMAGE_LAYOUT.home}/${packageJson.bin.ordeal} /usr/local/bin/ordeal`);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["ordeal"\]$/m);
    for (const folder of [IMAGE_LAYOUT.scenarioDir, IMAGE_LAYOUT.dataDir, IMAGE_LAYOUT.workDir]) expect(dockerfile).toContain(folder);
    // The manifests run the pods as uid 1000: the image's user node.
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^FROM node:20/m);
  });

  it('the built code imports only production dependencies and Node built-ins (npm prune --omit=dev keeps them)', async () => {
    const allowed = new Set(Object.keys(packageJson.dependencies));
    const missing = new Map<string, string>();
    // dist/examples holds the example shops (test/example-*.test.ts), which bring their own dependencies; Ordeal never imports them.
    const ordealFiles = (await jsFiles('dist')).filter((file) => !file.startsWith(join('dist', 'examples')));
    expect(ordealFiles.length).toBeGreaterThan(100);
    for (const file of ordealFiles) {
      const text = await readFile(file, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"\n]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        if (!specifier || specifier.startsWith('.') || specifier.startsWith('node:')) continue;
        if (!allowed.has(packageOf(specifier))) missing.set(packageOf(specifier), file);
      }
    }
    expect(Object.fromEntries(missing)).toEqual({});
  });
});
