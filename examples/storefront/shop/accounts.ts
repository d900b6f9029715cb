/**
 * Customers: registration, login, guest checkout, and the bearer tokens that identify them.
 * Passwords are kept as scrypt hashes; tokens only as their SHA-256, so a leaked database logs
 * nobody in. A guest is a customer without a password (an empty hash, which no login matches):
 * checking out as a guest costs no key derivation, which is what keeps a sale's rush of new
 * buyers off the CPU.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { ApiError } from './api-error.js';
import type { Db } from './database.js';

export interface Customer {
  id: number;
  email: string;
  name: string;
}

const SCRYPT_KEY_LENGTH = 32;
/** The password hash of a guest: no login matches it. */
const GUEST = '';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64')}$${scryptSync(password, salt, SCRYPT_KEY_LENGTH).toString('base64')}`;
}

function passwordMatches(password: string, stored: string): boolean {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  return timingSafeEqual(scryptSync(password, Buffer.from(salt, 'base64'), expected.length), expected);
}

const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

export class Accounts {
  constructor(private readonly db: Db) {}

  register(input: { email: string; password: string; name: string }): { customer: Customer; token: string } {
    const email = input.email.trim();
    if (!EMAIL.test(email) || email.length > 254) throw new ApiError(422, 'invalid_email', 'email must be an e-mail address');
    if (input.password.length < 8) throw new ApiError(422, 'weak_password', 'password must be at least 8 characters');
    const name = input.name.trim() === '' ? email.split('@')[0] ?? email : input.name.trim();
    const taken = this.db.prepare('SELECT 1 FROM customers WHERE email = ?').get(email);
    if (taken) throw new ApiError(409, 'email_taken', 'a customer with this e-mail is already registered');
    // (A guest who later registers gets a new account; their guest orders stay with the guest.)
    const id = Number(this.db.prepare('INSERT INTO customers (email, name, password_hash, created_at) VALUES (?, ?, ?, ?)').run(email, name, hashPassword(input.password), Date.now()).lastInsertRowid);
    return { customer: { id, email, name }, token: this.openSession(id) };
  }

  /** A session for checking out without an account; the same guest e-mail again gets a new session. */
  guest(input: { email: string; name: string }): { customer: Customer; token: string } {
    const email = input.email.trim();
    if (!EMAIL.test(email) || email.length > 254) throw new ApiError(422, 'invalid_email', 'email must be an e-mail address');
    const existing = this.db.prepare<[string], Customer & { password_hash: string }>('SELECT id, email, name, password_hash FROM customers WHERE email = ?').get(email);
    if (existing && existing.password_hash !== GUEST) throw new ApiError(409, 'email_registered', 'this e-mail has an account: log in to check out');
    const name = input.name.trim() === '' ? email.split('@')[0] ?? email : input.name.trim();
    const id = existing?.id ?? Number(this.db.prepare('INSERT INTO customers (email, name, password_hash, created_at) VALUES (?, ?, ?, ?)').run(email, name, GUEST, Date.now()).lastInsertRowid);
    return { customer: { id, email, name: existing?.name ?? name }, token: this.openSession(id) };
  }

  logIn(email: string, password: string): { customer: Customer; token: string } {
    const row = this.db.prepare<[string], Customer & { password_hash: string }>('SELECT id, email, name, password_hash FROM customers WHERE email = ?').get(email.trim());
    if (!row || !passwordMatches(password, row.password_hash)) throw new ApiError(401, 'invalid_credentials', 'wrong e-mail or password');
    return { customer: { id: row.id, email: row.email, name: row.name }, token: this.openSession(row.id) };
  }

  /** The customer an `Authorization: Bearer <token>` header names, or a 401. */
  authenticate(header: string | undefined): Customer {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    const customer = match
      ? this.db
          .prepare<[string], Customer>('SELECT c.id, c.email, c.name FROM sessions s JOIN customers c ON c.id = s.customer_id WHERE s.token_hash = ?')
          .get(tokenHash(match[1] as string))
      : undefined;
    if (!customer) throw new ApiError(401, 'unauthorized', 'a valid bearer token is required');
    return customer;
  }

  customer(id: number): Customer | undefined {
    return this.db.prepare<[number], Customer>('SELECT id, email, name FROM customers WHERE id = ?').get(id);
  }

  private openSession(customerId: number): string {
    const token = `sf_${randomBytes(24).toString('base64url')}`;
    this.db.prepare('INSERT INTO sessions (token_hash, customer_id, created_at) VALUES (?, ?, ?)').run(tokenHash(token), customerId, Date.now());
    return token;
  }
}
