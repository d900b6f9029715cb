/**
 * The in-process transport: serves a mock's route list as msw `http.*` handlers, for a Node shop
 * tested inside one process (`setupServer`, see ./in-process.ts). Like the fastify transport it
 * only translates — Fetch Request → MockRequest, MockReply → Response — and applies the reply's
 * injected latency and socket faults: reset, empty and malformed become `HttpResponse.error()`
 * (the client's fetch rejects), hang never answers (until close), dribble just answers.
 *
 * Never used for the HTTP transport: Fetch objects and msw cost too much on that path (see
 * docs/ARCHITECTURE.md).
 */
import { http, HttpResponse, type HttpHandler, type JsonBodyType } from 'msw';
import { parseRequestBody, type MockReply, type MockRequest, type MockRoute } from './mock-types.js';

export interface MswRoutesOptions {
  /** Name of the mock, used in error messages. */
  name: string;
}

export interface MswRoutes {
  /** Origin the handlers answer for (no trailing slash), e.g. `http://payment.ordeal.test`. */
  url: string;
  /** The route handlers in route order, then a catch-all 404 for the origin. */
  handlers: HttpHandler[];
  /** Ends delayed and hung answers in progress (they fail as network errors); later calls fail at once. */
  close(): void;
}

/** A base URL as an origin with an optional path prefix, without the trailing slash. */
export function normaliseBaseUrl(value: string): string {
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`expected an http(s) base URL, got "${value}"`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function flattenParams(params: Readonly<Record<string, string | readonly string[] | undefined>>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === 'string') flat[name] = value;
    else if (Array.isArray(value) && typeof value[0] === 'string') flat[name] = value.join('/');
  }
  return flat;
}

function flattenQuery(search: URLSearchParams): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of search) if (!(name in flat)) flat[name] = value;
  return flat;
}

function flattenHeaders(headers: Headers): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  headers.forEach((value, name) => {
    flat[name.toLowerCase()] = value;
  });
  return flat;
}


/** A MockReply as a Fetch Response (socket faults other than dribble are handled by the caller). */
export function toResponse(reply: MockReply): Response {
  const init = { status: reply.status, ...(reply.headers ? { headers: { ...reply.headers } } : {}) };
  if (reply.body === undefined || reply.status === 204 || reply.status === 304) return new HttpResponse(null, init);
  if (typeof reply.body === 'string') return HttpResponse.text(reply.body, init);
  return HttpResponse.json(reply.body as JsonBodyType, init);
}

/** msw handlers for `routes` under `baseUrl`. */
export function mswHandlers(routes: readonly MockRoute[], baseUrl: string, options: MswRoutesOptions): MswRoutes {
  const url = normaliseBaseUrl(baseUrl);
  let closed = false;
  /** Ends a pending wait early (on close). */
  const waiting = new Set<() => void>();

  /** Resolves true after `ms`, or false as soon as the transport closes. */
  function wait(ms: number): Promise<boolean> {
    if (closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const stop = (): void => {
        if (timer) clearTimeout(timer);
        waiting.delete(stop);
        resolve(false);
      };
      const timer = Number.isFinite(ms)
        ? setTimeout(() => {
            waiting.delete(stop);
            resolve(true);
          }, ms)
        : undefined;
      waiting.add(stop);
    });
  }

  async function answer(route: MockRoute, request: Request, params: Readonly<Record<string, string | readonly string[] | undefined>>): Promise<Response> {
    if (closed) return HttpResponse.error();
    const rawBody = await request.text();
    const parsed = parseRequestBody(rawBody, request.headers.get('content-type') ?? undefined);
    if ('invalid' in parsed) return toResponse({ status: 400, body: { code: 'INVALID_REQUEST', message: parsed.invalid } });
    const requestUrl = new URL(request.url);
    const mockRequest: MockRequest = {
      method: route.method,
      path: requestUrl.pathname,
      params: flattenParams(params),
      query: flattenQuery(requestUrl.searchParams),
      headers: flattenHeaders(request.headers),
      body: parsed.body,
      rawBody,
      target: `${requestUrl.pathname}${requestUrl.search}`,
    };
    let reply: MockReply;
    try {
      reply = await route.handle(mockRequest);
    } catch (error) {
      return toResponse({ status: 500, body: { code: 'SYSTEM_ERROR', message: error instanceof Error ? error.message : String(error) } });
    }
    const delayMs = reply.delayMs ?? 0;
    if (delayMs > 0 && !(await wait(delayMs))) return HttpResponse.error();
    switch (reply.socketFault) {
      case undefined:
      case 'dribble':
        return toResponse(reply);
      case 'hang':
        await wait(Number.POSITIVE_INFINITY);
        return HttpResponse.error();
      case 'reset':
      case 'empty':
      case 'malformed':
        return HttpResponse.error();
    }
  }

  const handlers: HttpHandler[] = routes.map((route) => {
    const method = route.method === 'GET' ? http.get : route.method === 'POST' ? http.post : http.delete;
    return method(`${url}${route.path}`, ({ request, params }) => answer(route, request, params));
  });
  handlers.push(
    http.all(`${url}/*`, ({ request }) =>
      toResponse({
        status: 404,
        body: { code: 'NOT_FOUND', message: `no route ${request.method} ${new URL(request.url).pathname} on the ${options.name} mock` },
      }),
    ),
  );

  return {
    url,
    handlers,
    close(): void {
      closed = true;
      for (const stop of [...waiting]) stop();
    },
  };
}
