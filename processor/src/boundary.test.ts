import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * DESIGN.md's hard boundary, checked on the source: the processor runs user code, so nothing
 * it runs may load a database driver, the ORM, the server's runtime code or the signing key.
 * It may import the server's router *type* only.
 */
const ROOT = fileURLToPath(new URL('.', import.meta.url));
const FORBIDDEN = ['drizzle-orm', 'postgres', '@electric-sql/pglite', 'jose', 'hono', '@hono/node-server', '@trpc/server'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'testing' || entry.name === 'node_modules' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

describe('the processor boundary', () => {
  const files = sourceFiles(ROOT);

  it('finds the processor sources', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it('no processor module imports a database library, jose, or server runtime code', () => {
    const problems: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const typeOnly = m[2] !== undefined;
        const spec = m[3] ?? m[4]!;
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (FORBIDDEN.includes(pkg) && !typeOnly) problems.push(`${relative(ROOT, file)}: imports ${spec}`);
        if (pkg === '@dagproc/server' && !typeOnly) problems.push(`${relative(ROOT, file)}: imports server code at runtime (${spec})`);
        if (spec.includes('/server/src/')) problems.push(`${relative(ROOT, file)}: reaches into server/src (${spec})`);
      }
      if (/DAGPROC_(DATABASE_URL|JWT_SECRET|JWT_PRIVATE_KEY_PATH|SECRET_KEY)/.test(text)) problems.push(`${relative(ROOT, file)}: names a server secret setting`);
    }
    expect(problems).toEqual([]);
  });

  it("the processor package's runtime dependencies hold no database library", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, '..', 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const deps = Object.keys(pkg.dependencies ?? {});
    expect(deps.filter((d) => FORBIDDEN.includes(d) || d === '@dagproc/server')).toEqual([]);
  });
});
