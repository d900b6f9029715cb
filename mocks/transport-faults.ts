/**
 * Transport faults on any mock route (`transport.reset | empty | malformed | dribble`): a wrapper
 * around a mock's route list that breaks the connection instead of (reset, empty, malformed) or
 * around (dribble) the route's behaviour. The HTTP transport does the socket work; this module only
 * decides, per request, which fault applies and journals it.
 *
 * Decisions are made per subject — the buyer when the request names one (or its order is linked to
 * one), else the order — with `times` counted per (fault index, subject, route).
 */
import type { FaultSpec, MockService } from '../core/scenario-schema.js';
import { asObject, type MockContext, type MockReply, type MockRequest, type MockRoute, type SocketFault } from './mock-types.js';

export const TRANSPORT_FAULT_IDS = ['transport.reset', 'transport.empty', 'transport.malformed', 'transport.dribble'] as const;
export type TransportFaultId = (typeof TRANSPORT_FAULT_IDS)[number];
/** The socket fault each transport fault maps to. */
export type TransportFaultKind = Extract<SocketFault, 'reset' | 'empty' | 'malformed' | 'dribble'>;
type TransportFaultSpec = Extract<FaultSpec, { id: TransportFaultId }>;

/** Who a request is about, as far as the request (and the mock's ledger) tells. */
export interface FaultSubject {
  /** The shop's order id (a trade's outTradeNo, a reservation's orderId). */
  orderId?: string;
  /** The buyer (a payer id, the buyerId the shop passes along). */
  buyerId?: string;
}

/** A mock's hook naming who a request on one route is about (e.g. tradeNo → the trade's order). */
export type SubjectOf = (request: MockRequest) => FaultSubject;

/** A route that can name its request's subject; fields it leaves out come from `subjectOf`. */
export interface SubjectAwareRoute extends MockRoute {
  subjectOf?: SubjectOf;
  /**
   * For one path serving several operations (Alipay's `gateway.do`, whose operation is the
   * `method` parameter): the operation's route name, which a transport fault's `routes` match
   * instead of `name`.
   */
  routeOf?: (request: MockRequest) => string;
  /** `buyer`: a step of Ordeal's buyers (paying, completing a verification), which needs the run's buyer token (mocks/run-credentials.ts). */
  caller?: 'buyer';
}

const TRANSPORT_KINDS: Readonly<Record<TransportFaultId, TransportFaultKind>> = {
  'transport.reset': 'reset',
  'transport.empty': 'empty',
  'transport.malformed': 'malformed',
  'transport.dribble': 'dribble',
};

function isTransportFault(spec: FaultSpec): spec is TransportFaultSpec {
  return spec.id in TRANSPORT_KINDS;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Who a request is about, from the fields the native protocol carries: `orderId` / `outTradeNo`
 * in the body or query, `buyerId` / `payerId` / `payer.id` / `buyer.id` in the body or query.
 * Path parameters (tradeNo, reservationId, …) need the mock's ledger: see `SubjectAwareRoute`.
 */
export function subjectOf(_service: MockService, request: MockRequest): FaultSubject {
  const body = asObject(request.body);
  const orderId = text(body?.orderId) ?? text(body?.outTradeNo) ?? text(request.query.orderId) ?? text(request.query.outTradeNo);
  const buyerId =
    text(body?.buyerId) ??
    text(body?.payerId) ??
    text(asObject(body?.payer)?.id) ??
    text(asObject(body?.buyer)?.id) ??
    text(request.query.buyerId) ??
    text(request.query.payerId);
  return { ...(orderId === undefined ? {} : { orderId }), ...(buyerId === undefined ? {} : { buyerId }) };
}

/** The answer a `malformed` fault cuts in half: a plausible JSON body, never the route's real one. */
function truncatedAnswer(service: MockService, route: string): MockReply {
  return {
    status: 200,
    body: { service, route, message: 'this answer was cut short by transport.malformed; the request had no effect' },
    socketFault: 'malformed',
  };
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}

/**
 * Wraps a mock's routes with the scenario's transport faults for `service`. `reset`, `empty` and
 * `malformed` answer with that socket fault without running the route (the request has no
 * effect); `dribble` runs the route and trickles its real answer (unless the route itself already
 * broke the connection). Each applied fault journals `fault.injected { detail: { service, route,
 * kind } }`. Routes no fault can touch are returned as they are.
 */
export function withTransportFaults(service: MockService, routes: readonly MockRoute[], context: MockContext): MockRoute[] {
  const entries = context.plan.faults.flatMap((spec, index) =>
    isTransportFault(spec) && spec.service === service ? [{ index, spec, kind: TRANSPORT_KINDS[spec.id] }] : [],
  );
  if (entries.length === 0) return [...routes];
  const counters = new Map<string, number>();

  return routes.map((route): MockRoute => {
    const routeOf = (route as SubjectAwareRoute).routeOf;
    const matches = (entry: (typeof entries)[number], name: string): boolean => entry.spec.routes === undefined || entry.spec.routes.includes(name);
    // A route whose operation is in the request is decided per request.
    const relevant = routeOf ? entries : entries.filter((entry) => matches(entry, route.name));
    if (relevant.length === 0) return route;
    const hook = (route as SubjectAwareRoute).subjectOf;

    const decide = (request: MockRequest, name: string): { kind: TransportFaultKind; journal: () => void } | undefined => {
      const named = hook ? hook(request) : {};
      const generic = subjectOf(service, request);
      const orderId = named.orderId ?? generic.orderId;
      const buyerId = named.buyerId ?? generic.buyerId;
      const subject =
        orderId !== undefined ? context.correlation.subject(orderId, buyerId) : (buyerId ?? `${service}.${name}`);
      for (const entry of relevant) {
        if (routeOf && !matches(entry, name)) continue;
        if (!context.plan.hits(entry.spec.id, subject).some((hit) => hit.index === entry.index)) continue;
        const key = `${entry.index}\u0000${subject}\u0000${name}`;
        const call = (counters.get(key) ?? 0) + 1;
        counters.set(key, call);
        if (entry.spec.times !== undefined && call > entry.spec.times) continue;
        const buyer = buyerId ?? (orderId === undefined ? undefined : context.correlation.buyerOf(orderId));
        return {
          kind: entry.kind,
          journal: () =>
            context.journal.append('fault.injected', {
              fault: entry.spec.id,
              faultIndex: entry.index,
              ...(orderId === undefined ? {} : { orderId }),
              ...(buyer === undefined ? {} : { buyerId: buyer }),
              detail: { service, route: name, kind: entry.kind, call },
            }),
        };
      }
      return undefined;
    };

    const wrapped: SubjectAwareRoute = {
      method: route.method,
      path: route.path,
      name: route.name,
      handle(request: MockRequest): MockReply | Promise<MockReply> {
        const name = routeOf ? routeOf(request) : route.name;
        const fault = decide(request, name);
        if (!fault) return route.handle(request);
        if (fault.kind !== 'dribble') {
          fault.journal();
          return fault.kind === 'malformed' ? truncatedAnswer(service, name) : { status: 200, socketFault: fault.kind };
        }
        const trickle = (reply: MockReply): MockReply => {
          // A route that broke the connection itself (a hang, a reset) keeps its own fault.
          if (reply.socketFault) return reply;
          fault.journal();
          return { ...reply, socketFault: 'dribble' };
        };
        const result = route.handle(request);
        return isPromise(result) ? result.then(trickle) : trickle(result);
      },
    };
    if (hook) wrapped.subjectOf = hook;
    if (routeOf) wrapped.routeOf = routeOf;
    const caller = (route as SubjectAwareRoute).caller;
    if (caller) wrapped.caller = caller;
    return wrapped;
  });
}
