/**
 * Small helpers for telling a DAG author exactly what is wrong. Plain ECMAScript only: the SDK
 * evaluates this inside a bare `vm` context (no Node globals), and the server reuses it.
 */

/** A checked value, or the reason it was refused (a phrase a caller places in a sentence). */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

export const accept = <T>(value: T): Checked<T> => ({ ok: true, value });
export const refuse = (problem: string): { ok: false; problem: string } => ({ ok: false, problem });

const QUOTE_LIMIT = 80;

/** `'text'`, shortened, with control characters escaped so a message stays on one line. */
export function quote(text: string): string {
  const short = text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text;
  return `'${short.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}'`;
}

/**
 * What a value is, in words, for "expected X, got Y". Works on values from any realm (the
 * parse isolate hands the SDK objects made in a separate `vm` context), so it never relies on
 * `instanceof`.
 */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return `the number ${value}`;
  }
  if (typeof value === 'string') return `the string ${quote(value)}`;
  if (typeof value === 'boolean') return `${value}`;
  if (typeof value === 'bigint') return 'a bigint';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  if (tag === 'Date') return 'a Date';
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || Object.getPrototypeOf(proto) === null) return tag === 'Object' ? 'an object' : `a ${tag}`;
  const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
  const name = typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : tag;
  return `a ${name} instance`;
}

/** `did you mean 'x'?` when one candidate is close to `given`, else ''. Computed only on error. */
export function didYouMean(given: string, candidates: readonly string[]): string {
  const needle = given.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(needle.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(needle, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === undefined ? '' : `did you mean ${quote(best)}?`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Why a string cannot be stored as-is, or null. PostgreSQL's jsonb refuses NUL and unpaired
 * UTF-16 surrogates, so such text would fail on the server long after the file parsed.
 */
export function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'contains a NUL character';
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)) {
    return 'contains an unpaired UTF-16 surrogate';
  }
  return null;
}
