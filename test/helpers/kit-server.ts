/**
 * Small shops and gateways for the adapter-kit tests: fastify on 127.0.0.1, port 0, closed when
 * the test ends, reading form bodies as shops' frameworks do (urlencoded, multipart, text/plain).
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Defer } from './cleanups.js';

/** A submitted form's entries in order (repeated names kept; a file part described by `describeFile`), and its raw body. */
export interface FormBody {
  entries: Array<[string, string]>;
  raw: string;
  contentType: string;
}

/** A multipart file part, as a form body entry: `file "NAME" TYPE SIZE bytes`. */
function describeFile(file: File): string {
  return `file ${JSON.stringify(file.name)} ${file.type} ${file.size} bytes`;
}

/** Starts a server built by `routes`; answers its base URL (`http://127.0.0.1:PORT`). */
export async function startServer(defer: Defer, routes: (app: FastifyInstance) => void): Promise<string> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, raw, done) => {
    done(null, { entries: [...new URLSearchParams(String(raw))], raw: String(raw), contentType: 'application/x-www-form-urlencoded' } satisfies FormBody);
  });
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (request, raw, done) => {
    const contentType = request.headers['content-type'] ?? '';
    // Node's own fetch parses multipart: the reading side is not ours.
    new Response(raw as Buffer, { headers: { 'content-type': contentType } })
      .formData()
      .then((form) => {
        const entries = [...form.entries()].map(([name, value]): [string, string] => [name, typeof value === 'string' ? value : describeFile(value)]);
        done(null, { entries, raw: String(raw), contentType } satisfies FormBody);
      })
      .catch((error: Error) => done(error, undefined));
  });
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, raw, done) => {
    done(null, { entries: [], raw: String(raw), contentType: 'text/plain' } satisfies FormBody);
  });
  routes(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  defer(() => app.close());
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

/** The form body a route received (fails the test when it was not a form). */
export function formOf(request: FastifyRequest): FormBody {
  const body = request.body as FormBody | undefined;
  if (body === undefined || !Array.isArray(body.entries)) throw new Error(`not a form body: ${request.headers['content-type']}`);
  return body;
}

/** A form body's entries as an object (the last value of a repeated name). */
export function fieldsOf(request: FastifyRequest): Record<string, string> {
  return Object.fromEntries(formOf(request).entries);
}

/** The request's cookies by name. */
export function cookiesOf(request: FastifyRequest): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const pair of (request.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) cookies[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return cookies;
}

/** A page as shops render them. */
export function html(body: string, head = ''): string {
  return `<!doctype html><html><head><meta charset="utf-8">${head}</head><body>${body}</body></html>`;
}
