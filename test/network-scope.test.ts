import { describe, expect, it } from 'vitest';
import { isBindableHost, isClusterName, isPrivateAddress, isReachableHost, isReachableUrl, networkScope, reachRule } from '../core/network-scope.js';
import { OrdealError } from '../core/errors.js';
import { startMocks } from '../mocks/index.js';
import { MemoryJournal } from '../core/journal.js';
import { FaultPlan } from '../mocks/fault-plan.js';
import { mockScenario } from './helpers/mocks.js';

const mockParts = () => {
  const scenario = mockScenario({ name: 'scoped' });
  return { scenario, journal: new MemoryJournal(), plan: new FaultPlan(scenario.faults, scenario.seed) };
};

describe('network scope', () => {
  it('is loopback unless ORDEAL_NETWORK says cluster, and a mistyped value is a usage error', () => {
    expect(networkScope({})).toBe('loopback');
    expect(networkScope({ ORDEAL_NETWORK: '' })).toBe('loopback');
    expect(networkScope({ ORDEAL_NETWORK: 'Cluster' })).toBe('cluster');
    const mistyped = (() => {
      try {
        networkScope({ ORDEAL_NETWORK: 'internet' });
      } catch (error) {
        return error;
      }
    })();
    expect(mistyped).toBeInstanceOf(OrdealError);
    expect((mistyped as OrdealError).code).toBe('ORDEAL_ERR_USAGE');
    expect((mistyped as OrdealError).message).toContain('ORDEAL_NETWORK=internet');
  });

  it('reaches only loopback in loopback scope', () => {
    for (const url of ['http://127.0.0.1:8080', 'http://localhost/x', 'http://[::1]:3000']) expect(isReachableUrl(url, 'loopback')).toBe(true);
    for (const url of ['http://ordeal-mocks:7700', 'http://10.0.0.5', 'http://shop.default.svc.cluster.local', 'http://example.com', 'ftp://127.0.0.1']) {
      expect(isReachableUrl(url, 'loopback')).toBe(false);
    }
    expect(isBindableHost('0.0.0.0', 'loopback')).toBe(false);
  });

  it('reaches cluster-internal names and private addresses in cluster scope, and never a public one', () => {
    const inside = [
      'http://ordeal-mocks:7700',
      'http://shop.shops.svc:8080/pay',
      'http://shop.shops.svc.cluster.local',
      'http://10.1.2.3',
      'http://172.20.0.9',
      'http://192.168.1.1',
      'http://100.96.0.4',
      'http://[fd00::12]:80',
      'http://127.0.0.1',
    ];
    for (const url of inside) expect(isReachableUrl(url, 'cluster'), url).toBe(true);
    const outside = ['http://example.com', 'http://api.stripe.com', 'http://8.8.8.8', 'http://172.32.0.1', 'http://100.128.0.1', 'http://[2001:db8::1]', 'http://evil.svc.example.com', 'http://-bad-'];
    for (const url of outside) expect(isReachableUrl(url, 'cluster'), url).toBe(false);
  });

  it('names and addresses: the pieces the rule is made of', () => {
    expect(isClusterName('ordeal-mocks')).toBe(true);
    expect(isClusterName('mocks.ordeal.svc.')).toBe(true);
    expect(isClusterName('10.0.0.1')).toBe(false);
    expect(isPrivateAddress('::ffff:10.0.0.1')).toBe(true);
    expect(isPrivateAddress('11.0.0.1')).toBe(false);
    expect(isReachableHost('LOCALHOST', 'loopback')).toBe(true);
    expect(isBindableHost('0.0.0.0', 'cluster')).toBe(true);
    expect(isBindableHost('::', 'cluster')).toBe(true);
    expect(isBindableHost('203.0.113.7', 'cluster')).toBe(false);
    expect(reachRule('loopback')).toContain('ORDEAL_NETWORK=cluster');
  });

  it('the mocks refuse to bind beyond loopback unless the process runs in cluster scope', async () => {
    const previous = process.env.ORDEAL_NETWORK;
    delete process.env.ORDEAL_NETWORK;
    try {
      await expect(startMocks({ ...mockParts(), host: '0.0.0.0' })).rejects.toMatchObject({ code: 'ORDEAL_ERR_UNSAFE_TARGET' });
    } finally {
      if (previous !== undefined) process.env.ORDEAL_NETWORK = previous;
    }
  });

  it('mocks served under an advertised name hand out URLs with that name', async () => {
    const mocks = await startMocks({ ...mockParts(), advertisedHost: 'localhost' });
    try {
      for (const url of Object.values(mocks.urls)) expect(url).toMatch(/^http:\/\/localhost:\d+$/);
      const health = await fetch(`${mocks.urls.stock.replace('localhost', '127.0.0.1')}/health`);
      expect(health.status).toBeLessThan(500);
    } finally {
      await mocks.close();
    }
  });
});
