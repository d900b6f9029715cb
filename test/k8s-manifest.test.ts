/**
 * `ordeal k8s manifest`: the objects validate against the Kubernetes API schemas
 * (kubernetes-models), and they say what a distributed run needs — one pod per segment with its
 * index, the service's fixed ports behind a Service, one key, the scenario as written, traffic
 * kept in the namespace. The pods themselves are run in test/distributed-cli.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { buildKubernetesManifest, renderKubernetesManifest, type KubernetesManifestOptions } from '../harness/k8s/manifest.js';
import { loadScenarios } from '../harness/scenario/loader.js';
import { servicePorts } from '../harness/mocks-service/protocol.js';
import { containerOf, objectOf, parseManifest, type ManifestObject } from './helpers/pods.js';
import { mockScenario } from './helpers/mocks.js';
import type { Scenario } from '../core/scenario-schema.js';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Secret': Secret,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Service': Service,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

function validate(object: ManifestObject): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object as never).validate();
}

async function manifestOf(overrides: Partial<KubernetesManifestOptions> = {}): Promise<ManifestObject[]> {
  const [loaded] = await loadScenarios(['test/fixtures/segments.yaml']);
  const manifest = buildKubernetesManifest({ scenario: loaded!.scenario, scenarioInput: loaded!.input, segments: 4, ...overrides });
  // Through the YAML, as kubectl reads it.
  return parseManifest(renderKubernetesManifest(manifest));
}

const argAfter = (args: readonly string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

describe('ordeal k8s manifest', () => {
  it('prints objects every one of which validates against the Kubernetes API schemas', async () => {
    const objects = await manifestOf({ namespace: 'load', storageClass: 'nfs', seed: 7, minScore: 80, image: 'registry.local/ordeal:1' });
    expect(objects.map((object) => object.kind).sort()).toEqual(['ConfigMap', 'Job', 'Job', 'Job', 'NetworkPolicy', 'PersistentVolumeClaim', 'Secret', 'Service']);
    for (const object of objects) {
      expect(() => validate(object), `${object.kind} ${object.metadata.name}`).not.toThrow();
      expect((object.metadata as { namespace?: string }).namespace).toBe('load');
    }
    // The validator is live: a broken Job does not pass.
    const broken = structuredClone(objectOf(objects, 'Job', '-drivers'));
    (broken.spec as { parallelism: unknown }).parallelism = 'four';
    expect(() => validate(broken)).toThrow(/parallelism/);
  });

  it('runs one driver pod per segment, its index from the Indexed Job, each against the mocks Service', async () => {
    const objects = await manifestOf();
    const drivers = objectOf(objects, 'Job', '-drivers');
    expect(drivers.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4, backoffLimit: 0 });
    const driver = containerOf(drivers);
    expect(argAfter(driver.args, '--segment')).toBe('$(JOB_COMPLETION_INDEX)/4');
    // `$(VAR)` expands only from variables the container declares.
    expect(driver.env.find((entry) => entry.name === 'JOB_COMPLETION_INDEX')?.valueFrom?.fieldRef?.fieldPath).toContain('job-completion-index');
    const service = objectOf(objects, 'Service', '-mocks');
    const ports = servicePorts(7700);
    expect(argAfter(driver.args, '--mocks-service')).toBe(`http://${service.metadata.name}:${ports.control}`);
    expect((service.spec as { ports: Array<{ name: string; port: number }> }).ports).toEqual(
      Object.entries(ports).map(([name, port]) => expect.objectContaining({ name, port })),
    );
    // The Service selects the mocks pod, and only it.
    const mocksJob = objectOf(objects, 'Job', '-mocks');
    const podLabels = (mocksJob.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(podLabels).toMatchObject((service.spec as { selector: Record<string, string> }).selector);
    expect((drivers.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels['app.kubernetes.io/component']).toBe('driver');
  });

  it('gives the mocks service the segment count, every interface, the Service\'s name and the fixed ports; every pod the same key and the cluster scope', async () => {
    const objects = await manifestOf({ basePort: 9100 });
    const mocks = containerOf(objectOf(objects, 'Job', '-mocks'));
    expect(mocks.args.slice(0, 2)).toEqual(['mocks', 'serve']);
    expect(argAfter(mocks.args, '--segments')).toBe('4');
    expect(argAfter(mocks.args, '--host')).toBe('0.0.0.0');
    expect(argAfter(mocks.args, '--advertise')).toBe(objectOf(objects, 'Service', '-mocks').metadata.name);
    expect(argAfter(mocks.args, '--base-port')).toBe('9100');
    expect(mocks.args).toContain('--start-shop');
    const secret = objectOf(objects, 'Secret', '-key');
    for (const job of objects.filter((object) => object.kind === 'Job')) {
      const env = containerOf(job).env;
      expect(env.find((entry) => entry.name === 'ORDEAL_NETWORK')?.value, job.metadata.name).toBe('cluster');
      if (!job.metadata.name.endsWith('-merge')) expect(env.find((entry) => entry.name === 'ORDEAL_MOCKS_SERVICE_KEY')?.valueFrom?.secretKeyRef?.name).toBe(secret.metadata.name);
      // Bounded: every Job has a deadline, and none re-runs a pod.
      expect((job.spec as { activeDeadlineSeconds: number }).activeDeadlineSeconds).toBeGreaterThan(0);
      expect((job.spec as { backoffLimit: number }).backoffLimit).toBe(0);
    }
    expect((secret.stringData as { key: string }).key.length).toBeGreaterThanOrEqual(16);
  });

  it('merges the service and every segment\'s folder, waiting for them on the shared volume', async () => {
    const objects = await manifestOf({ minScore: 90 });
    const merge = containerOf(objectOf(objects, 'Job', '-merge'));
    expect(merge.args).toEqual(expect.arrayContaining(['merge', '/data/mocks', '/data/segments/0', '/data/segments/1', '/data/segments/2', '/data/segments/3']));
    expect(argAfter(merge.args, '--wait')).toMatch(/^\d+m$/);
    expect(argAfter(merge.args, '--min-score')).toBe('90');
    const driverOut = argAfter(containerOf(objectOf(objects, 'Job', '-drivers')).args, '--out');
    expect(driverOut).toBe('/data/segments/$(JOB_COMPLETION_INDEX)');
    expect(objectOf(objects, 'PersistentVolumeClaim', '-data').spec).toMatchObject({ accessModes: ['ReadWriteMany'] });
  });

  it('keeps the run\'s egress inside its namespace and the cluster\'s DNS', async () => {
    const policy = objectOf(await manifestOf(), 'NetworkPolicy', '-egress');
    const spec = policy.spec as { policyTypes: string[]; egress: Array<{ to: object[]; ports?: Array<{ port: number }> }>; podSelector: { matchLabels: Record<string, string> } };
    expect(spec.policyTypes).toEqual(['Egress']);
    expect(spec.egress[0]!.to).toEqual([{ podSelector: {} }]);
    expect(spec.egress[1]!.ports?.map((port) => port.port)).toEqual([53, 53]);
    expect(spec.podSelector.matchLabels['app.kubernetes.io/instance']).toBe(policy.metadata.name.replace(/-egress$/, ''));
  });

  it('carries the scenario as written: the mounted file loads to the same scenario', async () => {
    const map = objectOf(await manifestOf(), 'ConfigMap', '-scenario').data as Record<string, string>;
    const folder = await mkdtemp(join(tmpdir(), 'ordeal-k8s-'));
    try {
      await writeFile(join(folder, 'scenario.yaml'), map['scenario.yaml']!);
      const [mounted] = await loadScenarios([join(folder, 'scenario.yaml')]);
      const [original] = await loadScenarios(['test/fixtures/segments.yaml']);
      expect(mounted!.scenario).toEqual(original!.scenario);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('refuses what a cluster run cannot do, saying why', async () => {
    await expect(manifestOf({ segments: 0 })).rejects.toThrow(/--segments must be a whole number/);
    await expect(manifestOf({ name: 'Bad_Name' })).rejects.toThrow(/DNS label/);
    await expect(manifestOf({ name: `a${'b'.repeat(45)}` })).rejects.toThrow(/at most 40/);
    await expect(manifestOf({ basePort: 65530 })).rejects.toThrow(/--base-port/);
    const twoChannels = { ...mockScenario({ name: 'two' }), provider: { ...mockScenario({ name: 'two' }).provider, channels: ['epay'] } } as Scenario;
    expect(() => buildKubernetesManifest({ scenario: twoChannels, scenarioInput: {}, segments: 2 })).toThrow(/one payment channel/);
  });
});
