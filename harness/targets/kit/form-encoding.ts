/**
 * Turning a form submission into what goes on the wire, as browsers do: GET puts the entries in
 * the action's query (replacing it), POST sends them urlencoded, multipart or text/plain.
 */
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

function textPlain(entries: readonly FormEntry[]): string {
  return entries.map(([name, value]) => `${name}=${value}\r\n`).join('');
}

export async function encodeForm(method: FormMethod, url: string, enctype: FormEnctype, entries: readonly FormEntry[]): Promise<EncodedForm> {
  if (method === 'GET') {
    const target = new URL(url);
    target.search = urlencoded(entries);
    return { method, url: target.href };
  }
  switch (enctype) {
    case 'multipart/form-data': {
      const form = new FormData();
      for (const [name, value] of entries) form.append(name, value);
      // Node's own fetch serialises the multipart body and picks its boundary.
      const serialised = new Response(form);
      return { method, url, body: new Uint8Array(await serialised.arrayBuffer()), contentType: serialised.headers.get('content-type') ?? 'multipart/form-data' };
    }
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
