import { mkdir, mkdtemp, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@dagproc/shared/config/env';
import { createLogger } from '@dagproc/shared/log';
import type { GitBundleConfig, LocalBundleConfig } from '../config.ts';
import { createBundles } from './factory.ts';
import { LocalDagBundle } from './local.ts';
import { BundleUnavailable, type DagBundle } from './types.ts';

let base: string;

beforeEach(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'dagproc-local-')));
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('LocalDagBundle', () => {
  it('has no version, and reports a change only on its first refresh', async () => {
    await mkdir(join(base, 'dags'));
    const bundle = new LocalDagBundle('dags-folder', join(base, 'dags'), 10);
    expect(bundle.kind).toBe('local');
    expect(bundle.refreshIntervalSeconds).toBe(10);
    expect(await bundle.refresh()).toEqual({ version: null, changed: true });
    expect(await bundle.refresh()).toEqual({ version: null, changed: false });
    expect(bundle.root).toBe(join(base, 'dags'));
  });

  it('lists its files, logging what it skips', async () => {
    await mkdir(join(base, 'dags'));
    await mkdir(join(base, 'outside'));
    await writeFile(join(base, 'dags', 'a.ts'), '');
    await writeFile(join(base, 'outside', 'b.ts'), '');
    await symlink(join(base, 'outside', 'b.ts'), join(base, 'dags', 'b.ts'));
    const lines: string[] = [];
    const bundle = new LocalDagBundle('team', join(base, 'dags'), 10, createLogger('test', { write: (l) => lines.push(l) }));
    expect((await bundle.listFiles()).map((f) => f.relativeFileloc)).toEqual(['a.ts']);
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { level: 'warn', bundleName: 'team', relativeFileloc: 'b.ts', reason: expect.stringContaining('outside the bundle') },
    ]);
  });

  it('follows its configured path when a symlink in it is swapped, as git-sync publishes', async () => {
    await mkdir(join(base, 'rev1'));
    await mkdir(join(base, 'rev2'));
    await writeFile(join(base, 'rev1', 'old.ts'), '');
    await writeFile(join(base, 'rev2', 'new.ts'), '');
    await symlink('rev1', join(base, 'current'));
    const bundle = new LocalDagBundle('synced', join(base, 'current'), 10, undefined, join(base, 'rev1'));
    expect(await bundle.refresh()).toEqual({ version: null, changed: true });
    expect(bundle.root).toBe(join(base, 'rev1'));

    await symlink('rev2', join(base, 'next'));
    await rename(join(base, 'next'), join(base, 'current'));
    expect(await bundle.refresh()).toEqual({ version: null, changed: true });
    expect(bundle.root).toBe(join(base, 'rev2'));
    const files = await bundle.listFiles();
    expect(files).toMatchObject([{ relativeFileloc: 'new.ts', absolutePath: join(base, 'rev2', 'new.ts') }]);
  });

  it('fails with BundleUnavailable when its folder is gone, so nothing is taken as deleted', async () => {
    const bundle = new LocalDagBundle('gone', join(base, 'missing'), 10);
    await expect(bundle.refresh()).rejects.toThrow(BundleUnavailable);
    await expect(bundle.listFiles()).rejects.toThrow(`bundle "gone": ${join(base, 'missing')} does not exist`);
  });

  it('fails with BundleUnavailable when its path is a file', async () => {
    await writeFile(join(base, 'file'), '');
    const bundle = new LocalDagBundle('file', join(base, 'file'), 10);
    await expect(bundle.listFiles()).rejects.toThrow(`bundle "file": ${join(base, 'file')} is not a directory`);
  });
});

describe('createBundles', () => {
  const local = (name: string): LocalBundleConfig => ({
    kind: 'local',
    name,
    path: join(base, name),
    configuredPath: join(base, name),
    refreshInterval: 7,
  });
  const git: GitBundleConfig = {
    kind: 'git',
    name: 'repo',
    url: 'https://example.com/r.git',
    branch: null,
    tag: null,
    commit: null,
    subdir: null,
    connId: null,
    refreshInterval: 60,
  };

  it('builds a local bundle per local entry, in order', async () => {
    await mkdir(join(base, 'a'));
    await mkdir(join(base, 'b'));
    const bundles = createBundles([local('a'), local('b')]);
    expect(bundles.map((b) => [b.name, b.kind, b.root, b.refreshIntervalSeconds])).toEqual([
      ['a', 'local', join(base, 'a'), 7],
      ['b', 'local', join(base, 'b'), 7],
    ]);
    expect(bundles[0]).toBeInstanceOf(LocalDagBundle);
  });

  it('refuses a git bundle until a git builder is plugged in', () => {
    expect(() => createBundles([git])).toThrow(ConfigError);
    expect(() => createBundles([git])).toThrow(
      'DAGPROC_BUNDLES: bundle "repo" is a git bundle, and no git bundle builder was given',
    );
  });

  it('hands git entries to the git builder it is given', () => {
    const built: GitBundleConfig[] = [];
    const stub = (config: GitBundleConfig): DagBundle => {
      built.push(config);
      return {
        name: config.name,
        kind: 'git',
        refreshIntervalSeconds: config.refreshInterval,
        root: join(base, 'worktree'),
        refresh: async () => ({ version: 'abc123', changed: true }),
        listFiles: async () => [],
        checkout: () => ({ root: join(base, 'worktree'), version: 'abc123', release() {} }),
      };
    };
    const bundles = createBundles([git], { builders: { local: () => { throw new Error('unused'); }, git: stub } });
    expect(built).toEqual([git]);
    expect(bundles.map((b) => b.kind)).toEqual(['git']);
  });
});
