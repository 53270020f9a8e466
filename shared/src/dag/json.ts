import type { JsonValue } from './model.ts';
import { accept, describeType, refuse, textProblem, type Checked } from './problems.ts';

/**
 * Turns what an author wrote into a JSON value, or names the first path that is not one.
 * Object keys come out sorted at every depth, so two files that differ only in key order
 * serialize to the same bytes (and the same dag_hash).
 */

/** Deep enough for any real params; shallow enough that a pathological value cannot blow the stack. */
const MAX_DEPTH = 64;

export function toJsonValue(value: unknown, path: string): Checked<JsonValue> {
  try {
    return accept(convert(value, path, []));
  } catch (error) {
    if (error instanceof NotJson) return refuse(error.message);
    throw error;
  }
}

/** A plain object whose values are JSON, with keys sorted; `undefined` members are dropped as JSON.stringify does. */
export function toJsonRecord(value: unknown, path: string): Checked<Record<string, JsonValue>> {
  if (!isPlainObject(value)) return refuse(`${path} must be an object of JSON values, got ${describeType(value)}`);
  return toJsonValue(value, path) as Checked<Record<string, JsonValue>>;
}

/** A copy of a JSON value with object keys sorted at every depth. */
export function sortJsonKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortJsonKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortJsonKeys(value[key]!)]),
    );
  }
  return value;
}

/** Freezes a JSON value in place, at every depth, and returns it. */
export function freezeJson<T extends JsonValue>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) freezeJson(item);
    Object.freeze(value);
  }
  return value;
}

/**
 * True for `{}`-style objects from any realm: the prototype is null or a realm's
 * Object.prototype (whose own prototype is null). Class instances, Maps and boxed primitives
 * are refused rather than silently flattened to `{}` by JSON.stringify.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null) return true;
  return Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]';
}

class NotJson extends Error {}

function convert(value: unknown, path: string, ancestors: object[]): JsonValue {
  switch (typeof value) {
    case 'string': {
      const problem = textProblem(value);
      if (problem !== null) throw new NotJson(`${path} ${problem}`);
      return value;
    }
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new NotJson(`${path} is ${describeType(value)}, which JSON cannot hold`);
      // JSON has no negative zero; normalise so the value round-trips unchanged.
      return value === 0 ? 0 : value;
    case 'object':
      break;
    default:
      throw new NotJson(`${path} is ${describeType(value)}, which is not a JSON value`);
  }
  if (value === null) return null;
  if (Object.prototype.toString.call(value) === '[object Date]') {
    const time = Date.prototype.getTime.call(value);
    if (Number.isNaN(time)) throw new NotJson(`${path} is an invalid Date`);
    return Date.prototype.toISOString.call(value);
  }
  if (ancestors.includes(value)) throw new NotJson(`${path} refers back to an enclosing value (a cycle)`);
  if (ancestors.length >= MAX_DEPTH) throw new NotJson(`${path} is nested more than ${MAX_DEPTH} levels deep`);
  ancestors.push(value);
  try {
    if (Array.isArray(value)) {
      const out: JsonValue[] = [];
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (item === undefined) throw new NotJson(`${path}[${i}] is undefined (or a hole), which JSON cannot hold in an array`);
        out.push(convert(item, `${path}[${i}]`, ancestors));
      }
      return out;
    }
    if (!isPlainObject(value)) throw new NotJson(`${path} is ${describeType(value)}; only plain objects, arrays, strings, finite numbers, booleans and null are JSON`);
    const entries: [string, JsonValue][] = [];
    for (const key of Object.keys(value).sort()) {
      const item = value[key];
      if (item === undefined) continue;
      const itemPath = childPath(path, key);
      const keyIssue = textProblem(key);
      if (keyIssue !== null) throw new NotJson(`the key of ${itemPath} ${keyIssue}`);
      entries.push([key, convert(item, itemPath, ancestors)]);
    }
    // fromEntries defines own properties, so a key named "__proto__" stays data.
    return Object.fromEntries(entries);
  } finally {
    ancestors.pop();
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function childPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
