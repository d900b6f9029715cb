/**
 * The mocks inside one process, for a Node shop tested in-process: the same mocks and route lists
 * as `startMocks()` (transport faults included), served by msw's `setupServer` at fake origins
 * such as `http://payment.ordeal.test` instead of loopback ports. The shop calls them with the
 * global `fetch` (or anything msw intercepts: node:http, undici's fetch).
 *
 * Callbacks still go out through the dispatcher, over real sockets (undici pools) to the shop's
 * loopback notifyUrl, which msw neither intercepts nor needs to (it lets requests it has no handler
 * for pass through: `onUnhandledRequest: 'bypass'`). msw patches the process's request modules while listening, so
 * keep one in-process mock set listening at a time.
 */
import { setupServer, type SetupServer } from 'msw/node';
import { MOCK_SERVICES, type MockService } from '../core/scenario-schema.js';
import { assembleMockSet, createMocks, type MockSet, type MockSetOptions, type MockUrls } from './index.js';
import { mswHandlers, normaliseBaseUrl, type MswRoutes } from './msw-transport.js';

/** Where each mock answers when `baseUrls` does not say otherwise. */
export const DEFAULT_IN_PROCESS_URLS: Readonly<MockUrls> = {
  payment: 'http://payment.ordeal.test',
  stock: 'http://stock.ordeal.test',
  notify: 'http://notify.ordeal.test',
  risk: 'http://risk.ordeal.test',
};

export interface InProcessMockSetOptions extends Omit<MockSetOptions, 'host'> {
  /**
   * Base URL per service; nothing listens there, msw intercepts the requests.
   * @default DEFAULT_IN_PROCESS_URLS (e.g. "http://payment.ordeal.test")
   */
  baseUrls?: Partial<MockUrls>;
}

export interface InProcessMockSet extends MockSet {
  /** The msw server (listening); `close()` closes it. */
  server: SetupServer;
}

/** Builds the mocks and serves them through msw in this process. */
export async function startInProcessMocks(options: InProcessMockSetOptions): Promise<InProcessMockSet> {
  const urls = {} as MockUrls;
  for (const service of MOCK_SERVICES) urls[service] = normaliseBaseUrl(options.baseUrls?.[service] ?? DEFAULT_IN_PROCESS_URLS[service]);
  const origins = new Set(MOCK_SERVICES.map((service) => urls[service]));
  if (origins.size !== MOCK_SERVICES.length) throw new TypeError('baseUrls: each mock needs a base URL of its own');

  if (options.channels !== undefined && options.channels.length > 0) throw new TypeError('channels: several payment channels are served over HTTP only (startMocks)');
  if (options.email !== undefined) throw new TypeError('email: the SMTP capture server listens on real sockets only (startMocks)');
  const parts = await createMocks(options);
  parts.paymentSite.baseUrl = urls.payment;
  const transports: MswRoutes[] = MOCK_SERVICES.map((service: MockService) => mswHandlers(parts.routes[service], urls[service], { name: service }));
  const server = setupServer(...transports.flatMap((transport) => transport.handlers));
  server.listen({ onUnhandledRequest: 'bypass' });

  const closeAll = async (): Promise<void> => {
    for (const transport of transports) transport.close();
    await parts.stop();
    server.close();
  };
  return { ...assembleMockSet(parts, urls, closeAll), server };
}
