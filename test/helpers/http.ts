/** JSON over fetch for tests: the mocks' and the shop's HTTP APIs. */

/** A JSON answer; `body` is `{}` when the response had none. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** An answer that keeps the response headers. */
export interface AnswerWithHeaders extends Answer {
  headers: Headers;
}

/** An answer whose body is any JSON value (an array, say), or undefined when there was none. */
export interface UntypedAnswer {
  status: number;
  body: unknown;
}

/**
 * The run's credentials per mock base URL (registered by `startMockWorld` and `trustMocks`): a
 * test's request to a mock carries them, as the shop's and Ordeal's buyers' requests do.
 * `anonymous` requests (the outside process of test/outside-requests.test.ts) carry none.
 */
const credentials = new Map<string, Record<string, string>>();

/** Requests to `baseUrl` carry `headers` from now on; returns the undo. */
export function registerCredentials(baseUrl: string, headers: Record<string, string>): () => void {
  credentials.set(baseUrl, headers);
  return () => {
    credentials.delete(baseUrl);
  };
}

/** The registered credentials of the mock `url` is under (none for any other URL). */
export function credentialsFor(url: string): Record<string, string> {
  for (const [base, headers] of credentials) if (url === base || url.startsWith(`${base}/`) || url.startsWith(`${base}?`)) return headers;
  return {};
}

/** Sends `body` as JSON (the content-type is always set) and reads the answer's text. */
async function send(method: string, url: string, body?: unknown): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...credentialsFor(url) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

export async function call(method: string, url: string, body?: unknown): Promise<Answer> {
  const { status, text } = await send(method, url, body);
  return { status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export async function callWithHeaders(method: string, url: string, body?: unknown): Promise<AnswerWithHeaders> {
  const { status, text, headers } = await send(method, url, body);
  return { status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers };
}

export async function callUntyped(method: string, url: string, body?: unknown): Promise<UntypedAnswer> {
  const { status, text } = await send(method, url, body);
  return { status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/**
 * A request as a shop client sends it: a string body goes as it is (malformed JSON, a signed
 * callback), anything else as JSON; the content-type is set only when there is a body.
 */
export async function request(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...credentialsFor(url), ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json', ...credentialsFor(url), ...headers };
  }
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
