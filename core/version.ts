import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Ordeal's version, from the package.json above this file (sources or dist). */
function readVersion(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'ordeal' && manifest.version) return manifest.version;
    } catch {
      // Not here; look one folder up.
    }
    folder = dirname(folder);
  }
  return '0.0.0';
}

export const VERSION = readVersion();
