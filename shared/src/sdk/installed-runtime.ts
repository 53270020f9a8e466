import { describeType, didYouMean, quote } from '../dag/problems.ts';
import { KEY_MAX_LENGTH, KEY_PATTERN } from '../dag/validate.ts';
import { RUNTIME_GLOBAL, type DagprocRuntime } from './runtime.ts';

/**
 * The runtime the parse isolate put on this realm's global object, or undefined outside the
 * processor (plain node, unit tests). Looked up on every call: the isolate installs it after
 * the SDK is evaluated, and tests swap it.
 */
export function installedRuntime(): DagprocRuntime | undefined {
  const runtime = (globalThis as Record<string, unknown>)[RUNTIME_GLOBAL];
  return runtime === undefined || runtime === null ? undefined : (runtime as DagprocRuntime);
}

/**
 * Checks a Variable key or Connection id before it goes to the server (the Execution API's
 * rule), so a typo fails here with the caller's name rather than as an HTTP 400.
 */
export function checkLookupKey(method: string, what: string, key: unknown): string {
  if (typeof key !== 'string') throw new TypeError(`${method}(): the ${what} must be a string, got ${describeType(key)}`);
  if (key === '' || key.length > KEY_MAX_LENGTH || !KEY_PATTERN.test(key)) {
    throw new TypeError(`${method}(${quote(key)}): not a valid ${what}: 1-${KEY_MAX_LENGTH} letters, digits, '.', '_' or '-'`);
  }
  return key;
}

/** The options object of a lookup, refusing keys it does not know (typos would be silently ignored). */
export function checkLookupOptions(call: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${call}: options must be an object, got ${describeType(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = didYouMean(key, known);
      throw new TypeError(`${call}: unknown option ${quote(key)}${hint === '' ? '' : `: ${hint}`}`);
    }
  }
  return options as Record<string, unknown>;
}
