/**
 * `ordeal run --intercept`: an intercepting HTTPS proxy with a run-local CA for shops whose payment
 * library hard-codes the provider's host, the environment the shop gets, and the Node preload
 * (`node-preload.ts`, loaded by the shop's own process, never imported here). The README's "Hard-coded
 * hosts" section says what it does and where it stops.
 */
export { CA_FILE_NAME, createCertificateAuthority } from './certificate-authority.js';
export type { CertificateAuthorityOptions, LeafCertificate, RunCertificateAuthority } from './certificate-authority.js';
export { INTERCEPT_PROXY_VARIABLE, interceptEnv, LOOPBACK_NO_PROXY, nodePreloadBuilt, nodePreloadPath } from './intercept-env.js';
export type { InterceptEnvOptions } from './intercept-env.js';
export { startInterceptProxy } from './intercept-proxy.js';
export type { InterceptHandshakeFailure, InterceptProxy, InterceptProxyOptions, InterceptRefusal, InterceptStats } from './intercept-proxy.js';
export { DEFAULT_INTERCEPT_ROUTES, INTERCEPT_PORTS, interceptRoutes } from './routes.js';
export type { RefusalReason } from './routes.js';
