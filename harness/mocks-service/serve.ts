/**
 * The mocks as a service (`ordeal mocks serve SCENARIO`): the provider, supplier, risk screen and
 * notify mocks of one scenario in one process, with their own journal, shared by several driver
 * processes (`ordeal run --segment i/n --mocks-service URL`) — one money ledger, one fault plan,
 * one callback dispatcher, exactly as embedded. The drivers reach it through the control API
 * (`protocol.ts`); `ordeal merge` folds its journal and theirs into one run.
 *
 * With `startShop` it also starts the shop (the built-in reference shop, or a command) with the
 * mocks' URLs and keys, and tells the drivers where it is: the local form `--workers` uses. Without
 * it the shop is the user's (a Kubernetes deployment): `shop.env` in the folder holds what it needs.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { FileJournal, JOURNAL_FILE } from '../../core/journal.js';
import { OrdealError } from '../../core/errors.js';
import type { Scenario } from '../../core/scenario-schema.js';
import { formatSegment, MAX_SEGMENTS } from '../../core/segments.js';
import { isBindableHost } from '../../core/network-scope.js';
import { urlHostOf } from '../../mocks/http-transport.js';
import { FaultPlan } from '../../mocks/fault-plan.js';
import { newChannel, serviceKeyEnv, startMocks, type MockSet } from '../../mocks/index.js';
import { notifyEnv } from '../../mocks/notify-env.js';
import { FULLY_OBSERVABLE } from '../targets/adapter.js';
import { deadlineMsOf, settleMsOf } from '../score/credit.js';
import { notInjectedFaults, prepareProvider, type ProviderSide } from '../drive/provider.js';
import { startShop } from '../drive/start-shop.js';
import { builtInShopCommand, type TargetSupervisor } from '../drive/target.js';
import { CONTROL_PATHS, SERVICE_FILE, SHOP_PID_FILE, servicePorts, type ClockAnswer, type DoneRequest, type InFlightAnswer, type InFlightRequest, type LinksRequest, type PendingAnswer, type ReadyAnswer, type ReadyRequest, type ServiceFile, type ServiceRun } from './protocol.js';
import { formatDotenv } from '../targets/shop-env.js';

export interface MocksServiceOptions {
  scenario: Scenario;
  /** @default the scenario's */
  seed?: number;
  /** The service's folder: its journal in `<outDir>/<scenario>/`, `mocks-service.json`, `shop.env`. */
  outDir: string;
  /** Driver segments to wait for before the load starts, and before the run ends. @default 1 */
  segments?: number;
  /** Interface the control API, the mocks and the shop bind to: loopback, or every interface in a cluster run (ORDEAL_NETWORK=cluster). @default 127.0.0.1 */
  host?: string;
  /** The name drivers and the shop reach the service at, when not the bound address (the Kubernetes Service's name). @default the bound address */
  advertisedHost?: string;
  /** The control API's port. @default one the OS picks */
  controlPort?: number;
  /** Fixed ports from this one up (`SERVICE_PORT_OFFSETS`): control, mocks, shop. Overrides `controlPort`. @default ports the OS picks */
  basePort?: number;
  /** The key drivers must send (a Kubernetes Secret gives every pod the same). @default a fresh random one */
  key?: string;
  /** The started shop's data folder: a pod's own disk, not the shared volume (SQLite wants a local file system). @default `<outDir>/<scenario>/shop-data` */
  shopDataDir?: string;
  /** Start the shop beside the mocks: a contract-v1 command (default: the built-in reference shop). */
  startShop?: { command?: string; flaws?: readonly string[] };
  /** From the last segment ready to the load's start (ms): time for every driver to get the answer. @default 500 */
  startDelayMs?: number;
  /** How long to wait for every segment to be ready (ms); past it the service stops, naming the missing ones. @default 10 minutes */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

/** Why a mocks service ended: every segment done, stopped by a signal, segments missing, or past the scenario's deadline. */
export type ServiceFinish = 'completed' | 'interrupted' | 'aborted' | 'deadline';

/** Waiting for segments to be ready, by default (ms). */
const READY_TIMEOUT_MS = 10 * 60_000;
/** After the scenario's deadline, how long the segments have to say done (ms). */
const DONE_GRACE_MS = 60_000;

export interface MocksService {
  /** The control API's base URL. */
  controlUrl: string;
  /** The bearer key every control request carries. */
  key: string;
  /** The shop's base URL, when the service started it. */
  shopUrl?: string;
  mocks: MockSet;
  /** Resolves once every segment said done and the service has stopped (or `close` was called). */
  finished: Promise<void>;
  /** Stops the shop, the mocks and the control API, and ends the journal (also when segments are missing). */
  close(reason?: ServiceFinish): Promise<void>;
  /** Why the service ended, once it has. */
  readonly finish: ServiceFinish | undefined;
}

/** Starts the mocks of `scenario` and the control API the drivers use; see the module comment. */
export async function serveMocks(options: MocksServiceOptions): Promise<MocksService> {
  const { scenario } = options;
  const host = options.host ?? '127.0.0.1';
  if (!isBindableHost(host)) throw new OrdealError('ORDEAL_ERR_UNSAFE_TARGET', `the mocks service may not bind to "${host}": only loopback, or every interface in a cluster run (ORDEAL_NETWORK=cluster)`);
  if (options.basePort !== undefined && (!Number.isInteger(options.basePort) || options.basePort < 1 || options.basePort + 7 > 65535)) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `the base port must leave room for 8 ports below 65536, got ${options.basePort}`);
  }
  const ports = options.basePort === undefined ? undefined : servicePorts(options.basePort);
  const advertised = options.advertisedHost ?? (host === '0.0.0.0' || host === '::' ? undefined : host);
  if (advertised === undefined) throw new OrdealError('ORDEAL_ERR_USAGE', `the mocks service binds to every interface (${host}): give the name drivers reach it at (--advertise, the Kubernetes Service's name)`);
  const segments = options.segments ?? 1;
  if (!Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS) throw new OrdealError('ORDEAL_ERR_USAGE', `segments must be a whole number from 1 to ${MAX_SEGMENTS}, got ${segments}`);
  if (scenario.provider.channels.length > 0) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `${scenario.name}: a mocks service serves one payment channel for now; the scenario lists ${scenario.provider.channels.join(', ')} beside ${scenario.provider.protocol}`);
  }
  const seed = options.seed ?? scenario.seed;
  const runDir = join(options.outDir, scenario.name);
  if (options.key !== undefined && options.key.length < 16) throw new OrdealError('ORDEAL_ERR_USAGE', 'the mocks service key must be at least 16 characters');
  const shopDataDir = options.shopDataDir ?? join(runDir, 'shop-data');
  await mkdir(runDir, { recursive: true });
  await mkdir(shopDataDir, { recursive: true });
  const log = options.log ?? (() => undefined);
  const journal = new FileJournal(join(runDir, JOURNAL_FILE));
  const command = options.startShop ? (options.startShop.command ?? builtInShopCommand(options.startShop.flaws ?? [])) : 'attached: the shop the drivers are given';
  journal.append('run.started', {
    scenario: scenario.name,
    seed,
    startedAt: new Date().toISOString(),
    replay: '',
    target: command,
    protocol: scenario.provider.protocol,
    observes: { ...FULLY_OBSERVABLE, notify: [...FULLY_OBSERVABLE.notify] },
  });
  for (const skipped of notInjectedFaults(scenario)) journal.append('fault.not_injected', { ...skipped, protocol: scenario.provider.protocol });
  let loadStart: number | undefined;
  const muted = notInjectedFaults(scenario).map((skipped) => skipped.faultIndex);
  const plan = new FaultPlan(scenario.faults, seed, () => (loadStart === undefined ? 0 : journal.now() - loadStart), muted);
  const channel = newChannel(scenario.provider.protocol);
  let mocks: MockSet | undefined;
  let provider: ProviderSide | undefined;
  let shop: TargetSupervisor | undefined;
  let control: FastifyInstance | undefined;
  const closeParts = async (): Promise<void> => {
    await shop?.stop();
    await provider?.close();
    await mocks?.close();
    await control?.close();
  };
  try {
    mocks = await startMocks({ scenario, journal, plan, channel, host, advertisedHost: advertised, ...(ports ? { ports } : {}) });
    provider = await prepareProvider({ runDir, channels: [{ channel, url: mocks.urls.payment }], journal });
    if (options.startShop) {
      shop = await startShop({ scenario, runDir, command, journal, provider, mocks, channels: [channel], intercepted: false, ...(ports ? { port: ports.shop } : {}), ...(host === '127.0.0.1' ? {} : { listenHost: host }), dataDir: shopDataDir, onProcess: (pid) => writeFileSync(join(options.outDir, SHOP_PID_FILE), `${pid}\n`) });
    }
    const key = options.key ?? randomBytes(24).toString('base64url');
    const shopUrl = shop ? `http://${urlHostOf(advertised)}:${new URL(shop.url).port}` : undefined;
    const service = createControl({ scenario, seed, segments, journal, mocks, key, shopUrl, startDelayMs: options.startDelayMs ?? 500, onLoadStart: (at) => (loadStart = at) });
    control = service.app;
    await control.listen({ host, port: ports?.control ?? options.controlPort ?? 0 });
    const address = control.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const controlUrl = `http://${urlHostOf(advertised)}:${port}`;
    const file: ServiceFile = { control: controlUrl, key, scenario: scenario.name };
    await writeFile(join(options.outDir, SERVICE_FILE), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    await writeFile(join(options.outDir, 'shop.env'), formatDotenv(shopEnvOf(mocks, provider)), { mode: 0o600 });
    log(`mocks for ${scenario.name} (seed ${seed}) serve at ${mocks.urls.payment} (payment), ${mocks.urls.stock} (stock), ${mocks.urls.risk} (risk), ${mocks.urls.notify} (notify)`);
    log(`control API at ${controlUrl}; waiting for ${segments} segment${segments === 1 ? '' : 's'}${shop ? `; the shop runs at ${shopUrl}` : ''}`);
    let closing: Promise<void> | undefined;
    let finish: ServiceFinish | undefined;
    const settleMs = settleMsOf(scenario);
    const close = (reason: ServiceFinish = 'interrupted'): Promise<void> =>
      (closing ??= (async () => {
        clearTimeout(readyTimer);
        clearTimeout(deadlineTimer);
        service.abandon();
        finish ??= reason;
        await closeParts();
        // Last, after the shop's exit: the end of the run is the end of the journal.
        journal.append('run.finished', { reason });
        await journal.close();
        // Whole or not at all (rename): `ordeal merge --wait` reads it from a shared volume.
        const servicePath = join(options.outDir, SERVICE_FILE);
        await writeFile(`${servicePath}.partial`, `${JSON.stringify({ ...file, finished: reason } satisfies ServiceFile, null, 2)}\n`, { mode: 0o600 });
        await rename(`${servicePath}.partial`, servicePath);
      })());
    // Bounded: segments that never come (a pod that failed) or never finish do not keep the service for ever.
    const readyTimer = setTimeout(() => {
      journal.append('harness.error', { where: 'mocks service', message: `segments ${service.missing('ready').join(', ')} of ${segments} never became ready within ${Math.round((options.readyTimeoutMs ?? READY_TIMEOUT_MS) / 1000)}s` });
      log(`! segments ${service.missing('ready').join(', ')} never became ready; stopping`);
      void close('aborted');
    }, options.readyTimeoutMs ?? READY_TIMEOUT_MS);
    let deadlineTimer: NodeJS.Timeout | undefined;
    void service.allReady.then(() => {
      clearTimeout(readyTimer);
      deadlineTimer = setTimeout(() => {
        journal.append('harness.error', { where: 'mocks service', message: `segments ${service.missing('done').join(', ')} did not finish by the scenario's deadline` });
        log(`! segments ${service.missing('done').join(', ')} did not finish by the scenario's deadline; stopping`);
        void close('deadline');
      }, (options.startDelayMs ?? 500) + deadlineMsOf(scenario) + DONE_GRACE_MS);
    });
    const finished = service.allDone.then(async () => {
      clearTimeout(deadlineTimer);
      // The drivers' settle is over; callbacks the shop has not answered yet still go out, for at most a settle.
      let settled: NodeJS.Timeout | undefined;
      await Promise.race([mocks!.callbacksIdle(), new Promise((wake) => (settled = setTimeout(wake, settleMs)))]);
      clearTimeout(settled);
      await close('completed');
    });
    return {
      controlUrl,
      key,
      ...(shopUrl ? { shopUrl } : {}),
      mocks,
      finished: Promise.race([finished, service.closed.then(() => closing)]).then(() => undefined),
      close: (reason = 'interrupted') => close(reason),
      get finish() {
        return finish;
      },
    };
  } catch (error) {
    journal.append('harness.error', { where: 'mocks service', message: (error as Error).message });
    await closeParts();
    journal.append('run.finished', { reason: 'aborted' });
    await journal.close();
    throw error;
  }
}

/** What the shop is started with: the mocks' URLs and keys, the provider's key files (contract v1's variables). */
function shopEnvOf(mocks: MockSet, provider: ProviderSide): Record<string, string> {
  return {
    ...provider.env,
    ...notifyEnv({ sms: mocks.sms, email: mocks.email }, { nodeExtraCaCerts: true }),
    ORDEAL_STOCK_URL: mocks.urls.stock,
    ORDEAL_NOTIFY_URL: mocks.urls.notify,
    ORDEAL_RISK_URL: mocks.urls.risk,
    ...serviceKeyEnv(mocks.serviceKeys),
  };
}

interface ControlOptions {
  scenario: Scenario;
  seed: number;
  segments: number;
  journal: FileJournal;
  mocks: MockSet;
  key: string;
  shopUrl: string | undefined;
  startDelayMs: number;
  onLoadStart(at: number): void;
}

/** The control API's routes; `allDone` resolves when every segment said done. */
function createControl(options: ControlOptions): { app: FastifyInstance; allReady: Promise<void>; allDone: Promise<void>; closed: Promise<void>; abandon(): void; missing(step: 'ready' | 'done'): string[] } {
  const { journal, mocks, segments } = options;
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 8 * 2 ** 20 });
  const expected = Buffer.from(`Bearer ${options.key}`);
  const authorized = (request: FastifyRequest): boolean => {
    const given = Buffer.from(request.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  app.addHook('onRequest', async (request, reply) => {
    if (!authorized(request)) {
      journal.append('mock.outside_request', { mock: 'control', method: request.method, path: request.url.split('?')[0] ?? '', reason: 'no or wrong service key' });
      await reply.code(401).send({ code: 'UNAUTHORIZED', message: 'the mocks service answers its run\'s drivers only: Authorization: Bearer <key from mocks-service.json>' });
    }
  });
  const segmentOf = (body: unknown): { index: number; count: number } => {
    const segment = (body as { segment?: { index?: unknown; count?: unknown } } | undefined)?.segment;
    const index = Number(segment?.index);
    const count = Number(segment?.count);
    if (!Number.isInteger(index) || count !== segments || index < 0 || index >= count) {
      throw Object.assign(new Error(`segment must be {index, count} with count ${segments} and 0 ≤ index < ${segments}`), { statusCode: 400 });
    }
    return { index, count };
  };
  const ready = new Set<number>();
  const done = new Set<number>();
  let loadStart: number | undefined;
  let releaseReady: (() => void) | undefined;
  const allReady = new Promise<void>((resolve) => (releaseReady = resolve));
  let releaseDone: (() => void) | undefined;
  const allDone = new Promise<void>((resolve) => (releaseDone = resolve));
  let releaseClosed: (() => void) | undefined;
  const closed = new Promise<void>((resolve) => (releaseClosed = resolve));
  app.addHook('onClose', async () => releaseClosed?.());

  app.get(CONTROL_PATHS.run, async (): Promise<ServiceRun> => ({
    scenario: options.scenario.name,
    seed: options.seed,
    segments,
    channels: mocks.paymentChannels.map((served) => ({ protocol: served.protocol, url: served.url, credentials: mocks.channel.credentials })),
    buyerToken: mocks.buyerToken,
    ...(options.shopUrl ? { shopUrl: options.shopUrl } : {}),
    now: journal.now(),
  }));
  app.get(CONTROL_PATHS.clock, async (): Promise<ClockAnswer> => ({ now: journal.now() }));
  app.get(CONTROL_PATHS.pending, async (): Promise<PendingAnswer> => ({ callbacks: mocks.pendingCallbacks() }));
  app.post(CONTROL_PATHS.ready, async (request): Promise<ReadyAnswer> => {
    const segment = segmentOf(request.body as ReadyRequest);
    if (!ready.has(segment.index)) {
      ready.add(segment.index);
      journal.append('segment.ready', { segment: formatSegment(segment) });
    }
    if (ready.size === segments && loadStart === undefined) {
      loadStart = journal.now() + options.startDelayMs;
      options.onLoadStart(loadStart);
      releaseReady?.();
    }
    await allReady;
    if (loadStart === undefined) throw Object.assign(new Error('the mocks service is stopping: not every segment became ready'), { statusCode: 503 });
    return { loadStart, startsInMs: Math.max(0, loadStart - journal.now()) };
  });
  app.post(CONTROL_PATHS.links, async (request) => {
    const body = (request.body ?? {}) as LinksRequest;
    for (const [orderId, buyerId] of Array.isArray(body.orders) ? body.orders : []) if (typeof orderId === 'string' && typeof buyerId === 'string') mocks.correlation.link(orderId, buyerId);
    for (const [contact, buyerId] of Array.isArray(body.contacts) ? body.contacts : []) if (typeof contact === 'string' && typeof buyerId === 'string') mocks.correlation.linkContact(contact, buyerId);
    return { ok: true };
  });
  const inFlightBySegment = new Map<number, number>();
  let inFlightTotal = 0;
  app.post(CONTROL_PATHS.inFlight, async (request): Promise<InFlightAnswer> => {
    const segment = segmentOf(request.body as InFlightRequest);
    const reported = Number((request.body as InFlightRequest).inFlight);
    if (!Number.isInteger(reported) || reported < 0) throw Object.assign(new Error('inFlight must be a whole number ≥ 0'), { statusCode: 400 });
    inFlightTotal += reported - (inFlightBySegment.get(segment.index) ?? 0);
    inFlightBySegment.set(segment.index, reported);
    return { others: inFlightTotal - reported };
  });
  app.post(CONTROL_PATHS.done, async (request) => {
    const segment = segmentOf(request.body as DoneRequest);
    if (!done.has(segment.index)) {
      done.add(segment.index);
      // A segment that is done has nobody in flight, whatever it last reported.
      inFlightTotal -= inFlightBySegment.get(segment.index) ?? 0;
      inFlightBySegment.delete(segment.index);
      journal.append('segment.done', { segment: formatSegment(segment) });
    }
    if (done.size === segments) releaseDone?.();
    return { ok: true };
  });
  return {
    app,
    allReady,
    allDone,
    closed,
    // Closed before every segment came: waiting drivers are answered by the closing connection.
    abandon: () => releaseReady?.(),
    missing: (step) => {
      const seen = step === 'ready' ? ready : done;
      return Array.from({ length: segments }, (_, index) => index).filter((index) => !seen.has(index)).map((index) => formatSegment({ index, count: segments }));
    },
  };
}
