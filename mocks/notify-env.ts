/**
 * The settings a shop's mailer and SMS client are given, as environment variables: one place for
 * their names, so the driver, the README and the example shops agree. Any login is accepted, so
 * the user and password are placeholders a mailer that insists on logging in can use.
 */
import type { EmailEndpoint } from './email/smtp-capture.js';
import type { SmsEndpoint } from './sms-gateway.js';

/** Variable name → value, for the shop's environment. */
export type NotifyEnv = Record<string, string>;

/** The login the mail server is offered by default (it accepts any). */
export const SMTP_PLACEHOLDER_LOGIN = { user: 'shop@ordeal.test', pass: 'any-password' } as const;

/**
 * ORDEAL_SMS_URL / _ACCOUNT / _KEY for the SMS gateway; with e-mail on, ORDEAL_SMTP_HOST,
 * ORDEAL_SMTP_PORT (plain, STARTTLS), ORDEAL_SMTPS_PORT (implicit TLS), ORDEAL_SMTP_USER / _PASS
 * (placeholders) and ORDEAL_SMTP_CA_FILE (the CA to trust), plus NODE_EXTRA_CA_CERTS pointing at
 * the same file for a Node shop — unless `nodeExtraCaCerts` is false (the run sets it itself, to a
 * bundle of several CAs, say).
 */
export function notifyEnv(endpoints: { sms: SmsEndpoint; email?: Pick<EmailEndpoint, 'host' | 'starttlsPort' | 'tlsPort' | 'caFile'> | undefined }, options: { nodeExtraCaCerts?: boolean } = {}): NotifyEnv {
  const env: NotifyEnv = {
    ORDEAL_SMS_URL: endpoints.sms.url,
    ORDEAL_SMS_ACCOUNT: endpoints.sms.credentials.account,
    ORDEAL_SMS_KEY: endpoints.sms.credentials.key,
  };
  const email = endpoints.email;
  if (email === undefined) return env;
  Object.assign(env, {
    ORDEAL_SMTP_HOST: email.host,
    ORDEAL_SMTP_PORT: String(email.starttlsPort),
    ORDEAL_SMTPS_PORT: String(email.tlsPort),
    ORDEAL_SMTP_USER: SMTP_PLACEHOLDER_LOGIN.user,
    ORDEAL_SMTP_PASS: SMTP_PLACEHOLDER_LOGIN.pass,
    ORDEAL_SMTP_CA_FILE: email.caFile,
  });
  if (options.nodeExtraCaCerts ?? true) env.NODE_EXTRA_CA_CERTS = email.caFile;
  return env;
}
