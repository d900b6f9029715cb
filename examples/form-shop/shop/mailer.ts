/**
 * Mail to buyers over SMTP (nodemailer): STARTTLS required (or implicit TLS), the server's
 * certificate verified against SMTP_CA_FILE, always logged in. Sending happens off the request:
 * a small queue with a few connections at a time; a failed send is tried again after a doubling
 * wait, up to MAIL_TRIES attempts, and every message's fate is recorded in the `mails` table.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Db } from './database.js';
import type { MailSettings } from './settings.js';

export type MailKind = 'delivered' | 'closed' | 'refunded' | 'abnormal';

export interface MailMessage {
  orderNo: string;
  to: string;
  kind: MailKind;
  subject: string;
  text: string;
}

type Log = (line: string) => void;

/** Connections open at once. */
const CONCURRENCY = 4;

export class Mailer {
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo> | undefined;
  private readonly queue: { id: number; message: MailMessage }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly settings: MailSettings | undefined,
    private readonly log: Log,
  ) {
    if (settings) {
      this.transport = nodemailer.createTransport({
        host: settings.host,
        port: settings.port,
        secure: settings.secure,
        // Without implicit TLS the session must be upgraded by STARTTLS, or nothing is sent.
        requireTLS: !settings.secure,
        auth: { user: settings.user, pass: settings.pass },
        tls: {
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          ...(settings.ca === undefined ? {} : { ca: settings.ca }),
          ...(settings.servername === undefined ? {} : { servername: settings.servername }),
        },
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
      });
    }
  }

  /** Records the message and queues it; returns at once. */
  send(message: MailMessage): void {
    const stopping = this.stopping.signal.aborted;
    const status = !this.transport ? 'skipped' : stopping ? 'failed' : 'pending';
    const id = Number(
      this.db
        .prepare('INSERT INTO mails (order_no, recipient, kind, subject, status, last_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(message.orderNo, message.to, message.kind, message.subject, status, stopping ? 'shop stopped before sending' : null, Date.now()).lastInsertRowid,
    );
    if (status !== 'pending') {
      this.log(`mail ${message.kind} for ${message.orderNo} not sent: ${status === 'skipped' ? 'SMTP_HOST is not set' : 'the shop is stopping'}`);
      return;
    }
    this.queue.push({ id, message });
    this.pump();
  }

  /** Stops retrying, waits (at most `timeoutMs`) for the sends under way, and closes the transport. */
  async close(timeoutMs: number): Promise<void> {
    this.stopping.abort();
    for (const { id } of this.queue.splice(0)) this.record(id, 'failed', 0, 'shop stopped before sending');
    const pending = Promise.allSettled([...this.inFlight]);
    await Promise.race([pending, sleep(timeoutMs, undefined, { ref: false })]);
    this.transport?.close();
  }

  private pump(): void {
    while (this.inFlight.size < CONCURRENCY && this.queue.length > 0) {
      const next = this.queue.shift()!;
      const work = this.deliver(next.id, next.message).finally(() => {
        this.inFlight.delete(work);
        this.pump();
      });
      this.inFlight.add(work);
    }
  }

  private async deliver(id: number, message: MailMessage): Promise<void> {
    const settings = this.settings!;
    let lastError = '';
    for (let attempt = 1; attempt <= settings.tries; attempt += 1) {
      try {
        await this.transport!.sendMail({ from: settings.from, to: message.to, subject: message.subject, text: message.text });
        this.record(id, 'sent', attempt, null);
        return;
      } catch (error) {
        lastError = (error as Error).message;
        this.log(`mail ${message.kind} for ${message.orderNo}: attempt ${attempt}/${settings.tries} failed: ${lastError}`);
      }
      if (attempt === settings.tries) break;
      try {
        await sleep(settings.backoffMs * 2 ** (attempt - 1), undefined, { signal: this.stopping.signal });
      } catch {
        lastError = `${lastError} (shop stopped before the next attempt)`;
        this.record(id, 'failed', attempt, lastError);
        return;
      }
    }
    this.record(id, 'failed', settings.tries, lastError);
  }

  private record(id: number, status: 'sent' | 'failed', attempts: number, error: string | null): void {
    this.db
      .prepare('UPDATE mails SET status = ?, attempts = ?, last_error = ?, sent_at = ? WHERE id = ?')
      .run(status, attempts, error, status === 'sent' ? Date.now() : null, id);
  }
}
