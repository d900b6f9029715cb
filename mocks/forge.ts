/**
 * node-forge, loaded on first use. Only runs that make certificates (WeChat Pay's platform
 * certificate, the --intercept CA) need it, and loading it costs every run ~2 MB of heap.
 */
import { createRequire } from 'node:module';
import type Forge from 'node-forge';

let forge: typeof Forge | undefined;

export function loadForge(): typeof Forge {
  forge ??= createRequire(import.meta.url)('node-forge') as typeof Forge;
  return forge;
}
