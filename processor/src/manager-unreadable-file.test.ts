import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeApi } from './testing/fake-api.ts';
import { createTestManager, managerConfig, managerFixture } from './testing/manager-harness.ts';

/**
 * A file that is listed but cannot be read (EACCES for a processor not running as root) is the
 * file's problem, reported as its import error, not a vanished file to forget and re-queue.
 * The suite runs as root, where chmod cannot deny a read, so the failure is simulated at hashFile.
 */
vi.mock('./bundles/index.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('./bundles/index.ts')>();
  return {
    ...real,
    hashFile: async (path: string) => {
      if (path.endsWith('/locked.ts')) throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
      return real.hashFile(path);
    },
  };
});

const fake = new FakeApi();
const server = setupServer(...fake.handlers());
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

describe('an unreadable DAG file', () => {
  it('becomes an import error saying so, and --num-runs 1 still ends', async () => {
    const fx = managerFixture(['ok.ts', 'locked.ts']);
    try {
      const m = createTestManager(fx, managerConfig(fx, fake.url, { minFileProcessInterval: 30 }));
      await m.run();
      const locked = fake.persisted.filter((p) => p.relativeFileloc === 'locked.ts');
      expect(locked).toHaveLength(1);
      expect(locked[0]!.importError?.stacktrace).toBe('FileReadError: locked.ts cannot be read (EACCES)');
      expect(fake.persisted.filter((p) => p.relativeFileloc === 'ok.ts')).toHaveLength(1);
    } finally {
      await fx.dispose();
    }
  });
});
