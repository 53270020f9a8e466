import { mkdtempSync, realpathSync, renameSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serializedDagOf } from '@dagproc/shared/testing';
import {
  compareStat,
  dagsHashOf,
  IncrementalParsing,
  notStaticReason,
  reparseReason,
  type ParseRecord,
} from './incremental.ts';
import type { LoadedModule, ParseDependencies, ParseOutcome } from './parse-pool.ts';
import { loadedModule } from './testing/fake-pool.ts';

const deps = (overrides: Partial<ParseDependencies> = {}): ParseDependencies => ({
  modules: [],
  readVariablesOrConnections: false,
  externalBuiltins: [],
  failedImports: 0,
  ...overrides,
});

const record = (overrides: Partial<ParseRecord> = {}): ParseRecord => ({
  bundleVersion: null,
  bundleRoot: '/bundle',
  dagsHash: 'h1',
  dependencies: deps(),
  parsedAt: 0,
  ...overrides,
});

describe('the static rule', () => {
  it('a file is static when its last two parses gave the same DAGs and it read nothing outside its modules', () => {
    expect(notStaticReason(record(), record())).toBeNull();
  });

  it('a first parse is never static: it takes two identical parses', () => {
    expect(notStaticReason(undefined, record())).toBe('first parse');
  });

  it('DAGs that differ between the last two parses make the file not static', () => {
    expect(notStaticReason(record({ dagsHash: 'h0' }), record())).toBe('DAGs differ from the previous parse');
  });

  it('a file that reads a Variable or a Connection is never static', () => {
    expect(notStaticReason(record(), record({ dependencies: deps({ readVariablesOrConnections: true }) }))).toBe(
      'reads Variables or Connections',
    );
  });

  it('a file that fails (an import error) is never static', () => {
    expect(notStaticReason(record({ dagsHash: null }), record({ dagsHash: null }))).toBe('import error');
  });

  it('a file that imports fs, the network or os is never static', () => {
    expect(notStaticReason(record(), record({ dependencies: deps({ externalBuiltins: ['node:fs'] }) }))).toBe(
      'imports a builtin that sees outside state',
    );
  });

  it('a file one of whose imports failed (and was caught) is never static: the module may appear', () => {
    expect(notStaticReason(record(), record({ dependencies: deps({ failedImports: 1 }) }))).toBe('an import failed');
  });

  it('a parse without a dependency report (the process died) is never static', () => {
    expect(notStaticReason(record(), record({ dependencies: null }))).toBe('no dependency report');
  });

  it('the DAG hash is canonical: key order does not matter, content does', () => {
    const a = serializedDagOf('a');
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as typeof a;
    const ok = (dags: ParseOutcome['dags']) => dagsHashOf({ dags, importError: null });
    expect(ok([reordered])).toBe(ok([a]));
    expect(ok([{ ...a, tags: ['x'] }])).not.toBe(ok([a]));
    expect(dagsHashOf({ dags: [], importError: { stacktrace: 'Error' } })).toBeNull();
  });
});

describe('when a static file is due regardless of its modules', () => {
  const now = (overrides = {}) => ({ bundleVersion: null, bundleRoot: '/bundle', at: 1_000, staticReparseIntervalMs: 600_000, ...overrides });

  it('nothing moved: not due', () => {
    expect(reparseReason(record({ parsedAt: 0 }), now())).toBeNull();
  });

  it('a new bundle version makes it due', () => {
    expect(reparseReason(record({ bundleVersion: 'abc' }), now({ bundleVersion: 'def' }))).toBe('bundle version changed');
  });

  it('a bundle root that now resolves elsewhere makes it due', () => {
    expect(reparseReason(record(), now({ bundleRoot: '/bundle-v2' }))).toBe('bundle root moved');
  });

  it('the safety interval makes it due', () => {
    expect(reparseReason(record({ parsedAt: 0 }), now({ at: 600_000 }))).toBe('safety interval passed');
  });
});

describe('comparing a module with a fresh stat', () => {
  const old = Date.now() - 60_000;
  const module: LoadedModule = { path: '/b/h.ts', missing: [], dev: 1, ino: 2, mtimeMs: old, size: 10, contentHash: 'x', readAt: old + 10_000 };
  const seen = (overrides = {}) => ({ isFile: true, dev: 1, ino: 2, mtimeMs: old, size: 10, ...overrides });

  it('the same inode, size and an old mtime: unchanged without reading it', () => {
    expect(compareStat(module, seen())).toBe('same');
  });

  it('a gone file, or a directory in its place, changed', () => {
    expect(compareStat(module, null)).toBe('changed');
    expect(compareStat(module, seen({ isFile: false }))).toBe('changed');
  });

  it('another inode (a replaced file, a retargeted symlink) changed', () => {
    expect(compareStat(module, seen({ ino: 3 }))).toBe('changed');
  });

  it('another size changed', () => {
    expect(compareStat(module, seen({ size: 11 }))).toBe('changed');
  });

  it('a moved mtime with the same size is settled by the bytes', () => {
    expect(compareStat(module, seen({ mtimeMs: old + 1 }))).toBe('compare-bytes');
  });

  it('an mtime too close to when the bytes were read is settled by the bytes (same-second edits)', () => {
    const racy = { ...module, readAt: old + 500 };
    expect(compareStat(racy, seen())).toBe('compare-bytes');
  });
});

describe('IncrementalParsing on real files', () => {
  let dir: string;
  let inc: IncrementalParsing;
  const ctx = () => ({ bundleVersion: null, bundleRoot: dir });

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'dagproc-incremental-')));
    writeFileSync(join(dir, 'a.ts'), 'export default 1;\n');
    writeFileSync(join(dir, 'helper.ts'), 'export const x = 1;\n');
    // Files written "long ago", so their stats are trusted (see isRacy).
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'a.ts'), past, past);
    utimesSync(join(dir, 'helper.ts'), past, past);
    inc = new IncrementalParsing({ enabled: true, staticReparseIntervalMs: 600_000 });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function parsedTwice(extra: Partial<ParseDependencies> = {}, files = ['a.ts', 'helper.ts']) {
    for (let i = 0; i < 2; i++) {
      const modules = await Promise.all(files.map((f) => loadedModule(join(dir, f))));
      const outcome: ParseOutcome = { dags: [serializedDagOf('a')], importError: null, durationMs: 1, dependencies: deps({ modules, ...extra }) };
      inc.record('b', 'a.ts', { bundleVersion: null, bundleRoot: dir, outcome, parsedAt: Date.now() });
    }
  }

  const skip = () => inc.canSkip('b', 'a.ts', ctx());
  /** Lets the shared stat observations expire, as a later cycle would. */
  const nextCycle = () => new Promise((r) => setTimeout(r, 1_050));

  it('a static file whose modules did not change is skipped', async () => {
    await parsedTwice();
    expect(inc.isStatic('b', 'a.ts')).toBe(true);
    expect(await skip()).toBe(true);
  });

  it('a file parsed once is not skipped', async () => {
    const modules = [await loadedModule(join(dir, 'a.ts'))];
    inc.record('b', 'a.ts', { bundleVersion: null, bundleRoot: dir, outcome: { dags: [], importError: null, durationMs: 1, dependencies: deps({ modules }) }, parsedAt: Date.now() });
    expect(await skip()).toBe(false);
  });

  it('an edited helper makes the file due', async () => {
    await parsedTwice();
    writeFileSync(join(dir, 'helper.ts'), 'export const x = 22;\n');
    expect(await skip()).toBe(false);
  });

  it('a same-size edit that keeps the mtime (a coarse clock) is caught by the bytes while the mtime is recent', async () => {
    const recent = new Date(Date.now() - 500);
    utimesSync(join(dir, 'helper.ts'), recent, recent);
    await parsedTwice();
    writeFileSync(join(dir, 'helper.ts'), 'export const x = 2;\n');
    utimesSync(join(dir, 'helper.ts'), recent, recent);
    expect(await skip()).toBe(false);
  });

  it('a touch without a change costs a read, then the file is skipped again', async () => {
    await parsedTwice();
    const later = new Date(Date.now() - 30_000);
    utimesSync(join(dir, 'helper.ts'), later, later);
    expect(await skip()).toBe(true);
  });

  it('a file replaced by a rename (another inode) makes the file due, even with the same bytes', async () => {
    await parsedTwice();
    writeFileSync(join(dir, 'helper.tmp'), 'export const x = 1;\n');
    renameSync(join(dir, 'helper.tmp'), join(dir, 'helper.ts'));
    expect(await skip()).toBe(false);
  });

  it('a deleted helper makes the file due', async () => {
    await parsedTwice();
    unlinkSync(join(dir, 'helper.ts'));
    expect(await skip()).toBe(false);
  });

  it('a module appearing where an import looked and found none makes the file due', async () => {
    for (let i = 0; i < 2; i++) {
      const helper = { ...(await loadedModule(join(dir, 'helper.ts'))), missing: [join(dir, 'helper.js')] };
      const modules = [await loadedModule(join(dir, 'a.ts')), helper];
      inc.record('b', 'a.ts', { bundleVersion: null, bundleRoot: dir, outcome: { dags: [], importError: null, durationMs: 1, dependencies: deps({ modules }) }, parsedAt: Date.now() });
    }
    expect(await skip()).toBe(true);
    writeFileSync(join(dir, 'helper.js'), 'export const x = 3;\n');
    await nextCycle();
    expect(await skip()).toBe(false);
  });

  it('an edit right after a check is seen at once when an event names the path', async () => {
    await parsedTwice();
    expect(await skip()).toBe(true);
    writeFileSync(join(dir, 'helper.ts'), 'export const x = 99;\n');
    inc.invalidate([join(dir, 'helper.ts')]);
    expect(await skip()).toBe(false);
  });

  it('a retargeted symlink makes the file due', async () => {
    writeFileSync(join(dir, 'v1.ts'), 'export const v = 1;\n');
    writeFileSync(join(dir, 'v2.ts'), 'export const v = 1;\n');
    symlinkSync(join(dir, 'v1.ts'), join(dir, 'current.ts'));
    const past = new Date(Date.now() - 60_000);
    for (const f of ['v1.ts', 'v2.ts']) utimesSync(join(dir, f), past, past);
    await parsedTwice({}, ['a.ts', 'current.ts']);
    expect(await skip()).toBe(true);
    unlinkSync(join(dir, 'current.ts'));
    symlinkSync(join(dir, 'v2.ts'), join(dir, 'current.ts'));
    await nextCycle();
    expect(await skip()).toBe(false);
  });

  it('a file reading a Variable is never skipped', async () => {
    await parsedTwice({ readVariablesOrConnections: true });
    expect(await skip()).toBe(false);
  });

  it('a bundle version change makes every static file due', async () => {
    await parsedTwice();
    expect(await inc.canSkip('b', 'a.ts', { bundleVersion: 'v2', bundleRoot: dir })).toBe(false);
  });

  it('after the safety interval a static file is due', async () => {
    inc = new IncrementalParsing({ enabled: true, staticReparseIntervalMs: 1 });
    await parsedTwice();
    await new Promise((r) => setTimeout(r, 5));
    expect(await skip()).toBe(false);
  });

  it('switched off, nothing is skipped', async () => {
    inc = new IncrementalParsing({ enabled: false, staticReparseIntervalMs: 600_000 });
    await parsedTwice();
    expect(await skip()).toBe(false);
  });

  it('names the files that loaded a path, or looked for a module there', async () => {
    await parsedTwice();
    expect(inc.dependents(join(dir, 'helper.ts'))).toEqual([{ bundleName: 'b', relativeFileloc: 'a.ts' }]);
    expect(inc.dependents(join(dir, 'other.ts'))).toEqual([]);
    inc.forgetMissing('b', []);
    expect(inc.dependents(join(dir, 'helper.ts'))).toEqual([]);
  });
});
