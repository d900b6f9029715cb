/**
 * Mock behaviour is written once, as plain typed functions over the mock's state: request data in,
 * a reply out. Transports (native fastify routes, msw handlers) only translate.
 */
import type { JournalSink } from '../harness/journal.js';
import type { FaultPlan } from './fault-plan.js';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface MockRequest {
  method: HttpMethod;
  /** The matched path with its parameters filled in. */
  path: string;
  params: Readonly<Record<string, string>>;
  query: Readonly<Record<string, string | undefined>>;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** Parsed JSON body, or undefined. */
  body: unknown;
}

/** Ways a connection breaks instead of carrying an answer. */
export type SocketFault = 'reset' | 'hang' | 'empty' | 'malformed' | 'dribble';

export interface MockReply {
  status: number;
  body?: unknown;
  headers?: Readonly<Record<string, string>>;
  /** Wait this long before answering (injected latency). */
  delayMs?: number;
  /** Break the connection instead of answering. */
  socketFault?: SocketFault;
}

export interface MockRoute {
  method: HttpMethod;
  /** Router path with `:param` segments, e.g. `/v1/trades/:tradeNo`. */
  path: string;
  /** Stable name for fault targeting and metrics, e.g. `create`. */
  name: string;
  handle(request: MockRequest): MockReply | Promise<MockReply>;
}

/** Links the shop's order ids to the harness's buyers, so faults can be decided per buyer. */
export class Correlation {
  private readonly buyerByOrder = new Map<string, string>();

  link(orderId: string, buyerId: string): void {
    if (!this.buyerByOrder.has(orderId)) this.buyerByOrder.set(orderId, buyerId);
  }

  buyerOf(orderId: string): string | undefined {
    return this.buyerByOrder.get(orderId);
  }

  /** The key fault decisions are made on: the buyer when known, else the order. */
  subject(orderId: string, buyerId?: string): string {
    if (buyerId) {
      this.link(orderId, buyerId);
      return buyerId;
    }
    return this.buyerByOrder.get(orderId) ?? orderId;
  }

  forget(orderId: string): void {
    this.buyerByOrder.delete(orderId);
  }
}

/** What every mock is built with. */
export interface MockContext {
  journal: JournalSink;
  plan: FaultPlan;
  correlation: Correlation;
}

/** A JSON error reply in the native protocol's shape. */
export function errorReply(status: number, code: string, message: string, extra?: Record<string, unknown>): MockReply {
  return { status, body: { code, message, ...extra } };
}

/** A JSON request body as a plain object. */
export type JsonObject = Record<string, unknown>;

/** The body as a plain object, or undefined when it is not one. */
export function asObject(body: unknown): JsonObject | undefined {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as JsonObject) : undefined;
}

export function nonEmptyString(value: unknown, max = 256): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

export function positiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
