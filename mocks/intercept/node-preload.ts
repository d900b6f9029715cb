/**
 * The Node preload of `ordeal run --intercept`: `node --import <this file>` (set through
 * NODE_OPTIONS) makes an unmodified Node shop send its outbound HTTP through Ordeal's intercepting
 * proxy, since Node's own HTTP stack ignores HTTPS_PROXY/HTTP_PROXY (before Node 24's
 * NODE_USE_ENV_PROXY). It covers:
 * - `fetch` (and undici's own `request`/`fetch`): undici's global dispatcher becomes an
 *   `EnvHttpProxyAgent` aimed at the proxy;
 * - `https.request`/`http.request` and every library built on `http(s).Agent` (axios, node-fetch,
 *   got's default agents…): each agent's `createConnection` opens a CONNECT tunnel through the
 *   proxy, and for https the TLS session runs inside it, verified as usual (the run CA comes from
 *   NODE_EXTRA_CA_CERTS).
 * Loopback and the hosts in NO_PROXY go straight out as before: the shop still reaches Ordeal's
 * mocks and its own services directly. Everything else goes to the proxy, which answers only the
 * providers' hosts and refuses (and reports) the rest.
 *
 * This file runs inside the shop's process: it imports nothing but Node's modules and undici, and
 * does nothing unless ORDEAL_INTERCEPT_PROXY names a loopback proxy.
 */
import http from 'node:http';
import https from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';

/** The proxy's URL, set by `interceptEnv()`. */
const PROXY_VARIABLE = 'ORDEAL_INTERCEPT_PROXY';
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

type ConnectionCallback = (error: Error | null, stream: Duplex) => void;
type CreateConnection = (this: http.Agent, options: http.ClientRequestArgs, callback?: ConnectionCallback) => Duplex | null | undefined;
/** Marks the prototypes this file patched, so a second load (a child process inheriting NODE_OPTIONS twice) is harmless. */
const INSTALLED = Symbol.for('ordeal.intercept.preload');

function isLoopback(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, '').toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(name);
}

/** NO_PROXY as curl and undici read it: `*`, exact hosts, and `.suffix` / `*.suffix` domains; ports ignored. */
function bypassOf(noProxy: string): (host: string) => boolean {
  const entries = noProxy
    .split(/[,\s]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '')
    .map((entry) => (entry.startsWith('[') ? entry.replace(/^\[([^\]]+)\](:\d+)?$/, '$1') : entry.replace(/:\d+$/, '')));
  if (entries.includes('*')) return () => true;
  return (host) => {
    const name = host.replace(/^\[|\]$/g, '').toLowerCase();
    if (isLoopback(name)) return true;
    return entries.some((entry) => {
      const domain = entry.replace(/^\*?\./, '');
      return name === domain || name.endsWith(`.${domain}`);
    });
  };
}

function authorityOf(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Opens `CONNECT host:port` at the proxy; resolves with the tunnel's socket once it answers 200. */
function openTunnel(proxy: URL, host: string, port: number): Promise<Socket> {
  const authority = authorityOf(host, port);
  const proxyHost = proxy.hostname.replace(/^\[|\]$/g, '');
  const proxyPort = Number(proxy.port === '' ? 80 : proxy.port);
  return new Promise((resolve, reject) => {
    const request = http.request({
      method: 'CONNECT',
      path: authority,
      headers: { host: authority },
      // A connection of its own: no agent, so this never loops back into the patched agents.
      createConnection: () => netConnect({ host: proxyHost, port: proxyPort }),
    });
    request.once('connect', (response: http.IncomingMessage, socket: Socket, head: Buffer) => {
      if (response.statusCode === 200) {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
        return;
      }
      socket.destroy();
      reject(new Error(`Ordeal's intercepting proxy refused ${authority} (HTTP ${response.statusCode ?? 0}): only the payment providers' hosts are answered during an intercepted run`));
    });
    request.once('error', reject);
    request.end();
  });
}

/** Wraps an agent prototype's createConnection so that hosts not bypassed are reached through a tunnel. */
function tunnelThrough(prototype: { createConnection: CreateConnection }, proxy: URL, bypass: (host: string) => boolean, defaultPort: number, secure: boolean): void {
  const direct = prototype.createConnection;
  prototype.createConnection = function intercepted(this: http.Agent, options: http.ClientRequestArgs, callback?: ConnectionCallback) {
    const host = options.host ?? options.hostname ?? 'localhost';
    if (options.socketPath !== undefined || bypass(host)) return direct.call(this, options, callback);
    // Node's agents always pass a callback; a caller that does not would otherwise go out directly.
    if (typeof callback !== 'function') throw new Error(`Ordeal's intercept preload cannot tunnel a connection to ${host} opened without a callback`);
    const port = Number(options.port ?? defaultPort);
    openTunnel(proxy, host, port).then(
      (tunnel) => {
        // TLS inside the tunnel, made by the agent's own createConnection (session reuse, servername, CA and checks as usual).
        const stream = secure ? direct.call(this, { ...options, socket: tunnel } as http.ClientRequestArgs) : tunnel;
        // A TLS socket does not own the socket it runs over: close the tunnel with it (a
        // certificate refused after the handshake would otherwise leave the tunnel open).
        if (stream && stream !== tunnel) stream.once('close', () => tunnel.destroy());
        if (stream) callback(null, stream);
        else callback(new Error(`could not start TLS to ${host} inside the proxy tunnel`), tunnel);
      },
      (error: Error) => callback(error, undefined as unknown as Duplex),
    );
    return undefined;
  };
}

function install(proxy: URL): void {
  const agents = http.Agent.prototype as unknown as Record<symbol, unknown>;
  if (agents[INSTALLED]) return;
  if (!isLoopback(proxy.hostname) || proxy.protocol !== 'http:') {
    throw new Error(`${PROXY_VARIABLE} must be Ordeal's proxy on loopback (http://127.0.0.1:PORT), not "${proxy.href}"`);
  }
  const noProxy = [...LOOPBACK_NAMES, process.env.NO_PROXY ?? process.env.no_proxy ?? ''].filter((entry) => entry !== '').join(',');
  const bypass = bypassOf(noProxy);

  setGlobalDispatcher(new EnvHttpProxyAgent({ httpProxy: proxy.href, httpsProxy: proxy.href, noProxy }));
  tunnelThrough(https.Agent.prototype as unknown as { createConnection: CreateConnection }, proxy, bypass, 443, true);
  tunnelThrough(http.Agent.prototype as unknown as { createConnection: CreateConnection }, proxy, bypass, 80, false);
  agents[INSTALLED] = true;
}

const configured = process.env[PROXY_VARIABLE];
if (configured !== undefined && configured !== '') install(new URL(configured));
