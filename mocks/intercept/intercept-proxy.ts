/**
 * The intercepting proxy of `ordeal run --intercept`, for shops whose payment library hard-codes
 * the provider's host. An HTTP proxy on loopback that:
 * - answers `CONNECT host:443` for the providers' hosts in its route table by terminating TLS
 *   itself, with a leaf certificate for that host from the run CA, and `CONNECT host:80` with
 *   plain HTTP inside the tunnel (undici tunnels plain HTTP too);
 * - answers absolute-form proxy requests (`GET http://host/…`, and `https://host/…` as axios sends
 *   them to an http:// proxy) for the same hosts;
 * - forwards each such request to the loopback personality of the host's protocol, bytes unchanged;
 * - refuses every other host (403) without ever dialling it, and reports it (`onRefused`).
 * The only connections it opens go to the personalities' loopback URLs, checked when it starts and
 * again on every forward.
 */
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { OrdealError } from '../../core/errors.js';
import type { PaymentProtocol } from '../../core/schema-parts.js';
import { isLoopbackHost } from '../../core/network-scope.js';
import { createCertificateAuthority, type RunCertificateAuthority } from './certificate-authority.js';
import { assertLoopbackTarget, forwardRequest } from './forward.js';
import { interceptEnv, nodePreloadBuilt, nodePreloadPath } from './intercept-env.js';
import { decideRoute, interceptRoutes, normalizeHost, parseAuthority, type RefusalReason } from './routes.js';

/** A request for a host the proxy does not answer; the caller journals it. */
export interface InterceptRefusal {
  host: string;
  port: number;
  /** `CONNECT`, or the method of a plain proxy request. */
  method: string;
  reason: RefusalReason;
}

/**
 * A client that would not talk TLS with the run's certificate: it does not trust the run CA
 * (pinning, its own CA bundle). OpenSSL clients (curl, PHP, Python) break off the handshake with
 * an alert; Node checks the certificate after the handshake and just closes, so a TLS tunnel
 * closed before its first request counts too.
 */
export interface InterceptHandshakeFailure {
  host: string;
  port: number;
  message: string;
}

export interface InterceptStats {
  /** Requests passed to a personality. */
  forwarded: number;
  /** CONNECTs and proxy requests refused. */
  refused: number;
  /** TLS handshakes the client broke off. */
  handshakeFailures: number;
}

export interface InterceptProxyOptions {
  /**
   * Loopback base URL of each protocol's personality in this run (`http://127.0.0.1:PORT`, no
   * trailing slash needed), e.g. `{ stripe: mocks.urls.payment }`. A provider host whose protocol
   * has none here is refused.
   */
  targets: Partial<Record<PaymentProtocol, string>>;
  /** Extra `host → protocol` entries (a shop's 易支付 aggregator host), merged over `DEFAULT_INTERCEPT_ROUTES`. */
  routes?: Record<string, PaymentProtocol>;
  /** Folder for the run CA's certificate (`ca.pem`), e.g. `<run>/intercept`. Created if missing. */
  caDir: string;
  /** Called for every refused host, once per CONNECT or proxy request. */
  onRefused?: (refusal: InterceptRefusal) => void;
  /** Called when a client breaks off the TLS handshake with the run's certificate. */
  onHandshakeFailed?: (failure: InterceptHandshakeFailure) => void;
  /** Interface to bind; only loopback is accepted. @default "127.0.0.1" */
  host?: string;
  /**
   * The Node preload the shop's environment loads (`NODE_OPTIONS=--import …`); false leaves it out
   * (a PHP or Python shop). @default nodePreloadPath(), the compiled `dist/mocks/intercept/node-preload.js`
   */
  nodePreload?: string | false;
  /** The NODE_OPTIONS the shop would have had; the preload flag is appended to it. */
  nodeOptions?: string;
}

export interface InterceptProxy {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** The run CA's certificate file. */
  caFile: string;
  /** What to merge into the shop's environment (`interceptEnv`). */
  env: Record<string, string>;
  /** The host → protocol table in force. */
  routes: ReadonlyMap<string, PaymentProtocol>;
  authority: RunCertificateAuthority;
  stats(): InterceptStats;
  /** Stops listening and drops every open tunnel and forward. Runs once. */
  close(): Promise<void>;
}

/** Where the requests of one accepted CONNECT tunnel go. */
interface Tunnel {
  baseUrl: string;
  /** Requests seen in the tunnel so far. */
  requests: number;
}

/** Keep-alive inside a tunnel, ms: longer than the clients' pools keep idle sockets, so the proxy is not the side that closes first. */
const TUNNEL_KEEP_ALIVE_MS = 65_000;

/** Starts the proxy on a loopback port of its own (port 0) with a fresh run CA. */
export async function startInterceptProxy(options: InterceptProxyOptions): Promise<InterceptProxy> {
  const bindHost = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(bindHost)) {
    throw new OrdealError('ORDEAL_ERR_UNSAFE_TARGET', `the intercepting proxy may only bind to loopback, not "${bindHost}"`);
  }
  const targets: Partial<Record<PaymentProtocol, string>> = {};
  for (const [protocol, url] of Object.entries(options.targets) as [PaymentProtocol, string | undefined][]) {
    if (url !== undefined) targets[protocol] = assertLoopbackTarget(url, `the ${protocol} personality`).href;
  }
  const preload = options.nodePreload ?? nodePreloadPath();
  if (preload !== false && !nodePreloadBuilt(preload)) {
    throw new OrdealError('ORDEAL_ERR_HARNESS', `the Node preload of --intercept is missing at ${preload}; run \`npm run build\``);
  }
  const routes = interceptRoutes(options.routes);
  const authority = await createCertificateAuthority({ caDir: options.caDir });
  const stats: InterceptStats = { forwarded: 0, refused: 0, handshakeFailures: 0 };
  // A connection per forward: a pooled one the personality has just closed would turn into a
  // spurious lost answer, and on loopback a new connection costs next to nothing.
  const forwardAgent = new Agent({ keepAlive: false });
  const tunnels = new WeakMap<Duplex, Tunnel>();
  const sockets = new Set<Duplex>();

  const refuse = (refusal: InterceptRefusal): string => {
    stats.refused += 1;
    options.onRefused?.(refusal);
    return `Ordeal's intercepting proxy refuses ${refusal.host}:${refusal.port} (${refusal.reason}): during an intercepted run only the payment providers' hosts are answered, and nothing leaves this machine.\n`;
  };

  const forward = (request: IncomingMessage, response: ServerResponse, baseUrl: string, target: string): void => {
    stats.forwarded += 1;
    forwardRequest(request, response, baseUrl, target, forwardAgent);
  };

  let closed = false;
  const server = createServer((request, response) => {
    const tunnel = tunnels.get(request.socket);
    if (tunnel) {
      tunnel.requests += 1;
      forward(request, response, tunnel.baseUrl, request.url ?? '/');
      return;
    }
    const target = absoluteTarget(request.url ?? '');
    if (!target) {
      sendText(response, 400, "This is Ordeal's intercepting proxy: send proxy requests (absolute URLs or CONNECT).\n");
      return;
    }
    const decision = decideRoute(routes, targets, target.host, target.port);
    if (!decision.routed) {
      sendText(response, 403, refuse({ host: target.host, port: target.port, method: request.method ?? 'GET', reason: decision.reason }));
      return;
    }
    forward(request, response, decision.baseUrl, target.path);
  });

  server.keepAliveTimeout = TUNNEL_KEEP_ALIVE_MS;
  server.on('connection', (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket: Duplex) => socket.destroy());

  server.on('connect', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const parsed = parseAuthority(request.url ?? '');
    if (!parsed) {
      answerConnect(socket, 400, 'Bad Request', 'CONNECT needs host:port\n');
      return;
    }
    const decision = decideRoute(routes, targets, parsed.host, parsed.port);
    if (!decision.routed) {
      answerConnect(socket, 403, 'Forbidden', refuse({ host: parsed.host, port: parsed.port, method: 'CONNECT', reason: decision.reason }));
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const tunnel: Tunnel = { baseUrl: decision.baseUrl, requests: 0 };
    if (parsed.port !== 443) {
      tunnels.set(socket, tunnel);
      server.emit('connection', socket);
      // Bytes the client sent with its CONNECT: the server's parser reads the socket's handle
      // directly and would never see them in the stream's buffer, so hand them to it as data.
      if (head.length > 0) socket.emit('data', head);
      return;
    }
    // Bytes the client sent with its CONNECT: a TLSSocket reads the stream's buffer first.
    if (head.length > 0) socket.unshift(head);
    const secure = new TLSSocket(socket, { isServer: true, secureContext: authority.leafFor(parsed.host).secureContext, ALPNProtocols: ['http/1.1'] });
    let established = false;
    let reported = false;
    const reportFailure = (message: string): void => {
      if (reported || closed) return;
      reported = true;
      stats.handshakeFailures += 1;
      options.onHandshakeFailed?.({ host: parsed.host, port: parsed.port, message });
    };
    secure.on('error', (error: Error) => {
      if (!established) reportFailure(error.message);
      secure.destroy();
    });
    // The tunnel inherits the HTTP server's allowHalfOpen, so a client hanging up before the
    // handshake is done (Node refusing the certificate) would leave it open: close it then.
    secure.once('end', () => {
      if (!established) secure.destroy();
    });
    secure.once('secure', () => {
      established = true;
      tunnels.set(secure, tunnel);
      server.emit('connection', secure);
    });
    sockets.add(secure);
    secure.once('close', () => {
      sockets.delete(secure);
      socket.destroy();
      if (tunnel.requests === 0) {
        reportFailure(`the client closed the TLS tunnel ${established ? 'after the handshake but before its first request' : 'during the handshake'} (did it reject the certificate?)`);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new OrdealError('ORDEAL_ERR_HARNESS', 'the intercepting proxy has no TCP address');
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    caFile: authority.caFile,
    env: interceptEnv({ proxyUrl: url, caFile: authority.caFile, nodePreload: preload, ...(options.nodeOptions === undefined ? {} : { nodeOptions: options.nodeOptions }) }),
    routes,
    authority,
    stats: () => ({ ...stats }),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        closed = true;
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        forwardAgent.destroy();
      })),
  };
}

/** An absolute-form request target (`http://host[:port]/path?query`): host, port and origin-form path. */
function absoluteTarget(requestTarget: string): { host: string; port: number; path: string } | null {
  if (!/^https?:\/\//i.test(requestTarget)) return null;
  try {
    const url = new URL(requestTarget);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return { host: normalizeHost(url.hostname.replace(/^\[|\]$/g, '')), port, path: `${url.pathname}${url.search}` };
  } catch {
    return null;
  }
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' });
  response.end(text);
}

/** Answers a CONNECT that is not accepted, then closes the connection. */
function answerConnect(socket: Socket, status: number, reason: string, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
}
