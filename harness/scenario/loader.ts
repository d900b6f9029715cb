/**
 * Loads scenarios from YAML or TypeScript files and folders, validating each against the one
 * schema. Errors name the file, the path inside it (with the line for YAML) and what was expected.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join, relative, resolve } from 'node:path';
import { createJiti } from 'jiti';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { OrdealError, type ErrorCode } from '../../core/errors.js';
import { scenarioJsonSchema, scenarioSchema, type Scenario } from '../../core/scenario-schema.js';

export interface LoadedScenario {
  /** The file it came from, as given (relative paths stay relative). */
  file: string;
  scenario: Scenario;
  /** The data as written, before defaults and unit conversion (saved with the run for re-scoring). */
  input: unknown;
}

const SCENARIO_EXTENSIONS = new Set(['.yaml', '.yml', '.ts', '.mts', '.js', '.mjs']);

/** Expands files and folders (one level deep, sorted) into scenario files. */
export async function findScenarioFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new OrdealError('ORDEAL_ERR_SCENARIO_NOT_FOUND', `${path}: no such file or folder`);
    if (info.isDirectory()) {
      const entries = (await readdir(path)).filter((name) => SCENARIO_EXTENSIONS.has(extname(name)) && !name.endsWith('.d.ts'));
      if (entries.length === 0) throw new OrdealError('ORDEAL_ERR_SCENARIO_NOT_FOUND', `${path}: folder holds no scenario files`);
      files.push(...entries.sort().map((name) => join(path, name)));
    } else {
      files.push(path);
    }
  }
  return files;
}

/** Loads and validates every scenario in the given files and folders; names must be unique. */
export async function loadScenarios(paths: readonly string[]): Promise<LoadedScenario[]> {
  const files = await findScenarioFiles(paths);
  const loaded: LoadedScenario[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const { scenario, input } = await loadScenarioWithInput(file);
    const previous = seen.get(scenario.name);
    if (previous) {
      throw new OrdealError('ORDEAL_ERR_SCENARIO_DUPLICATE_NAME', `${file}: scenario name "${scenario.name}" is also used by ${previous}`);
    }
    seen.set(scenario.name, file);
    loaded.push({ file, scenario, input });
  }
  return loaded;
}

export async function loadScenarioFile(file: string): Promise<Scenario> {
  return (await loadScenarioWithInput(file)).scenario;
}

/** The validated scenario and the data as written. */
export async function loadScenarioWithInput(file: string): Promise<{ scenario: Scenario; input: unknown }> {
  const extension = extname(file);
  if (extension === '.yaml' || extension === '.yml') return loadYamlScenario(file);
  if (SCENARIO_EXTENSIONS.has(extension)) return loadModuleScenario(file);
  throw new OrdealError('ORDEAL_ERR_SCENARIO_NOT_FOUND', `${file}: not a scenario file (expected .yaml, .yml or .ts)`);
}

async function loadYamlScenario(file: string): Promise<{ scenario: Scenario; input: unknown }> {
  const { input, lineOf } = await readYamlFile(file, { notFound: 'ORDEAL_ERR_SCENARIO_NOT_FOUND', parse: 'ORDEAL_ERR_SCENARIO_PARSE' });
  return { scenario: validate(file, input, lineOf), input };
}

/** A line finder for a YAML file's paths: where a field (or the nearest existing parent) is written. */
export type LineFinder = (path: ReadonlyArray<PropertyKey>, key?: string) => number | undefined;

/**
 * Reads a YAML file as plain data, with a line finder for its paths; duplicate keys are errors.
 * @throws OrdealError `codes.notFound` when unreadable, `codes.parse` naming the line and column of the first syntax error
 */
export async function readYamlFile(file: string, codes: { notFound: ErrorCode; parse: ErrorCode }): Promise<{ input: unknown; lineOf: LineFinder }> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new OrdealError(codes.notFound, `${file}: cannot read (${(error as Error).message})`, { cause: error });
  });
  if (looksBinary(text)) throw new OrdealError(codes.parse, `${file}: not a YAML file (it holds binary data)`);
  const lineCounter = new LineCounter();
  // logLevel 'error': the parser's warnings (a map used as a key) would print past the CLI as a
  // Node warning; such a key becomes text the schema then names as an unknown field.
  const document = withinLimits(file, codes.parse, () => parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'error' }));
  if (document.errors.length > 0) {
    const first = document.errors[0]!;
    const position = lineCounter.linePos(first.pos[0]);
    // The parser reports running out of stack as a syntax error: it is the nesting, not the syntax.
    const what = first.message.startsWith('Maximum call stack') ? 'nested too deeply to read; a scenario needs only a few levels' : first.message.split('\n')[0];
    throw new OrdealError(codes.parse, `${file}:${position.line}:${position.col}: ${what}`, { cause: first });
  }
  const input = withinLimits(file, codes.parse, () => document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown);
  return { input, lineOf: (path, key) => yamlLine(document, lineCounter, path, key) };
}

/** How many times aliases may be expanded in one file: enough for any scenario, not for an alias bomb. */
const MAX_ALIAS_COUNT = 1000;

/** NUL bytes, or text that is mostly not text: not something a person wrote as YAML. */
function looksBinary(text: string): boolean {
  if (text.includes('\u0000')) return true;
  const sample = text.slice(0, 8192);
  let replaced = 0;
  for (const char of sample) if (char === '\uFFFD') replaced++;
  return sample.length > 0 && replaced / sample.length > 0.1;
}

/**
 * Runs a YAML step whose input decides its cost: aliases expanded past the limit (an alias bomb)
 * and nesting too deep for the parser's stack are refused as the file's fault, not Ordeal's.
 */
function withinLimits<T>(file: string, code: ErrorCode, step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (error instanceof RangeError) throw new OrdealError(code, `${file}: nested too deeply to read (${error.message}); a scenario needs only a few levels`, { cause: error });
    if (error instanceof ReferenceError && /alias/i.test(error.message)) {
      throw new OrdealError(code, `${file}: its aliases expand past ${MAX_ALIAS_COUNT} copies (an alias bomb?): ${error.message}`, { cause: error });
    }
    throw error;
  }
}

async function loadModuleScenario(file: string): Promise<{ scenario: Scenario; input: unknown }> {
  let exported: unknown;
  try {
    const jiti = createJiti(import.meta.url, { moduleCache: false });
    exported = await jiti.import(resolve(file), { default: true });
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_SCENARIO_PARSE', `${file}: cannot load module (${(error as Error).message})`, { cause: error });
  }
  if (exported === undefined) {
    throw new OrdealError('ORDEAL_ERR_SCENARIO_INVALID', `${file}: expected a default export made with defineScenario({...})`);
  }
  // Round-trip through JSON so the saved input is plain data, as it would be from YAML.
  const input: unknown = JSON.parse(JSON.stringify(exported));
  return { scenario: validate(file, input), input };
}

/** Validates raw data as a scenario from `file`; throws ORDEAL_ERR_SCENARIO_INVALID naming every problem. */
export function validate(file: string, data: unknown, lineOf?: LineFinder): Scenario {
  const result = scenarioSchema.safeParse(data);
  if (result.success) return result.data;
  throw new OrdealError('ORDEAL_ERR_SCENARIO_INVALID', describeProblems(file, result.error.issues, lineOf, allFieldNames), { cause: result.error });
}

/**
 * Schema problems as the CLI shows them, one per line: `file:line: path: what was expected`,
 * unknown fields with a "did you mean" from `fieldNames`; at most ten, then a count.
 */
export function describeProblems(file: string, issues: readonly z.core.$ZodIssue[], lineOf: LineFinder | undefined, fieldNames: () => readonly string[]): string {
  const problems = issues.flatMap((issue) => describeIssue(issue, lineOf, fieldNames));
  const shown = problems.slice(0, 10).map((problem) => `${file}${problem}`);
  if (problems.length > 10) shown.push(`… and ${problems.length - 10} more`);
  return shown.join('\n');
}

function describeIssue(issue: z.core.$ZodIssue, lineOf: LineFinder | undefined, fieldNames: () => readonly string[]): string[] {
  const where = (path: ReadonlyArray<PropertyKey>, key?: string): string => {
    const line = lineOf?.(path, key);
    const shownPath = formatPath(key === undefined ? path : [...path, key]);
    return `${line ? `:${line}` : ''}: ${shownPath || '(top level)'}`;
  };
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const suggestion = suggestField(key, fieldNames());
      return `${where(issue.path, key)}: unknown field "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
    });
  }
  return [`${where(issue.path)}: ${issue.message}`];
}

/** `faults[1].delay.fixed` from ['faults', 1, 'delay', 'fixed']. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === 'number') return `${text}[${part}]`;
    return text === '' ? String(part) : `${text}.${String(part)}`;
  }, '');
}

function yamlLine(document: Document, lineCounter: LineCounter, path: ReadonlyArray<PropertyKey>, key?: string): number | undefined {
  const keys = path.map((part) => (typeof part === 'number' ? part : String(part)));
  let node: unknown = keys.length === 0 ? document.contents : document.getIn(keys, true);
  // Walk back to the nearest node that exists (a missing field is reported at its parent).
  for (let depth = keys.length - 1; node === undefined && depth >= 0; depth--) {
    node = depth === 0 ? document.contents : document.getIn(keys.slice(0, depth), true);
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
    if (pair && isScalar(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]).line;
  }
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  return range ? lineCounter.linePos(range[0]).line : undefined;
}

let knownFields: string[] | undefined;

/** Every property name the scenario schema knows, for "did you mean" hints. */
function allFieldNames(): string[] {
  knownFields ??= fieldNamesOf(scenarioJsonSchema());
  return knownFields;
}

/** Every property name a JSON Schema declares, at any depth. */
export function fieldNamesOf(schema: Record<string, unknown>): string[] {
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'properties' && value && typeof value === 'object') Object.keys(value).forEach((name) => names.add(name));
        visit(value);
      }
    }
  };
  visit(schema);
  return [...names];
}

function suggestField(unknown: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of names) {
    const distance = editDistance(unknown.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(unknown.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** Path relative to the working directory, for messages. */
export function displayPath(file: string): string {
  const shown = relative(process.cwd(), resolve(file));
  return shown.startsWith('..') ? resolve(file) : shown;
}
