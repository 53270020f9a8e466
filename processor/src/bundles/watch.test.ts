import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync, type FSWatcher, type watch } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@dagproc/shared/log';
import { BundleWatcher, filesAffected, type WatchBatch } from './watch.ts';

let dir: string;
let batches: WatchBatch[];
let logs: Record<string, any>[];
let watcher: BundleWatcher | null;

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'dagproc-watch-')));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'a.ts'), '// a\n');
  batches = [];
  logs = [];
  watcher = null;
});
afterEach(async () => {
  watcher?.close();
  await rm(dir, { recursive: true, force: true });
});

const logger = () => createLogger('processor', { level: 'debug', write: (line) => logs.push(JSON.parse(line)) });

function start(watchFn?: typeof watch) {
  watcher = new BundleWatcher({ bundleName: 'b', logger: logger(), onBatch: (b) => batches.push(b), ...(watchFn ? { watchFn } : {}) });
  watcher.watch(dir);
  return watcher;
}

async function until(check: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('watching a bundle folder', () => {
  it('an edit in a subfolder arrives as one batch naming the file, several writes together', async () => {
    start();
    writeFileSync(join(dir, 'sub', 'a.ts'), '// a1\n');
    writeFileSync(join(dir, 'sub', 'a.ts'), '// a2\n');
    await until(() => batches.length > 0, 'a batch');
    expect([...batches[0]!.paths]).toEqual([join(dir, 'sub', 'a.ts')]);
  });

  it('a new file asks for the bundle to be listed again', async () => {
    start();
    writeFileSync(join(dir, 'new.ts'), '// new\n');
    await until(() => batches.some((b) => b.relist && b.paths.has(join(dir, 'new.ts'))), 'a relisting batch naming the new file');
  });

  it('a folder that cannot be watched (ENOSPC) logs one warning and falls back to listing', () => {
    let calls = 0;
    const refusing = (() => {
      calls++;
      throw Object.assign(new Error('inotify watch limit reached'), { code: 'ENOSPC' });
    }) as unknown as typeof watch;
    const w = start(refusing);
    w.watch(dir);
    expect(calls).toBe(1);
    expect(w.active).toBe(false);
    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ msg: expect.stringContaining('max_user_watches'), error: 'ENOSPC', bundleName: 'b' });
    expect(batches).toEqual([{ paths: new Set(), relist: true }]);
  });

  it('a watcher failing later is closed, logged once, and the bundle listed again', () => {
    const emitter = Object.assign(new EventEmitter(), { close() {} }) as unknown as FSWatcher;
    const w = start((() => emitter) as unknown as typeof watch);
    expect(w.active).toBe(true);
    emitter.emit('error', Object.assign(new Error('gone'), { code: 'EMFILE' }));
    expect(w.active).toBe(false);
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(batches.at(-1)!.relist).toBe(true);
  });
});

describe('which files a batch of events affects', () => {
  const listed = [
    { relativeFileloc: 'dags/a.ts', mtimeMs: 1 },
    { relativeFileloc: 'dags/b.ts', mtimeMs: 2 },
  ];

  it('the DAG files it names and the files that imported a module it names', () => {
    const batch = { paths: new Set(['/r/dags/b.ts', '/r/lib/helper.ts', '/r/README.md']), relist: false };
    const dependents = (p: string) => (p === '/r/lib/helper.ts' ? [{ relativeFileloc: 'dags/a.ts' }] : []);
    expect(filesAffected(batch, '/r', listed, dependents)).toEqual([listed[1], listed[0]]);
  });

  it('a dependent no longer listed is left to the listing', () => {
    const batch = { paths: new Set(['/r/lib/helper.ts']), relist: false };
    expect(filesAffected(batch, '/r', listed, () => [{ relativeFileloc: 'dags/gone.ts' }])).toEqual([]);
  });
});
