import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkBundleReadable, isWithin } from './symlinks.ts';
import { tempBundle, type TempBundle } from './testing.ts';

let bundle: TempBundle | undefined;
afterEach(async () => {
  await bundle?.remove();
  bundle = undefined;
});

describe('checkBundleReadable', () => {
  it('accepts a bundle whose symlinks stay inside it', async () => {
    bundle = await tempBundle('inside', { 'dags/a.ts': '', 'shared/b.ts': '' });
    await symlink('../shared', path.join(bundle.root, 'dags/shared'));
    await symlink('.', path.join(bundle.root, 'self'));
    expect(await checkBundleReadable(bundle.root)).toEqual({ readable: true });
  });

  it('refuses a bundle with a symlink leaving it, however deep', async () => {
    bundle = await tempBundle('leaving', { 'a/b/c/d.ts': '' });
    await symlink('../../../../', path.join(bundle.root, 'a/b/c/up'));
    const verdict = await checkBundleReadable(bundle.root);
    expect(verdict).toMatchObject({ readable: false });
    expect(!verdict.readable && verdict.reason).toMatch(/^a\/b\/c\/up is a symlink to .*, outside the bundle$/);
  });

  it('judges a dangling symlink by where it points', async () => {
    bundle = await tempBundle('dangling', { 'dags/a.ts': '' });
    await symlink('/nonexistent/for/now', path.join(bundle.root, 'dags/later'));
    expect(await checkBundleReadable(bundle.root)).toMatchObject({ readable: false });
  });

  it('fails closed past its entry limit', async () => {
    bundle = await tempBundle('big', { 'a.ts': '', 'b.ts': '', 'c.ts': '' });
    expect(await checkBundleReadable(bundle.root, 2)).toMatchObject({ readable: false });
  });

  it('isWithin counts the root and what is under it, not neighbours sharing a prefix', () => {
    expect(isWithin('/b/root', '/b/root')).toBe(true);
    expect(isWithin('/b/root', '/b/root/x')).toBe(true);
    expect(isWithin('/b/root', '/b/root2/x')).toBe(false);
    expect(isWithin('/b/root', '/b')).toBe(false);
  });
});
