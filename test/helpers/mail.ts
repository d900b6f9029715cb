/** The mocks with the SMTP capture server, and nodemailer as a shop's mailer pointed at it. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer, { type SendMailOptions, type SentMessageInfo, type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { MemoryJournal } from '../../core/journal.js';
import type { Scenario } from '../../core/scenario-schema.js';
import { FaultPlan } from '../../mocks/fault-plan.js';
import { startMocks, type EmailEndpoint, type EmailMockOptions, type MockSet } from '../../mocks/index.js';
import { createCertificateAuthority, type RunCertificateAuthority } from '../../mocks/intercept/index.js';
import type { Defer } from './cleanups.js';
import { trustMocks } from './mocks.js';

/** One CA for a whole test file (making RSA keys takes a while); its folder is removed by `dispose`. */
export async function sharedAuthority(): Promise<{ authority: RunCertificateAuthority; caPem: string; dispose: () => Promise<void> }> {
  const caDir = await mkdtemp(join(tmpdir(), 'ordeal-mail-test-'));
  const authority = await createCertificateAuthority({ caDir, keyBits: 2048 });
  return { authority, caPem: await readFile(authority.caFile, 'utf8'), dispose: () => rm(caDir, { recursive: true, force: true }) };
}

export interface MailWorld {
  mocks: MockSet;
  mail: EmailEndpoint;
  journal: MemoryJournal;
  /** Load time the fault plan sees (windows), settable by the test. */
  clock: { now: number };
}

/** The mocks with e-mail on, over real sockets; closed by `defer`. */
export async function startMailWorld(defer: Defer, scenario: Scenario, email: EmailMockOptions, extra: { messageKinds?: Record<string, string[]> } = {}): Promise<MailWorld> {
  const clock = { now: 0 };
  const journal = new MemoryJournal();
  const plan = new FaultPlan(scenario.faults, scenario.seed, () => clock.now);
  const mocks = await startMocks({ scenario, journal, plan, secret: 's', email, ...extra });
  defer(() => mocks.close());
  trustMocks(defer, mocks);
  if (!mocks.email) throw new Error('the mail server did not start');
  return { mocks, mail: mocks.email, journal, clock };
}

export type Mailer = Transporter<SentMessageInfo>;

/**
 * A shop's mailer: STARTTLS insisted on (`requireTLS`) on the plain port, or implicit TLS on the
 * SMTPS port; logged in; trusting `caPem` (none: the system's roots only). `options` add to or
 * replace nodemailer's settings.
 */
export function mailer(mail: EmailEndpoint, how: 'starttls' | 'implicit' | 'plain', caPem: string | undefined, options: SMTPTransport.Options = {}): Mailer {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: how === 'implicit' ? mail.tlsPort : mail.starttlsPort,
    secure: how === 'implicit',
    ...(how === 'starttls' ? { requireTLS: true } : {}),
    ...(how === 'plain' ? { ignoreTLS: true } : { auth: { user: 'shop@cards.example', pass: 'not-a-real-password' } }),
    tls: caPem === undefined ? {} : { ca: caPem },
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
    ...options,
  });
  return transport;
}

/** A buyer's e-mail as a shop sends it. */
export function buyerMail(to: string, subject: string, text: string, more: { html?: string; from?: string } = {}): SendMailOptions {
  return { from: more.from ?? 'Card Shop <shop@cards.example>', to, subject, ...(more.html === undefined ? { text } : { html: more.html }) };
}

/** What nodemailer rejected a send with. */
export interface MailError {
  code?: string;
  responseCode?: number;
  command?: string;
  message: string;
}

/** Sends and returns the error the mailer rejected it with (fails the test when it was accepted). */
export async function sendRefused(transport: Mailer, message: SendMailOptions): Promise<MailError> {
  try {
    await transport.sendMail(message);
  } catch (error) {
    return error as MailError;
  }
  throw new Error('the message was accepted');
}
