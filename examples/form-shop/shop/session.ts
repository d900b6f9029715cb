/**
 * The buyer's session cookie and the CSRF token tied to it: the token is an HMAC of the session
 * id under the shop's APP_KEY, so a form posted without the cookie it was issued with, or with
 * another session's token, is refused. Nothing is stored per session.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SESSION_COOKIE = 'form_shop_session';
const SESSION_ID = /^[A-Za-z0-9_-]{32}$/;

/** APP_KEY, or the key made at the first start and kept in `<dataDir>/app.key`. */
export function loadAppKey(given: string | undefined, dataDir: string): string {
  if (given !== undefined) return given;
  const file = join(dataDir, 'app.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

export class Sessions {
  constructor(private readonly appKey: string) {}

  /** The session id of the request's cookie, if it has a well-formed one. */
  idOf(cookieHeader: string | undefined): string | undefined {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    return id !== undefined && SESSION_ID.test(id) ? id : undefined;
  }

  /** The request's session, or a new one with the Set-Cookie header that starts it. */
  ensure(cookieHeader: string | undefined): { id: string; setCookie?: string } {
    const id = this.idOf(cookieHeader);
    if (id !== undefined) return { id };
    const fresh = randomBytes(24).toString('base64url');
    return { id: fresh, setCookie: `${SESSION_COOKIE}=${fresh}; Path=/; HttpOnly; SameSite=Lax` };
  }

  csrfToken(sessionId: string): string {
    return createHmac('sha256', this.appKey).update(`csrf:${sessionId}`).digest('base64url');
  }

  /** Whether `token` is the CSRF token of the request's session. */
  csrfValid(cookieHeader: string | undefined, token: string | undefined): boolean {
    const id = this.idOf(cookieHeader);
    if (id === undefined || token === undefined) return false;
    const expected = Buffer.from(this.csrfToken(id));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
