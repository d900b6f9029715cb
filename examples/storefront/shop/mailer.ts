/**
 * E-mail to buyers through an outbox: a state change queues its mail in the same transaction, and
 * a worker sends what is due over SMTP with implicit TLS (the certificate checked against
 * SMTP_CA_FILE, always logging in), retrying a failed send a bounded number of times with backoff.
 */
import nodemailer from 'nodemailer';
import type { Db } from './database.js';
import type { SmtpSettings } from './settings.js';

export interface OutgoingMail {
  orderNumber: string;
  to: string;
  subject: string;
  text: string;
}

/** Attempts per mail, and the backoff between them (doubling from the first, capped). */
export const MAIL_MAX_ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;
const WORKER_PERIOD_MS = 250;
const BATCH = 20;
const CONNECTIONS = 4;

/** Queues a mail; call inside the transaction that made the change it tells of. */
export function queueMail(db: Db, mail: OutgoingMail): void {
  db.prepare('INSERT INTO mails (order_number, recipient, subject, body, next_attempt_at) VALUES (?, ?, ?, ?, ?)').run(mail.orderNumber, mail.to, mail.subject, mail.text, Date.now());
}

type Transport = ReturnType<typeof nodemailer.createTransport>;

interface MailRow {
  id: number;
  order_number: string;
  recipient: string;
  subject: string;
  body: string;
  attempts: number;
}

export class Mailer {
  private readonly transport: Transport | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly smtp: SmtpSettings | undefined,
    private readonly log: (line: string) => void,
  ) {
    this.transport = smtp
      ? nodemailer.createTransport({
          host: smtp.host,
          port: smtp.port,
          secure: true,
          // A few kept-open connections: one TLS handshake and login per connection, not per mail.
          pool: true,
          maxConnections: CONNECTIONS,
          auth: { user: smtp.user, pass: smtp.pass },
          tls: {
            rejectUnauthorized: true,
            minVersion: 'TLSv1.2',
            ...(smtp.ca === undefined ? {} : { ca: smtp.ca }),
            ...(smtp.servername === undefined ? {} : { servername: smtp.servername }),
          },
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 20_000,
        })
      : undefined;
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), WORKER_PERIOD_MS);
  }

  /** Sends what is due now (one pass at a time). */
  kick(): void {
    if (this.running) return;
    this.running = this.sendDue().finally(() => (this.running = undefined));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    this.transport?.close();
  }

  private async sendDue(): Promise<void> {
    const due = this.db
      .prepare<[number, number], MailRow>("SELECT id, order_number, recipient, subject, body, attempts FROM mails WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?")
      .all(Date.now(), BATCH);
    await Promise.all(due.map((mail) => this.sendOne(mail)));
  }

  private async sendOne(mail: MailRow): Promise<void> {
    try {
      await this.send(mail);
      this.db.prepare("UPDATE mails SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?").run(Date.now(), mail.id);
    } catch (error) {
      const attempts = mail.attempts + 1;
      const message = (error as Error).message;
      const gaveUp = attempts >= MAIL_MAX_ATTEMPTS;
      const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (attempts - 1));
      this.db
        .prepare('UPDATE mails SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?')
        .run(gaveUp ? 'failed' : 'pending', attempts, Date.now() + backoff, message, mail.id);
      this.log(`mail ${mail.id} for ${mail.order_number} failed (attempt ${attempts}/${MAIL_MAX_ATTEMPTS}${gaveUp ? ', giving up' : ''}): ${message}`);
    }
  }

  private async send(mail: MailRow): Promise<void> {
    if (!this.transport || !this.smtp) {
      this.log(`mail (no SMTP_HOST set) to ${mail.recipient}: ${mail.subject}`);
      return;
    }
    await this.transport.sendMail({
      from: this.smtp.from,
      to: mail.recipient,
      subject: mail.subject,
      text: mail.body,
      headers: { 'X-Storefront-Order': mail.order_number },
    });
  }
}
