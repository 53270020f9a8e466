import { describe, expect, it } from 'vitest';
import { loadServerConfig } from './config.ts';

const base = { DAGPROC_JWT_SECRET: 'dagproc-test-secret-0123456789-abcdefghijklmnop' };

describe('DAGPROC_API_APPS', () => {
  it('mounts every app by default', () => {
    expect(loadServerConfig(base).apps).toEqual(['dag-processing', 'execution', 'api']);
  });

  it('takes a comma-separated subset, spaces and repeats allowed', () => {
    expect(loadServerConfig({ ...base, DAGPROC_API_APPS: 'dag-processing, execution,dag-processing' }).apps).toEqual(['dag-processing', 'execution']);
    expect(loadServerConfig({ ...base, DAGPROC_API_APPS: 'api' }).apps).toEqual(['api']);
  });

  it('refuses an unknown app with one line naming it', () => {
    expect(() => loadServerConfig({ ...base, DAGPROC_API_APPS: 'dag-processing,scheduler' })).toThrow(
      'DAGPROC_API_APPS: unknown app "scheduler"; must be a comma-separated list of dag-processing, execution, api (got "dag-processing,scheduler")',
    );
  });

  it('refuses a list that names no app', () => {
    expect(() => loadServerConfig({ ...base, DAGPROC_API_APPS: ' , ' })).toThrow(/^DAGPROC_API_APPS: names no app; /);
  });
});
