/**
 * `ordeal k8s manifest SCENARIO --segments n`: one distributed run as Kubernetes objects (DESIGN.md
 * §8; README "Running on Kubernetes"). Pure: it builds plain objects and their YAML, and touches
 * no cluster.
 *
 * - a Secret with the mocks service's key, a ConfigMap with the scenario, a ReadWriteMany volume
 *   for the journals and the reports;
 * - the mocks service (`ordeal mocks serve --start-shop`): one pod that runs the mocks and the shop
 *   beside them, behind a Service that names its fixed ports. It is a Job, not a Deployment: the
 *   service ends with the run, and a Deployment would start it again;
 * - the drivers: an Indexed Job, one pod per segment (`JOB_COMPLETION_INDEX` → `--segment i/n`);
 * - the merge: a Job that waits for the others on the volume, then writes the report; its exit
 *   code is the run's gate;
 * - a NetworkPolicy: the run's pods may reach only pods of their namespace and the cluster's DNS,
 *   so no traffic leaves the cluster whatever the shop answers (`ORDEAL_NETWORK=cluster` refuses
 *   public names in Ordeal itself as well).
 */
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { OrdealError } from '../../core/errors.js';
import type { Scenario } from '../../core/scenario-schema.js';
import { MAX_SEGMENTS } from '../../core/segments.js';
import { VERSION } from '../../core/version.js';
import { deadlineMsOf } from '../score/credit.js';
import { SERVICE_PORT_OFFSETS, servicePorts, type ServicePart } from '../mocks-service/protocol.js';

/** Where the image keeps things (the Dockerfile in the repository builds this layout). */
export const IMAGE_LAYOUT = {
  /** `ordeal` is on the PATH; the package lives here. */
  home: '/ordeal',
  /** The scenario's ConfigMap is mounted here. */
  scenarioDir: '/scenario',
  /** The shared volume: `mocks/`, `segments/<i>/`, `report/`. */
  dataDir: '/data',
  /** A pod's own disk: the started shop's database. */
  workDir: '/work',
} as const;

export const DEFAULT_BASE_PORT = 7700;
/** The scenario's file name inside the ConfigMap. */
const SCENARIO_KEY = 'scenario.yaml';
/** A ConfigMap holds at most 1 MiB. */
const MAX_SCENARIO_BYTES = 1_000_000;
/** How long a driver keeps trying a service that is not up yet, and the service waits for the drivers (ms). */
const START_WAIT_MS = 5 * 60_000;
const READY_TIMEOUT_MS = 10 * 60_000;

export interface KubernetesManifestOptions {
  scenario: Scenario;
  /** The scenario as written (a loaded file's `input`): what the ConfigMap carries. */
  scenarioInput: unknown;
  segments: number;
  /** @default `ordeal:<version>` */
  image?: string;
  /** Prefix of every object's name (a DNS label). @default `ordeal-<scenario>` */
  name?: string;
  namespace?: string;
  seed?: number;
  /** The built-in shop's flaws to switch on. */
  flaws?: readonly string[];
  /** A contract-v1 shop's start command, run in the mocks pod (the image must hold the shop). @default the built-in reference shop */
  shopCommand?: string;
  /** @default 7700 */
  basePort?: number;
  /** @default "1Gi" */
  storageSize?: string;
  storageClass?: string;
  minScore?: number;
  /** The service's key. @default a fresh random one */
  key?: string;
}

/** A Kubernetes object as plain data. */
export type KubernetesObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, unknown>;

export interface KubernetesManifest {
  /** The name prefix of every object. */
  name: string;
  objects: KubernetesObject[];
  /** The commands to run it, for the YAML's header. */
  commands: string[];
}

/** Builds the objects of one distributed run; see the module comment. */
export function buildKubernetesManifest(options: KubernetesManifestOptions): KubernetesManifest {
  const { scenario, segments } = options;
  if (!Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS) throw new OrdealError('ORDEAL_ERR_USAGE', `--segments must be a whole number from 1 to ${MAX_SEGMENTS}, got ${segments}`);
  if (scenario.provider.channels.length > 0) throw new OrdealError('ORDEAL_ERR_USAGE', `${scenario.name}: a distributed run serves one payment channel; the scenario lists ${scenario.provider.channels.join(', ')} beside ${scenario.provider.protocol}`);
  const name = checkName(options.name ?? defaultName(scenario.name));
  const basePort = options.basePort ?? DEFAULT_BASE_PORT;
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 7 > 65535) throw new OrdealError('ORDEAL_ERR_USAGE', `--base-port must leave room for 8 ports from 1024 to 65535, got ${basePort}`);
  const scenarioText = stringify(options.scenarioInput);
  if (Buffer.byteLength(scenarioText) > MAX_SCENARIO_BYTES) throw new OrdealError('ORDEAL_ERR_USAGE', `${scenario.name}: the scenario is ${Buffer.byteLength(scenarioText)} bytes; a ConfigMap holds at most 1 MB`);
  const image = options.image || `ordeal:${VERSION}`;
  const ports = servicePorts(basePort);
  const names = { key: `${name}-key`, scenario: `${name}-scenario`, data: `${name}-data`, mocks: `${name}-mocks`, drivers: `${name}-drivers`, merge: `${name}-merge`, egress: `${name}-egress` };
  const meta = (objectName: string, component?: string): KubernetesObject['metadata'] => ({
    name: objectName,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    labels: labelsOf(name, component),
  });
  const scenarioPath = `${IMAGE_LAYOUT.scenarioDir}/${SCENARIO_KEY}`;
  const seedArgs = options.seed === undefined ? [] : ['--seed', String(options.seed)];
  const deadlineMs = deadlineMsOf(scenario);
  const serviceUrl = `http://${names.mocks}:${ports.control}`;

  const env = [
    { name: 'ORDEAL_NETWORK', value: 'cluster' },
    { name: 'ORDEAL_MOCKS_SERVICE_KEY', valueFrom: { secretKeyRef: { name: names.key, key: 'key' } } },
  ];
  const sharedVolumes = [
    { name: 'scenario', configMap: { name: names.scenario } },
    { name: 'data', persistentVolumeClaim: { claimName: names.data } },
    { name: 'tmp', emptyDir: {} },
  ];
  const sharedMounts = [
    { name: 'scenario', mountPath: IMAGE_LAYOUT.scenarioDir, readOnly: true },
    { name: 'data', mountPath: IMAGE_LAYOUT.dataDir },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const podSpec = (component: string, container: Record<string, unknown>, extra: { volumes?: object[] } = {}): Record<string, unknown> => ({
    metadata: { labels: labelsOf(name, component) },
    spec: {
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      volumes: [...sharedVolumes, ...(extra.volumes ?? [])],
      containers: [
        {
          image,
          imagePullPolicy: 'IfNotPresent',
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          ...container,
        },
      ],
    },
  });
  // A re-run pod would send its buyers twice, or start a second ledger: every Job runs its pods once.
  const jobSpec = (activeDeadlineMs: number, template: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    backoffLimit: 0,
    activeDeadlineSeconds: Math.ceil(activeDeadlineMs / 1000),
    ttlSecondsAfterFinished: 86_400,
    ...extra,
    template,
  });

  const shopArgs = options.shopCommand ? ['--target-command', options.shopCommand] : options.flaws && options.flaws.length > 0 ? ['--flaws', options.flaws.join(',')] : [];
  const mocksArgs = [
    'mocks', 'serve', scenarioPath,
    '--out', `${IMAGE_LAYOUT.dataDir}/mocks`,
    '--segments', String(segments),
    '--start-shop', ...shopArgs,
    '--host', '0.0.0.0',
    '--advertise', names.mocks,
    '--base-port', String(basePort),
    '--shop-data', `${IMAGE_LAYOUT.workDir}/shop-data`,
    ...seedArgs,
  ];
  const driverArgs = [
    'run', scenarioPath,
    '--segment', `$(JOB_COMPLETION_INDEX)/${segments}`,
    '--mocks-service', serviceUrl,
    '--mocks-service-wait', `${START_WAIT_MS / 60_000}m`,
    '--out', `${IMAGE_LAYOUT.dataDir}/segments/$(JOB_COMPLETION_INDEX)`,
    '--quiet',
    ...seedArgs,
  ];
  const mergeWaitMs = START_WAIT_MS + READY_TIMEOUT_MS + deadlineMs + 2 * 60_000;
  const mergeArgs = [
    'merge', `${IMAGE_LAYOUT.dataDir}/mocks`,
    ...Array.from({ length: segments }, (_, index) => `${IMAGE_LAYOUT.dataDir}/segments/${index}`),
    '--out', `${IMAGE_LAYOUT.dataDir}/report`,
    '--wait', `${Math.ceil(mergeWaitMs / 60_000)}m`,
    ...(options.minScore === undefined ? [] : ['--min-score', String(options.minScore)]),
  ];

  const objects: KubernetesObject[] = [
    { apiVersion: 'v1', kind: 'Secret', metadata: meta(names.key), type: 'Opaque', stringData: { key: options.key ?? randomBytes(24).toString('base64url') } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(names.scenario), data: { [SCENARIO_KEY]: scenarioText } },
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta(names.data),
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: options.storageSize || '1Gi' } }, ...(options.storageClass ? { storageClassName: options.storageClass } : {}) },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(names.mocks, 'mocks'),
      spec: {
        type: 'ClusterIP',
        selector: labelsOf(name, 'mocks'),
        ports: (Object.keys(SERVICE_PORT_OFFSETS) as ServicePart[]).map((part) => ({ name: part, port: ports[part], targetPort: ports[part], protocol: 'TCP' })),
      },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta(names.mocks, 'mocks'),
      spec: jobSpec(
        READY_TIMEOUT_MS + deadlineMs + 3 * 60_000,
        podSpec(
          'mocks',
          {
            name: 'mocks',
            args: mocksArgs,
            env,
            ports: (Object.keys(SERVICE_PORT_OFFSETS) as ServicePart[]).map((part) => ({ name: part, containerPort: ports[part] })),
            readinessProbe: { tcpSocket: { port: ports.control }, periodSeconds: 2 },
            volumeMounts: [...sharedMounts, { name: 'work', mountPath: IMAGE_LAYOUT.workDir }],
            resources: { requests: { cpu: '2', memory: '1Gi' }, limits: { memory: '2Gi' } },
          },
          { volumes: [{ name: 'work', emptyDir: {} }] },
        ),
      ),
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta(names.drivers, 'driver'),
      spec: jobSpec(
        START_WAIT_MS + READY_TIMEOUT_MS + deadlineMs + 2 * 60_000,
        podSpec('driver', {
          name: 'driver',
          args: driverArgs,
          env: [
            // Set by the Job controller as well; named here so `$(JOB_COMPLETION_INDEX)` in the arguments always expands.
            { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
            ...env,
          ],
          volumeMounts: sharedMounts,
          resources: { requests: { cpu: '1', memory: '512Mi' }, limits: { memory: '1Gi' } },
        }),
        { completionMode: 'Indexed', completions: segments, parallelism: segments },
      ),
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta(names.merge, 'merge'),
      spec: jobSpec(
        mergeWaitMs + 5 * 60_000,
        podSpec('merge', {
          name: 'merge',
          args: mergeArgs,
          env: [{ name: 'ORDEAL_NETWORK', value: 'cluster' }],
          volumeMounts: sharedMounts,
          resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '2Gi' } },
        }),
      ),
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(names.egress),
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ordeal', 'app.kubernetes.io/instance': name } },
        policyTypes: ['Egress'],
        egress: [
          { to: [{ podSelector: {} }] },
          {
            to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
            ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
          },
        ],
      },
    },
  ];
  const ns = options.namespace ? ` -n ${options.namespace}` : '';
  const commands = [
    `kubectl apply${ns} -f ${name}.yaml`,
    `kubectl wait${ns} --for=condition=complete --timeout=${Math.ceil((mergeWaitMs + 5 * 60_000) / 60_000)}m job/${names.merge}`,
    `kubectl logs${ns} job/${names.merge}          # the report; the Job fails when the gate does`,
    `kubectl delete${ns} -f ${name}.yaml           # the volume with the journals goes too: copy ${IMAGE_LAYOUT.dataDir}/report first`,
  ];
  return { name, objects, commands };
}

/** The manifest as one YAML stream, with a header saying how to run it. */
export function renderKubernetesManifest(manifest: KubernetesManifest): string {
  const header = [
    `# Ordeal ${VERSION}: one distributed run, ${manifest.name}. Generated by \`ordeal k8s manifest\`; README "Running on Kubernetes".`,
    '#',
    ...manifest.commands.map((command) => `#   ${command}`),
  ].join('\n');
  return `${header}\n${manifest.objects.map((object) => `---\n${stringify(object, { lineWidth: 0 })}`).join('')}`;
}

function labelsOf(name: string, component?: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'ordeal',
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/version': VERSION.replace(/[^A-Za-z0-9._-]/g, '-'),
    ...(component ? { 'app.kubernetes.io/component': component } : {}),
  };
}

/** `ordeal-<scenario>` as a DNS label, short enough for the longest suffix (`-drivers`) and the Job's pod names. */
function defaultName(scenario: string): string {
  return `ordeal-${scenario}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').slice(0, 40).replace(/-+$/, '');
}

function checkName(name: string): string {
  if (!/^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/.test(name)) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `--name "${name}": expected a DNS label of at most 40 characters (lower-case letters, digits and "-", starting with a letter)`);
  }
  return name;
}
