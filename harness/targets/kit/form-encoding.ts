/**
 * Turning a form submission into what goes on the wire, as browsers do: GET puts the entries in
 * the action's query (replacing it), POST sends them urlencoded, multipart or text/plain.
 */
import { randomBytes } from 'node:crypto';
import type { FormEnctype, FormEntry, FormMethod } from './html-form.js';

export interface EncodedForm {
  method: FormMethod;
  url: string;
  body?: Uint8Array;
  contentType?: string;
}

function urlencoded(entries: readonly FormEntry[]): string {
  const params = new URLSearchParams();
  for (const [name, value] of entries) params.append(name, value);
  return params.toString();
}

/** A multipart header value's quoting, as browsers do it: `"`, CR and LF percent-encoded. */
function quotedName(name: string): string {
  return `"${name.replaceAll('"', '%22').replaceAll('\r', '%0D').replaceAll('\n', '%0A')}"`;
}

/**
 * multipart/form-data as browsers write it. Written here rather than with FormData: undici leaves
 * out `filename=""` for a file input with no file chosen, which makes servers read it as text.
 */
function multipart(entries: readonly FormEntry[], files: readonly string[]): { body: Buffer; contentType: string } {
  const boundary = `----OrdealFormBoundary${randomBytes(12).toString('hex')}`;
  const parts = entries.map(([name, value]) =>
    files.includes(name)
      ? `--${boundary}\r\nContent-Disposition: form-data; name=${quotedName(name)}; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n`
      : `--${boundary}\r\nContent-Disposition: form-data; name=${quotedName(name)}\r\n\r\n${value}\r\n`,
  );
  return { body: Buffer.from(`${parts.join('')}--${boundary}--\r\n`), contentType: `multipart/form-data; boundary=${boundary}` };
}

function textPlain(entries: readonly FormEntry[]): string {
  return entries.map(([name, value]) => `${name}=${value}\r\n`).join('');
}

/** Encodes entries; names in `files` go as empty file parts in multipart bodies (a file input with no file chosen). */
export function encodeForm(method: FormMethod, url: string, enctype: FormEnctype, entries: readonly FormEntry[], files: readonly string[] = []): EncodedForm {
  if (method === 'GET') {
    const target = new URL(url);
    target.search = urlencoded(entries);
    return { method, url: target.href };
  }
  switch (enctype) {
    case 'multipart/form-data':
      return { method, url, ...multipart(entries, files) };
    case 'text/plain':
      return { method, url, body: Buffer.from(textPlain(entries)), contentType: 'text/plain;charset=UTF-8' };
    default:
      return {
        method,
        url,
        body: Buffer.from(urlencoded(entries)),
        contentType: 'application/x-www-form-urlencoded',
      };
  }
}
