/**
 * The mail server a shop sends its buyers' e-mail through: it captures every message, journals it,
 * matches it to an order and scores nothing itself — the matched messages become `notify.message`
 * events (channel `email`), which the notify stage rules read.
 *
 * Two listeners on loopback, as real relays offer them: a plain port that offers STARTTLS (and
 * with `requireTls` refuses MAIL FROM until the session is encrypted), and an implicit-TLS port
 * (SMTPS, like 465). Both present one certificate from the run's CA, valid for `localhost` and
 * `127.0.0.1`; the shop trusts the CA file (`caFile`: `NODE_EXTRA_CA_CERTS`, or its mailer's
 * `tls.ca`). AUTH PLAIN and LOGIN accept any user and password (the user is journaled, the
 * password never kept); mail without a login is accepted too, and journaled as such.
 *
 * Bounded: a message over `maxMessageBytes` is refused with 552 (its bytes drained, never held);
 * only the last `recentLimit` messages are kept for inspection (`recent()`), the rest are in the
 * journal (`notify.email.received`, and `notify.message` for the matched ones).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { OrdealError } from '../../core/errors.js';
import type { JournalEventMap } from '../../core/journal.js';
import { listenError } from '../http-transport.js';
import { isBindableHost } from '../../core/network-scope.js';
import { createCertificateAuthority, type RunCertificateAuthority } from '../intercept/certificate-authority.js';
import { MessageClassifier, UNCLASSIFIED_KIND, type MessageKindPhrases } from '../message-kinds.js';
import { MessageMatcher, type MatchMethod } from '../message-match.js';
import type { MockContext } from '../mock-types.js';
import type { NotifyGateway } from '../notify.js';
import { EmailOutage, TEMPFAIL_CODE } from './outage.js';
import { gatherData, readMessage, type ReadMessage } from './read-message.js';

export type TlsMode = JournalEventMap['notify.email.received']['tls'];

export interface EmailCaptureOptions extends MockContext {
  /** Where matched messages are recorded (journal, inbox, de-duplication by Message-ID). */
  notify: NotifyGateway;
  /** The run's certificate authority (share the intercept proxy's, so the shop trusts one CA file). @default a new one in `caDir` */
  authority?: RunCertificateAuthority;
  /** Folder the new CA's certificate is written to. @default a temporary folder, removed by close() */
  caDir?: string;
  /** Keep the CA in `caDir` and reuse it on later runs (its key too, mode 0600), for a shop configured once to trust it. @default false */
  keepCa?: boolean;
  /** Fixed ports, for a shop configured once; `fields` name where they were set, in the error when one is taken. @default ports the OS picks */
  ports?: { starttls?: number; tls?: number; fields?: { starttls?: string; tls?: string } };
  /** Only loopback. @default "127.0.0.1" */
  host?: string;
  /** Refuse MAIL FROM on the plain port until STARTTLS (530), as relays that insist on TLS do. @default false */
  requireTls?: boolean;
  /** Largest message accepted, bytes; larger ones are refused with 552. @default 5 MiB */
  maxMessageBytes?: number;
  /** Messages kept for `recent()`. @default 50 */
  recentLimit?: number;
  /** The shop's own wording per message kind, tried before the defaults (mocks/message-kinds.ts). */
  kinds?: MessageKindPhrases;
  /** Another id found in a message that leads to an order (the payment provider's trade number). */
  identify?: (token: string) => string | undefined;
  /** Idle time before a client is disconnected, ms. @default 60000 */
  socketTimeoutMs?: number;
  /** Clients connected at once, at most. @default 100 */
  maxClients?: number;
}

/** One message as `recent()` shows it. */
export interface CapturedEmail extends ReadMessage {
  /** The envelope's recipients (RCPT TO). */
  envelopeTo: string[];
  bytes: number;
  tls: TlsMode;
  user?: string;
  orderId?: string;
  matchedBy?: MatchMethod;
  kind?: string;
  outcome: JournalEventMap['notify.email.received']['outcome'];
  smtpCode?: number;
  receivedAt: string;
}

export interface EmailCapture {
  host: string;
  /** The plain port that offers STARTTLS (SMTP_PORT for a shop using STARTTLS, e.g. 587). */
  starttlsPort: number;
  /** The implicit-TLS port (SMTPS, e.g. 465). */
  tlsPort: number;
  /** The CA certificate (PEM) the shop must trust. */
  caFile: string;
  /** The latest messages read (at most `recentLimit`), oldest first. */
  recent(): CapturedEmail[];
  /** Messages read in this run. */
  received(): number;
  /** Stops listening, cuts the sessions still open, removes a temporary CA folder. */
  close(): Promise<void>;
}

/** Where the capture server listens, and what it has read (MockSet.close() closes it). */
export type EmailEndpoint = Omit<EmailCapture, 'close'>;

export const DEFAULT_MAX_MESSAGE_BYTES = 5 * 1024 * 1024;
const SERVER_NAME = 'localhost';
const CERTIFICATE_NAMES = ['localhost', '127.0.0.1'] as const;
const MAX_JOURNALED_RECIPIENTS = 10;

/** An error whose message and code the SMTP server answers with. */
function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/** Starts the two listeners on loopback; resolves once both listen. */
export async function startEmailCapture(options: EmailCaptureOptions): Promise<EmailCapture> {
  const host = options.host ?? '127.0.0.1';
  if (!isBindableHost(host)) throw new OrdealError('ORDEAL_ERR_UNSAFE_TARGET', `the mail server may not bind to "${host}": only loopback, or every interface in a cluster run`);
  const temporaryDir = options.authority || options.caDir ? undefined : await mkdtemp(join(tmpdir(), 'ordeal-mail-ca-'));
  const authority = options.authority ?? (await createCertificateAuthority({ caDir: options.caDir ?? (temporaryDir as string), keep: options.keepCa ?? false }));
  const capture = new CaptureState(options);
  const leaf = authority.leafForNames(CERTIFICATE_NAMES);
  const common: SMTPServerOptions = {
    name: SERVER_NAME,
    banner: 'Ordeal mail capture',
    key: leaf.keyPem,
    cert: leaf.certificatePem,
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    size: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    rejectOversized: true,
    hideENHANCEDSTATUSCODES: false,
    socketTimeout: options.socketTimeoutMs ?? 60_000,
    closeTimeout: 1000,
    maxClients: options.maxClients ?? 100,
  };
  const plain = capture.server({ ...common, secure: false, allowInsecureAuth: !(options.requireTls ?? false) }, 'plain');
  const implicit = capture.server({ ...common, secure: true }, 'implicit');
  const servers = [plain, implicit];
  try {
    const { ports } = options;
    const [starttlsPort, tlsPort] = await Promise.all([
      listen(plain, host, ports?.starttls ?? 0, 'the mail server (STARTTLS)', ports?.fields?.starttls),
      listen(implicit, host, ports?.tls ?? 0, 'the mail server (implicit TLS)', ports?.fields?.tls),
    ]);
    return {
      host,
      starttlsPort: starttlsPort as number,
      tlsPort: tlsPort as number,
      caFile: authority.caFile,
      recent: () => capture.recent(),
      received: () => capture.count,
      close: async () => {
        await capture.close(servers);
        if (temporaryDir) await rm(temporaryDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await capture.close(servers);
    if (temporaryDir) await rm(temporaryDir, { recursive: true, force: true });
    throw error;
  }
}

function listen(server: SMTPServer, host: string, port: number, what: string, portField: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const refused = (error: Error): void => reject(listenError(error, what, host, port, portField));
    server.server.once('error', refused);
    server.listen(port, host, () => {
      server.server.off('error', refused);
      resolve((server.server.address() as AddressInfo).port);
    });
  });
}

/** The sessions' shared state and the handlers both listeners run. */
class CaptureState {
  count = 0;
  private readonly latest: CapturedEmail[] = [];
  private readonly recentLimit: number;
  private readonly maxBytes: number;
  private readonly matcher: MessageMatcher;
  private readonly classifier: MessageClassifier;
  private readonly outage: EmailOutage;
  /** Held-back replies, so close() does not wait for them. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: EmailCaptureOptions) {
    this.recentLimit = Math.max(1, options.recentLimit ?? 50);
    this.maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.matcher = new MessageMatcher(options.correlation, options.identify);
    this.classifier = new MessageClassifier(options.kinds);
    this.outage = new EmailOutage(options);
  }

  recent(): CapturedEmail[] {
    return this.latest.map((message) => ({ ...message }));
  }

  server(serverOptions: SMTPServerOptions, port: 'plain' | 'implicit'): SMTPServer {
    const requireTls = port === 'plain' && (this.options.requireTls ?? false);
    const server: SMTPServer = new SMTPServer({
      ...serverOptions,
      onConnect: (_session, callback) => this.later(this.outage.connectionDelay('greeting'), () => callback()),
      onAuth: (auth, _session, callback) => callback(null, { user: auth.username || 'anonymous' }),
      onMailFrom: (_address, session, callback) => {
        if (requireTls && !session.secure) return callback(smtpError(530, 'Must issue a STARTTLS command first'));
        this.later(this.outage.connectionDelay('mail'), () => callback());
      },
      onRcptTo: (address, _session, callback) => {
        const recipient = this.matcher.recipientOf([address.address]);
        const orderId = recipient?.buyerId === undefined ? undefined : this.options.correlation.latestOrderOf(recipient.buyerId);
        const verdict = this.outage.atRecipient({
          to: recipient?.to ?? address.address,
          ...(recipient?.buyerId === undefined ? {} : { buyerId: recipient.buyerId }),
          ...(orderId === undefined ? {} : { orderId }),
        });
        this.later(verdict.delayMs, () => {
          if (verdict.refuseCode === 421) callback(smtpError(421, 'Service not available, closing transmission channel'));
          else if (verdict.refuseCode === 554) callback(smtpError(554, 'Transaction failed: mail service unavailable'));
          else callback();
        });
      },
      onData: (stream, session, callback) => {
        this.receive(stream, session, port, server).then(
          (reply) => {
            if (reply === 'dropped') return;
            if (reply.code === 250) callback(null, reply.message);
            else callback(smtpError(reply.code, reply.message));
          },
          () => callback(smtpError(451, 'Local error in processing')),
        );
      },
    });
    server.on('error', () => {
      // A client that breaks off (a failed handshake, a reset) is its own business, not the run's.
    });
    return server;
  }

  /** Reads one message, journals it, and says how to answer it. */
  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession, port: 'plain' | 'implicit', server: SMTPServer): Promise<{ code: number; message: string } | 'dropped'> {
    const { data, bytes } = await gatherData(stream, this.maxBytes);
    const envelopeTo = session.envelope.rcptTo.map((address) => address.address);
    const envelopeFrom = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
    const tls: TlsMode = port === 'implicit' ? 'implicit' : session.secure ? 'starttls' : 'none';
    const user = typeof session.user === 'string' ? session.user : undefined;
    const seen = { envelopeTo, bytes, tls, ...(user === undefined ? {} : { user }) };
    this.count += 1;

    // A message over the limit is read as far as it was kept, so its refusal names its order.
    const read = await readMessage(data, envelopeFrom);
    const recipients = envelopeTo.length > 0 ? envelopeTo : read.to;
    const match = this.matcher.match({ recipients, texts: [read.subject, read.text] });
    const kind = this.classifier.classify(read.subject, read.text);
    const recipient = this.matcher.recipientOf(recipients);
    const to = match?.contact ?? recipient?.to ?? recipients[0] ?? '';
    const buyerId = match?.buyerId ?? recipient?.buyerId;
    const about = {
      ...read,
      ...seen,
      ...(match === undefined ? {} : { orderId: match.orderId, matchedBy: match.by }),
      ...(kind === undefined ? {} : { kind }),
    };

    if (bytes > this.maxBytes) {
      this.keep({ ...about, outcome: 'refused', smtpCode: 552 });
      return { code: 552, message: `Message exceeds fixed maximum message size ${this.maxBytes}` };
    }
    const verdict = this.outage.atData({
      to,
      ...(match === undefined ? {} : { orderId: match.orderId }),
      ...(buyerId === undefined ? {} : { buyerId }),
      ...(kind === undefined ? {} : { kind }),
    });
    if (verdict.delayMs > 0) await new Promise<void>((resolve) => this.later(verdict.delayMs, resolve));
    const connection = [...server.connections].find((each) => each.id === session.id);
    if (verdict.action === 'drop' || connection === undefined || this.closed) {
      this.keep({ ...about, outcome: 'dropped' });
      // Cut mid-transaction: the mailer never learns whether the message was taken.
      connection?._socket.destroy();
      return 'dropped';
    }
    if (verdict.action === 'tempfail') {
      this.keep({ ...about, outcome: 'refused', smtpCode: TEMPFAIL_CODE });
      return { code: TEMPFAIL_CODE, message: 'Requested action aborted: local error in processing, try again later' };
    }

    this.keep({ ...about, outcome: 'accepted', smtpCode: 250 });
    if (match === undefined) return { code: 250, message: 'OK: queued (matched to no order)' };
    if (match.buyerId !== undefined) this.options.correlation.linkContact(to, match.buyerId, match.orderId);
    const reason = this.classifier.reasonOf(kind, read.subject, read.text);
    const recorded = this.options.notify.record({
      to,
      orderId: match.orderId,
      channel: 'email',
      kind: kind ?? UNCLASSIFIED_KIND,
      ...(reason === undefined ? {} : { reason }),
      text: read.subject === '' ? read.text : `${read.subject}\n${read.text}`,
      ...(read.messageId === '' ? {} : { messageKey: read.messageId }),
    });
    return { code: 250, message: `OK: queued as ${recorded.messageId}` };
  }

  /** Journals a message read and keeps it among the latest. */
  private keep(message: Omit<CapturedEmail, 'receivedAt'>): void {
    this.options.journal.append('notify.email.received', {
      messageId: message.messageId,
      from: message.from,
      to: message.envelopeTo.slice(0, MAX_JOURNALED_RECIPIENTS),
      subject: message.subject,
      bytes: message.bytes,
      tls: message.tls,
      ...(message.user === undefined ? {} : { user: message.user }),
      ...(message.orderId === undefined ? {} : { orderId: message.orderId }),
      ...(message.matchedBy === undefined ? {} : { matchedBy: message.matchedBy }),
      ...(message.kind === undefined ? {} : { kind: message.kind }),
      outcome: message.outcome,
      ...(message.smtpCode === undefined ? {} : { smtpCode: message.smtpCode }),
    });
    this.latest.push({ ...message, receivedAt: new Date().toISOString() });
    if (this.latest.length > this.recentLimit) this.latest.shift();
  }

  /** Runs `then` after `ms` (at once for 0); the timer is dropped by close(). */
  private later(ms: number, then: () => void): void {
    if (ms <= 0) return then();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      then();
    }, ms);
    this.timers.add(timer);
  }

  async close(servers: SMTPServer[]): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.server.listening) return resolve();
            server.close(() => resolve());
            for (const connection of server.connections) connection._socket.destroy();
          }),
      ),
    );
  }
}
