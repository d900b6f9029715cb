/**
 * Runs the pods of `ordeal k8s manifest` as local processes, the way a kubelet would start them:
 * the container's arguments with `$(VAR)` expanded from its own env list, that env (Secret
 * references resolved from the manifest's Secret, the completion index from the Job), and the
 * volumes' mount paths mapped onto one temporary folder. The only other change is the network:
 * every interface and the Service's name become loopback, and the fixed ports a free range.
 */
import { parseAllDocuments } from 'yaml';

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

interface EnvEntry {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  args: string[];
  env: EnvEntry[];
  volumeMounts: Array<{ name: string; mountPath: string }>;
}

export interface LocalPod {
  args: string[];
  env: Record<string, string>;
}

export function parseManifest(yamlText: string): ManifestObject[] {
  return parseAllDocuments(yamlText).map((document) => document.toJS() as ManifestObject).filter((object) => object !== null);
}

export function objectOf(objects: readonly ManifestObject[], kind: string, nameSuffix: string): ManifestObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name.endsWith(nameSuffix));
  if (!found) throw new Error(`no ${kind} named *${nameSuffix} in the manifest`);
  return found;
}

export function containerOf(job: ManifestObject): Container {
  const spec = job.spec as { template: { spec: { containers: Container[] } } };
  return spec.template.spec.containers[0]!;
}

export interface PodMapping {
  objects: readonly ManifestObject[];
  /** Mount path → local folder. */
  mounts: Record<string, string>;
  /** The Service's name and the port the manifest gave it → where it listens here. */
  service: { name: string; basePort: number; localBasePort: number };
  /** The Indexed Job's completion index, for a driver pod. */
  index?: number;
}

/** The process a pod of `job` would run, on this machine. */
export function localPod(job: ManifestObject, mapping: PodMapping): LocalPod {
  const container = containerOf(job);
  const secrets = new Map(mapping.objects.filter((object) => object.kind === 'Secret').map((object) => [object.metadata.name, object.stringData as Record<string, string>]));
  const env: Record<string, string> = {};
  for (const entry of container.env) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom?.secretKeyRef) env[entry.name] = secrets.get(entry.valueFrom.secretKeyRef.name)![entry.valueFrom.secretKeyRef.key]!;
    else if (entry.valueFrom?.fieldRef?.fieldPath.includes('job-completion-index')) env[entry.name] = String(mapping.index);
    else throw new Error(`env ${entry.name}: a source this simulation does not know`);
  }
  const { name, basePort, localBasePort } = mapping.service;
  const args = container.args.map((arg, position, all) => {
    let value = arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, variable: string) => env[variable] ?? `$(${variable})`);
    const mount = container.volumeMounts.find((each) => value === each.mountPath || value.startsWith(`${each.mountPath}/`));
    if (mount) value = `${mapping.mounts[mount.mountPath]}${value.slice(mount.mountPath.length)}`;
    value = value.replace(`http://${name}:${basePort}`, `http://127.0.0.1:${localBasePort}`);
    if (all[position - 1] === '--host' && value === '0.0.0.0') return '127.0.0.1';
    if (all[position - 1] === '--advertise' && value === name) return '127.0.0.1';
    if (all[position - 1] === '--base-port' && value === String(basePort)) return String(localBasePort);
    return value;
  });
  return { args, env };
}
