/**
 * Passing one intercepted request to the personality that speaks its protocol, on loopback, and
 * its answer back — method, path, query, headers and body as the client sent them (signatures over
 * them must still verify), the answer streamed as it comes (latency, dribbled bodies and dropped
 * connections of the fault plan reach the shop as they left the personality).
 */
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { OrdealError } from '../../core/errors.js';
import { isReachableUrl } from '../../core/network-scope.js';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and what the proxy itself already answered: never passed
 * on. `expect` is here because the proxy's server has already said `100 Continue`.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/** Throws unless `url` is a plain-HTTP URL on loopback: the proxy never dials anything else. */
export function assertLoopbackTarget(url: string, what: string): URL {
  if (!isReachableUrl(url, 'loopback') || new URL(url).protocol !== 'http:') {
    throw new OrdealError('ORDEAL_ERR_UNSAFE_TARGET', `the intercepting proxy forwards only to http:// URLs on loopback; ${what} is "${url}"`);
  }
  return new URL(url);
}

/**
 * `rawHeaders` without hop-by-hop fields and the fields `Connection` names. `keepChunked` keeps a
 * `Transfer-Encoding: chunked` request header: Node then frames the body again as the client did
 * (without it a GET or DELETE body would go unframed).
 */
export function endToEndHeaders(rawHeaders: readonly string[], keepChunked = false): string[] {
  const dropped = new Set(HOP_BY_HOP);
  if (keepChunked) dropped.delete('transfer-encoding');
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if ((rawHeaders[index] ?? '').toLowerCase() !== 'connection') continue;
    for (const token of (rawHeaders[index + 1] ?? '').split(',')) dropped.add(token.trim().toLowerCase());
  }
  const kept: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] ?? '';
    if (!dropped.has(name.toLowerCase())) kept.push(name, rawHeaders[index + 1] ?? '');
  }
  return kept;
}

/** `base`'s path joined with the request target (path + query, origin-form). */
export function forwardPath(base: URL, target: string): string {
  const prefix = base.pathname.replace(/\/+$/, '');
  const path = target.startsWith('/') ? target : `/${target}`;
  return `${prefix}${path}`;
}

/**
 * Sends `request` (origin-form `target`) to `baseUrl` and streams the answer into `response`.
 * When the personality drops the connection, the client's connection is dropped too (a lost answer
 * stays a lost answer); when it cannot be reached at all, the client gets a 502 saying so.
 */
export function forwardRequest(request: IncomingMessage, response: ServerResponse, baseUrl: string, target: string, agent: Agent): void {
  const base = assertLoopbackTarget(baseUrl, 'a personality base URL');
  const upstream = httpRequest({
    hostname: base.hostname.replace(/^\[|\]$/g, ''),
    port: base.port === '' ? 80 : Number(base.port),
    method: request.method ?? 'GET',
    path: forwardPath(base, target),
    headers: endToEndHeaders(request.rawHeaders, true),
    agent,
  });
  upstream.on('response', (answer) => {
    response.writeHead(answer.statusCode ?? 502, answer.statusMessage ?? '', endToEndHeaders(answer.rawHeaders));
    answer.pipe(response);
    // Cut off mid-body by the personality: the client's answer is cut off too.
    answer.on('aborted', () => response.destroy());
    answer.on('error', () => response.destroy());
  });
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    if (response.headersSent || error.code !== 'ECONNREFUSED') {
      // The personality dropped the connection (a lost answer, a hang cut short): so does the proxy.
      response.destroy();
      request.socket.destroy();
      return;
    }
    const text = `Ordeal's intercepting proxy could not reach the personality at ${base.origin}\n`;
    response.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    response.end(text);
  });
  // The client gave up (its own timeout): stop waiting for the personality too.
  response.on('close', () => {
    if (!response.writableFinished) upstream.destroy();
  });
  request.pipe(upstream);
}
