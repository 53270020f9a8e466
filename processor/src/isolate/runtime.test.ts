import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRuntime, DEFAULT_SDK_ENTRY } from './runtime.ts';

async function fakeRuntimeDir(ownerPid: number): Promise<string> {
  const dir = await mkdtemp(path.join(await realpath(os.tmpdir()), 'dagproc-isolate-'));
  await writeFile(path.join(dir, 'owner.pid'), String(ownerPid));
  return dir;
}

describe('buildRuntime', () => {
  it('builds the child and SDK scripts into a private folder, and removes only folders of dead processors', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = await fakeRuntimeDir(deadPid);
    const live = await fakeRuntimeDir(process.pid);
    const runtime = await buildRuntime(DEFAULT_SDK_ENTRY);
    try {
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(await readFile(runtime.childPath, 'utf8')).toContain('is not available to DAG files');
      expect(await readFile(runtime.sdkPath, 'utf8')).toMatch(/^\(function \(\) \{\n'use strict';/);
    } finally {
      await runtime.remove();
      await rm(live, { recursive: true, force: true });
    }
    expect(existsSync(runtime.dir)).toBe(false);
  });
});
