/**
 * Loading a target profile (`--target examples/form-shop/target.yaml`): validate it against the one
 * schema, resolve its paths against its own folder, load its adapter, and — per scenario run —
 * expand the `${…}` placeholders of the shop's environment with the run's mock URLs and keys.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { createJiti } from 'jiti';
import { OrdealError } from '../../core/errors.js';
import { targetProfileJsonSchema, targetProfileSchema, type TargetProfile } from '../../core/target-schema.js';
import type { Scenario } from '../../core/scenario-schema.js';
import { decidedWithinMs, settleMsOf } from '../score/credit.js';
import { describeProblems, fieldNamesOf, readYamlFile, type LineFinder } from '../scenario/loader.js';
import type { TargetAdapter, TargetContext, TargetObservability } from './adapter.js';
import { contractV1Target } from './contract-v1.js';
import { adapterOf, isTargetDefinition, notATargetDefinition } from './define.js';
import { declarativeTarget, loadDeclarativeAdapter } from './declarative.js';

export interface LoadedTarget {
  /** The profile file, as given. */
  file: string;
  /** Its folder: the profile's relative paths start here. */
  dir: string;
  profile: TargetProfile;
  /** Binds the profile's adapter to one scenario run. */
  createAdapter(context: TargetContext): TargetAdapter;
}

/**
 * Loads and validates a profile and its adapter.
 * @throws OrdealError ORDEAL_ERR_TARGET_PROFILE naming the file, the path and what was expected;
 *   ORDEAL_ERR_TARGET_ADAPTER when the adapter cannot be loaded
 */
export async function loadTarget(file: string): Promise<LoadedTarget> {
  const { input, lineOf } = await readYamlFile(file, { notFound: 'ORDEAL_ERR_TARGET_PROFILE', parse: 'ORDEAL_ERR_TARGET_PROFILE' });
  const profile = validateProfile(file, input, lineOf);
  const dir = dirname(resolve(file));
  const observes = observabilityOf(profile);
  const createAdapter = await adapterFactory(profile.adapter, dir, observes);
  return { file, dir, profile, createAdapter };
}

/** Validates raw data as a target profile from `file`. */
export function validateProfile(file: string, data: unknown, lineOf?: LineFinder): TargetProfile {
  const result = targetProfileSchema.safeParse(data);
  if (result.success) return result.data;
  throw new OrdealError('ORDEAL_ERR_TARGET_PROFILE', describeProblems(file, result.error.issues, lineOf, profileFieldNames), { cause: result.error });
}

let profileFields: string[] | undefined;
function profileFieldNames(): string[] {
  profileFields ??= fieldNamesOf(targetProfileJsonSchema());
  return profileFields;
}

export function observabilityOf(profile: TargetProfile): TargetObservability {
  return { ...profile.observes, notify: [...profile.observes.notify] };
}

async function adapterFactory(adapter: string, dir: string, observes: TargetObservability): Promise<(context: TargetContext) => TargetAdapter> {
  if (adapter === 'contract-v1') return (context) => contractV1Target(context, observes);
  const path = resolve(dir, adapter);
  const extension = extname(path);
  if (extension === '.yaml' || extension === '.yml') {
    const spec = await loadDeclarativeAdapter(path);
    return (context) => declarativeTarget(spec, context, observes);
  }
  if (!['.ts', '.mts', '.js', '.mjs'].includes(extension)) {
    throw new OrdealError('ORDEAL_ERR_TARGET_ADAPTER', `${path}: an adapter is "contract-v1", a .yaml declarative adapter, or a .ts/.js module`);
  }
  await readFile(path).catch((error: unknown) => {
    throw new OrdealError('ORDEAL_ERR_TARGET_ADAPTER', `${path}: cannot read (${(error as Error).message})`, { cause: error });
  });
  let exported: unknown;
  try {
    const jiti = createJiti(import.meta.url, { moduleCache: false });
    exported = await jiti.import(path, { default: true });
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_TARGET_ADAPTER', `${path}: cannot load module (${(error as Error).message})`, { cause: error });
  }
  if (!isTargetDefinition(exported)) throw notATargetDefinition(path);
  const definition = exported;
  return (context) => adapterOf(definition, context, observes);
}

/**
 * A scenario as run against the profile: its payment channels, and the shop's own timers (unless
 * the shop takes the scenario's in ORDEAL_SHOP_CONFIG) — so followed orders, stage deadlines and
 * the settle period are the shop's.
 */
export { decidedWithinMs } from '../score/credit.js';

export function scenarioForTarget(scenario: Scenario, profile: TargetProfile): Scenario {
  const timers = profile.timers;
  const ownTimers = !profile.shopConfig && timers !== undefined;
  const resolved: Scenario = {
    ...scenario,
    ...(profile.payment ? { provider: { protocol: profile.payment.protocol, channels: [...profile.payment.channels] } } : {}),
    ...(ownTimers ? { shop: { orderTtl: timers.paymentWindow, reconcileAfter: timers.reconcileAfter, reconcileEvery: timers.reconcileEvery } } : {}),
  };
  // Long enough for every deadline to be decided on the shop's clock (settle ends early once all is settled).
  return ownTimers ? { ...resolved, settle: Math.max(settleMsOf(resolved), decidedWithinMs(resolved)) } : resolved;
}


/** What the `${…}` placeholders of a profile's `start.env` stand for in one scenario run. */
export interface PlaceholderValues {
  /** name → value, e.g. `payment.epay.url`, `stock.url`, `smtp.port`. */
  values: Readonly<Record<string, string>>;
  /** The run's key folder: `${key:NAME}` is a key file's content, `${keyfile:NAME}` its path. */
  keysDir: string;
  /** Placeholders known but without a value here, and why (`needs a fixed port: mocks.ports.stock`). */
  unavailable?: Readonly<Record<string, string>>;
}

const PLACEHOLDER = /\$\{([^}]*)\}/g;

/**
 * The profile's env with every placeholder replaced. `$${` stays a literal `${`.
 * @throws OrdealError ORDEAL_ERR_TARGET_PROFILE naming the variable and the unknown placeholder, with the known ones
 */
export async function expandEnv(file: string, env: Readonly<Record<string, string>>, given: PlaceholderValues): Promise<Record<string, string>> {
  const expanded: Record<string, string> = {};
  for (const [name, template] of Object.entries(env)) {
    let result = '';
    let last = 0;
    for (const match of template.matchAll(PLACEHOLDER)) {
      const start = match.index;
      if (start > 0 && template[start - 1] === '$') {
        result += template.slice(last, start - 1) + match[0];
        last = start + match[0].length;
        continue;
      }
      result += template.slice(last, start) + (await placeholderValue(file, name, match[1]!.trim(), given));
      last = start + match[0].length;
    }
    expanded[name] = result + template.slice(last);
  }
  return expanded;
}

async function placeholderValue(file: string, variable: string, placeholder: string, given: PlaceholderValues): Promise<string> {
  const keyFile = /^(key|keyfile):([\w.-]+)$/.exec(placeholder);
  if (keyFile) {
    const path = join(given.keysDir, keyFile[2]!);
    if (keyFile[1] === 'keyfile') return path;
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch {
      throw new OrdealError('ORDEAL_ERR_TARGET_PROFILE', `${file}: start.env.${variable}: \${${placeholder}} names no key file of this run (see keys/README.txt in the run folder)`);
    }
  }
  const value = given.values[placeholder];
  if (value !== undefined) return value;
  const missing = given.unavailable?.[placeholder];
  if (missing !== undefined) throw new OrdealError('ORDEAL_ERR_TARGET_PROFILE', `${file}: start.env.${variable}: \${${placeholder}} ${missing}`);
  const known = [...Object.keys(given.values).sort(), 'key:FILE', 'keyfile:FILE'].join(', ');
  throw new OrdealError('ORDEAL_ERR_TARGET_PROFILE', `${file}: start.env.${variable}: unknown placeholder \${${placeholder}}; known: ${known}`);
}

/**
 * A `--flaws` list for a profiled shop: ids its profile lists, or `naive` for all of them.
 * @throws OrdealError ORDEAL_ERR_UNKNOWN_FLAW naming the profile's flaws
 */
export function resolveProfileFlaws(target: LoadedTarget, text: string): string[] {
  const ids = Object.keys(target.profile.flaws);
  const result: string[] = [];
  for (const name of text.split(/[\s,]+/).filter((part) => part !== '')) {
    const names = name === 'naive' ? ids : ids.includes(name) ? [name] : undefined;
    if (!names || names.length === 0) {
      const known = ids.length === 0 ? `${target.file} lists no flaws` : `flaws of ${target.profile.name}: ${ids.join(', ')} (or naive: all of them)`;
      throw new OrdealError('ORDEAL_ERR_UNKNOWN_FLAW', `unknown shop flaw "${name}"; ${known}`);
    }
    for (const id of names) if (!result.includes(id)) result.push(id);
  }
  return result;
}
