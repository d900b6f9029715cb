/** The SMTP capture server and its outage fault; imported on its own by the runs that use e-mail. */
export { DEFAULT_MAX_MESSAGE_BYTES, startEmailCapture } from './smtp-capture.js';
export type { CapturedEmail, EmailCapture, EmailCaptureOptions, EmailEndpoint, TlsMode } from './smtp-capture.js';
export { EmailOutage, TEMPFAIL_CODE } from './outage.js';
export type { DataVerdict, MailTarget, RecipientVerdict } from './outage.js';
export { MAX_TEXT_CHARS, type ReadMessage } from './read-message.js';
