/**
 * A bundle's access policy: which Connections and Variables its DAG files may read through
 * the Execution API. A bundle with no policy reads everything (so an upgrade changes nothing
 * until an operator sets one); a policy lists what is allowed, nothing else is.
 */

export interface AccessPolicy {
  bundleName: string;
  connectionIds: string[];
  variableKeys: string[];
}

export type SecretKind = 'connection' | 'variable';

/** `warehouse` allows exactly that id, `team_a.*` every id starting `team_a.`, `*` all. */
export function entryMatches(entry: string, id: string): boolean {
  return entry.endsWith('*') ? id.startsWith(entry.slice(0, -1)) : entry === id;
}

export function policyAllows(policy: AccessPolicy | undefined, kind: SecretKind, id: string): boolean {
  if (!policy) return true;
  const entries = kind === 'connection' ? policy.connectionIds : policy.variableKeys;
  return entries.some((entry) => entryMatches(entry, id));
}

/** The 403's detail: names the id, the bundle and where the rule comes from. */
export function deniedDetail(kind: SecretKind, id: string, bundleName: string): string {
  const what = kind === 'connection' ? `connection '${id}'` : `variable '${id}'`;
  return `${what} is not allowed by the access policy of bundle '${bundleName}' (see: pnpm dagproc policy show --bundle ${bundleName})`;
}
