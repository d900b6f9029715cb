/**
 * Where Ordeal may send traffic and listen: its one network rule, asked by every guard (the mocks'
 * binds, the shops' callback URLs, the buyers' redirects, an attached shop, a mocks service).
 *
 * - `loopback` (the default): 127.0.0.1, ::1 and localhost only — a run on one machine.
 * - `cluster` (`ORDEAL_NETWORK=cluster`, set by the Kubernetes manifests): the pods of one run
 *   reach each other over the cluster's own network. Besides loopback, Ordeal may then dial
 *   cluster-internal names (a single label such as `ordeal-mocks`, or `*.svc`, `*.cluster.local`)
 *   and private addresses (RFC 1918, 100.64.0.0/10, fc00::/7), and listen on all of a pod's
 *   interfaces. A public name or address is refused in both scopes: Ordeal never load-tests or
 *   calls back a shop on the internet.
 */
import { isIP } from 'node:net';
import { OrdealError } from './errors.js';

export type NetworkScope = 'loopback' | 'cluster';

/** The environment variable that selects the scope. */
export const NETWORK_SCOPE_VARIABLE = 'ORDEAL_NETWORK';

const SCOPES: readonly NetworkScope[] = ['loopback', 'cluster'];

/** The scope of this process, from ORDEAL_NETWORK (unset or empty: loopback). */
export function networkScope(env: NodeJS.ProcessEnv = process.env): NetworkScope {
  const value = env[NETWORK_SCOPE_VARIABLE]?.trim().toLowerCase();
  if (!value) return 'loopback';
  if ((SCOPES as readonly string[]).includes(value)) return value as NetworkScope;
  throw new OrdealError('ORDEAL_ERR_USAGE', `${NETWORK_SCOPE_VARIABLE}=${env[NETWORK_SCOPE_VARIABLE]}: expected one of ${SCOPES.join(', ')}`);
}

/** Host names of this machine's loopback interface. */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '::1', 'localhost', '[::1]']);

/** `[::1]` → `::1`: URL host names keep IPv6 brackets, sockets do not. */
function bare(host: string): string {
  const lower = host.toLowerCase();
  return lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
}

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase());
}

function ipv4Octets(address: string): number[] {
  return address.split('.').map(Number);
}

/** RFC 1918, carrier-grade NAT (which some clusters use for pods), loopback; IPv6 unique-local and loopback. */
export function isPrivateAddress(address: string): boolean {
  const host = bare(address);
  const mapped = host.startsWith('::ffff:') && isIP(host.slice(7)) === 4 ? host.slice(7) : host;
  if (isIP(mapped) === 4) {
    const [a, b] = ipv4Octets(mapped) as [number, number];
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (isIP(mapped) === 6) return mapped === '::1' || /^f[cd][0-9a-f]{0,2}:/.test(mapped);
  return false;
}

/** A name only the cluster's DNS answers: one label (a Service in the same namespace), or under `.svc` / `.cluster.local`. */
export function isClusterName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (isIP(bare(name)) !== 0) return false;
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
  if (!name.split('.').every((part) => label.test(part))) return false;
  return !name.includes('.') || name.endsWith('.svc') || name.endsWith('.cluster.local');
}

/** Whether Ordeal may send traffic to `host` in `scope`. */
export function isReachableHost(host: string, scope: NetworkScope = networkScope()): boolean {
  if (isLoopbackHost(host)) return true;
  return scope === 'cluster' && (isClusterName(host) || isPrivateAddress(host));
}

/** Whether Ordeal may send traffic to `value`: an http(s) URL whose host `isReachableHost`. */
export function isReachableUrl(value: string, scope: NetworkScope = networkScope()): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && isReachableHost(url.hostname, scope);
  } catch {
    return false;
  }
}

/** Whether Ordeal may listen on `host` in `scope`: loopback, or in a cluster every interface or a private one. */
export function isBindableHost(host: string, scope: NetworkScope = networkScope()): boolean {
  if (isLoopbackHost(host)) return true;
  return scope === 'cluster' && (host === '0.0.0.0' || bare(host) === '::' || isPrivateAddress(host));
}

/** The rule in words, for error messages. */
export function reachRule(scope: NetworkScope = networkScope()): string {
  return scope === 'cluster'
    ? "loopback or the cluster's own network (a Service name, *.svc, *.cluster.local, or a private address)"
    : `loopback (127.0.0.1, ::1, localhost; ${NETWORK_SCOPE_VARIABLE}=cluster in a Kubernetes run)`;
}

/** "not loopback" / "outside the cluster's network": how a refused destination is described. */
export function outsideRule(scope: NetworkScope = networkScope()): string {
  return scope === 'cluster' ? "outside the cluster's network" : 'not loopback';
}
