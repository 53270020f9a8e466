import { describe, expect, it } from 'vitest';
import { bundleName, relativeFileloc } from './names.ts';

describe('relativeFileloc', () => {
  it.each(['a.ts', 'dir/sub/file.mts', 'with space/x.js'])('accepts %s', (p) => {
    expect(relativeFileloc.safeParse(p).success).toBe(true);
  });
  it.each(['../etc/passwd', 'a/../../b.ts', '/abs/path.ts', 'C:/x.ts', 'a\\b.ts', 'a//b.ts', './a.ts', '', 'a\0b'])(
    'refuses %j, which could leave the bundle',
    (p) => {
      expect(relativeFileloc.safeParse(p).success).toBe(false);
    },
  );
});

describe('bundleName', () => {
  it('refuses names that are not plain identifiers', () => {
    expect(bundleName.safeParse('dags-folder').success).toBe(true);
    expect(bundleName.safeParse('../x').success).toBe(false);
    expect(bundleName.safeParse('').success).toBe(false);
  });
});
