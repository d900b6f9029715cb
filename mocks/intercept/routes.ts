/**
 * Which hosts the intercepting proxy answers, and for which payment protocol. Only these hosts are
 * ever answered; every other one is refused. The defaults are the hosts the official clients
 * hard-code (PROVIDERS.md §5); 易支付 aggregators have no common host, so a run adds its shop's.
 */
import type { PaymentProtocol } from '../../core/schema-parts.js';

/** Host → protocol, for the providers whose clients hard-code their host. */
export const DEFAULT_INTERCEPT_ROUTES: Readonly<Record<string, PaymentProtocol>> = Object.freeze({
  'openapi.alipay.com': 'alipay',
  'openapi-sandbox.dl.alipaydev.com': 'alipay',
  'openapi.alipaydev.com': 'alipay',
  'api.mch.weixin.qq.com': 'wechatpay',
  'api2.mch.weixin.qq.com': 'wechatpay',
  'api.stripe.com': 'stripe',
});

/** Ports a provider host is answered on: TLS on 443, plain HTTP on 80 (some 易支付 aggregators). */
export const INTERCEPT_PORTS: ReadonlySet<number> = new Set([443, 80]);

/** Why the proxy refused a host. */
export type RefusalReason =
  /** Not a provider host in the route table. */
  | 'not-a-provider-host'
  /** A provider host, but no personality of its protocol runs in this run. */
  | 'protocol-not-served'
  /** A provider host on a port other than 443 or 80. */
  | 'port-not-intercepted';

export type RouteDecision = { routed: true; protocol: PaymentProtocol; baseUrl: string } | { routed: false; reason: RefusalReason };

/** Host names compare case-insensitively and without a trailing dot (`API.Stripe.com.` is `api.stripe.com`). */
export function normalizeHost(host: string): string {
  const lower = host.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** The defaults with `extra` entries merged over them (an extra entry may re-point a default host). */
export function interceptRoutes(extra: Readonly<Record<string, PaymentProtocol>> = {}): Map<string, PaymentProtocol> {
  const routes = new Map<string, PaymentProtocol>();
  for (const [host, protocol] of Object.entries(DEFAULT_INTERCEPT_ROUTES)) routes.set(host, protocol);
  for (const [host, protocol] of Object.entries(extra)) routes.set(normalizeHost(host), protocol);
  return routes;
}

/** Where a request for `host:port` goes, or why it is refused. */
export function decideRoute(
  routes: ReadonlyMap<string, PaymentProtocol>,
  targets: Readonly<Partial<Record<PaymentProtocol, string>>>,
  host: string,
  port: number,
): RouteDecision {
  const protocol = routes.get(normalizeHost(host));
  if (protocol === undefined) return { routed: false, reason: 'not-a-provider-host' };
  if (!INTERCEPT_PORTS.has(port)) return { routed: false, reason: 'port-not-intercepted' };
  const baseUrl = targets[protocol];
  if (baseUrl === undefined) return { routed: false, reason: 'protocol-not-served' };
  return { routed: true, protocol, baseUrl };
}

/**
 * Splits a CONNECT authority (`host:port`, `[v6]:port`) into host and port; null when malformed.
 * A missing port is 443: CONNECT is for TLS unless the client says otherwise.
 */
export function parseAuthority(authority: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/.exec(authority.trim());
  if (!match) return null;
  const host = match[1] ?? match[2] ?? '';
  const port = match[3] === undefined ? 443 : Number(match[3]);
  if (host === '' || port < 1 || port > 65_535) return null;
  return { host: normalizeHost(host), port };
}
