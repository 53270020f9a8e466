import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDagFileName, listDagFiles } from './files.ts';
import { hashFile } from './hash.ts';
import { anchorPattern } from './ignore-rules.ts';

let root: string;
let outside: string;

beforeEach(async () => {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'dagproc-files-')));
  root = join(base, 'bundle');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
});

afterEach(async () => {
  await rm(dirname(root), { recursive: true, force: true });
});

/** Creates files (relative to `dir`), with their folders. */
async function put(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
}

async function listed(options: Parameters<typeof listDagFiles>[1] = {}): Promise<string[]> {
  return (await listDagFiles(root, options)).map((f) => f.relativeFileloc);
}

describe('which files are DAG files', () => {
  it('lists .ts, .mts, .js and .mjs files, never type declarations or other extensions', async () => {
    await put(root, {
      'a.ts': '',
      'b.mts': '',
      'c.js': '',
      'd.mjs': '',
      'e.d.ts': '',
      'f.d.mts': '',
      'g.cjs': '',
      'h.cts': '',
      'i.tsx': '',
      'j.json': '{}',
      'k.TS': '',
      README: '',
      'nested/deeper/l.ts': '',
    });
    expect(await listed()).toEqual(['a.ts', 'b.mts', 'c.js', 'd.mjs', 'nested/deeper/l.ts']);
    expect(isDagFileName('x.d.ts')).toBe(false);
    expect(isDagFileName('x.d.ts.ts')).toBe(true);
  });

  it('skips node_modules, dot-folders and dot-files at any depth', async () => {
    await put(root, {
      'node_modules/pkg/index.js': '',
      'sub/node_modules/pkg/index.mjs': '',
      '.git/hooks/x.js': '',
      'sub/.cache/y.ts': '',
      '.eslintrc.js': '',
      'sub/.prettierrc.mjs': '',
      'sub/kept.ts': '',
    });
    expect(await listed()).toEqual(['sub/kept.ts']);
  });

  it('reports each file with its absolute path, mtime and size, sorted by relativeFileloc', async () => {
    await put(root, { 'b.ts': 'export {};\n', 'a/z.ts': '', 'a.ts': '12345' });
    const files = await listDagFiles(root);
    expect(files.map((f) => f.relativeFileloc)).toEqual(['a.ts', 'a/z.ts', 'b.ts']);
    const a = files[0]!;
    const stats = await stat(join(root, 'a.ts'));
    expect(a).toEqual({ relativeFileloc: 'a.ts', absolutePath: join(root, 'a.ts'), mtimeMs: stats.mtimeMs, size: 5 });
    expect(files[1]!.absolutePath).toBe(join(root, 'a', 'z.ts'));
  });

  it('leaves out a file whose name could not be stored as a relativeFileloc', async () => {
    await put(root, { 'back\\slash.ts': '', 'fine.ts': '' });
    const skipped: string[] = [];
    expect(await listed({ onSkip: (p, reason) => skipped.push(`${p}: ${reason}`) })).toEqual(['fine.ts']);
    expect(skipped).toEqual(['back\\slash.ts: a file path uses "/" as its separator, never "\\"']);
  });

  it('throws when the root itself cannot be read', async () => {
    await expect(listDagFiles(join(root, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.skipIf(process.getuid?.() === 0)('skips an unreadable folder and reports it', async () => {
    await put(root, { 'locked/a.ts': '', 'open/b.ts': '' });
    await chmod(join(root, 'locked'), 0o000);
    const skipped: string[] = [];
    try {
      expect(await listed({ onSkip: (p, reason) => skipped.push(`${p}: ${reason}`) })).toEqual(['open/b.ts']);
      expect(skipped).toEqual(['locked: cannot be read (EACCES)']);
    } finally {
      await chmod(join(root, 'locked'), 0o755);
    }
  });
});

describe('.dagprocignore', () => {
  it('applies gitignore patterns relative to the folder of each ignore file, deeper files overriding', async () => {
    await put(root, {
      '.dagprocignore': [
        '# generated and scratch files',
        '',
        'scratch/',
        '*.tmp.ts',
        'ignored_*.ts',
        'tmp.ts/',
        'build',
      ].join('\n'),
      'scratch/a.ts': '',
      'sub/scratch/b.ts': '',
      'x.tmp.ts': '',
      'sub/y.tmp.ts': '',
      'tmp.ts/inside.ts': '',
      'sub/tmp.ts': '',
      'ignored_a.ts': '',
      'legacy_old.ts': '',
      'only_here.ts': '',
      'build/g.ts': '',
      'kept.ts': '',

      // CRLF line ends, a negation, an anchored pattern, and a negation of a root pattern.
      'sub/.dagprocignore': 'legacy*.ts\r\n!legacy_keep.ts\r\n/only_here.ts\r\n!ignored_ok.ts\r\n',
      'sub/legacy_old.ts': '',
      'sub/legacy_keep.ts': '',
      'sub/only_here.ts': '',
      'sub/deep/only_here.ts': '',
      'sub/deep/legacy_x.ts': '',
      'sub/ignored_ok.ts': '',
      'sub/ignored_b.ts': '',

      // A folder excluded by the root file, re-included by a deeper one: its files come back.
      'x/.dagprocignore': '!build/\n',
      'x/build/f.ts': '',

      // An ignore file inside an excluded folder cannot bring anything back.
      'scratch/.dagprocignore': '!a.ts\n',
    });
    expect(await listed()).toEqual([
      'kept.ts',
      'legacy_old.ts',
      'only_here.ts',
      'sub/deep/only_here.ts',
      'sub/ignored_ok.ts',
      'sub/legacy_keep.ts',
      'sub/tmp.ts',
      'x/build/f.ts',
    ]);
  });

  it('re-includes with a negation in the same file, as `*` then `!keep.ts`', async () => {
    await put(root, {
      'team/.dagprocignore': '*\n!keep.ts\n',
      'team/keep.ts': '',
      'team/drop.ts': '',
      'team/inner/keep.ts': '',
      'other/keep.ts': '',
    });
    // `*` also matches the folder `team/inner`, and a file in an excluded folder stays out.
    expect(await listed()).toEqual(['other/keep.ts', 'team/keep.ts']);
  });

  it('treats the name of the ignore file\'s folder literally, whatever glob characters it has', async () => {
    await put(root, {
      'a[1]/.dagprocignore': 'skip.ts\n',
      'a[1]/skip.ts': '',
      'a[1]/keep.ts': '',
      'a1/skip.ts': '',
      'a*b/.dagprocignore': '/x.ts\n',
      'a*b/x.ts': '',
      'azb/x.ts': '',
    });
    expect(await listed()).toEqual(['a1/skip.ts', 'a[1]/keep.ts', 'azb/x.ts']);
  });

  it('rewrites nested patterns onto the bundle root as git scopes them', () => {
    expect(anchorPattern('foo.ts', '')).toBe('foo.ts');
    expect(anchorPattern('foo.ts', 'sub')).toBe('sub/**/foo.ts');
    expect(anchorPattern('cache/', 'sub')).toBe('sub/**/cache/');
    expect(anchorPattern('/foo.ts', 'sub')).toBe('sub/foo.ts');
    expect(anchorPattern('a/foo.ts', 'sub/deep')).toBe('sub/deep/a/foo.ts');
    expect(anchorPattern('**/foo.ts', 'sub')).toBe('sub/**/foo.ts');
    expect(anchorPattern('!keep.ts', 'sub')).toBe('!sub/**/keep.ts');
    expect(anchorPattern('\\!bang.ts', 'sub')).toBe('sub/**/\\!bang.ts');
    expect(anchorPattern('x.ts', 'we[i]rd*')).toBe('we\\[i\\]rd\\*/**/x.ts');
    expect(anchorPattern('# comment', 'sub')).toBeNull();
    expect(anchorPattern('   ', 'sub')).toBeNull();
    expect(anchorPattern('/', 'sub')).toBeNull();
  });
});

describe('symlinks', () => {
  it('skips a symlink that leaves the bundle, file or folder, and says so', async () => {
    await put(outside, { 'secret.ts': '', 'dir/x.ts': '' });
    await put(root, { 'kept.ts': '' });
    await symlink(join(outside, 'secret.ts'), join(root, 'secret.ts'));
    await symlink(join(outside, 'dir'), join(root, 'dir'));
    await symlink('../outside/secret.ts', join(root, 'relative.ts'));
    const skipped: string[] = [];
    expect(await listed({ onSkip: (p, reason) => skipped.push(`${p}: ${reason}`) })).toEqual(['kept.ts']);
    expect(skipped.sort()).toEqual([
      `dir: is a symlink to ${join(outside, 'dir')}, outside the bundle`,
      `relative.ts: is a symlink to ${join(outside, 'secret.ts')}, outside the bundle`,
      `secret.ts: is a symlink to ${join(outside, 'secret.ts')}, outside the bundle`,
    ]);
  });

  it('follows a symlink inside the bundle, listing it under its own path', async () => {
    await put(root, { 'real.ts': '', '.worktrees/abc/dag.ts': '' });
    await symlink('real.ts', join(root, 'alias.ts'));
    // git-sync's layout: the published tree is a link into a dot-folder.
    await symlink('.worktrees/abc', join(root, 'current'));
    const files = await listDagFiles(root);
    expect(files.map((f) => f.relativeFileloc)).toEqual(['alias.ts', 'current/dag.ts', 'real.ts']);
    expect(files[1]!.absolutePath).toBe(join(root, 'current', 'dag.ts'));
  });

  it('lists a folder reachable by a link and by its own path once, under its own path, and never loops', async () => {
    await put(root, { 'a/x.ts': '', 'z/y.ts': '' });
    await symlink('../z', join(root, 'a', 'to-z'));
    await symlink('..', join(root, 'a', 'loop'));
    await symlink(root, join(root, 'self'));
    expect(await listed()).toEqual(['a/x.ts', 'z/y.ts']);
  });

  it('skips a dangling symlink', async () => {
    await put(root, { 'kept.ts': '' });
    await symlink('gone.ts', join(root, 'dangling.ts'));
    expect(await listed()).toEqual(['kept.ts']);
  });
});

describe('a bundle that changes during the walk', () => {
  it('never fails and lists only files that existed while folders vanish', async () => {
    const created = new Set<string>();
    for (let d = 0; d < 60; d++) {
      for (let f = 0; f < 5; f++) created.add(`d${d}/s/f${f}.ts`);
    }
    await put(root, Object.fromEntries([...created].map((rel) => [rel, ''])));
    await put(root, { 'stable.ts': '' });

    for (let round = 0; round < 3; round++) {
      const removing = Promise.all(
        Array.from({ length: 60 }, (_, d) => rm(join(root, `d${d}`), { recursive: true, force: true })),
      );
      const files = await listed();
      await removing;
      expect(files).toContain('stable.ts');
      for (const f of files) if (f !== 'stable.ts') expect(created.has(f)).toBe(true);
      await put(root, Object.fromEntries([...created].map((rel) => [rel, ''])));
    }
  });
});

describe('hashFile', () => {
  it('returns the sha256 of the bytes and the source they decode to', async () => {
    const source = "export const greeting = 'héllo';\n";
    await put(root, { 'dag.ts': source });
    const result = await hashFile(join(root, 'dag.ts'));
    expect(result.source).toBe(source);
    expect(result.contentHash).toBe(createHash('sha256').update(Buffer.from(source, 'utf8')).digest('hex'));
    expect(result.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(await readFile(join(root, 'dag.ts'), 'utf8')).toBe(source);
  });

  it('fails for a file that is gone', async () => {
    await expect(hashFile(join(root, 'gone.ts'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
