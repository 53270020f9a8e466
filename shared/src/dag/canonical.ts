import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth and no whitespace, so two values that differ
 * only in key order or formatting have the same text, and so the same hash.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The `dag_hash` of a serialized DAG. */
export function dagHash(serialized: unknown): string {
  return sha256Hex(canonicalJson(serialized));
}
