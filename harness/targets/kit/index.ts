/**
 * The toolkit a TypeScript target adapter (`defineTarget()`) drives a shop with, as a buyer's
 * browser would: per-buyer sessions (cookies, CSRF tokens, bearer token, client address,
 * redirects), HTML pages read with a real parser, forms submitted as browsers submit them, GraphQL,
 * and the hand-over to the payment gateway followed to the cashier. Every answer is data.
 */
export {
  BuyerSession,
  DEFAULT_USER_AGENT,
  type BuyerSessionOptions,
  type CsrfPlacement,
  type FormRequest,
  type GraphqlAnswer,
  type GraphqlError,
  type GraphqlOptions,
  type Hop,
  type RequestOptions,
  type SendOptions,
  type SessionAnswer,
  type SubmitOptions,
} from './buyer-session.js';
export { parsePage, HtmlPage, type FormQuery, type LinkQuery, type HtmlLink, type MetaRefresh } from './html-page.js';
export { HtmlForm, type ButtonQuery, type FormEnctype, type FormEntry, type FormMethod, type FormSubmission, type SubmitButton } from './html-form.js';
export { CSRF_FIELD_NAMES, type CsrfToken } from './csrf.js';
export {
  followPaymentRedirect,
  detectAutoNavigation,
  type AutoNavigation,
  type AutoNavigationOptions,
  type PaymentRedirect,
  type PaymentRedirectOptions,
} from './payment-redirect.js';
