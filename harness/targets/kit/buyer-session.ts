/**
 * One buyer's browser, as a target adapter drives it: its own cookie jar, headers, client address
 * and CSRF tokens; redirects followed the browser's way; every answer data (a refused connection,
 * a reset, a timeout, an oversized body, a redirect loop are answers with `error`, never throws).
 * It only talks to loopback: Ordeal never sends traffic anywhere else.
 */
import { isIP } from 'node:net';
import { CookieJar } from 'tough-cookie';
import type { Dispatcher } from 'undici';
import { OrdealError } from '../../../core/errors.js';
import { isReachableUrl, outsideRule, reachRule } from '../../../core/network-scope.js';
import { isCsrfFieldName, type CsrfToken } from './csrf.js';
import { createDispatcher, exchange, type ExchangeResult } from './exchange.js';
import { encodeForm } from './form-encoding.js';
import { HtmlForm, resolveUrl, type ButtonQuery, type FormEnctype, type FormEntry, type FormMethod } from './html-form.js';
import { parsePage, type HtmlPage } from './html-page.js';

/** A desktop browser's User-Agent, marked as Ordeal's. */
export const DEFAULT_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Ordeal';
const ACCEPT_HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const ACCEPT_JSON = 'application/json, text/plain, */*';
const ACCEPT_GRAPHQL = 'application/graphql-response+json, application/json;q=0.9';
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export interface BuyerSessionOptions {
  /** The buyer's own client address (IPv4 or IPv6), sent as `X-Forwarded-For` and `X-Real-IP` on every request. */
  clientAddress?: string;
  /** Sent as `Authorization: Bearer <token>` (dropped when a redirect leaves the origin); settable later. */
  bearerToken?: string;
  /** @default DEFAULT_USER_AGENT */
  userAgent?: string;
  /** @default "en-US,en;q=0.9" */
  acceptLanguage?: string;
  /** Further headers sent on every request (a request's own `headers` win). */
  headers?: Record<string, string>;
  /** Deadline of each request (each redirect hop), from sending to the last byte, ms. @default 10_000 */
  timeoutMs?: number;
  /** Largest response body read, bytes; a larger one is an answer with `error` and the connection is dropped. @default 4 MiB */
  maxBytes?: number;
  /** Redirects followed per call; one more is an answer with `error`. @default 10 */
  maxRedirects?: number;
  /** The header a CSRF token is sent in when the page did not name one. @default "X-CSRF-Token" */
  csrfHeaderName?: string;
  /** Parse every HTML answer to remember its CSRF token (per origin). @default true */
  trackCsrf?: boolean;
  /**
   * A connection pool shared by many sessions (not closed by `close()`); worth it for thousands of
   * buyers. @default a pool of the session's own (up to 6 connections per origin, as a browser)
   */
  dispatcher?: Dispatcher;
}

/** One request of a call: the first, then each redirect followed. */
export interface Hop {
  method: string;
  url: string;
  status?: number;
  /** The `Location` a redirect pointed to. */
  location?: string;
  latencyMs: number;
  error?: string;
}

export interface SessionAnswer<T = unknown> {
  /** The final response's status; undefined when no response came (refused, reset, timeout). */
  status?: number;
  /** The final URL, after redirects. */
  url: string;
  /** The final response's headers, names lower-cased, repeated values joined with ", " (cookies go to the jar). */
  headers: Record<string, string>;
  /** The body, decoded with the charset of its `Content-Type` (UTF-8 when none or unknown). */
  text: string;
  /** The body parsed as JSON when it is JSON (whatever the `Content-Type` says), else undefined. */
  json?: T;
  /** Every request the call made, in order; the last one is this answer's. */
  hops: Hop[];
  /** From the first request sent to the last byte of the answer, ms. */
  latencyMs: number;
  /** Why the answer is missing or incomplete: transport failure, timeout, size limit, redirect refused or looping. */
  error?: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** The page the request comes from: sent as `Referer`, and its origin as `Origin` on non-GET requests. */
  referer?: string;
  /** Send the token remembered for the URL's origin in the CSRF header. @default false */
  csrfHeader?: boolean;
  /** `manual` returns a redirect as the answer instead of following it. @default "follow" */
  redirect?: 'follow' | 'manual';
}

export interface SendOptions extends RequestOptions {
  /** A body sent as JSON. */
  json?: unknown;
  /** A raw body; give its `content-type` in `headers`. */
  body?: string | Uint8Array;
}

/** Where a submitted form carries the remembered CSRF token. */
export type CsrfPlacement = 'field' | 'header' | 'both';

export interface SubmitOptions extends RequestOptions {
  /** The button clicked (see `HtmlForm.submission`); `null` for a script's `form.submit()`. @default the form's first submit button */
  submitter?: ButtonQuery | null;
  /**
   * Put the token remembered for the action's origin into the form (the field the token came
   * with, else the form's own CSRF-named field, else `_token`) and/or the CSRF header. For forms
   * built by the adapter or parsed from an earlier page. @default none: the form's fields as they are
   */
  csrf?: CsrfPlacement;
}

/** A form the adapter builds itself, without a page. */
export interface FormRequest {
  url: string;
  /** @default "POST" */
  method?: FormMethod;
  /** @default "application/x-www-form-urlencoded" */
  enctype?: FormEnctype;
  fields: Readonly<Record<string, string>> | ReadonlyArray<FormEntry>;
}

export interface GraphqlError {
  message: string;
  path?: ReadonlyArray<string | number>;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  extensions?: Record<string, unknown>;
}

/** A GraphQL result: `data` and `errors` as the server sent them (both undefined when the body is not a GraphQL result). */
export interface GraphqlAnswer<TData> extends SessionAnswer {
  data?: TData | null;
  errors?: GraphqlError[];
}

export interface GraphqlOptions extends RequestOptions {
  operationName?: string;
}

interface Outgoing {
  method: string;
  url: string;
  body?: string | Uint8Array;
  contentType?: string;
  accept: string;
}

function charsetOf(contentType: string | undefined): string {
  const match = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '');
  return match?.[1] ?? 'utf-8';
}

function decodeBody(body: Buffer, contentType: string | undefined): string {
  try {
    return new TextDecoder(charsetOf(contentType)).decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

function parseJson(text: string, contentType: string | undefined): unknown {
  const start = text.trimStart()[0];
  if (start !== '{' && start !== '[' && !(contentType ?? '').includes('json')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class BuyerSession {
  /** The buyer's cookies (tough-cookie), shared by every call of this session. */
  readonly jar = new CookieJar();
  readonly clientAddress: string | undefined;
  /** Sent as `Authorization: Bearer …` when set. */
  bearerToken: string | undefined;
  private readonly baseHeaders: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxRedirects: number;
  private readonly csrfHeaderName: string;
  private readonly trackCsrf: boolean;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly csrfTokens = new Map<string, CsrfToken>();
  private readonly pages = new WeakMap<SessionAnswer, HtmlPage>();

  constructor(options: BuyerSessionOptions = {}) {
    if (options.clientAddress !== undefined && isIP(options.clientAddress) === 0) {
      throw new OrdealError('ORDEAL_ERR_TARGET_ADAPTER', `BuyerSession: clientAddress ${JSON.stringify(options.clientAddress)} is not an IPv4 or IPv6 address`);
    }
    for (const [name, value, minimum] of [
      ['timeoutMs', options.timeoutMs, 1],
      ['maxBytes', options.maxBytes, 1],
      ['maxRedirects', options.maxRedirects, 0],
    ] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value >= minimum)) {
        throw new OrdealError('ORDEAL_ERR_TARGET_ADAPTER', `BuyerSession: ${name} must be an integer of at least ${minimum}, not ${String(value)}`);
      }
    }
    this.clientAddress = options.clientAddress;
    this.bearerToken = options.bearerToken;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.maxRedirects = options.maxRedirects ?? 10;
    this.csrfHeaderName = options.csrfHeaderName ?? 'X-CSRF-Token';
    this.trackCsrf = options.trackCsrf ?? true;
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher ?? createDispatcher(this.timeoutMs);
    this.baseHeaders = {
      'user-agent': options.userAgent ?? DEFAULT_USER_AGENT,
      'accept-language': options.acceptLanguage ?? 'en-US,en;q=0.9',
      ...(this.clientAddress === undefined ? {} : { 'x-forwarded-for': this.clientAddress, 'x-real-ip': this.clientAddress }),
      ...lowerCaseKeys(options.headers ?? {}),
    };
  }

  /** GET a page (Accept: HTML first). */
  get<T = unknown>(url: string, options: RequestOptions = {}): Promise<SessionAnswer<T>> {
    return this.send<T>({ method: 'GET', url, accept: ACCEPT_HTML }, options);
  }

  /** POST `body` as JSON (Accept: JSON first). */
  post<T = unknown>(url: string, body: unknown, options: RequestOptions = {}): Promise<SessionAnswer<T>> {
    return this.send<T>({ method: 'POST', url, body: JSON.stringify(body), contentType: 'application/json', accept: ACCEPT_JSON }, options);
  }

  /** Any method (PUT, PATCH, DELETE, ...), with a JSON or raw body. */
  request<T = unknown>(method: string, url: string, options: SendOptions = {}): Promise<SessionAnswer<T>> {
    const outgoing: Outgoing = { method: method.toUpperCase(), url, accept: ACCEPT_JSON };
    if (options.json !== undefined) {
      outgoing.body = JSON.stringify(options.json);
      outgoing.contentType = 'application/json';
    } else if (options.body !== undefined) outgoing.body = options.body;
    return this.send<T>(outgoing, options);
  }

  /**
   * Submits a form as the browser would when `submitter` is clicked: the entries in the action's
   * query (GET) or as the body (urlencoded, or multipart when the form says so), the page as
   * Referer and Origin, cookies, and the CSRF token when `csrf` asks.
   * @throws OrdealError ORDEAL_ERR_TARGET_ADAPTER when `submitter` matches no button
   */
  async submitForm<T = unknown>(form: HtmlForm | FormRequest, options: SubmitOptions = {}): Promise<SessionAnswer<T>> {
    const submission =
      form instanceof HtmlForm
        ? form.submission(options.submitter)
        : {
            method: form.method ?? 'POST',
            url: form.url,
            enctype: form.enctype ?? 'application/x-www-form-urlencoded',
            entries: Array.isArray(form.fields) ? [...(form.fields as ReadonlyArray<FormEntry>)] : Object.entries(form.fields),
            files: [],
            referer: options.referer,
          };
    const token = options.csrf === undefined ? undefined : this.csrfToken(submission.url);
    let entries = submission.entries;
    const headers = { ...options.headers };
    if (token !== undefined && (options.csrf === 'field' || options.csrf === 'both')) {
      const field = token.field ?? entries.find(([name]) => isCsrfFieldName(name))?.[0] ?? '_token';
      entries = withField(entries, field, token.value);
    }
    if (token !== undefined && (options.csrf === 'header' || options.csrf === 'both')) headers[token.header ?? this.csrfHeaderName] = token.value;
    const encoded = encodeForm(submission.method, submission.url, submission.enctype, entries, submission.files);
    const outgoing: Outgoing = { method: encoded.method, url: encoded.url, accept: ACCEPT_HTML };
    if (encoded.body !== undefined) outgoing.body = encoded.body;
    if (encoded.contentType !== undefined) outgoing.contentType = encoded.contentType;
    const referer = options.referer ?? submission.referer;
    return this.send<T>(outgoing, { ...options, headers, ...(referer === undefined ? {} : { referer }) });
  }

  /** A GraphQL operation over POST JSON; GraphQL errors are data (`errors`), like every failure. */
  async graphql<TData = Record<string, unknown>>(
    url: string,
    query: string,
    variables?: Record<string, unknown>,
    options: GraphqlOptions = {},
  ): Promise<GraphqlAnswer<TData>> {
    const payload = { query, ...(variables === undefined ? {} : { variables }), ...(options.operationName === undefined ? {} : { operationName: options.operationName }) };
    const answer = await this.send<unknown>({ method: 'POST', url, body: JSON.stringify(payload), contentType: 'application/json', accept: ACCEPT_GRAPHQL }, options);
    const result: GraphqlAnswer<TData> = { ...answer };
    if (isRecord(answer.json) && ('data' in answer.json || 'errors' in answer.json)) {
      if ('data' in answer.json) result.data = answer.json.data as TData | null;
      if (Array.isArray(answer.json.errors)) result.errors = answer.json.errors as GraphqlError[];
    }
    return result;
  }

  /** The answer's page, parsed once (cached per answer); its CSRF token is remembered for its origin. */
  page(answer: SessionAnswer): HtmlPage {
    let page = this.pages.get(answer);
    if (page === undefined) {
      page = parsePage(answer.text, answer.url);
      this.pages.set(answer, page);
      const token = page.csrfToken();
      if (token !== undefined) this.csrfTokens.set(originOf(answer.url), token);
    }
    return page;
  }

  /** The latest CSRF token seen on a page of `url`'s origin (or set), or undefined. */
  csrfToken(url: string): CsrfToken | undefined {
    return this.csrfTokens.get(originOf(url));
  }

  /** Remembers a token for `url`'s origin (one a JSON endpoint handed out, say); undefined forgets it. */
  setCsrfToken(url: string, token: CsrfToken | undefined): void {
    if (token === undefined) this.csrfTokens.delete(originOf(url));
    else this.csrfTokens.set(originOf(url), token);
  }

  /** The cookies the session would send to `url`, by name. */
  async cookies(url: string): Promise<Record<string, string>> {
    const cookies = await this.jar.getCookies(url);
    return Object.fromEntries(cookies.map((cookie) => [cookie.key, cookie.value]));
  }

  /** Stores a cookie as a page script would (`document.cookie = …`), for `url`. */
  async setCookie(cookie: string, url: string): Promise<void> {
    await this.jar.setCookie(cookie, url, { ignoreError: true, http: false });
  }

  /** Closes the session's own connections (a shared dispatcher is left open). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async send<T>(first: Outgoing, options: RequestOptions): Promise<SessionAnswer<T>> {
    if (!isReachableUrl(first.url)) {
      throw new OrdealError('ORDEAL_ERR_UNSAFE_TARGET', `BuyerSession: refusing ${first.url}: a buyer session only sends requests to ${reachRule()}`);
    }
    const started = performance.now();
    const hops: Hop[] = [];
    const firstOrigin = originOf(first.url);
    let current = first;
    // Bounded: each pass sends one request, and the pass after the maxRedirects-th redirect returns.
    for (;;) {
      const url = new URL(current.url);
      url.hash = '';
      const headers = await this.headersFor(current, url, firstOrigin, options);
      const result = await exchange(this.dispatcher, { method: current.method, url, headers, ...(current.body === undefined ? {} : { body: current.body }) }, { timeoutMs: this.timeoutMs, maxBytes: this.maxBytes });
      // Cookies are stored at every hop: a login's session cookie often comes with its redirect.
      for (const cookie of result.setCookies) await this.jar.setCookie(cookie, url, { ignoreError: true });
      const hop: Hop = { method: current.method, url: url.href, latencyMs: result.latencyMs };
      if (result.status !== undefined) hop.status = result.status;
      if (result.error !== undefined) hop.error = result.error;
      hops.push(hop);
      const { status, headers: { location } } = result;
      if (result.error !== undefined || status === undefined || !REDIRECT_STATUSES.has(status) || location === undefined) return this.finish<T>(result, url.href, hops, started);
      hop.location = location;
      if (options.redirect === 'manual') return this.finish<T>(result, url.href, hops, started);
      const next = resolveUrl(location, url.href);
      if (next === undefined) return this.finish<T>(result, url.href, hops, started, `redirect to an unparsable Location ${JSON.stringify(location)}`);
      if (!isReachableUrl(next)) return this.finish<T>(result, url.href, hops, started, `refused: redirect to ${next}, which is ${outsideRule()}`);
      if (hops.length > this.maxRedirects) return this.finish<T>(result, url.href, hops, started, `too many redirects: more than ${this.maxRedirects}`);
      current = redirected(current, status, next);
    }
  }

  private async headersFor(outgoing: Outgoing, url: URL, firstOrigin: string, options: RequestOptions): Promise<Record<string, string>> {
    const headers: Record<string, string> = { ...this.baseHeaders, accept: outgoing.accept };
    const cookie = await this.jar.getCookieString(url);
    if (cookie !== '') headers.cookie = cookie;
    if (this.bearerToken !== undefined && url.origin === firstOrigin) headers.authorization = `Bearer ${this.bearerToken}`;
    if (outgoing.contentType !== undefined) headers['content-type'] = outgoing.contentType;
    if (options.referer !== undefined) {
      headers.referer = options.referer;
      if (outgoing.method !== 'GET' && outgoing.method !== 'HEAD') headers.origin = originOf(options.referer);
    }
    if (options.csrfHeader === true) {
      const token = this.csrfTokens.get(url.origin);
      if (token !== undefined) headers[(token.header ?? this.csrfHeaderName).toLowerCase()] = token.value;
    }
    return { ...headers, ...lowerCaseKeys(options.headers ?? {}) };
  }

  private finish<T>(result: ExchangeResult, url: string, hops: Hop[], started: number, error?: string): SessionAnswer<T> {
    const contentType = result.headers['content-type'];
    const text = decodeBody(result.body, contentType);
    const answer: SessionAnswer<T> = { url, headers: result.headers, text, hops, latencyMs: performance.now() - started };
    if (result.status !== undefined) answer.status = result.status;
    const json = parseJson(text, contentType);
    if (json !== undefined) answer.json = json as T;
    const failure = error ?? result.error;
    if (failure !== undefined) answer.error = failure;
    else if (this.trackCsrf && (contentType ?? '').toLowerCase().includes('html')) this.page(answer);
    return answer;
  }
}

/** The request a redirect leads to: 303 (and 301/302 after a POST) become a GET without body; 307/308 keep both. */
function redirected(previous: Outgoing, status: number, url: string): Outgoing {
  const toGet = (status === 303 && previous.method !== 'HEAD') || ((status === 301 || status === 302) && previous.method === 'POST');
  if (!toGet) return { ...previous, url };
  return { method: 'GET', url, accept: previous.accept };
}

function withField(entries: readonly FormEntry[], field: string, value: string): FormEntry[] {
  const at = entries.findIndex(([name]) => name === field);
  const rest = entries.filter(([name]) => name !== field);
  rest.splice(at < 0 ? rest.length : at, 0, [field, value]);
  return rest;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
