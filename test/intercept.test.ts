/**
 * `--intercept`: the run CA, the intercepting proxy and the Node preload, over real sockets. The
 * providers' personalities are stood in for by tiny loopback servers that echo what reached them,
 * so each test can check that the bytes a client sent arrived unchanged.
 */
import { execFile, spawnSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import ts from 'typescript';
import { ProxyAgent, request as undiciRequest } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, interceptEnv, nodePreloadPath, startInterceptProxy } from '../mocks/intercept/index.js';
import type { InterceptHandshakeFailure, InterceptProxy, InterceptRefusal } from '../mocks/intercept/index.js';
import { decideRoute, interceptRoutes, parseAuthority } from '../mocks/intercept/routes.js';
import { cleanupAfterEach, type Defer } from './helpers/cleanups.js';

const ROOT = resolve(import.meta.dirname, '..');
const PRELOAD_SOURCE = join(ROOT, 'mocks', 'intercept', 'node-preload.ts');
const CHILD_SCRIPT = join(import.meta.dirname, 'fixtures', 'intercept-client.mjs');
const EPAY_HOST = 'pay.aggregator.test';
const DAY_MS = 86_400_000;

/** Which of curl and openssl this machine has (their tests are skipped without them). */
const which = (tool: string): string | undefined => {
  const found = spawnSync('which', [tool], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
};
const CURL = which('curl');
const OPENSSL = which('openssl');
const PYTHON = which('python3');
const PYTHON_REQUESTS = PYTHON !== undefined && spawnSync(PYTHON, ['-c', 'import requests'], { stdio: 'ignore' }).status === 0;

/** A Python shop's calls: requests (HTTPS_PROXY + REQUESTS_CA_BUNDLE) and urllib (https_proxy + SSL_CERT_FILE). */
const PYTHON_CLIENT = `
import json, requests, urllib.request
out = {}
r = requests.post('https://openapi.alipay.com/gateway.do?method=alipay.trade.close', data={'biz_content': '{"out_trade_no":"P1"}'}, timeout=20)
out['requests'] = {'status': r.status_code, 'body': r.json()}
with urllib.request.urlopen('https://api.mch.weixin.qq.com/v3/certificates', timeout=20) as answer:
    out['urllib'] = {'status': answer.status, 'body': json.loads(answer.read())}
try:
    requests.get('https://example.com/', timeout=20)
    out['elsewhere'] = 'answered'
except requests.exceptions.ProxyError as error:
    out['elsewhere'] = 'refused'
print(json.dumps(out))
`;

/**
 * The preload runs in a plain Node process, so it must exist as JavaScript where the build puts
 * it. `npm test` builds first; a lone `vitest run` of this file transpiles just that one file.
 */
beforeAll(() => {
  const built = nodePreloadPath();
  if (existsSync(built) && statSync(built).mtimeMs >= statSync(PRELOAD_SOURCE).mtimeMs) return;
  const { outputText } = ts.transpileModule(readFileSync(PRELOAD_SOURCE, 'utf8'), {
    fileName: 'node-preload.ts',
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
  });
  mkdirSync(dirname(built), { recursive: true });
  writeFileSync(built, outputText);
});

const defer = cleanupAfterEach();

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface StandIn {
  url: string;
  seen: Seen[];
}

async function listen(server: Server, defer: Defer): Promise<number> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  defer(
    () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A personality's stand-in: echoes method, target and body as JSON; `/drop` loses the answer. */
async function startStandIn(protocol: string): Promise<StandIn> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      if (request.url === '/drop') {
        request.socket.destroy();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json', 'x-stand-in': protocol });
      response.end(JSON.stringify({ protocol, method: request.method, url: request.url, body }));
    });
  });
  const port = await listen(server, defer);
  return { url: `http://127.0.0.1:${port}`, seen };
}

interface Rig {
  proxy: InterceptProxy;
  standIns: Record<'stripe' | 'alipay' | 'wechatpay' | 'epay', StandIn>;
  refusals: InterceptRefusal[];
  handshakes: EventEmitter;
  caDir: string;
}

async function startRig(): Promise<Rig> {
  const caDir = mkdtempSync(join(tmpdir(), 'ordeal-intercept-'));
  defer(() => rmSync(caDir, { recursive: true, force: true }));
  const standIns = {
    stripe: await startStandIn('stripe'),
    alipay: await startStandIn('alipay'),
    wechatpay: await startStandIn('wechatpay'),
    epay: await startStandIn('epay'),
  };
  const refusals: InterceptRefusal[] = [];
  const handshakes = new EventEmitter();
  const proxy = await startInterceptProxy({
    targets: { stripe: standIns.stripe.url, alipay: standIns.alipay.url, wechatpay: standIns.wechatpay.url, epay: `${standIns.epay.url}/` },
    routes: { [EPAY_HOST]: 'epay' },
    caDir: join(caDir, 'intercept'),
    onRefused: (refusal) => refusals.push(refusal),
    onHandshakeFailed: (failure: InterceptHandshakeFailure) => handshakes.emit('failed', failure),
  });
  defer(() => proxy.close());
  return { proxy, standIns, refusals, handshakes, caDir };
}

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (bounded); never rejects, the exit code says how it went. */
function run(file: string, args: string[], env: Record<string, string>): Promise<Finished> {
  return new Promise((done) => {
    execFile(file, args, { env, timeout: 30_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      done({ code, stdout, stderr });
    });
  });
}

/** The shop's environment as `--intercept` gives it, with nothing else configured. */
function shopEnv(proxy: InterceptProxy, keepNodeOptions = true): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...proxy.env };
  if (!keepNodeOptions) delete env.NODE_OPTIONS;
  return env;
}

interface ChildAnswer {
  status?: number;
  body?: string;
  error?: string;
  authorized?: boolean | null;
  issuer?: string | null;
  san?: string | null;
}

async function runClient(rig: Rig, mode: 'providers' | 'elsewhere'): Promise<{ dialled: string[] } & Record<string, ChildAnswer>> {
  const finished = await run(process.execPath, [CHILD_SCRIPT, mode], { ...shopEnv(rig.proxy), ORDEAL_ROOT: ROOT });
  expect(finished.stderr).toBe('');
  expect(finished.code).toBe(0);
  return JSON.parse(finished.stdout) as { dialled: string[] } & Record<string, ChildAnswer>;
}

/** Records the host of every outgoing connection this process opens until the test ends. */
function recordDials(): string[] {
  const dialled: string[] = [];
  const original = Socket.prototype.connect;
  type ConnectArgs = Parameters<typeof original>;
  Socket.prototype.connect = function recording(this: Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const options = typeof first === 'object' && first !== null ? (first as { host?: string; path?: string }) : {};
    dialled.push(options.path ?? options.host ?? (typeof args[1] === 'string' ? args[1] : 'localhost'));
    return original.apply(this, args as ConnectArgs);
  } as typeof original;
  defer(() => {
    Socket.prototype.connect = original;
  });
  return dialled;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

describe('an HTTPS-only client with a hard-coded host', () => {
  it('reaches the personality through the proxy: fetch, https.request, http.request and axios, unchanged, over TLS verified against the run CA', async () => {
    const rig = await startRig();
    const proxySide = recordDials();
    const out = await runClient(rig, 'providers');

    // fetch (undici's global dispatcher) to api.stripe.com, through a CONNECT tunnel.
    expect(out.stripe).toMatchObject({ status: 200 });
    expect(JSON.parse(out.stripe?.body ?? '{}')).toEqual({
      protocol: 'stripe',
      method: 'POST',
      url: '/v1/payment_intents?expand[]=latest_charge',
      body: 'amount=3000&currency=cny&metadata[order]=A1',
    });
    const stripeSeen = rig.standIns.stripe.seen[0];
    expect(stripeSeen?.headers).toMatchObject({ host: 'api.stripe.com', authorization: 'Bearer sk_test_intercept', 'idempotency-key': 'order-A1' });

    // https.request to openapi.alipay.com: the run CA's leaf, verified by Node's own TLS.
    expect(out.alipay).toMatchObject({ status: 200, authorized: true, san: 'DNS:openapi.alipay.com' });
    expect(out.alipay?.issuer).toMatch(/^Ordeal run CA /);
    expect(rig.standIns.alipay.seen).toEqual([
      expect.objectContaining({
        method: 'POST',
        url: '/gateway.do?charset=utf-8&method=alipay.trade.query&sign=a%2Bb%2F%3D',
        body: 'biz_content=%7B%22out_trade_no%22%3A%22A1%22%7D',
      }),
    ]);
    expect(rig.standIns.alipay.seen[0]?.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=utf-8');

    // http.request to an 易支付 aggregator added to the route table (plain HTTP inside a tunnel).
    expect(out.epay).toMatchObject({ status: 200 });
    expect(rig.standIns.epay.seen).toEqual([expect.objectContaining({ method: 'GET', url: '/api.php?act=order&pid=1001' })]);

    // axios sends https:// URLs to an http:// proxy in absolute form: routed the same way.
    expect(out.wechatpay).toMatchObject({ status: 200 });
    expect(rig.standIns.wechatpay.seen).toEqual([
      expect.objectContaining({ method: 'GET', url: '/v3/pay/transactions/out-trade-no/A1?mchid=1900000001' }),
    ]);
    expect(rig.standIns.wechatpay.seen[0]?.headers.authorization).toBe('WECHATPAY2-SHA256-RSA2048 mchid="1900000001",serial_no="S1"');

    expect(rig.refusals).toEqual([]);
    expect(rig.proxy.stats()).toMatchObject({ forwarded: 4, refused: 0, handshakeFailures: 0 });
    // The shop process only ever dialled loopback (the proxy), and the proxy only the stand-ins.
    expect(out.dialled.length).toBeGreaterThan(0);
    for (const host of out.dialled) expect(host).toMatch(LOOPBACK);
    expect(proxySide.length).toBeGreaterThan(0);
    for (const host of proxySide) expect(host).toMatch(LOOPBACK);
  });

  it('any other host is refused and reported, and no connection leaves loopback; a pinning client is reported', async () => {
    const rig = await startRig();
    const proxySide = recordDials();
    const pinnedFailure = once(rig.handshakes, 'failed') as Promise<[InterceptHandshakeFailure]>;
    const out = await runClient(rig, 'elsewhere');

    expect(out.fetch?.error).toMatch(/403/);
    expect(out.https?.error).toMatch(/refused example\.com:443 \(HTTP 403\)/);
    expect(out.http?.error).toMatch(/refused example\.com:80 \(HTTP 403\)/);
    expect([...rig.refusals].sort((a, b) => a.port - b.port)).toEqual([
      { host: 'example.com', port: 80, method: 'CONNECT', reason: 'not-a-provider-host' },
      { host: 'example.com', port: 443, method: 'CONNECT', reason: 'not-a-provider-host' },
      { host: 'example.com', port: 443, method: 'CONNECT', reason: 'not-a-provider-host' },
    ]);
    expect(out.pinned?.error).toBe('certificate does not match the pinned key');
    const [pinned] = await pinnedFailure;
    expect(pinned).toMatchObject({ host: 'api.stripe.com', port: 443 });
    expect(rig.proxy.stats()).toEqual({ forwarded: 0, refused: 3, handshakeFailures: 1 });
    for (const standIn of Object.values(rig.standIns)) expect(standIn.seen).toEqual([]);
    expect(out.dialled.length).toBeGreaterThan(0);
    for (const host of out.dialled) expect(host).toMatch(LOOPBACK);
    // The proxy dialled nothing at all: it never connects to a refused host.
    expect(proxySide).toEqual([]);
  });

  it('the proxy forwards only to loopback, and binds only to loopback', async () => {
    const caDir = mkdtempSync(join(tmpdir(), 'ordeal-intercept-'));
    defer(() => rmSync(caDir, { recursive: true, force: true }));
    for (const target of ['http://10.1.2.3:8080', 'http://example.com', 'https://127.0.0.1:4000']) {
      await expect(startInterceptProxy({ targets: { stripe: target }, caDir, nodePreload: false })).rejects.toMatchObject({ code: 'ORDEAL_ERR_UNSAFE_TARGET' });
    }
    await expect(startInterceptProxy({ targets: {}, caDir, host: '0.0.0.0', nodePreload: false })).rejects.toMatchObject({ code: 'ORDEAL_ERR_UNSAFE_TARGET' });
  });
});

/** `CONNECT authority` at the proxy; the tunnel's socket once it answers 200. */
async function openTunnel(proxyUrl: string, authority: string): Promise<Socket> {
  const url = new URL(proxyUrl);
  const connecting = httpRequest({ host: url.hostname, port: Number(url.port), method: 'CONNECT', path: authority, agent: false });
  connecting.end();
  const [response, socket] = (await once(connecting, 'connect')) as [IncomingMessage, Socket];
  defer(() => void socket.destroy());
  expect(response.statusCode).toBe(200);
  return socket;
}

describe('the proxy on the wire', () => {
  /** Sends `text` to the proxy as is and collects everything until it closes. */
  async function exchange(proxyUrl: string, text: string): Promise<string> {
    const url = new URL(proxyUrl);
    const socket = netConnect({ host: url.hostname, port: Number(url.port) });
    defer(() => void socket.destroy());
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // Written, not ended: a half-closed client has its requests aborted by Node's HTTP server.
    socket.write(text);
    await once(socket, 'close');
    return Buffer.concat(chunks).toString('utf8');
  }

  it('routes a plain-HTTP tunnel whose request came with the CONNECT; refuses a provider host on another port', async () => {
    const rig = await startRig();
    const tunnelled = await exchange(
      rig.proxy.url,
      `CONNECT ${EPAY_HOST}:80 HTTP/1.1\r\nHost: ${EPAY_HOST}:80\r\n\r\nGET /mapi.php?x=1 HTTP/1.1\r\nHost: ${EPAY_HOST}\r\nConnection: close\r\n\r\n`,
    );
    expect(tunnelled).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK/);
    expect(tunnelled).toContain('"url":"/mapi.php?x=1"');

    const otherPort = await exchange(rig.proxy.url, 'CONNECT api.stripe.com:8443 HTTP/1.1\r\nHost: api.stripe.com:8443\r\n\r\n');
    expect(otherPort).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(rig.refusals).toEqual([{ host: 'api.stripe.com', port: 8443, method: 'CONNECT', reason: 'port-not-intercepted' }]);

    const notProxy = await exchange(rig.proxy.url, 'GET /v1/charges HTTP/1.1\r\nHost: api.stripe.com\r\nConnection: close\r\n\r\n');
    expect(notProxy).toMatch(/^HTTP\/1\.1 400 /);
    expect(rig.standIns.stripe.seen).toEqual([]);
  });

  it('a lost answer stays lost; an unreachable personality is a 502; a client that does not trust the run CA is reported', async () => {
    const rig = await startRig();
    const trusting = new ProxyAgent({ uri: rig.proxy.url, requestTls: { ca: rig.proxy.authority.caCertificatePem } });
    defer(() => trusting.close());
    const answered = await undiciRequest('https://api.stripe.com/v1/balance', { dispatcher: trusting });
    expect(answered.statusCode).toBe(200);
    expect(await answered.body.json()).toMatchObject({ url: '/v1/balance' });
    await expect(undiciRequest('https://api.stripe.com/drop', { dispatcher: trusting })).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(rig.standIns.stripe.seen.map((seen) => seen.url)).toEqual(['/v1/balance', '/drop']);

    // A client with its own trust store (or a pinned certificate) refuses the run's leaf: here
    // Node's TLS without the run CA, in a tunnel opened as the preload opens them.
    const failed = once(rig.handshakes, 'failed') as Promise<[InterceptHandshakeFailure]>;
    const tunnel = await openTunnel(rig.proxy.url, 'api.stripe.com:443');
    const distrusting = tlsConnect({ socket: tunnel, servername: 'api.stripe.com' });
    defer(() => void distrusting.destroy());
    const [refusedCertificate] = (await once(distrusting, 'error')) as [NodeJS.ErrnoException];
    expect(refusedCertificate.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // Node checks the certificate after the handshake and sends no alert; its TLS socket does not
    // own the tunnel, so the client closes that itself (the preload does too).
    tunnel.destroy();
    const [failure] = await failed;
    expect(failure).toMatchObject({ host: 'api.stripe.com', port: 443 });
    expect(failure.message).toMatch(/closed the TLS tunnel/);
    expect(rig.proxy.stats().handshakeFailures).toBe(1);

    // A personality that is not listening (a port just freed).
    const gone = createServer();
    await new Promise<void>((done) => gone.listen(0, '127.0.0.1', done));
    const goneUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    await new Promise<void>((done) => gone.close(() => done()));
    const caDir = join(rig.caDir, 'second');
    const lonely = await startInterceptProxy({ targets: { alipay: goneUrl }, caDir, nodePreload: false });
    defer(() => lonely.close());
    const viaLonely = new ProxyAgent({ uri: lonely.url, requestTls: { ca: lonely.authority.caCertificatePem } });
    defer(() => viaLonely.close());
    const unreachable = await undiciRequest('https://openapi.alipay.com/gateway.do', { dispatcher: viaLonely });
    expect(unreachable.statusCode).toBe(502);
    expect(await unreachable.body.text()).toContain('could not reach the personality');
    // A provider host whose protocol this run does not serve is refused like any other.
    await expect(undiciRequest('https://api.stripe.com/v1/balance', { dispatcher: viaLonely })).rejects.toThrow(/403/);
  });
});

describe.skipIf(CURL === undefined)('curl through HTTPS_PROXY and CURL_CA_BUNDLE', () => {
  it('reaches a provider host and fails for any other; a bundle without the run CA fails verification', async () => {
    const rig = await startRig();
    const env = shopEnv(rig.proxy, false);
    const curl = CURL as string;

    const stripe = await run(curl, ['-sS', '--max-time', '20', '-H', 'Authorization: Bearer sk_test_curl', '-d', 'amount=100&payment_intent=pi_1', 'https://api.stripe.com/v1/refunds'], env);
    expect(stripe.stderr).toBe('');
    expect(stripe.code).toBe(0);
    expect(JSON.parse(stripe.stdout)).toEqual({ protocol: 'stripe', method: 'POST', url: '/v1/refunds', body: 'amount=100&payment_intent=pi_1' });
    expect(rig.standIns.stripe.seen[0]?.headers.authorization).toBe('Bearer sk_test_curl');

    // http_proxy: a plain proxy request in absolute form.
    const epay = await run(curl, ['-sS', '--fail', '--max-time', '20', `http://${EPAY_HOST}/submit.php?pid=1001&type=alipay`], env);
    expect(epay.code).toBe(0);
    expect(JSON.parse(epay.stdout)).toMatchObject({ protocol: 'epay', method: 'GET', url: '/submit.php?pid=1001&type=alipay' });

    const elsewhere = await run(curl, ['-sS', '--max-time', '20', 'https://example.com/'], env);
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toContain('403');
    const elsewherePlain = await run(curl, ['-sS', '--fail', '--max-time', '20', 'http://example.com/'], env);
    expect(elsewherePlain.code).toBe(22);
    expect(rig.refusals).toEqual([
      { host: 'example.com', port: 443, method: 'CONNECT', reason: 'not-a-provider-host' },
      { host: 'example.com', port: 80, method: 'GET', reason: 'not-a-provider-host' },
    ]);

    // The same request trusting another run's CA: curl refuses our certificate (exit 60).
    const stranger = await createCertificateAuthority({ caDir: join(rig.caDir, 'stranger') });
    const failed = once(rig.handshakes, 'failed') as Promise<[InterceptHandshakeFailure]>;
    const distrusting = await run(curl, ['-sS', '--max-time', '20', 'https://api.stripe.com/v1/refunds'], { ...env, CURL_CA_BUNDLE: stranger.caFile });
    expect(distrusting.code).toBe(60);
    expect(rig.standIns.stripe.seen).toHaveLength(1);
    // OpenSSL breaks off the handshake with an alert, which the proxy reports.
    const [failure] = await failed;
    expect(failure.host).toBe('api.stripe.com');
    expect(failure.message).toMatch(/unknown ca|alert/i);
  });
});

describe.skipIf(!PYTHON_REQUESTS)('a Python shop', () => {
  it('requests and urllib reach the providers through the proxy, trusting the run CA from REQUESTS_CA_BUNDLE and SSL_CERT_FILE', async () => {
    const rig = await startRig();
    const finished = await run(PYTHON as string, ['-c', PYTHON_CLIENT], shopEnv(rig.proxy, false));
    expect(finished.stderr).toBe('');
    expect(finished.code).toBe(0);
    expect(JSON.parse(finished.stdout)).toEqual({
      requests: { status: 200, body: { protocol: 'alipay', method: 'POST', url: '/gateway.do?method=alipay.trade.close', body: 'biz_content=%7B%22out_trade_no%22%3A%22P1%22%7D' } },
      urllib: { status: 200, body: { protocol: 'wechatpay', method: 'GET', url: '/v3/certificates', body: '' } },
      elsewhere: 'refused',
    });
    expect(rig.refusals).toEqual([{ host: 'example.com', port: 443, method: 'CONNECT', reason: 'not-a-provider-host' }]);
  });
});

describe('the run CA', () => {
  it('signs leaf certificates that verify with X509Certificate: issuer, SAN, serverAuth, validity, cached per host', async () => {
    const caDir = mkdtempSync(join(tmpdir(), 'ordeal-ca-'));
    defer(() => rmSync(caDir, { recursive: true, force: true }));
    const authority = await createCertificateAuthority({ caDir });
    const before = Date.now();
    expect(authority.caFile).toBe(join(caDir, 'ca.pem'));
    const ca = new X509Certificate(readFileSync(authority.caFile));
    expect(ca.ca).toBe(true);
    expect(ca.subject).toMatch(/CN=Ordeal run CA [0-9a-f]{8}/);
    expect(ca.issuer).toBe(ca.subject);
    expect(ca.verify(ca.publicKey)).toBe(true);

    const leafPem = authority.leafFor('API.Stripe.com').certificatePem;
    expect(authority.leafFor('api.stripe.com').certificatePem).toBe(leafPem);
    const leaf = new X509Certificate(leafPem);
    expect(leaf.ca).toBe(false);
    expect(leaf.subject).toBe('CN=api.stripe.com');
    expect(leaf.issuer).toBe(ca.subject);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('DNS:api.stripe.com');
    expect(leaf.checkHost('api.stripe.com')).toBe('api.stripe.com');
    expect(leaf.checkHost('example.com')).toBeUndefined();
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    // X.509 times have whole seconds.
    expect(from).toBeGreaterThan(before - DAY_MS - 60_000);
    expect(from).toBeLessThanOrEqual(before - DAY_MS + 60_000);
    expect(to).toBeGreaterThan(before + 364 * DAY_MS);
    expect(to).toBeLessThanOrEqual(before + 366 * DAY_MS);
    expect(authority.leafFor('openapi.alipay.com').certificatePem).not.toBe(leafPem);

    // Another run's CA did not issue it.
    const other = await createCertificateAuthority({ caDir: join(caDir, 'other') });
    const otherCa = new X509Certificate(other.caCertificatePem);
    expect(otherCa.subject).not.toBe(ca.subject);
    expect(leaf.verify(otherCa.publicKey)).toBe(false);

    // OpenSSL's strict checks (what curl, PHP and Python use) accept the chain for a TLS server.
    if (OPENSSL !== undefined) {
      const leafFile = join(caDir, 'leaf.pem');
      writeFileSync(leafFile, leafPem);
      const verified = await run(OPENSSL, ['verify', '-x509_strict', '-purpose', 'sslserver', '-verify_hostname', 'api.stripe.com', '-CAfile', authority.caFile, leafFile], { PATH: process.env.PATH ?? '' });
      expect(verified.stdout.trim()).toBe(`${leafFile}: OK`);
      const wrongHost = await run(OPENSSL, ['verify', '-verify_hostname', 'example.com', '-CAfile', authority.caFile, leafFile], { PATH: process.env.PATH ?? '' });
      expect(wrongHost.code).not.toBe(0);
    }
  });
});

describe('routes and environment', () => {
  it('route table: defaults, extra hosts, refusal reasons; CONNECT authorities', () => {
    const routes = interceptRoutes({ 'Pay.Example-Aggregator.cn.': 'epay' });
    const targets = { stripe: 'http://127.0.0.1:1/', epay: 'http://127.0.0.1:2/' };
    expect(decideRoute(routes, targets, 'api.stripe.com', 443)).toEqual({ routed: true, protocol: 'stripe', baseUrl: 'http://127.0.0.1:1/' });
    expect(decideRoute(routes, targets, 'pay.example-aggregator.cn', 80)).toMatchObject({ routed: true, protocol: 'epay' });
    expect(decideRoute(routes, targets, 'api.mch.weixin.qq.com', 443)).toEqual({ routed: false, reason: 'protocol-not-served' });
    expect(decideRoute(routes, targets, 'api.stripe.com', 8443)).toEqual({ routed: false, reason: 'port-not-intercepted' });
    expect(decideRoute(routes, targets, 'stripe.com', 443)).toEqual({ routed: false, reason: 'not-a-provider-host' });
    expect([...routes.keys()]).toEqual([
      'openapi.alipay.com',
      'openapi-sandbox.dl.alipaydev.com',
      'openapi.alipaydev.com',
      'api.mch.weixin.qq.com',
      'api2.mch.weixin.qq.com',
      'api.stripe.com',
      'pay.example-aggregator.cn',
    ]);
    expect(parseAuthority('API.Stripe.com:443')).toEqual({ host: 'api.stripe.com', port: 443 });
    expect(parseAuthority('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseAuthority('api.stripe.com')).toEqual({ host: 'api.stripe.com', port: 443 });
    expect(parseAuthority('api.stripe.com:99999')).toBeNull();
    expect(parseAuthority('/v1/charges')).toBeNull();
  });

  it('interceptEnv: proxy variables with loopback exempt, the CA in every TLS stack, the preload appended to NODE_OPTIONS', () => {
    const env = interceptEnv({ proxyUrl: 'http://127.0.0.1:9', caFile: '/run/intercept/ca.pem', nodePreload: '/opt/ordeal dist/node-preload.js', nodeOptions: '--max-old-space-size=512' });
    expect(env).toEqual({
      HTTPS_PROXY: 'http://127.0.0.1:9',
      HTTP_PROXY: 'http://127.0.0.1:9',
      https_proxy: 'http://127.0.0.1:9',
      http_proxy: 'http://127.0.0.1:9',
      NO_PROXY: 'localhost,127.0.0.1,::1',
      no_proxy: 'localhost,127.0.0.1,::1',
      NODE_EXTRA_CA_CERTS: '/run/intercept/ca.pem',
      SSL_CERT_FILE: '/run/intercept/ca.pem',
      CURL_CA_BUNDLE: '/run/intercept/ca.pem',
      REQUESTS_CA_BUNDLE: '/run/intercept/ca.pem',
      ORDEAL_INTERCEPT_PROXY: 'http://127.0.0.1:9',
      NODE_OPTIONS: '--max-old-space-size=512 --import file:///opt/ordeal%20dist/node-preload.js',
    });
    expect(interceptEnv({ proxyUrl: 'http://127.0.0.1:9', caFile: '/ca.pem', nodePreload: false }).NODE_OPTIONS).toBeUndefined();
  });
});
