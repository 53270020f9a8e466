import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessPolicyCollection, accessPolicyResponse } from '@dagproc/shared/schemas/api';
import { startApiTest, type ApiTest } from './testing.ts';

let api: ApiTest;

beforeAll(async () => {
  api = await startApiTest();
});
afterAll(() => api.close());

const path = '/bundles/team-a/accessPolicy';

describe('bundle access policies', () => {
  it('a bundle with no policy answers 404 saying it is unrestricted', async () => {
    expect(await api.get(path)).toMatchObject({
      status: 404,
      body: { detail: "bundle 'team-a' has no access policy: its DAG files may read every Connection and Variable" },
    });
  });

  it('PUT sets the policy (201), then replaces it (200), lists deduplicated and sorted', async () => {
    const first = await api.call('PUT', path, { body: { connectionIds: ['warehouse', 'team_a.*', 'warehouse'], variableKeys: [] } });
    expect(first.status).toBe(201);
    expect(accessPolicyResponse.parse(first.body)).toMatchObject({ bundleName: 'team-a', connectionIds: ['team_a.*', 'warehouse'], variableKeys: [], updatedBy: 'admin' });
    const second = await api.call('PUT', path, { body: { connectionIds: ['warehouse'], variableKeys: ['target'] } });
    expect(second).toMatchObject({ status: 200, body: { connectionIds: ['warehouse'], variableKeys: ['target'] } });
    expect(await api.get(path)).toMatchObject({ status: 200, body: { connectionIds: ['warehouse'], variableKeys: ['target'] } });
  });

  it('lists every policy', async () => {
    await api.call('PUT', '/bundles/team-b/accessPolicy', { body: { connectionIds: [], variableKeys: ['*'] } });
    const list = accessPolicyCollection.parse((await api.get('/accessPolicies')).body);
    expect(list.totalEntries).toBe(2);
    expect(list.accessPolicies.map((p) => p.bundleName)).toEqual(['team-a', 'team-b']);
  });

  it('DELETE removes it (204), then 404; every write is audited with the lists', async () => {
    expect((await api.call('DELETE', path)).status).toBe(204);
    expect((await api.call('DELETE', path)).status).toBe(404);
    const audit = await api.sql("select event, owner, bundle_name, extra from audit_log where event like 'access_policy.%' and bundle_name = 'team-a' order by id");
    expect(audit).toEqual([
      { event: 'access_policy.put', owner: 'admin', bundle_name: 'team-a', extra: { connectionIds: ['team_a.*', 'warehouse'], variableKeys: [] } },
      { event: 'access_policy.put', owner: 'admin', bundle_name: 'team-a', extra: { connectionIds: ['warehouse'], variableKeys: ['target'] } },
      { event: 'access_policy.delete', owner: 'admin', bundle_name: 'team-a', extra: null },
    ]);
  });
});

describe('bundle access policies: bad input', () => {
  it.each([
    [{ connectionIds: ['a'] }, 'variableKeys: required'],
    [{ connectionIds: ['a b'], variableKeys: [] }, 'connectionIds.0: an entry is an id or key, or a prefix ending in "*"'],
    [{ connectionIds: ['a*b'], variableKeys: [] }, 'connectionIds.0:'],
    [{ connectionIds: 'a', variableKeys: [] }, 'connectionIds: expected array'],
    [{ connectionIds: [], variableKeys: [], extra: 1 }, 'extra: unknown field'],
  ])('%j is a 400: %s', async (body, detail) => {
    const res = await api.call('PUT', '/bundles/team-c/accessPolicy', { body });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(detail);
    expect(await api.sql("select * from bundle_access_policy where bundle_name = 'team-c'")).toEqual([]);
  });

  it('a malformed bundle name is a 400', async () => {
    expect(await api.get('/bundles/-bad/accessPolicy')).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/^bundleName: /) } });
  });
});
