import { describe, expect, it } from 'vitest';
import { deniedDetail, entryMatches, policyAllows, type AccessPolicy } from './policy.ts';

const policy: AccessPolicy = { bundleName: 'team-a', connectionIds: ['warehouse', 'team_a.*'], variableKeys: [] };

describe('bundle access policy', () => {
  it('lets a bundle with no policy read anything', () => {
    expect(policyAllows(undefined, 'connection', 'anything')).toBe(true);
    expect(policyAllows(undefined, 'variable', 'anything')).toBe(true);
  });

  it('allows exact ids and prefixes ending in *, and nothing else', () => {
    expect(policyAllows(policy, 'connection', 'warehouse')).toBe(true);
    expect(policyAllows(policy, 'connection', 'team_a.s3')).toBe(true);
    expect(policyAllows(policy, 'connection', 'warehouse2')).toBe(false);
    expect(policyAllows(policy, 'connection', 'team_b.s3')).toBe(false);
  });

  it('allows nothing of a kind whose list is empty, and everything with "*"', () => {
    expect(policyAllows(policy, 'variable', 'warehouse')).toBe(false);
    expect(policyAllows({ ...policy, variableKeys: ['*'] }, 'variable', 'any.key')).toBe(true);
    expect(entryMatches('*', '')).toBe(true);
  });

  it('keeps connection ids and variable keys apart', () => {
    expect(policyAllows({ ...policy, connectionIds: [], variableKeys: ['warehouse'] }, 'connection', 'warehouse')).toBe(false);
  });

  it('names the id, the bundle and the command that shows the policy when it refuses', () => {
    expect(deniedDetail('variable', 'api_key', 'team-a')).toBe(
      "variable 'api_key' is not allowed by the access policy of bundle 'team-a' (see: pnpm dagproc policy show --bundle team-a)",
    );
  });
});
