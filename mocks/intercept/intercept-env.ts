/**
 * The environment a managed shop gets under `ordeal run --intercept`: the proxy variables every
 * common HTTP stack reads (curl and PHP, Python requests, Go, axios, undici's EnvHttpProxyAgent),
 * loopback exempted so the shop still reaches Ordeal's mocks directly; the run CA in the variables
 * each TLS stack reads; and for Node, the preload through NODE_OPTIONS.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The variable the Node preload reads the proxy's URL from. */
export const INTERCEPT_PROXY_VARIABLE = 'ORDEAL_INTERCEPT_PROXY';

/** Hosts that never go through the proxy: the shop's way to Ordeal's mocks and its own services. */
export const LOOPBACK_NO_PROXY = 'localhost,127.0.0.1,::1';

export interface InterceptEnvOptions {
  /** The intercepting proxy, `http://127.0.0.1:PORT`. */
  proxyUrl: string;
  /** The run CA's certificate (PEM). */
  caFile: string;
  /**
   * The Node preload to load with `--import`, or false for a shop that is not a Node process.
   * @default nodePreloadPath()
   */
  nodePreload?: string | false;
  /** The NODE_OPTIONS the shop would have had (e.g. `process.env.NODE_OPTIONS`); the preload is added after it. */
  nodeOptions?: string;
}

/** Variables to merge into the shop's environment. */
export function interceptEnv(options: InterceptEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    HTTPS_PROXY: options.proxyUrl,
    HTTP_PROXY: options.proxyUrl,
    // curl reads only the lower-case http_proxy (a CGI server sets HTTP_PROXY from a request header).
    https_proxy: options.proxyUrl,
    http_proxy: options.proxyUrl,
    NO_PROXY: LOOPBACK_NO_PROXY,
    no_proxy: LOOPBACK_NO_PROXY,
    NODE_EXTRA_CA_CERTS: options.caFile,
    SSL_CERT_FILE: options.caFile,
    CURL_CA_BUNDLE: options.caFile,
    REQUESTS_CA_BUNDLE: options.caFile,
    [INTERCEPT_PROXY_VARIABLE]: options.proxyUrl,
  };
  const preload = options.nodePreload ?? nodePreloadPath();
  if (preload !== false) {
    // A file URL: no spaces or backslashes to quote inside NODE_OPTIONS, on any platform.
    const flag = `--import ${pathToFileURL(preload).href}`;
    const before = options.nodeOptions?.trim() ?? '';
    env.NODE_OPTIONS = before === '' ? flag : `${before} ${flag}`;
  }
  return env;
}

/**
 * Where the compiled preload is: beside this module in `dist/mocks/intercept/`, or — when Ordeal
 * runs from its TypeScript sources (tests) — in the build's `dist/` folder under the repository.
 */
export function nodePreloadPath(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'node-preload.js');
  return join(resolve(dirname(here), '..', '..'), 'dist', 'mocks', 'intercept', 'node-preload.js');
}

/** True when the compiled preload exists (`npm run build` makes it). */
export function nodePreloadBuilt(path: string = nodePreloadPath()): boolean {
  return existsSync(path);
}
