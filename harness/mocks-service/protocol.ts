/**
 * The mocks service's control API (`ordeal mocks serve`, DESIGN.md §8): how driver processes — the
 * segments of one run, on one machine or in pods — share one set of mocks and one money ledger.
 *
 * The mocks themselves are served as in an embedded run (one port per mock, the shop talks to
 * them); beside them one control port answers the drivers, every request with the service's key
 * as a bearer token (the mocks trust only the run):
 *
 * - `GET  /run`          what a driver needs: the scenario's name and seed, the payment channels
 *                        (protocol, URL, credentials, so its buyers can pay), the buyer token, the
 *                        shop's URL when the service started it, the service's clock.
 * - `POST /ready`        a segment is ready; answers once every expected segment is, with the load's
 *                        start on the service's clock and how long from now that is — the start
 *                        barrier, so fault windows and arrival schedules line up across processes.
 * - `POST /links`        order → buyer and contact → buyer links, batched, as the buyers learn them
 *                        (the mocks decide faults per buyer and match messages to buyers by them).
 * - `POST /in-flight`     a segment's buyers in flight now; answers the other segments' sum, so the
 *                        open model's in-flight cap is the whole run's, not a share per segment.
 * - `GET  /clock`        the service's journal clock, to measure each driver's offset (and skew).
 * - `GET  /pending`      callback deliveries still scheduled or in flight (the settle phase waits).
 * - `POST /done`         a segment's load and settle are over; once every segment is, the service
 *                        journals the end of the run and stops.
 */

/** The control API's paths. */
export const CONTROL_PATHS = {
  run: '/run',
  ready: '/ready',
  links: '/links',
  inFlight: '/in-flight',
  clock: '/clock',
  pending: '/pending',
  done: '/done',
} as const;

/**
 * Where each part of a mocks service listens when it is given a base port (`--base-port`), so a
 * Kubernetes Service can name the ports before the pod starts: the control API on the base port,
 * then the mocks and the shop the service starts, one each.
 */
export const SERVICE_PORT_OFFSETS = { control: 0, payment: 1, stock: 2, risk: 3, notify: 4, smtp: 5, smtps: 6, shop: 7 } as const;

export type ServicePart = keyof typeof SERVICE_PORT_OFFSETS;

/** The port of each part of a service on `basePort`. */
export function servicePorts(basePort: number): Record<ServicePart, number> {
  const ports = {} as Record<ServicePart, number>;
  for (const [part, offset] of Object.entries(SERVICE_PORT_OFFSETS)) ports[part as ServicePart] = basePort + offset;
  return ports;
}

/**
 * The started shop's process group, rewritten when the shop restarts: a coordinator that must exit
 * at once (a second Ctrl-C during `--workers`) kills it, since SIGKILL gives the service no chance to.
 */
export const SHOP_PID_FILE = 'shop.pid';

/** The file `ordeal mocks serve` writes into its folder: where the control API is and its key. */
export const SERVICE_FILE = 'mocks-service.json';

/** A payment channel as the drivers get it: enough to pay at it the way the buyers of an embedded run do. */
export interface ServiceChannel {
  protocol: string;
  url: string;
  /** The channel's credentials (the personality's cashier may sign with them). */
  credentials: unknown;
}

/** `GET /run`. */
export interface ServiceRun {
  scenario: string;
  seed: number;
  /** Segments the service waits for (`--segments`). */
  segments: number;
  channels: ServiceChannel[];
  buyerToken: string;
  /** The shop's base URL when the service started it (`--start-shop`); else the drivers are told it. */
  shopUrl?: string;
  /** The service's journal clock when it answered (ms). */
  now: number;
}

/** `POST /ready` body. */
export interface ReadyRequest {
  segment: { index: number; count: number };
}

/** `POST /ready` answer. */
export interface ReadyAnswer {
  /** The load's start on the service's clock (ms). */
  loadStart: number;
  /** From the answer to the load's start (ms): the driver's own load start is its receipt time plus this. */
  startsInMs: number;
}

/** `POST /links` body: `[orderId, buyerId]` and `[contact, buyerId]` pairs. */
export interface LinksRequest {
  orders?: Array<[string, string]>;
  contacts?: Array<[string, string]>;
}

/** `POST /in-flight` body. */
export interface InFlightRequest {
  segment: { index: number; count: number };
  inFlight: number;
}

/** `POST /in-flight` answer. */
export interface InFlightAnswer {
  /** The other segments' buyers in flight, as they last reported. */
  others: number;
}

/** `GET /clock` answer. */
export interface ClockAnswer {
  now: number;
}

/** `GET /pending` answer. */
export interface PendingAnswer {
  callbacks: number;
}

/** `POST /done` body. */
export interface DoneRequest {
  segment: { index: number; count: number };
}

/** What `mocks-service.json` holds. */
export interface ServiceFile {
  control: string;
  key: string;
  scenario: string;
  /** Written when the service has stopped and its journal is whole: why it ended. `ordeal merge --wait` waits for it. */
  finished?: string;
}
