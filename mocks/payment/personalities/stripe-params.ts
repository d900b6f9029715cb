/**
 * Stripe's request parameters: form-encoded with nested keys, as stripe-node writes them
 * (`metadata[order_id]=…`, `payment_method_types[0]=card`, `expand[]=latest_charge`; both majors
 * leave the brackets unencoded), in the body of a POST or the query of a GET. Parsed into a tree
 * of strings, objects and arrays; a JSON object body (what the harness's own cashier client sends)
 * is read as the same tree with its scalars as strings.
 */
import { asObject } from '../../mock-types.js';

export type ParamValue = string | ParamValue[] | ParamObject;
export interface ParamObject {
  [key: string]: ParamValue;
}

/** The bracketed path of a form key: `a[b][0]` → `['a', 'b', '0']`; `a[]` → `['a', '']`; undefined when malformed. */
function keyPath(key: string): string[] | undefined {
  const open = key.indexOf('[');
  if (open < 0) return [key];
  const path = [key.slice(0, open)];
  let rest = key.slice(open);
  while (rest !== '') {
    const match = /^\[([^\]]*)\]/.exec(rest);
    if (!match) return undefined;
    path.push(match[1] ?? '');
    rest = rest.slice(match[0].length);
  }
  return path;
}

/** A fresh object with no prototype, so names like `__proto__` are plain keys. */
function emptyObject(): ParamObject {
  return Object.create(null) as ParamObject;
}

/** Objects whose keys are all indices become arrays (in index order), recursively. */
function settle(value: ParamValue): ParamValue {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  for (const key of keys) value[key] = settle(value[key] as ParamValue);
  if (keys.length > 0 && keys.every((key) => /^\d+$/.test(key))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((key) => value[key] as ParamValue);
  }
  return value;
}

/** Form pairs as a parameter tree; the first value of a repeated key wins, a malformed key is dropped. */
export function parseForm(text: string): ParamObject {
  const root = emptyObject();
  for (const [key, value] of new URLSearchParams(text)) {
    const path = keyPath(key);
    if (!path || path[0] === '') continue;
    let node: ParamObject = root;
    for (let index = 0; index < path.length; index++) {
      let segment = path[index] as string;
      // `a[]`: the next free index.
      if (segment === '') segment = String(Object.keys(node).length);
      const last = index === path.length - 1;
      const existing = node[segment];
      if (last) {
        if (existing === undefined) node[segment] = value;
        break;
      }
      if (existing === undefined) {
        const child = emptyObject();
        node[segment] = child;
        node = child;
      } else if (typeof existing === 'object' && !Array.isArray(existing)) {
        node = existing;
      } else {
        // `a=1&a[b]=2`: the key already holds a value; the later, deeper one is dropped.
        break;
      }
    }
  }
  return settle(root) as ParamObject;
}

/** A JSON value as a parameter tree: scalars as their text (null as ''), objects and arrays kept. */
function fromJson(value: unknown): ParamValue {
  if (Array.isArray(value)) return value.map(fromJson);
  const object = asObject(value);
  if (object) {
    const tree = emptyObject();
    for (const [key, child] of Object.entries(object)) tree[key] = fromJson(child);
    return tree;
  }
  return value === null || value === undefined ? '' : String(value as string | number | boolean);
}

/** A request's parameters: the query of a GET, a form or JSON object body of a POST. */
export function requestParams(request: { method: string; body: unknown; rawBody: string; target: string; headers: Readonly<Record<string, string | undefined>> }): ParamObject {
  if (request.method === 'GET' || request.method === 'DELETE') {
    const query = request.target.indexOf('?');
    return query < 0 ? emptyObject() : parseForm(request.target.slice(query + 1));
  }
  const type = (request.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('json')) {
    const tree = fromJson(request.body);
    return typeof tree === 'object' && !Array.isArray(tree) ? tree : emptyObject();
  }
  return parseForm(request.rawBody);
}

/** The parameters in a canonical text (keys sorted at every level): equal for the same parameters in any order. */
export function fingerprint(params: ParamValue): string {
  if (typeof params === 'string') return JSON.stringify(params);
  if (Array.isArray(params)) return `[${params.map(fingerprint).join(',')}]`;
  return `{${Object.keys(params)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${fingerprint(params[key] as ParamValue)}`)
    .join(',')}}`;
}

/** A string parameter (undefined when absent or not a string). */
export function stringParam(params: ParamObject, name: string): string | undefined {
  const value = params[name];
  return typeof value === 'string' ? value : undefined;
}

/** A nested object parameter such as `metadata` (undefined when absent or not an object). */
export function objectParam(params: ParamObject, name: string): ParamObject | undefined {
  const value = params[name];
  return value !== undefined && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}

/** A list of strings such as `payment_method_types` or `expand` (an object of indices counts; undefined when absent). */
export function listParam(params: ParamObject, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  const items = Array.isArray(value) ? value : typeof value === 'object' ? Object.values(value) : [value];
  return items.filter((item): item is string => typeof item === 'string');
}

/** A metadata object's string values (Stripe metadata is string → string; an empty value unsets a key). */
export function metadataOf(params: ParamObject): Record<string, string> {
  const metadata = Object.create(null) as Record<string, string>;
  const object = objectParam(params, 'metadata');
  if (!object) return metadata;
  for (const [key, value] of Object.entries(object)) if (typeof value === 'string' && value !== '') metadata[key] = value;
  return metadata;
}

/** Stripe's integers: decimal digits only. */
export function integerParam(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** Stripe's booleans as forms carry them. */
export function booleanParam(text: string | undefined): boolean | undefined {
  return text === 'true' ? true : text === 'false' ? false : undefined;
}
